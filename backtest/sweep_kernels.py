"""Numba kernels of parameter sweeps: many signal sets in, one row of statistics per set out.

Signals reach the kernel sparse: :func:`events_nb` keeps only the bars where a
set has any non-NaN signal (its *event bars*), so a chunk of sets costs memory
in proportion to its signals' events, not sets x bars. :func:`sweep_stats_nb`
simulates every set (``prange``: sets spread over cores) with the same rules,
the same fill helpers and the same :func:`~backtest.engine_kernels.stats_nb`
as :func:`~backtest.engine_kernels.simulate_nb`, but keeps nothing of a set
beyond its statistics: no positions, no order book, and the equity curve only
while the set runs (one per thread).

Stretches of bars where nothing can happen (no event, nothing pending, no
stop to check) are marked to market in a tight loop; every other bar runs the
engine's full bar step. ``tests/test_sweep.py`` checks the statistics equal
those of :func:`backtest.engine.run` plus :func:`backtest.stats.summarize`.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
from numba import njit, prange
from numba.core.caching import CacheImpl, InTreeCacheLocator

from backtest import engine_kernels
from backtest.engine_kernels import (
    ORDER_FIELDS,
    REASON_END,
    SIGNALS_DIRECTION,
    STAT_FIELDS,
    TRADE_FIELDS,
    TRADE_PNL,
    TRADE_RETURN,
    _allowed,
    _execute,
    _stop_hit,
    _trade,
    stats_nb,
)


class _WithEngineLocator(InTreeCacheLocator):
    """Numba's in-tree cache for this file, stale when this file *or* ``engine_kernels.py`` changes.

    Numba stamps a cached function with its own source file only, but these
    kernels compile the engine's helpers into themselves: without this, an
    edit of the engine would leave sweeps running the old fill rules.
    """

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.abspath(py_file) != os.path.abspath(__file__):
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        with open(engine_kernels.__file__, "rb") as engine_source:
            engine_digest = hashlib.sha256(engine_source.read()).hexdigest()
        return super().get_source_stamp(), engine_digest


if not any(c.__name__ == _WithEngineLocator.__name__ for c in CacheImpl._locator_classes):
    CacheImpl._locator_classes.insert(0, _WithEngineLocator)


@njit(cache=True)
def events_nb(signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(bars, rows)``: the bars where any column of ``signal`` is not NaN, and those rows.

    >>> import numpy as np
    >>> bars, rows = events_nb(np.array([[np.nan], [1.0], [np.nan], [-1.0]]))
    >>> bars.tolist(), rows[:, 0].tolist()
    ([1, 3], [1.0, -1.0])
    """
    n, k = signal.shape
    count = 0
    for t in range(n):
        for j in range(k):
            if not np.isnan(signal[t, j]):
                count += 1
                break
    bars = np.empty(count, dtype=np.int64)
    rows = np.empty((count, k))
    i = 0
    for t in range(n):
        for j in range(k):
            if not np.isnan(signal[t, j]):
                bars[i] = t
                rows[i] = signal[t]
                i += 1
                break
    return bars, rows


@njit(cache=True)
def _idle(phase, position, signal, signals_mode, direction):
    """Whether ``_execute`` would do nothing: a reduce phase when flat, or an add phase that cannot add.

    Pure short-cuts (the engine helpers cost far more than this test); the
    add-phase one holds for direction signals, which never resize a position.
    """
    if phase == 0:
        return position == 0.0
    return signals_mode == SIGNALS_DIRECTION and (position != 0.0 or _allowed(signal, direction) == 0.0)


@njit(cache=True)
def _quiet_nb(start, stop, open_, close, fill_at_close, mark, pos, cash, equity):
    """Mark bars ``[start, stop)`` to market when nothing trades in them; the number ending exposed."""
    k = close.shape[1]
    exposed = 0
    for t in range(start, stop):
        if not fill_at_close:
            for j in range(k):
                if not np.isnan(open_[t, j]):
                    mark[j] = open_[t, j]
        for j in range(k):
            if not np.isnan(close[t, j]):
                mark[j] = close[t, j]
        value = cash
        holding = False
        for j in range(k):
            if pos[j] != 0.0:
                value += pos[j] * mark[j]
                holding = True
        equity[t] = value
        if holding:
            exposed += 1
    return exposed


@njit(cache=True)
def _simulate_stats_nb(open_, high, low, close, bars, rows, init_cash, fill_at_close, fee_rate, fee_fixed,
                       slippage, signals_mode, direction, size_type, size, whole_units, stop_loss, take_profit,
                       trailing_stop, close_at_end, periods_per_year, years):
    """One set: the bar loop of ``simulate_nb`` over sparse signals, then ``stats_nb``."""
    n, k = close.shape
    equity = np.empty(n)
    orders = np.empty((max(16, 2 * k), ORDER_FIELDS))
    trades = np.empty((max(16, k), TRADE_FIELDS))
    n_orders = 0
    n_trades = 0
    exposure_bars = 0

    cash = init_cash
    pos = np.zeros(k)
    mark = np.full(k, np.nan)
    entry_price = np.zeros(k)
    entry_bar = np.zeros(k, dtype=np.int64)
    peak_size = np.zeros(k)
    trade_realized = np.zeros(k)
    trade_fees = np.zeros(k)
    exit_value = np.zeros(k)
    exit_units = np.zeros(k)
    extreme = np.zeros(k)
    pending = np.full(k, np.nan)
    wanted = np.full(k, np.nan)
    use_stops = not (np.isnan(stop_loss) and np.isnan(take_profit) and np.isnan(trailing_stop))
    last = n - 1 if close_at_end else n
    n_events = bars.shape[0]
    e = 0  # next event
    n_pending = 0

    t = 0
    while t < n:
        # bars where nothing can trade: no signal, nothing pending, no stop to watch, not the closing bar
        if n_pending == 0:
            holding = False
            if use_stops:
                for j in range(k):
                    if pos[j] != 0.0:
                        holding = True
            if not holding:
                stop = bars[e] if e < n_events else n
                stop = min(stop, last)
                if stop > t:
                    exposure_bars += _quiet_nb(t, stop, open_, close, fill_at_close, mark, pos, cash, equity)
                    t = stop
                    if t >= n:
                        break
        has_signal = e < n_events and bars[e] == t

        # 1. orders from the previous close fill at this bar's open
        if not fill_at_close:
            for j in range(k):
                if not np.isnan(open_[t, j]):
                    mark[j] = open_[t, j]
                    wanted[j] = pending[j]
                    if not np.isnan(pending[j]):
                        n_pending -= 1
                    pending[j] = np.nan
                else:
                    wanted[j] = np.nan
            for phase in range(2):
                for j in range(k):
                    if np.isnan(wanted[j]) or _idle(phase, pos[j], wanted[j], signals_mode, direction):
                        continue
                    n_orders, n_trades, orders, trades, cash = _execute(
                        phase, t, j, wanted[j], open_[t, j], pos, mark, cash, entry_price, entry_bar,
                        peak_size, trade_realized, trade_fees, exit_value, exit_units, extreme,
                        orders, n_orders, trades, n_trades, fee_rate, fee_fixed, slippage, signals_mode,
                        size_type, size, whole_units)

        # 2. stops inside this bar, on its high and low
        if use_stops:
            for j in range(k):
                if pos[j] == 0.0 or np.isnan(close[t, j]):
                    continue
                level, reason = _stop_hit(pos[j], entry_price[j], extreme[j], open_[t, j], high[t, j],
                                          low[t, j], stop_loss, take_profit, trailing_stop)
                if reason >= 0:
                    n_orders, n_trades, orders, trades, cash = _trade(
                        t, j, -pos[j], level, reason, pos, cash, entry_price, entry_bar, peak_size,
                        trade_realized, trade_fees, exit_value, exit_units, extreme, orders, n_orders,
                        trades, n_trades, fee_rate, fee_fixed, slippage)
                elif pos[j] > 0.0:
                    extreme[j] = max(extreme[j], high[t, j])
                else:
                    extreme[j] = min(extreme[j], low[t, j])

        # 3. this bar's close: mark, then read the signals
        for j in range(k):
            if not np.isnan(close[t, j]):
                mark[j] = close[t, j]
        if has_signal:
            if fill_at_close:
                for phase in range(2):
                    for j in range(k):
                        s = rows[e, j]
                        if np.isnan(s) or np.isnan(close[t, j]) or _idle(phase, pos[j], s, signals_mode, direction):
                            continue
                        n_orders, n_trades, orders, trades, cash = _execute(
                            phase, t, j, _allowed(s, direction), close[t, j], pos, mark, cash, entry_price,
                            entry_bar, peak_size, trade_realized, trade_fees, exit_value, exit_units, extreme,
                            orders, n_orders, trades, n_trades, fee_rate, fee_fixed, slippage, signals_mode,
                            size_type, size, whole_units)
            else:
                for j in range(k):
                    if not np.isnan(rows[e, j]):
                        if np.isnan(pending[j]):
                            n_pending += 1
                        pending[j] = _allowed(rows[e, j], direction)
            e += 1

        if close_at_end and t == n - 1:
            for j in range(k):
                if pos[j] != 0.0 and not np.isnan(mark[j]):
                    n_orders, n_trades, orders, trades, cash = _trade(
                        t, j, -pos[j], mark[j], REASON_END, pos, cash, entry_price, entry_bar, peak_size,
                        trade_realized, trade_fees, exit_value, exit_units, extreme, orders, n_orders,
                        trades, n_trades, fee_rate, fee_fixed, slippage)

        # 4. mark to market
        value = cash
        holding = False
        for j in range(k):
            if pos[j] != 0.0:
                value += pos[j] * mark[j]
                holding = True
        equity[t] = value
        if holding:
            exposure_bars += 1
        t += 1

    # trades still open at the end are not closed trades: the statistics leave them out
    return stats_nb(equity, init_cash, trades[:n_trades, TRADE_PNL].copy(), trades[:n_trades, TRADE_RETURN].copy(),
                    exposure_bars, periods_per_year, years)


@njit(cache=True, parallel=True)
def sweep_stats_nb(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, bars: np.ndarray,
                   rows: np.ndarray, offsets: np.ndarray, init_cash: float, fill_at_close: bool, fee_rate: float,
                   fee_fixed: float, slippage: float, signals_mode: int, direction: int, size_type: int,
                   size: float, whole_units: bool, stop_loss: float, take_profit: float, trailing_stop: float,
                   close_at_end: bool, periods_per_year: float, years: float) -> np.ndarray:
    """``STAT_*`` rows, one per set; set ``i``'s events are ``bars[offsets[i]:offsets[i + 1]]`` and their ``rows``.

    The rule arguments are those of ``simulate_nb`` (see
    :func:`backtest.engine.kernel_arguments`).

    >>> import numpy as np
    >>> from backtest.engine_kernels import STAT_FINAL_EQUITY
    >>> close = np.array([[10.0], [11.0], [12.0], [11.0]])
    >>> bars, rows, offsets = np.array([0, 1]), np.array([[1.0], [1.0]]), np.array([0, 1, 2])
    >>> stats = sweep_stats_nb(close, close, close, close, bars, rows, offsets, 100.0, True, 0.0, 0.0, 0.0,
    ...                        0, 2, 0, 1.0, False, np.nan, np.nan, np.nan, True, 252.0, 1.0)
    >>> stats[:, STAT_FINAL_EQUITY].round(6).tolist()
    [110.0, 100.0]
    """
    sets = offsets.shape[0] - 1
    out = np.empty((sets, STAT_FIELDS))
    for i in prange(sets):
        a, b = offsets[i], offsets[i + 1]
        out[i] = _simulate_stats_nb(open_, high, low, close, bars[a:b], rows[a:b], init_cash, fill_at_close,
                                    fee_rate, fee_fixed, slippage, signals_mode, direction, size_type, size,
                                    whole_units, stop_loss, take_profit, trailing_stop, close_at_end,
                                    periods_per_year, years)
    return out
