"""Trades joined to the quote in force at their time (``ASOF LEFT JOIN``): the spread each trade paid.

For each trade of ``ticks_dedup FINAL`` in ``[start, end)`` (each trade once, at its latest version), the
last quote of ``quotes FINAL`` of its symbol at or before its time: a quote at exactly the trade's time is in
force (of several quotes at one time, the one with the highest ``seq``, as
:func:`warehouse.feed_quotes.depth_at` picks). Columns (:data:`SPREAD_SCHEMA`): the trade (symbol, ts, price,
size, side, trade_id), the quote's time ``quote_ts``, its top of book ``bid``, ``ask``, ``bid_qty``, ``ask_qty``,
``mid = (bid + ask) / 2``, ``spread = ask - bid``, and per trade ``spread_paid = |price - mid|`` and
``effective_spread = 2 |price - mid|``, side-signed where the trade has a side (``side * (price - mid)``: a buy
above the mid or a sell below it pays, price improvement comes out negative). A trade before any quote of its
symbol, or whose quote has an empty side, has nulls there.

The quotes are read from the last minute with quotes (``quotes_1m``) before the minute of ``start`` of any of
the symbols, so the quote in force at the first trade is found however long before ``start`` it came, and the
read stays one range of the ``(symbol, ts)`` key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from warehouse.feed_sql import TICK_TYPES, TS, Fetched, _fetch, _range_params

SPREAD_SCHEMA = pa.schema([(name, TICK_TYPES[name]) for name in ("symbol", "ts", "price", "size", "side", "trade_id")]
                          + [("quote_ts", TS)]
                          + [(name, pa.float64()) for name in ("bid", "ask", "bid_qty", "ask_qty", "mid", "spread",
                                                               "spread_paid", "effective_spread")])
_RANGE = ("symbol IN {symbols:Array(String)} AND ts >= {start:DateTime64(6, 'UTC')} "
          "AND ts < {end:DateTime64(6, 'UTC')}")
_SINCE = """(SELECT toDateTime64(min(last_minute), 6, 'UTC') FROM (
        SELECT max(minute) AS last_minute FROM quotes_1m WHERE symbol IN {symbols:Array(String)}
            AND minute < toStartOfMinute({start:DateTime64(6, 'UTC')}) GROUP BY symbol))"""
_SQL = f"""SELECT t.symbol AS out_symbol, t.ts AS out_ts, t.price AS out_price, t.size AS out_size, t.side AS out_side,
    t.trade_id AS out_trade_id, q.ts AS out_quote_ts, q.bid AS out_bid, q.ask AS out_ask, q.bid_qty AS out_bid_qty,
    q.ask_qty AS out_ask_qty, (q.bid + q.ask) / 2 AS out_mid, q.ask - q.bid AS out_spread,
    if(t.side != 0, t.side * (t.price - out_mid), abs(t.price - out_mid)) AS out_spread_paid,
    2 * out_spread_paid AS out_effective_spread
FROM (SELECT symbol, ts, price, size, side, trade_id FROM ticks_dedup FINAL WHERE {_RANGE}) AS t
ASOF LEFT JOIN (
    SELECT symbol, ts, if(bid_px_1 > 0, bid_px_1, NULL) AS bid, if(ask_px_1 > 0, ask_px_1, NULL) AS ask,
        bid_qty_1 AS bid_qty, ask_qty_1 AS ask_qty
    FROM quotes FINAL
    WHERE symbol IN {{symbols:Array(String)}} AND ts < {{end:DateTime64(6, 'UTC')}} AND ts >= {_SINCE}
    ORDER BY symbol, ts, seq DESC LIMIT 1 BY symbol, ts
) AS q ON t.symbol = q.symbol AND t.ts >= q.ts
ORDER BY out_ts, out_symbol, out_trade_id
SETTINGS join_use_nulls = 1"""


def trades_with_quotes(client: Any, symbols: Sequence[str], start: datetime, end: datetime) -> Fetched:
    """Trades of ``symbols`` in ``[start, end)`` with the quote in force at each (:data:`SPREAD_SCHEMA`), ordered
    by ``ts, symbol, trade_id``; the cost's rows to read count the trades and the quotes read.

    >>> from datetime import timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_spread_example"); _ = migrate(client)
    >>> day = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> fetched = trades_with_quotes(client, ["AAA"], day, day.replace(hour=1))
    >>> fetched.table.column_names[6:]
    ['quote_ts', 'bid', 'ask', 'bid_qty', 'ask_qty', 'mid', 'spread', 'spread_paid', 'effective_spread']
    >>> fetched.cost.source
    'ticks_dedup+quotes'
    """
    return _fetch(client, "trades with quotes", "ticks_dedup+quotes", _SQL, _range_params(symbols, start, end),
                  SPREAD_SCHEMA)
