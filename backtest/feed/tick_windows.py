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
[([1, 0], [100.0, 100.0]), ([1, 0, 1, 0], [101.0, 101.0, 102.0, 102.0]), ([1, 0], [103.0, 103.0])]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import NamedTuple

import numpy as np
import polars as pl

from backtest.feed.reader import Feed
from backtest.feed.request import to_utc


class TradeArrays(NamedTuple):
    """One window's prints: ``ts`` int64 ns UTC, ``column`` int64, ``price`` and ``size`` float64."""

    ts: np.ndarray
    column: np.ndarray
    price: np.ndarray
    size: np.ndarray


class QuoteArrays(NamedTuple):
    """One window's book updates: ``ts``, ``column`` and ``(n, levels)`` bid/ask prices and quantities."""

    ts: np.ndarray
    column: np.ndarray
    bid_px: np.ndarray
    bid_qty: np.ndarray
    ask_px: np.ndarray
    ask_qty: np.ndarray


def no_quote_arrays(levels: int = 0) -> QuoteArrays:
    """An empty window of quotes with ``levels`` book levels.

    >>> no_quote_arrays(5).ask_qty.shape
    (0, 5)
    """
    empty = np.empty((0, levels))
    return QuoteArrays(np.empty(0, np.int64), np.empty(0, np.int64), empty, empty, empty, empty)


def tick_windows(feed: Feed, symbols: Sequence[str], start: datetime | date | str, end: datetime | date | str,
                 *, window: timedelta = timedelta(days=1)) -> Iterator[tuple[TradeArrays, QuoteArrays]]:
    """The trades of ``symbols`` in ``[start, end)``, a ``window`` at a time (empty windows are skipped)."""
    names = list(symbols)
    t0, t1 = to_utc(start, "start"), to_utc(end, "end")
    lo = t0
    while lo < t1:
        hi = min(lo + window, t1)
        trades = feed.ticks(names, lo, hi, columns=["price", "size"])
        if not trades.is_empty():
            yield _trade_arrays(trades, names), no_quote_arrays()
        lo = hi


def _trade_arrays(trades: pl.DataFrame, names: list[str]) -> TradeArrays:
    """A tick frame (``ts``, ``symbol``, ``price``, ``size``; ordered by time) as :class:`TradeArrays`."""
    column = trades["symbol"].cast(pl.Enum(names)).to_physical().to_numpy().astype(np.int64)
    return TradeArrays(trades["ts"].dt.epoch("ns").to_numpy(), column,
                       trades["price"].to_numpy().astype(np.float64), trades["size"].to_numpy().astype(np.float64))
