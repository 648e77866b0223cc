"""Bars with the book in force at each bar's close, for strategies that read quotes (``reads = "quotes"``).

:func:`with_quotes` adds to the trade bars, per bar and symbol, the last quote at or before the
bar's close: top of book, its quantities and the quantity on five levels per side. A bar with no
new quote keeps the one in force (quotes are never taken from the future); before a symbol's first
quote the values are NaN.

>>> import numpy as np
>>> index = np.array([0, 60, 120], dtype="datetime64[s]").astype("datetime64[us]")
>>> bucket = np.array([0, 120]) * 10**9
>>> np.round(_carried(bucket, np.array([1.0, 3.0]), index.astype("datetime64[ns]").astype(np.int64)), 1).tolist()
[1.0, 1.0, 3.0]
"""

from __future__ import annotations

from datetime import timezone
from typing import NamedTuple

import numpy as np

from backtest.feed.frames import BarArrays
from backtest.feed.reader import Feed
from warehouse.feed_quotes import quote_bars

QUOTE_FIELDS = ("bid", "ask", "bid_qty", "ask_qty", "bid_depth", "ask_depth")


class QuoteBars(NamedTuple):
    """:class:`~backtest.feed.BarArrays` plus the book at each bar's close, all ``(n_bars, n_symbols)`` float64.

    ``bid``/``ask`` and ``bid_qty``/``ask_qty``: the top of book; ``bid_depth``/``ask_depth``: the
    quantity on the five levels of each side.
    """

    index: np.ndarray
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    bid_qty: np.ndarray
    ask_qty: np.ndarray
    bid_depth: np.ndarray
    ask_depth: np.ndarray

    @property
    def mid(self) -> np.ndarray:
        """The mid of the top of book."""
        return 0.5 * (self.bid + self.ask)

    @property
    def spread(self) -> np.ndarray:
        """Ask minus bid."""
        return self.ask - self.bid

    @property
    def imbalance(self) -> np.ndarray:
        """Depth imbalance in [-1, 1]: (bid depth - ask depth) / (bid depth + ask depth) over five levels."""
        total = self.bid_depth + self.ask_depth
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, (self.bid_depth - self.ask_depth) / total, np.nan)


def with_quotes(feed: Feed, bars: BarArrays, interval_seconds: int) -> QuoteBars:
    """``bars`` with the quotes in force at each bar's close, read from ``feed`` (its cost is recorded)."""
    starts = bars.index.astype("datetime64[ns]").astype(np.int64)
    start, end = (np.datetime64(int(t), "ns").astype("datetime64[us]").item().replace(tzinfo=timezone.utc)
                  for t in (starts[0], starts[-1] + interval_seconds * 10**9))
    fetched = quote_bars(feed.client, bars.symbols, start, end, interval_seconds)
    feed.stats.append(fetched.cost)
    table = fetched.table
    column = table.column("column").to_numpy()
    bucket = table.column("bucket").to_numpy()
    values = {name: np.full(bars.close.shape, np.nan) for name in QUOTE_FIELDS}
    for j in range(len(bars.symbols)):
        mine = column == j
        for name in QUOTE_FIELDS:
            values[name][:, j] = _carried(bucket[mine], table.column(name).to_numpy()[mine], starts)
    return QuoteBars(*bars, **values)


def _carried(bucket: np.ndarray, value: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per bar start, the value of the last quote bucket at or before it (NaN before the first)."""
    last = np.searchsorted(bucket, starts, side="right") - 1
    return np.where(last >= 0, value[np.maximum(last, 0)] if len(value) else np.nan, np.nan)

