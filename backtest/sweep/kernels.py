"""Numba kernels of parameter sweeps: many signal sets in, one row of statistics per set out.

Signals reach the kernel sparse (:class:`~strategies.signal_events.SignalEvents`:
only the bars where a set has any non-NaN signal, its *event bars*), so a
chunk of sets costs memory in proportion to its signals' events, not sets x
bars. :func:`sweep_stats_nb` simulates every set (``prange``: sets spread over
cores) with the engine's own bar loop
(:func:`~backtest.engine.kernels.simulate_into_nb`, the one behind
:func:`backtest.engine.simulate.run`) and :func:`~backtest.engine.kernels.stats_nb`, but keeps
nothing of a set beyond its statistics: no order book, and the equity curve
and trades only while the set runs, in buffers each thread allocates once.
``tests/test_sweep.py`` checks the statistics equal those of
:func:`backtest.engine.simulate.run` plus :func:`backtest.stats.summarize`.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
from numba import njit, prange
from numba.core.caching import CacheImpl, InTreeCacheLocator

from backtest.engine import kernels as engine_kernels
from backtest.engine.kernels import (ORDER_FIELDS, STAT_FIELDS, STATE_FIELDS, TRADE_FIELDS, TRADE_PNL, TRADE_RETURN,
                                     signal_cells_nb, simulate_into_nb, stats_nb)


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


@njit(cache=True, parallel=True)
def sweep_stats_nb(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, bars: np.ndarray,
                   rows: np.ndarray, offsets: np.ndarray, init_cash: float, fill_at_close: bool, fee_rate: float,
                   fee_fixed: float, slippage: float, signals_mode: int, direction: int, size_type: int,
                   size: float, whole_units: bool, stop_loss: float, take_profit: float, trailing_stop: float,
                   close_at_end: bool, periods_per_year: float, years: float, threads: int = 1) -> np.ndarray:
    """``STAT_*`` rows, one per set; set ``i``'s events are ``bars[offsets[i]:offsets[i + 1]]`` and their ``rows``.

    The rule arguments are those of ``simulate_into_nb`` (see
    :func:`backtest.engine.simulate.kernel_arguments`); ``threads`` is how many
    threads share the sets (numba's thread count, at most).

    >>> import numpy as np
    >>> from backtest.engine.kernels import STAT_FINAL_EQUITY
    >>> close = np.array([[10.0], [11.0], [12.0], [11.0]])
    >>> bars, rows, offsets = np.array([0, 1]), np.array([[1.0], [1.0]]), np.array([0, 1, 2])
    >>> stats = sweep_stats_nb(close, close, close, close, bars, rows, offsets, 100.0, True, 0.0, 0.0, 0.0,
    ...                        0, 2, 0, 1.0, False, np.nan, np.nan, np.nan, True, 252.0, 1.0)
    >>> stats[:, STAT_FINAL_EQUITY].round(6).tolist()
    [110.0, 100.0]
    """
    sets = offsets.shape[0] - 1
    k = close.shape[1]
    out = np.empty((sets, STAT_FIELDS))
    most_cells = 0
    for i in range(sets):
        most_cells = max(most_cells, signal_cells_nb(rows[offsets[i]:offsets[i + 1]]))
    # one set of buffers per thread, reused by every set the thread runs
    slots = min(threads, sets)
    equity = np.empty((slots, close.shape[0]))
    trades = np.empty((slots, TRADE_FIELDS, most_cells + k))
    state = np.empty((slots, STATE_FIELDS, k))
    no_orders = np.empty((ORDER_FIELDS, 0))
    for slot in prange(slots):
        for i in range(slot, sets, slots):
            a, b = offsets[i], offsets[i + 1]
            _, closed, _, exposure_bars = simulate_into_nb(
                open_, high, low, close, bars[a:b], rows[a:b], init_cash, fill_at_close, fee_rate, fee_fixed,
                slippage, signals_mode, direction, size_type, size, whole_units, stop_loss, take_profit,
                trailing_stop, close_at_end, equity[slot], no_orders, trades[slot], state[slot])
            out[i] = stats_nb(equity[slot], init_cash, trades[slot, TRADE_PNL, :closed],
                              trades[slot, TRADE_RETURN, :closed], exposure_bars, periods_per_year, years)
    return out
