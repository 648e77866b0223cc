"""The feed's quote and trade-event queries: quotes, the book at a time, quote bars, and numbers for the tick engine.

Like :mod:`warehouse.feed_sql` (whose ``_fetch`` measures every query: wall time, rows to read, rows and
bytes returned): values are bound server-side (``{name:Type}``), the only text put into SQL is column
names built here from fixed lists, and ranges are ``symbol IN {symbols} AND ts >= {start} AND ts < {end}``
on the ``(symbol, ts)`` key. Quotes are read from ``quotes FINAL`` (each quote once), trades from
``ticks_dedup FINAL`` (each trade once, at its latest version).

An empty level is stored as price 0: :func:`quotes` and :func:`depth_at` return it as nulls,
:func:`quote_columns` as NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from warehouse.errors import WarehouseError
from warehouse.feed_sql import TS, Fetched, _fetch, _range_params, _utc
from warehouse.schema.quotes_ddl import LEVELS, OTHER_COLUMNS, SIDES

_WHERE = ("WHERE symbol IN {symbols:Array(String)} AND ts >= {start:DateTime64(6, 'UTC')} "
          "AND ts < {end:DateTime64(6, 'UTC')}")
# a row's symbol as its position in the request, as warehouse.feed_sql's symbol index: transform() maps the
# LowCardinality dictionary, not each row (on 5 symbols' 2M quotes + trades no faster: 645 vs 647 ms)
_COLUMN = ("CAST(transform(symbol, {symbols:Array(String)}, range(toInt32(length({symbols:Array(String)}))), "
           "toInt32(-1)), 'Int32') AS column_index")
_TYPES = {"px": pa.float64(), "qty": pa.float64(), "orders": pa.uint32()}


def _level(side: str, field: str, k: int, empty: str = "NULL") -> str:
    """A level's value, ``empty`` where the level is empty (price 0)."""
    name = f"{side}_{field}_{k}"
    return f"if({side}_px_{k} > 0, {name}, {empty}) AS {name}"


def quote_schema(levels: int = LEVELS) -> pa.Schema:
    """The columns :func:`quotes` returns for ``levels`` levels.

    >>> quote_schema(1).names[:7]
    ['symbol', 'ts', 'exchange_ts', 'seq', 'bid_px_1', 'bid_qty_1', 'bid_orders_1']
    """
    fields = [("symbol", pa.string()), ("ts", TS), ("exchange_ts", TS), ("seq", pa.uint64())]
    fields += [(f"{side}_{field}_{k}", _TYPES[field]) for side in SIDES for k in range(1, levels + 1)
               for field in ("px", "qty", "orders")]
    return pa.schema(fields + [(name, pa.float64()) for name in OTHER_COLUMNS] + [("session", pa.string())])


def _checked_levels(levels: int) -> int:
    if isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= LEVELS:
        raise WarehouseError(f"levels: {levels!r} is not a whole number from 1 to {LEVELS}")
    return levels


def quotes(client: Any, symbols: Sequence[str], start: datetime, end: datetime, levels: int = LEVELS) -> Fetched:
    """Quotes in ``[start, end)`` with ``levels`` levels, ordered by ``ts, symbol, seq`` (:func:`quote_schema`).

    >>> from datetime import timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_quotes_example"); _ = migrate(client)
    >>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> fetched = quotes(client, ["AAA"], day, day.replace(hour=1), levels=2)
    >>> fetched.table.num_columns, fetched.cost.source
    (24, 'quotes')
    >>> quotes(client, ["AAA"], day, day, levels=6)
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: levels: 6 is not a whole number from 1 to 5
    """
    schema = quote_schema(_checked_levels(levels))
    picked = [_level(*name.split("_"), empty="NULL") if name.startswith(("bid_", "ask_")) else name
              for name in schema.names]
    sql = f"SELECT {', '.join(picked)} FROM quotes FINAL {_WHERE} ORDER BY ts, symbol, seq"
    return _fetch(client, "quotes", "quotes", sql, _range_params(symbols, start, end), schema,
                  scan=f"quotes FINAL {_WHERE}")


DEPTH_SCHEMA = pa.schema([("ts", TS)] + [(f"{side}_{field}_{k}", _TYPES[field]) for side in SIDES
                                         for k in range(1, LEVELS + 1) for field in ("px", "qty", "orders")])


def depth_at(client: Any, symbol: str, at: datetime) -> Fetched:
    """The last quote of ``symbol`` at or before ``at`` (0 or 1 row of :data:`DEPTH_SCHEMA`).

    The quote is looked for from the start of the last minute with quotes before the minute of ``at``
    (``quotes_1m``) up to ``at``, so the read is one small range of ``quotes`` however long ago the symbol
    last quoted (the minute of ``at`` may hold quotes, all after ``at``: the one in force is then earlier).

    >>> from datetime import timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_quotes_example"); _ = migrate(client)
    >>> depth_at(client, "AAA", datetime(2024, 1, 2, tzinfo=timezone.utc)).table.num_rows
    0
    """
    since = ("(SELECT toDateTime64(max(minute), 6, 'UTC') FROM quotes_1m "
             "WHERE symbol = {symbol:String} AND minute < toStartOfMinute({at:DateTime64(6, 'UTC')}))")
    where = f"WHERE symbol = {{symbol:String}} AND ts <= {{at:DateTime64(6, 'UTC')}} AND ts >= {since}"
    picked = [_level(*name.split("_")) for name in DEPTH_SCHEMA.names[1:]]
    sql = f"SELECT ts, {', '.join(picked)} FROM quotes FINAL {where} ORDER BY ts DESC, seq DESC LIMIT 1"
    params = {"symbol": symbol, "at": _utc(at).strftime("%Y-%m-%d %H:%M:%S.%f")}
    return _fetch(client, "depth", "quotes", sql, params, DEPTH_SCHEMA, scan=f"quotes FINAL {where}")


QUOTE_COLUMNS_SCHEMA = pa.schema([("ts", pa.int64()), ("column", pa.int32())]
                                 + [(f"{side}_{field}", pa.list_(pa.float64())) for side in SIDES
                                    for field in ("px", "qty")])
TRADE_COLUMNS_SCHEMA = pa.schema([("ts", pa.int64()), ("column", pa.int32()), ("price", pa.float64()),
                                  ("size", pa.float64())])


def quote_columns(client: Any, symbols: Sequence[str], start: datetime, end: datetime) -> Fetched:
    """Quotes in ``[start, end)`` as numbers for the tick engine (:data:`QUOTE_COLUMNS_SCHEMA`): ``ts`` in ns,
    ``column`` the symbol's position in ``symbols``, each side's 5 prices and quantities as one list (level 1
    first, NaN for an empty level), ordered by ``ts, column, seq``.

    >>> from datetime import timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_quotes_example"); _ = migrate(client)
    >>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> quote_columns(client, ["AAA"], day, day.replace(hour=1)).table.column_names
    ['ts', 'column', 'bid_px', 'bid_qty', 'ask_px', 'ask_qty']
    """
    lists = [f"[{', '.join(_level(side, field, k, 'nan').split(' AS ')[0] for k in range(1, LEVELS + 1))}] "
             f"AS {side}_{field}_levels" for side in SIDES for field in ("px", "qty")]
    sql = (f"SELECT toUnixTimestamp64Nano(ts) AS ts_ns, {_COLUMN}, {', '.join(lists)} FROM quotes FINAL {_WHERE} "
           "ORDER BY ts, column_index, seq")
    return _fetch(client, "quote columns", "quotes", sql, _range_params(symbols, start, end), QUOTE_COLUMNS_SCHEMA,
                  scan=f"quotes FINAL {_WHERE}")


def trade_columns(client: Any, symbols: Sequence[str], start: datetime, end: datetime) -> Fetched:
    """Trades in ``[start, end)`` from ``ticks_dedup FINAL`` as :data:`TRADE_COLUMNS_SCHEMA` (``ts`` in ns,
    ``column`` the symbol's position in ``symbols``), ordered by ``ts, column, trade_id``.

    >>> from datetime import timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_quotes_example"); _ = migrate(client)
    >>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> trade_columns(client, ["AAA"], day, day.replace(hour=1)).cost.source
    'ticks_dedup'
    """
    sql = (f"SELECT toUnixTimestamp64Nano(ts) AS ts_ns, {_COLUMN}, price, size FROM ticks_dedup FINAL {_WHERE} "
           "ORDER BY ts, column_index, trade_id")
    return _fetch(client, "trade columns", "ticks_dedup", sql, _range_params(symbols, start, end),
                  TRADE_COLUMNS_SCHEMA, scan=f"ticks_dedup FINAL {_WHERE}")


def quoted_symbols(client: Any, symbols: Sequence[str]) -> Fetched:
    """Those of ``symbols`` with any quote (from ``quotes_1m``), sorted; one column ``symbol``.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_quotes_example"); _ = migrate(client)
    >>> quoted_symbols(client, ["NOPE"]).table.num_rows
    0
    """
    sql = "SELECT DISTINCT symbol FROM quotes_1m WHERE symbol IN {symbols:Array(String)} ORDER BY symbol"
    return _fetch(client, "quoted symbols", "quotes_1m", sql, {"symbols": list(symbols)},
                  pa.schema([("symbol", pa.string())]))


QUOTE_BAR_SCHEMA = pa.schema([("column", pa.int32()), ("bucket", pa.int64())]
                             + [(name, pa.float64()) for name in
                                ("bid", "ask", "bid_qty", "ask_qty", "bid_depth", "ask_depth")])


def _depth(side: str) -> str:
    """The quantity on a side's levels that have a price (an empty level is stored as price 0)."""
    return " + ".join(f"if({side}_px_{k} > 0, {side}_qty_{k}, 0)" for k in range(1, LEVELS + 1))


def quote_bars(client: Any, symbols: Sequence[str], start: datetime, end: datetime, step_seconds: int) -> Fetched:
    """The last quote of each ``step_seconds`` interval in ``[start, end)`` per symbol (:data:`QUOTE_BAR_SCHEMA`).

    ``column`` is the symbol's position in ``symbols``; ``bucket`` the interval's start (ns);
    ``bid``/``ask`` and ``*_qty`` the top of book (NaN on an empty side), ``*_depth`` the five levels'
    quantity. Ordered by ``column, bucket``: the book strategies that read quotes see at each bar's close
    (:mod:`backtest.feed.quote_bars`).

    >>> from datetime import timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_quotes_example"); _ = migrate(client)
    >>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> quote_bars(client, ["AAA"], day, day.replace(hour=1), 60).table.column_names
    ['column', 'bucket', 'bid', 'ask', 'bid_qty', 'ask_qty', 'bid_depth', 'ask_depth']
    """
    step_ns = int(step_seconds) * 10**9
    last = "argMax({value}, (ts, seq))"
    picked = [
        f"{last.format(value='if(bid_px_1 > 0, bid_px_1, nan)')} AS bid",
        f"{last.format(value='if(ask_px_1 > 0, ask_px_1, nan)')} AS ask",
        f"{last.format(value='bid_qty_1')} AS bid_qty",
        f"{last.format(value='ask_qty_1')} AS ask_qty",
        f"{last.format(value=_depth('bid'))} AS bid_depth",
        f"{last.format(value=_depth('ask'))} AS ask_depth",
    ]
    sql = (f"SELECT {_COLUMN}, intDiv(toUnixTimestamp64Nano(ts), {{step:Int64}}) * {{step:Int64}} AS bucket, "
           f"{', '.join(picked)} "
           f"FROM quotes FINAL {_WHERE} GROUP BY column_index, bucket ORDER BY column_index, bucket")
    params = {**_range_params(symbols, start, end), "step": step_ns}
    return _fetch(client, "quote bars", "quotes", sql, params, QUOTE_BAR_SCHEMA, scan=f"quotes FINAL {_WHERE}")
