"""The bar loop: one portfolio with one cash pool over ``(n_bars, n_columns)`` prices.

Per bar: orders pending from the previous close fill at the open (next-open
fills), stops are checked on the bar's high and low, the close is marked and
the bar's signals are read (filled now with close fills, else at the next
open), then equity is marked to market. Stretches of bars where nothing can
trade (no signal, nothing pending, no stop to watch) are marked in a tight
loop. The pieces live by job in :mod:`~backtest.engine.kernels.fills`,
:mod:`~backtest.engine.kernels.stops` and :mod:`~backtest.engine.kernels.marking`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from backtest.engine.kernels.cache_stamp import STAMP
from backtest.engine.kernels.fills import (Order, allowed, equity, fill_order, idle, open_trade_exit, order_units,
                                           write_trade)
from backtest.engine.kernels.marking import holding, mark_quiet_bars
from backtest.engine.kernels.numba_options import NO_REFCOUNTS
from backtest.engine.kernels.records import (
    MARK, PENDING, POS, REASON_END, REASON_SIGNAL, SIGNALS_DIRECTION, STATE_FIELDS, WANTED, Book, Prices, Rules)
from backtest.engine.kernels.stops import check_stops


@njit(cache=True, nogil=True)
def signal_cells_nb(rows: np.ndarray) -> int:
    """How many non-NaN signals ``rows`` holds: each fills at most three orders and opens at most one trade.

    >>> signal_cells_nb(np.array([[1.0, np.nan], [np.nan, -1.0], [0.0, 1.0]]))
    4
    """
    cells = 0
    for i in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            if not np.isnan(rows[i, j]):
                cells += 1
    return cells


def _compile(stamp: int):
    """The bar loop, cached under ``stamp`` (see :mod:`backtest.engine.kernels.cache_stamp`)."""

    @njit(cache=True, **NO_REFCOUNTS)
    def simulate_into_nb(prices: Prices, bars: np.ndarray, rows: np.ndarray, rules: Rules, equity: np.ndarray,
                         orders: np.ndarray, trades: np.ndarray, state: np.ndarray) -> tuple[int, int, int, int]:
        """Simulate the signals ``rows`` (at bars ``bars``) over ``prices`` under ``rules``.

        Signals are sparse: ``rows[i]`` holds every column's signal at bar
        ``bars[i]`` (NaN = no signal for that column). Writes equity per bar and
        the order and trade records (``ORDER_*`` / ``TRADE_*`` rows; each order
        records the position and cash after it; trades still open at the end are
        marked to the last price and flagged ``TRADE_IS_OPEN``) into buffers the
        caller owns, and returns ``(n_orders, n_closed, n_trades,
        exposure_bars)``: trades ``[0, n_closed)`` are closed, ``[n_closed,
        n_trades)`` still open; exposure counts the bars that ended with any
        position open.

        ``equity`` has one slot per bar; ``orders`` is ``(ORDER_FIELDS, >= 3 *
        cells + k)``, or ``(ORDER_FIELDS, 0)`` to keep no order book (sweeps);
        ``trades`` is ``(TRADE_FIELDS, >= cells + k)`` (:func:`signal_cells_nb`);
        ``state`` is ``(STATE_FIELDS, k)`` scratch.

        >>> from backtest.engine.kernels.records import ORDER_FIELDS, TRADE_FIELDS, Rules
        >>> close = np.array([[10.0], [11.0], [12.0]])
        >>> rules = Rules(100.0, True, 0.0, 0.0, 0.0, 0, 2, 0, 1.0, 0, 0.0, False, np.nan, np.nan, np.nan, True)
        >>> equity = np.empty(3)
        >>> simulate_into_nb(Prices(close, close, close, close), np.array([0]), np.array([[1.0]]), rules, equity,
        ...                  np.empty((ORDER_FIELDS, 4)), np.empty((TRADE_FIELDS, 2)), np.empty((STATE_FIELDS, 1)))
        (2, 1, 1, 2)
        >>> equity.tolist()
        [100.0, 110.0, 120.0]
        """
        stamp  # noqa: B018 -- ties this cache entry to the kernel sources
        n = prices.close.shape[0]
        cash = rules.init_cash
        book = Book(orders, trades, 0, 0)
        _reset(state)
        use_stops = not (np.isnan(rules.stop_loss) and np.isnan(rules.take_profit) and np.isnan(rules.trailing_stop))
        last = n - 1 if rules.close_at_end else n
        n_events = bars.shape[0]
        e = 0  # next event
        n_pending = 0
        exposure_bars = 0

        t = 0
        while t < n:
            # bars where nothing can trade: no signal, nothing pending, no stop to watch, not the closing bar
            if n_pending == 0 and not (use_stops and holding(state)):
                stop = min(bars[e] if e < n_events else n, last)
                if stop > t:
                    exposure_bars += mark_quiet_bars(t, stop, prices, rules.fill_at_close, state, cash, equity)
                    t = stop
                    if t >= n:
                        break
            has_signal = e < n_events and bars[e] == t
            # the bar's open, then its close; signals fill in one place, so the inlined fill code is compiled once
            for at_close in (False, True):
                fills = False
                if not at_close and not rules.fill_at_close:  # orders from the previous close fill at the open
                    n_pending -= _take_pending(t, prices, state)
                    fills = True
                elif at_close:
                    _mark_close(t, prices, state)
                    if has_signal:  # this bar's signals: fill now, or at the next open
                        n_pending += _read_signals(t, rows[e], prices, state, rules)
                        e += 1
                        fills = rules.fill_at_close
                if fills:
                    cash, book = _fill_wanted(t, prices.close if at_close else prices.open, state, cash, book, rules)
                if not at_close and use_stops:  # stops inside the bar, on its high and low
                    cash, book = check_stops(t, prices, state, cash, book, rules)
            if rules.close_at_end and t == n - 1:
                cash, book = _close_all(t, state, cash, book, rules)
            exposure_bars += mark_quiet_bars(t, t + 1, prices, True, state, cash, equity)
            t += 1

        n_trades = book.n_trades
        for j in range(state.shape[1]):  # trades still open are reported marked to the last price
            if state[POS, j] != 0.0:
                write_trade(trades, n_trades, state, j, open_trade_exit(n - 1, j, state))
                n_trades += 1
        return book.n_orders, book.n_trades, n_trades, exposure_bars

    return simulate_into_nb


@njit(inline="always")
def _reset(state: np.ndarray) -> None:
    """Every column flat, with no price seen and nothing pending."""
    for j in range(state.shape[1]):
        for field in range(STATE_FIELDS):
            state[field, j] = 0.0
        state[MARK, j] = np.nan
        state[PENDING, j] = np.nan


@njit(inline="always")
def _take_pending(t: int, prices: Prices, state: np.ndarray) -> int:
    """Columns with an open at bar ``t`` take their pending signal as wanted; how many pending ones that took."""
    taken = 0
    for j in range(state.shape[1]):
        if not np.isnan(prices.open[t, j]):
            state[MARK, j] = prices.open[t, j]
            state[WANTED, j] = state[PENDING, j]
            if not np.isnan(state[PENDING, j]):
                taken += 1
            state[PENDING, j] = np.nan
        else:
            state[WANTED, j] = np.nan
    return taken


@njit(inline="always")
def _mark_close(t: int, prices: Prices, state: np.ndarray) -> None:
    """Every column with a close at bar ``t`` is marked at it."""
    for j in range(state.shape[1]):
        if not np.isnan(prices.close[t, j]):
            state[MARK, j] = prices.close[t, j]


@njit(inline="always")
def _read_signals(t: int, row: np.ndarray, prices: Prices, state: np.ndarray, rules: Rules) -> int:
    """Store bar ``t``'s signals as wanted now (close fills) or pending; how many new pending ones."""
    added = 0
    for j in range(state.shape[1]):
        s = row[j]
        if rules.fill_at_close:
            state[WANTED, j] = np.nan if np.isnan(prices.close[t, j]) else allowed(s, rules.direction)
        elif not np.isnan(s):
            if np.isnan(state[PENDING, j]):
                added += 1
            state[PENDING, j] = allowed(s, rules.direction)
    return added


@njit(inline="always")
def _fill_wanted(t: int, price: np.ndarray, state: np.ndarray, cash: float, book: Book,
                 rules: Rules) -> tuple[float, Book]:
    """Move every column towards its wanted signal at ``price[t]``: all reductions first, then additions.

    Reducing everywhere first frees cash the additions can use (one cash pool). Orders are sized
    on one equity figure whatever the column order: target weights on the equity before any of
    these orders, direction entries on the equity after the reductions.
    """
    value = equity(cash, state)
    for phase in range(2):
        if phase == 1 and rules.signals == SIGNALS_DIRECTION:
            value = equity(cash, state)
        for j in range(state.shape[1]):
            want = state[WANTED, j]
            if np.isnan(want) or idle(phase, state[POS, j], want, rules):
                continue
            units = order_units(phase, j, want, price[t, j], state, cash, value, rules)
            if units != 0.0:
                cash, book = fill_order(Order(t, j, units, price[t, j], REASON_SIGNAL), state, cash, book, rules)
    return cash, book


@njit(inline="always")
def _close_all(t: int, state: np.ndarray, cash: float, book: Book, rules: Rules) -> tuple[float, Book]:
    """Close every position at its latest price on the last bar (``close_at_end``)."""
    for j in range(state.shape[1]):
        if state[POS, j] != 0.0 and not np.isnan(state[MARK, j]):
            cash, book = fill_order(Order(t, j, -state[POS, j], state[MARK, j], REASON_END), state, cash, book, rules)
    return cash, book


simulate_into_nb = _compile(STAMP)
