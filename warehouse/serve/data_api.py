"""``/api`` data endpoints of ``serve``: status, symbols, bars, ticks, quotes, rejects, ingest.

Every statement is one of the warehouse's own (:mod:`warehouse.feed_sql`,
:mod:`warehouse.feed_quotes`, :mod:`warehouse.status`) with the request's values bound
server-side as ``{name:Type}`` parameters, and runs on a read-only connection: no request
to these endpoints can change data. Bad values get 4xx with one line naming the field and
the value; a symbol the warehouse does not have gets 404.

Data come as JSON (``format=json``: ``{"rows": n, "cost": {...}, "data": [{...}, ...]}``,
times in ISO 8601 UTC) or as an Arrow IPC stream (``format=arrow``; the cost in the
``X-Tickhouse-Cost`` header): ``pyarrow.ipc.open_stream(body).read_all()``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import polars as pl
import pyarrow as pa
from clickhouse_connect.driver.client import Client
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from warehouse import feed_quotes, feed_sql
from warehouse.errors import WarehouseError
from warehouse.status import symbol_spans, table_status

router = APIRouter(prefix="/api", tags=["data"])

INTERVAL = re.compile(r"^(\d{1,6})(s|m|h|d)$")
UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
MAX_ROWS = 1_000_000
Format = Literal["json", "arrow"]
Symbol = Annotated[str, Query(min_length=1, max_length=64, description="e.g. AAPL")]
Time = Annotated[str, Query(description="ISO 8601; a naive time is UTC, e.g. 2024-01-02 or 2024-01-02T14:30")]


def parse_time(field: str, text: str) -> datetime:
    """An ISO 8601 date/time as an aware UTC datetime (naive = UTC), or 400 naming ``field``.

    >>> parse_time("start", "2024-01-02T14:30")
    datetime.datetime(2024, 1, 2, 14, 30, tzinfo=datetime.timezone.utc)
    >>> parse_time("start", "yesterday")
    Traceback (most recent call last):
    fastapi.exceptions.HTTPException: 400: start: 'yesterday' is not an ISO 8601 date/time
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(400, f"{field}: {text!r} is not an ISO 8601 date/time") from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def parse_range(start: str, end: str) -> tuple[datetime, datetime]:
    """``[start, end)`` checked: end after start."""
    t0, t1 = parse_time("start", start), parse_time("end", end)
    if t1 <= t0:
        raise HTTPException(400, f"end: {end!r} is not after start {start!r}")
    return t0, t1


def parse_interval(text: str) -> tuple[int, str]:
    """``'5m'`` -> ``(5, 'minute')``; 400 naming the value otherwise.

    >>> parse_interval("5m"), parse_interval("1d")
    ((5, 'minute'), (1, 'day'))
    """
    found = INTERVAL.match(text.strip())
    if not found or int(found.group(1)) == 0:
        raise HTTPException(400, f"interval: {text!r} is not a count and a unit s, m, h or d (e.g. 30s, 5m, 1h)")
    return int(found.group(1)), UNITS[found.group(2)]


def reader(request: Request) -> Client:
    """The API's read-only connection to the served warehouse."""
    return request.app.state.reader


def require_symbol(client: Client, symbol: str, table: str = "ticks") -> None:
    """404 when ``symbol`` has no rows in ``table``."""
    if table == "quotes":
        known = feed_quotes.quoted_symbols(client, [symbol]).table
    else:
        known = feed_sql.known_symbols(client, [symbol], table).table
    if not known.num_rows:
        raise HTTPException(404, f"symbol: {symbol!r} has no {table} in the warehouse")


def respond(fetched: feed_sql.Fetched, fmt: Format, *, limit: int | None = None) -> Response:
    """A query's table as JSON or Arrow, its cost beside it (``limit`` rows at most)."""
    table = fetched.table if limit is None else fetched.table.slice(0, limit)
    cost = {**dataclasses.asdict(fetched.cost), "truncated": table.num_rows < fetched.table.num_rows}
    if fmt == "arrow":
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return Response(sink.getvalue().to_pybytes(), media_type="application/vnd.apache.arrow.stream",
                        headers={"X-Tickhouse-Cost": json.dumps(cost)})
    data = pl.from_arrow(table).write_json() if table.num_rows else "[]"
    body = f'{{"rows": {table.num_rows}, "cost": {json.dumps(cost)}, "data": {data}}}'
    return Response(body, media_type="application/json")


@router.get("/status")
def status(request: Request) -> dict[str, Any]:
    """Tables (rows, bytes, parts), the ingest consumer and the hot path's symbols."""
    tables = [dataclasses.asdict(t) for t in table_status(reader(request))]
    ingest = request.app.state.ingest
    hot = request.app.state.hot
    return {"dsn": request.app.state.dsn, "read_only": request.app.state.read_only, "tables": tables,
            "ingest": ingest.status() if ingest else None, "hot_symbols": len(hot.symbols())}


@router.get("/symbols")
def symbols(request: Request) -> list[dict[str, Any]]:
    """Every symbol with trades: distinct trades, raw rows, first and last trade (UTC)."""
    return [{"symbol": s, "trades": n, "rows": raw, "first": first.isoformat(), "last": last.isoformat()}
            for s, n, raw, first, last in symbol_spans(reader(request))]


@router.get("/bars")
def bars(request: Request, symbol: Symbol, start: Time, end: Time, interval: str = "1m",
         source: Literal["auto", "rollup", "raw"] = "auto", format: Format = "json") -> Response:
    """OHLCV bars of one symbol in ``[start, end)`` from ``bars_1m`` (rollup) or ``ticks_dedup`` (raw scan):
    both give the same bars; ``auto`` reads the rollup when the interval and range are whole minutes."""
    t0, t1 = parse_range(start, end)
    step, unit = parse_interval(interval)
    whole = unit != "second" and t0.second == t1.second == 0 and t0.microsecond == t1.microsecond == 0
    if source == "rollup" and not whole:
        raise HTTPException(400, f"source: 'rollup' serves whole minutes, not interval {interval!r} "
                                 f"from {start!r} to {end!r}; use raw or auto")
    client = reader(request)
    require_symbol(client, symbol)
    rollup = source == "rollup" or (source == "auto" and whole)
    fetch = feed_sql.bars_from_rollup if rollup else feed_sql.bars_from_ticks
    return respond(fetch(client, [symbol], t0, t1, step, unit), format)


@router.get("/ticks")
def ticks(request: Request, symbol: Symbol, start: Time, end: Time,
          limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 100_000, format: Format = "json") -> Response:
    """Trades of one symbol in ``[start, end)`` (each once, latest version), the first ``limit``."""
    t0, t1 = parse_range(start, end)
    client = reader(request)
    require_symbol(client, symbol)
    return respond(feed_sql.ticks(client, [symbol], t0, t1, ["price", "size", "side", "trade_id"]), format,
                   limit=limit)


@router.get("/quotes")
def quotes(request: Request, symbol: Symbol, start: Time, end: Time,
           levels: Annotated[int, Query(ge=1, le=5)] = 5,
           limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 100_000, format: Format = "json") -> Response:
    """Quotes (``levels`` of the 5-level book) of one symbol in ``[start, end)``, the first ``limit``."""
    t0, t1 = parse_range(start, end)
    client = reader(request)
    require_symbol(client, symbol, "quotes")
    return respond(feed_quotes.quotes(client, [symbol], t0, t1, levels), format, limit=limit)


@router.get("/depth")
def depth(request: Request, symbol: Symbol, at: Time) -> Response:
    """The book of one symbol in force at ``at`` (its last quote at or before it)."""
    client = reader(request)
    require_symbol(client, symbol, "quotes")
    return respond(feed_quotes.depth_at(client, symbol, parse_time("at", at)), "json")


@router.get("/rejects")
def rejects(request: Request) -> list[dict[str, Any]]:
    """Refused rows by target, reason code and field, with the latest time one was refused."""
    rows = reader(request).query(
        "SELECT target, code, field, count() AS n, max(rejected_at) AS latest FROM rejects "
        "GROUP BY target, code, field ORDER BY n DESC").result_rows
    return [{"target": t, "code": c, "field": f, "count": n, "latest": latest.isoformat()}
            for t, c, f, n, latest in rows]


@router.get("/ingest")
def ingest(request: Request) -> dict[str, Any]:
    """The stream consumer running inside serve (``--ingest``): counts, rate, backlog; 404 without one."""
    consumer = request.app.state.ingest
    if consumer is None:
        raise HTTPException(404, "ingest: this serve runs no stream consumer (start it with --ingest redis|kafka)")
    return consumer.status()


def warehouse_errors_as_4xx(_request: Request, exc: WarehouseError) -> Response:
    """A warehouse refusal of a request's values (a bad column, interval...) is the client's error: 400."""
    return Response(json.dumps({"detail": str(exc)}), status_code=400, media_type="application/json")
