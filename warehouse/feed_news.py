"""The feed's reference-data queries: instruments, news and index levels, as Arrow tables with their cost.

Like :mod:`warehouse.feed_sql` (whose ``_fetch`` measures every query): values are bound server-side
(``{name:Type}``), no value is put into the SQL text. ``instruments FINAL`` holds the latest row per instrument
token; ``news FINAL`` each article once (a re-load replaces), read by time (its sort key) and
``hasAny(symbols, ...)`` (its bloom filter, :mod:`warehouse.schema.news_ddl`); ``indices FINAL`` by
``(index_name, ts)``, its sort key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from warehouse.feed_sql import TS, Fetched, _fetch, _utc

INSTRUMENTS_SCHEMA = pa.schema([
    ("instrument_token", pa.uint64()), ("exchange_token", pa.uint64()), ("symbol", pa.string()),
    ("tradingsymbol", pa.string()), ("name", pa.string()), ("exchange", pa.string()), ("segment", pa.string()),
    ("instrument_type", pa.string()), ("asset_class", pa.string()), ("sector", pa.string()),
    ("lot_size", pa.uint32()), ("tick_size", pa.float64()), ("expiry", pa.date32()), ("strike", pa.float64()),
    ("exchange_tz", pa.string()),
])
NEWS_SCHEMA = pa.schema([
    ("published_at", pa.timestamp("ms", tz="UTC")), ("id", pa.string()), ("source", pa.string()),
    ("title", pa.string()), ("body", pa.string()), ("link", pa.string()), ("symbols", pa.list_(pa.string())),
    ("sentiment", pa.float32()), ("confidence", pa.float32()), ("categories", pa.list_(pa.string())),
])
INDICES_SCHEMA = pa.schema([("ts", TS), ("index_name", pa.string()), ("value", pa.float64())]
                           + [(name, pa.float64()) for name in ("open", "high", "low", "close")])
_NAMES = pa.schema([("symbol", pa.string())])
_MS = "DateTime64(3, 'UTC')"


def _times(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": _utc(start).strftime("%Y-%m-%d %H:%M:%S.%f"), "end": _utc(end).strftime("%Y-%m-%d %H:%M:%S.%f")}


def instruments(client: Any, symbols: Sequence[str] | None = None, exchange: str | None = None) -> Fetched:
    """Instruments (:data:`INSTRUMENTS_SCHEMA`; the latest row per token), of ``symbols`` (None: all) on ``exchange``
    (None: any), ordered by ``symbol, exchange, instrument_token``.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_news_example"); _ = migrate(client)
    >>> fetched = instruments(client, ["INFY"], "NSE")
    >>> fetched.table.num_rows, fetched.cost.source
    (0, 'instruments')
    """
    columns = ", ".join(INSTRUMENTS_SCHEMA.names)
    where = ("WHERE ({every:Bool} OR symbol IN {symbols:Array(String)}) "
             "AND ({exchange:String} = '' OR exchange = {exchange:String})")
    sql = f"SELECT {columns} FROM instruments FINAL {where} ORDER BY symbol, exchange, instrument_token"
    params = {"every": symbols is None, "symbols": list(symbols or []), "exchange": exchange or ""}
    return _fetch(client, "instruments", "instruments", sql, params, INSTRUMENTS_SCHEMA,
                  scan=f"instruments FINAL {where}")


def news(client: Any, symbols: Sequence[str], start: datetime, end: datetime) -> Fetched:
    """Articles published in ``[start, end)`` that mention any of ``symbols`` (:data:`NEWS_SCHEMA`), each once,
    ordered by ``published_at, id`` (newest last).

    >>> from datetime import timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_news_example"); _ = migrate(client)
    >>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> news(client, ["AAPL"], day, day.replace(day=3)).table.column_names[:4]
    ['published_at', 'id', 'source', 'title']
    """
    where = (f"WHERE published_at >= {{start:{_MS}}} AND published_at < {{end:{_MS}}} "
             "AND hasAny(symbols, {symbols:Array(String)})")
    sql = f"SELECT {', '.join(NEWS_SCHEMA.names)} FROM news FINAL {where} ORDER BY published_at, id"
    return _fetch(client, "news", "news", sql, {"symbols": list(symbols), **_times(start, end)}, NEWS_SCHEMA,
                  scan=f"news FINAL {where}")


def indices(client: Any, names: Sequence[str], start: datetime, end: datetime) -> Fetched:
    """Levels of the indices ``names`` in ``[start, end)`` (:data:`INDICES_SCHEMA`), ordered by ``ts, index_name``.

    >>> from datetime import timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_news_example"); _ = migrate(client)
    >>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> indices(client, ["NIFTY 50"], day, day.replace(day=3)).cost.source
    'indices'
    """
    where = ("WHERE index_name IN {names:Array(String)} AND ts >= {start:DateTime64(6, 'UTC')} "
             "AND ts < {end:DateTime64(6, 'UTC')}")
    sql = f"SELECT {', '.join(INDICES_SCHEMA.names)} FROM indices FINAL {where} ORDER BY ts, index_name"
    return _fetch(client, "indices", "indices", sql, {"names": list(names), **_times(start, end)}, INDICES_SCHEMA,
                  scan=f"indices FINAL {where}")


def known_names(client: Any, names: Sequence[str]) -> Fetched:
    """Those of ``names`` the warehouse knows as a symbol (ticks, instruments, or mentioned by news); one column
    ``symbol``, sorted.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_news_example"); _ = migrate(client)
    >>> known_names(client, ["NOPE"]).table.num_rows
    0
    """
    sql = """SELECT DISTINCT toString(symbol) AS name FROM (
    SELECT symbol FROM ticks WHERE symbol IN {names:Array(String)}
    UNION ALL SELECT symbol FROM instruments WHERE symbol IN {names:Array(String)}
    UNION ALL SELECT arrayJoin(symbols) AS symbol FROM news WHERE hasAny(symbols, {names:Array(String)})
) WHERE symbol IN {names:Array(String)} ORDER BY name"""
    return _fetch(client, "known names", "ticks+instruments+news", sql, {"names": list(names)}, _NAMES)


def known_indices(client: Any, names: Sequence[str]) -> Fetched:
    """Those of ``names`` with any level in ``indices``; one column ``symbol`` (the index name), sorted.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_news_example"); _ = migrate(client)
    >>> known_indices(client, ["NOPE"]).table.num_rows
    0
    """
    sql = ("SELECT DISTINCT toString(index_name) AS name FROM indices WHERE index_name IN {names:Array(String)} "
           "ORDER BY name")
    return _fetch(client, "known indices", "indices", sql, {"names": list(names)}, _NAMES)
