"""Trades (and quotes) of several symbols as numpy arrays, one time window at a time, for tick execution.

A replay of a year streams through windows (one day by default), so memory follows the
window, never the year. Each window's arrays are ordered by time across the symbols; ``column``
is the symbol's position in the list asked for.

>>> import datetime as dt
>>> from warehouse.client import connect
>>> from warehouse.schema.migrate import migrate
>>> client = connect(database="tick_windows_example")
>>> _ = migrate(client)
>>> t0 = dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.timezone.utc)
>>> rows = [(s, t0 + dt.timedelta(hours=12 * i), 100.0 + i, 1.0, 1, i, 0) for s in ("A", "B") for i in range(4)]
>>> _ = client.insert("ticks", rows, column_names=["symbol", "ts", "price", "size", "side", "trade_id", "version"])
>>> windows = list(tick_windows(Feed(client), ["B", "A"], "2024-01-02", "2024-01-05"))
>>> [(w[0].column.tolist(), w[0].price.tolist()) for w in windows]
[([0, 1], [100.0, 100.0]), ([0, 1, 0, 1], [101.0, 101.0, 102.0, 102.0]), ([0, 1], [103.0, 103.0])]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta

import numpy as np

from backtest.feed.events import QuoteArrays, TradeArrays
from backtest.feed.reader import Feed
from backtest.feed.request import to_utc
from warehouse import feed_quotes


def no_quote_arrays(levels: int = 0) -> QuoteArrays:
    """An empty window of quotes with ``levels`` book levels.

    >>> no_quote_arrays(5).ask_qty.shape
    (0, 5)
    """
    empty = np.empty((0, levels))
    return QuoteArrays(np.empty(0, np.int64), np.empty(0, np.int32), empty, empty, empty, empty)


def tick_windows(feed: Feed, symbols: Sequence[str], start: datetime | date | str, end: datetime | date | str,
                 *, window: timedelta = timedelta(days=1)) -> Iterator[tuple[TradeArrays, QuoteArrays]]:
    """The trades and quotes of ``symbols`` in ``[start, end)``, a ``window`` at a time (empty windows are skipped).

    Symbols with no quotes in the warehouse get none (their orders fill on prints); when no symbol
    has quotes, the windows' quotes have no levels.
    """
    names = list(symbols)
    t0, t1 = to_utc(start, "start"), to_utc(end, "end")
    fetched = feed_quotes.quoted_symbols(feed.client, names)
    feed.stats.append(fetched.cost)
    quoted = [name for name in names if name in set(fetched.table.column("symbol").to_pylist())]
    as_column = np.array([names.index(name) for name in quoted], dtype=np.int32)
    lo = t0
    while lo < t1:
        hi = min(lo + window, t1)
        # the symbols are looked up once (the first window refuses one with no ticks at all; quoted ones are known)
        trades = feed.trade_arrays(names, lo, hi, known=lo > t0)
        quotes = _remapped(feed.quote_arrays(quoted, lo, hi, known=True), as_column) if quoted else no_quote_arrays()
        if len(trades.ts) or len(quotes.ts):
            yield trades, quotes
        lo = hi


def _remapped(quotes: QuoteArrays, as_column: np.ndarray) -> QuoteArrays:
    """``quotes`` read for the quoted symbols, their ``column`` turned into positions among all symbols."""
    return quotes._replace(column=as_column[quotes.column]) if len(quotes.ts) else quotes

