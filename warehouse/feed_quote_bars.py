"""Quote bars: the book in force at the end of each interval, per symbol, for strategies that read quotes.

One row per symbol and interval that had quotes: the last quote's top of book and the quantities on
the five levels of each side, from ``quotes FINAL`` (each quote once). Buckets are labelled by their
start in ns since the epoch (UTC), like bars; ranges and symbols are bound server-side.

>>> from datetime import datetime, timezone
>>> from warehouse.client import connect
>>> from warehouse.schema.migrate import migrate
>>> client = connect(database="quote_bars_example"); _ = migrate(client)
>>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
>>> quote_bars(client, ["AAA"], day, day.replace(hour=1), 60).table.column_names
['column', 'bucket', 'bid', 'ask', 'bid_qty', 'ask_qty', 'bid_depth', 'ask_depth']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from warehouse.feed_sql import Fetched, _fetch, _range_params
from warehouse.schema.quotes_ddl import LEVELS

QUOTE_BAR_SCHEMA = pa.schema([("column", pa.int32()), ("bucket", pa.int64())]
                             + [(name, pa.float64()) for name in
                                ("bid", "ask", "bid_qty", "ask_qty", "bid_depth", "ask_depth")])

_WHERE = ("WHERE symbol IN {symbols:Array(String)} AND ts >= {start:DateTime64(6, 'UTC')} "
          "AND ts < {end:DateTime64(6, 'UTC')}")


def _depth(side: str) -> str:
    """The quantity on a side's levels that have a price (an empty level is stored as price 0)."""
    return " + ".join(f"if({side}_px_{k} > 0, {side}_qty_{k}, 0)" for k in range(1, LEVELS + 1))


def quote_bars(client: Any, symbols: Sequence[str], start: datetime, end: datetime, step_seconds: int) -> Fetched:
    """The last quote of each ``step_seconds`` interval in ``[start, end)`` per symbol (:data:`QUOTE_BAR_SCHEMA`).

    ``column`` is the symbol's position in ``symbols``; ``bucket`` the interval's start (ns);
    ``bid``/``ask`` and ``*_qty`` the top of book (NaN on an empty side), ``*_depth`` the five levels'
    quantity. Ordered by ``column, bucket``.
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
    sql = (f"SELECT toInt32(indexOf({{symbols:Array(String)}}, toString(symbol)) - 1) AS column_index, "
           f"intDiv(toUnixTimestamp64Nano(ts), {{step:Int64}}) * {{step:Int64}} AS bucket, {', '.join(picked)} "
           f"FROM quotes FINAL {_WHERE} GROUP BY column_index, bucket ORDER BY column_index, bucket")
    params = {**_range_params(symbols, start, end), "step": step_ns}
    return _fetch(client, "quote bars", "quotes", sql, params, QUOTE_BAR_SCHEMA, scan=f"quotes FINAL {_WHERE}")
