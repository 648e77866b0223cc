"""The feed's queries: ticks, bars and imported OHLCV as Arrow tables, with their cost.

Every query binds its values server-side (``{name:Type}``); the only text put
into SQL is chosen from fixed whitelists (column names, interval functions).
Predicates are ``symbol IN {symbols} AND ts >= {start} AND ts < {end}``, which
hit the ``(symbol, ts)`` sort key, and only the needed columns are read.

Sources:

* :func:`bars_from_rollup` re-aggregates ``bars_1m`` with ``-Merge`` functions over ``toStartOfInterval(minute,
  ...)`` (whole minutes only); 1m bars read ``bars_1m FINAL`` (its key is one minute: no GROUP BY);
* :func:`bars_from_ticks` aggregates ``ticks_dedup FINAL``: deduplicated and
  corrected trades, so it equals the rollup, which is exact by construction;
* :func:`ticks` reads ``ticks_dedup FINAL`` (or raw ``ticks`` with ``dedup=False``,
  which shows redeliveries and superseded versions as stored);
* :func:`ohlcv` reads imported bars from ``ohlcv FINAL``.

Bars: open/close are the prices of the first/last trade by ``(ts, trade_id)``,
volume is ``sum(size)``, vwap is ``notional / volume``, trades is the count.
A bar is labelled by the start of its bucket. Buckets are ClickHouse's
``toStartOfInterval``: aligned to the Unix epoch for seconds, minutes and days,
to midnight UTC for hours (``7h`` buckets start at 00, 07, 14 and 21 h). These are
the bars of symbols with no exchange (24h UTC days); bars in an exchange's sessions
and zone are :mod:`warehouse.feed_sessions`'.

Cost: each call returns a :class:`QueryCost` with the rows to read, from
``EXPLAIN ESTIMATE`` on embedded chDB (its query summary counts result rows,
not rows read) and from the query summary's ``read_rows`` on a server.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from warehouse.client import is_embedded, query_beside
from warehouse.errors import WarehouseError
from warehouse.schema.ddl import TICK_COLUMNS, TRADE_ORDER

TS = pa.timestamp("us", tz="UTC")
TICK_TYPES: dict[str, pa.DataType] = {
    "symbol": pa.string(), "ts": TS, "price": pa.float64(), "size": pa.float64(),
    "side": pa.int8(), "trade_id": pa.uint64(), "version": pa.uint32(),
}
BAR_SCHEMA = pa.schema([
    ("ts", TS), ("symbol", pa.string()), ("open", pa.float64()), ("high", pa.float64()),
    ("low", pa.float64()), ("close", pa.float64()), ("volume", pa.float64()),
    ("vwap", pa.float64()), ("trades", pa.uint64()),
])
BAR_COLUMNS_SCHEMA = pa.schema([("ts", pa.int64()), ("symbol_index", pa.uint32()),  # ts: epoch seconds
                                *[(name, pa.float64()) for name in ("open", "high", "low", "close", "volume")]])
OHLCV_SCHEMA = pa.schema([field for field in BAR_SCHEMA if field.name not in ("vwap", "trades")]
                         + [pa.field("oi", pa.float64())])  # open interest; null where the vendor gave none

INTERVAL_FUNCTIONS = {"second": "toIntervalSecond", "minute": "toIntervalMinute",
                      "hour": "toIntervalHour", "day": "toIntervalDay"}

_RAW_FIELDS = f"""argMin(price, {TRADE_ORDER}) AS bar_open, max(price) AS bar_high, min(price) AS bar_low,
    argMax(price, {TRADE_ORDER}) AS bar_close, sum(size) AS bar_volume,
    sum(price * size) / bar_volume AS bar_vwap, count() AS bar_trades"""
_ROLLUP_FIELDS = """argMinMerge(open) AS bar_open, max(high) AS bar_high, min(low) AS bar_low, argMaxMerge(close)
    AS bar_close, sum(volume) AS bar_volume, sum(notional) / bar_volume AS bar_vwap, sum(trades) AS bar_trades"""
_FINAL_FIELDS = """finalizeAggregation(open) AS bar_open, high AS bar_high, low AS bar_low, finalizeAggregation(close)
    AS bar_close, volume AS bar_volume, notional / volume AS bar_vwap, trades AS bar_trades"""
# the position of a row's symbol in the request, for the engine's arrays (numbers, not strings); transform()
# maps the LowCardinality column's dictionary, not every row (indexOf(toString(symbol)) took 4 s of 6.7 s on 9.8M rows)
_SYMBOL_INDEX = ("CAST(transform(symbol, {symbols:Array(String)}, range(toUInt32(length({symbols:Array(String)}))), "
                 "4294967295), 'UInt32') AS symbol_index")
_RANGE = "symbol IN {{symbols:Array(String)}} AND {col} >= {{start:{type}}} AND {col} < {{end:{type}}}"
_TS64 = "DateTime64(6, 'UTC')"
_TS_WHERE = "WHERE " + _RANGE.format(col="ts", type=_TS64)


@dataclass(frozen=True)
class QueryCost:
    """What one query cost: the call, its source table, time and rows.

    ``rows_to_read`` is an estimate from the primary index on embedded chDB
    (whole granules) and the server's ``read_rows`` otherwise.

    >>> QueryCost("bars 5m AAA", "bars_1m", 3.2, 8192, 20, 1200).source
    'bars_1m'
    """

    call: str
    source: str
    wall_ms: float
    rows_to_read: int
    rows_returned: int
    bytes_returned: int


class Fetched(NamedTuple):
    """A query's result and its cost."""

    table: pa.Table
    cost: QueryCost


def bars_from_ticks(
    client: Client, symbols: Sequence[str], start: datetime, end: datetime, step: int, unit: str
) -> Fetched:
    """Bars of ``step`` ``unit`` s aggregated from ``ticks_dedup FINAL`` in ``[start, end)``.

    Rows are ordered by ``ts`` then ``symbol``; the schema is :data:`BAR_SCHEMA`.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_sql_example")
    >>> _ = migrate(client)
    >>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> table, cost = bars_from_ticks(client, ["AAA"], day, day.replace(hour=1), 90, "second")
    >>> table.column_names, table.num_rows, cost.source
    (['ts', 'symbol', 'open', 'high', 'low', 'close', 'volume', 'vwap', 'trades'], 0, 'ticks_dedup')
    """
    sql = f"""SELECT toDateTime64(toStartOfInterval(ts, {_interval(unit)}({{step:UInt32}})), 6, 'UTC') AS bar_ts, symbol,
    {_RAW_FIELDS}
FROM ticks_dedup FINAL
{_TS_WHERE}
GROUP BY symbol, bar_ts
ORDER BY bar_ts, symbol"""
    params = {**_range_params(symbols, start, end), "step": step}
    return _fetch(client, "bars", "ticks_dedup", sql, params, BAR_SCHEMA, scan=f"ticks_dedup FINAL {_TS_WHERE}")


def bars_from_rollup(
    client: Client, symbols: Sequence[str], start: datetime, end: datetime, step: int, unit: str
) -> Fetched:
    """Bars of ``step`` ``unit`` s re-aggregated from ``bars_1m`` in ``[start, end)``.

    ``unit`` is minute, hour or day, and ``start``/``end`` must be whole minutes:
    ``bars_1m`` cannot split a minute.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_sql_example")
    >>> _ = migrate(client)
    >>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> bars_from_rollup(client, ["AAA"], day, day.replace(hour=1), 5, "minute").cost.source
    'bars_1m'
    >>> bars_from_rollup(client, ["AAA"], day, day.replace(hour=1), 90, "second")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: interval: bars_1m serves whole minutes, not 90 second(s)
    """
    _rollup_interval(step, unit, start, end)
    where, params = _rollup_range(symbols, start, end)
    if (step, unit) == (1, "minute"):  # one row per (symbol, minute): FINAL merges parts, no GROUP BY
        one = len(symbols) == 1  # sorted here if FINAL's order is not: ORDER BY costs chDB ~0.5 ms of a one-bar read
        sql = f"""SELECT toDateTime64(minute, 6, 'UTC') AS bar_ts, symbol, {_FINAL_FIELDS}
FROM bars_1m FINAL {where}{'' if one else ' ORDER BY minute, symbol'}"""
        fetched = _fetch(client, "bars", "bars_1m", sql, params, BAR_SCHEMA, scan=f"bars_1m FINAL {where}")
        times = fetched.table.column("ts").to_numpy()
        return fetched if not one or bool(np.all(times[1:] > times[:-1])) else \
            fetched._replace(table=fetched.table.sort_by("ts"))
    sql = f"""SELECT toDateTime64(toStartOfInterval(minute, {_interval(unit)}({{step:UInt32}})), 6, 'UTC') AS bar_ts, symbol,
    {_ROLLUP_FIELDS}
FROM bars_1m
{where}
GROUP BY symbol, bar_ts
ORDER BY bar_ts, symbol"""
    return _fetch(client, "bars", "bars_1m", sql, {**params, "step": step}, BAR_SCHEMA, scan=f"bars_1m {where}")


def bar_columns(client: Client, symbols: Sequence[str], start: datetime, end: datetime, step: int, unit: str,
                *, rollup: bool) -> Fetched:
    """The bars of :func:`bars_from_rollup` (``rollup``) or :func:`bars_from_ticks` as numbers for the
    engine's arrays: ``ts`` (epoch seconds), ``symbol_index`` (position in ``symbols``), open, high, low, close,
    volume, in no particular order (no sort, no symbol strings: :data:`BAR_COLUMNS_SCHEMA`).

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_sql_example")
    >>> _ = migrate(client)
    >>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> bar_columns(client, ["AAA"], day, day.replace(hour=1), 1, "minute", rollup=True).table.column_names
    ['ts', 'symbol_index', 'open', 'high', 'low', 'close', 'volume']
    """
    outputs = "bar_open, bar_high, bar_low, bar_close, bar_volume"
    if not rollup:
        sql = f"""SELECT toInt64(toUnixTimestamp(bucket)) AS bar_ts, {_SYMBOL_INDEX}, {outputs}
FROM (SELECT toStartOfInterval(ts, {_interval(unit)}({{step:UInt32}})) AS bucket, symbol, {_RAW_FIELDS}
    FROM ticks_dedup FINAL {_TS_WHERE} GROUP BY symbol, bucket)"""
        params = {**_range_params(symbols, start, end), "step": step}
        return _fetch(client, "bar columns", "ticks_dedup", sql, params, BAR_COLUMNS_SCHEMA,
                      scan=f"ticks_dedup FINAL {_TS_WHERE}")
    _rollup_interval(step, unit, start, end)
    where, params = _rollup_range(symbols, start, end)
    if (step, unit) == (1, "minute"):  # FINAL: one row per (symbol, minute), no GROUP BY
        sql = f"""SELECT toInt64(toUnixTimestamp(minute)) AS bar_ts, {_SYMBOL_INDEX},
    finalizeAggregation(open) AS bar_open, high AS bar_high, low AS bar_low, finalizeAggregation(close) AS bar_close,
    volume AS bar_volume
FROM bars_1m FINAL {where}"""
        return _fetch(client, "bar columns", "bars_1m", sql, params, BAR_COLUMNS_SCHEMA, scan=f"bars_1m FINAL {where}")
    sql = f"""SELECT toInt64(toUnixTimestamp(bar_ts)) AS bar_ts, {_SYMBOL_INDEX}, {outputs}
FROM (SELECT toStartOfInterval(minute, {_interval(unit)}({{step:UInt32}})) AS bar_ts, symbol, {_ROLLUP_FIELDS}
    FROM bars_1m {where} GROUP BY symbol, bar_ts)"""
    return _fetch(client, "bar columns", "bars_1m", sql, {**params, "step": step}, BAR_COLUMNS_SCHEMA,
                  scan=f"bars_1m {where}")


def _rollup_interval(step: int, unit: str, start: datetime, end: datetime) -> None:
    """Refuse what ``bars_1m`` cannot serve: seconds, and a range not on whole minutes."""
    if unit == "second":
        raise WarehouseError(f"interval: bars_1m serves whole minutes, not {step} second(s)")
    for field, value in (("start", start), ("end", end)):
        if value.second or value.microsecond:
            raise WarehouseError(f"{field}: {value.isoformat()} is not a whole minute, which bars_1m needs")


def _rollup_range(symbols: Sequence[str], start: datetime, end: datetime) -> tuple[str, dict[str, Any]]:
    return "WHERE " + _RANGE.format(col="minute", type="DateTime('UTC')"), _range_params(symbols, start, end,
                                                                                         micros=False)


def ticks(
    client: Client,
    symbols: Sequence[str],
    start: datetime,
    end: datetime,
    columns: Sequence[str] = TICK_COLUMNS,
    dedup: bool = True,
) -> Fetched:
    """Trades in ``[start, end)`` ordered by ``ts, symbol, trade_id``.

    ``symbol`` and ``ts`` always come first; ``columns`` adds others from
    :data:`~warehouse.schema.ddl.TICK_COLUMNS`. ``dedup=True`` reads ``ticks_dedup
    FINAL`` (each trade once, latest version); ``dedup=False`` reads raw ``ticks``.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_sql_example")
    >>> _ = migrate(client)
    >>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> ticks(client, ["AAA"], day, day.replace(hour=1), ["price"]).table.column_names
    ['symbol', 'ts', 'price']
    >>> ticks(client, ["AAA"], day, day.replace(hour=1), ["price; DROP"])
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: columns: 'price; DROP' is not a tick column (symbol, ts, price, size, side, trade_id, version)
    """
    for column in columns:
        if column not in TICK_TYPES:
            raise WarehouseError(f"columns: {column!r} is not a tick column ({', '.join(TICK_COLUMNS)})")
    chosen = ["symbol", "ts"] + [c for c in dict.fromkeys(columns) if c not in ("symbol", "ts")]
    source = "ticks_dedup" if dedup else "ticks"
    sql = f"""SELECT {', '.join(chosen)}
FROM {source}{' FINAL' if dedup else ''}
{_TS_WHERE}
ORDER BY ts, symbol, trade_id"""
    schema = pa.schema([(name, TICK_TYPES[name]) for name in chosen])
    scan = f"{source}{' FINAL' if dedup else ''} {_TS_WHERE}"
    return _fetch(client, "ticks", source, sql, _range_params(symbols, start, end), schema, scan=scan)


def ohlcv(client: Client, symbols: Sequence[str], start: datetime, end: datetime, interval: str) -> Fetched:
    """Imported bars labelled ``interval`` with ``ts`` in ``[start, end)``, by ``ts, symbol``.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_sql_example")
    >>> _ = migrate(client)
    >>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> ohlcv(client, ["GOOG"], day, day.replace(month=2), "1d").table.column_names
    ['ts', 'symbol', 'open', 'high', 'low', 'close', 'volume', 'oi']
    """
    sql = f"""SELECT toDateTime64(ts, 6, 'UTC') AS bar_ts, symbol, open, high, low, close, volume, oi
FROM ohlcv FINAL
WHERE {_RANGE.format(col="ts", type=_TS64)} AND interval = {{interval:String}}
ORDER BY ts, symbol"""
    params = {**_range_params(symbols, start, end), "interval": interval}
    return _fetch(client, "ohlcv", "ohlcv", sql, params, OHLCV_SCHEMA)


def known_symbols(client: Client, symbols: Sequence[str] | None = None, table: str = "ticks") -> Fetched:
    """Symbols with any row in ``table`` (``ticks`` or ``ohlcv``), sorted; only among ``symbols`` if given.

    For ``ohlcv`` the result also lists each symbol's imported intervals.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_sql_example")
    >>> _ = migrate(client)
    >>> known_symbols(client, ["NOPE"]).table.num_rows
    0
    >>> known_symbols(client, table="ohlcv").table.column_names
    ['symbol', 'intervals']
    """
    if table not in ("ticks", "ohlcv"):
        raise WarehouseError(f"table: {table!r} is not ticks or ohlcv")
    where = "" if symbols is None else "WHERE symbol IN {symbols:Array(String)}"
    if table == "ticks":
        sql = f"SELECT DISTINCT symbol FROM ticks {where} ORDER BY symbol"
        schema = pa.schema([("symbol", pa.string())])
    else:
        sql = f"""SELECT symbol, arraySort(groupUniqArray(toString(interval))) AS symbol_intervals
FROM ohlcv {where} GROUP BY symbol ORDER BY symbol"""
        schema = pa.schema([("symbol", pa.string()), ("intervals", pa.list_(pa.string()))])
    params = {} if symbols is None else {"symbols": list(symbols)}
    return _fetch(client, "symbols", table, sql, params, schema)


def row_count(client: Client, table: str, final: bool = False) -> Fetched:
    """``count()`` of ``ticks`` or ``ticks_dedup`` (``final=True``: ``ticks_dedup FINAL``, each trade once).

    Without ``FINAL`` ClickHouse answers from part metadata; with it, it reads
    the key columns to merge duplicates. The result has one column, ``rows``.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_sql_example")
    >>> _ = migrate(client)
    >>> row_count(client, "ticks_dedup", final=True).table.column("rows").to_pylist()
    [0]
    >>> row_count(client, "bars_1m")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: table: 'bars_1m' is not ticks or ticks_dedup
    """
    if table not in ("ticks", "ticks_dedup"):
        raise WarehouseError(f"table: {table!r} is not ticks or ticks_dedup")
    if final and table != "ticks_dedup":
        raise WarehouseError(f"final: FINAL applies to ticks_dedup, not {table!r}")
    sql = f"SELECT count() AS n FROM {table}{' FINAL' if final else ''}"
    return _fetch(client, "count final" if final else "count", table, sql, {}, pa.schema([("rows", pa.uint64())]))


def _interval(unit: str) -> str:
    if unit not in INTERVAL_FUNCTIONS:
        raise WarehouseError(f"interval: unit {unit!r} is not one of {', '.join(INTERVAL_FUNCTIONS)}")
    return INTERVAL_FUNCTIONS[unit]


def _range_params(symbols: Sequence[str], start: datetime, end: datetime, micros: bool = True) -> dict[str, Any]:
    pattern = "%Y-%m-%d %H:%M:%S.%f" if micros else "%Y-%m-%d %H:%M:%S"
    return {"symbols": list(symbols), "start": _utc(start).strftime(pattern), "end": _utc(end).strftime(pattern)}


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise WarehouseError(f"time: {value!r} has no time zone; pass an aware datetime")
    return value.astimezone(timezone.utc)


def _fetch(
    client: Client,
    call: str,
    source: str,
    sql: str,
    params: dict[str, Any],
    schema: pa.Schema,
    scan: str | None = None,
) -> Fetched:
    """Run ``sql`` and measure it: Arrow plus ``EXPLAIN ESTIMATE`` (beside it) embedded, Native plus summary on a
    server.

    ``scan`` (``"<table> [FINAL] WHERE ..."``) lets the estimate plan ``SELECT 1 FROM <scan>``
    instead of the whole query: the same parts and granules, found with less planning.
    """
    if is_embedded(client):
        explained = query_beside(client, "EXPLAIN ESTIMATE " + (f"SELECT 1 FROM {scan}" if scan else sql), params)
        started = time.perf_counter()
        table = client.query_arrow(sql, parameters=params, use_strings=True)
        wall_ms = (time.perf_counter() - started) * 1000
        rows = explained.result()
        rows_to_read = sum(int(row[rows.column_names.index("rows")]) for row in rows.result_rows)
    else:
        started = time.perf_counter()
        result = client.query(sql, parameters=params, column_oriented=True, query_formats={"DateTime64": "int"})
        columns = result.result_columns or [[] for _ in schema]
        table = pa.Table.from_arrays([pa.array(col, type=f.type) for col, f in zip(columns, schema)], schema=schema)
        wall_ms = (time.perf_counter() - started) * 1000
        rows_to_read = int(result.summary.get("read_rows", 0))
    table = table.rename_columns(schema.names).cast(schema)
    cost = QueryCost(call, source, round(wall_ms, 3), rows_to_read, table.num_rows, table.nbytes)
    return Fetched(table, cost)


__all__ = [
    "BAR_COLUMNS_SCHEMA", "BAR_SCHEMA", "OHLCV_SCHEMA", "TICK_TYPES", "Fetched", "QueryCost",
    "bar_columns", "bars_from_rollup", "bars_from_ticks", "known_symbols", "ohlcv", "row_count", "ticks",
]
