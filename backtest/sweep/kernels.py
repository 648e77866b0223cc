"""Numba kernels of parameter sweeps: many signal sets in, one row of statistics per set out.

Signals reach the kernel sparse (:class:`~strategies.indicators.events.SignalEvents`:
only the bars where a set has any non-NaN signal, its *event bars*), so a
chunk of sets costs memory in proportion to its signals' events, not sets x
bars. :func:`sweep_stats_nb` simulates every set (``prange``: sets spread over
cores) with the engine's own bar loop
(:func:`~backtest.engine.kernels.loop.simulate_into_nb`, the one behind
:func:`backtest.engine.simulate.run`) and :func:`~backtest.engine.kernels.stats.stats_nb`,
but keeps nothing of a set beyond its statistics: no order book, and the
equity curve and trades only while the set runs, in buffers each thread
allocates once. ``tests/integration/test_sweep.py`` checks the statistics equal
those of :func:`backtest.engine.simulate.run` plus :func:`backtest.stats.summarize`.

The kernel compiles the engine's bar loop into itself, so its cache entry is
keyed on the engine's kernel sources as well as this file
(:mod:`backtest.engine.kernels.cache_stamp`): an edit of the engine never leaves
sweeps on stale compiled code.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from backtest.engine.kernels import Calendar, Prices, Rules, signal_cells_nb, simulate_into_nb, stats_nb
from backtest.engine.kernels.cache_stamp import STAMP
from backtest.engine.kernels.records import (ORDER_FIELDS, STAT_FIELDS, STATE_FIELDS, TRADE_FIELDS, TRADE_PNL,
                                             TRADE_RETURN)

__all__ = ["Calendar", "Prices", "Rules", "sweep_stats_nb"]


def _compile(stamp: int):
    """The sweep kernel, cached under ``stamp`` (see :mod:`backtest.engine.kernels.cache_stamp`)."""

    @njit(cache=True, parallel=True)
    def sweep_stats_nb(prices: Prices, bars: np.ndarray, rows: np.ndarray, offsets: np.ndarray, rules: Rules,
                       calendar: Calendar, threads: int = 1) -> np.ndarray:
        """``STAT`` rows, one per set; set ``i``'s events are ``bars[offsets[i]:offsets[i + 1]]`` and their ``rows``.

        ``rules`` are the engine's (:func:`backtest.engine.rules.kernel_rules`);
        ``threads`` is how many threads share the sets (numba's thread count, at most).

        >>> from backtest.engine.kernels.records import STAT
        >>> from backtest.engine.rules import EngineConfig, kernel_rules
        >>> close = np.array([[10.0], [11.0], [12.0], [11.0]])
        >>> bars, rows, offsets = np.array([0, 1]), np.array([[1.0], [1.0]]), np.array([0, 1, 2])
        >>> stats = sweep_stats_nb(Prices(close, close, close, close), bars, rows, offsets,
        ...                        kernel_rules(EngineConfig(init_cash=100.0, fill="close")), Calendar(252.0, 1.0))
        >>> stats[:, STAT.final_equity].round(6).tolist()
        [110.0, 100.0]
        """
        stamp  # noqa: B018 -- ties this cache entry to the engine's kernel sources
        sets = offsets.shape[0] - 1
        n, k = prices.close.shape
        out = np.empty((sets, STAT_FIELDS))
        most_cells = 0
        for i in range(sets):
            most_cells = max(most_cells, signal_cells_nb(rows[offsets[i]:offsets[i + 1]]))
        # one set of buffers per thread, reused by every set the thread runs
        slots = min(threads, sets)
        equity = np.empty((slots, n))
        trades = np.empty((slots, TRADE_FIELDS, most_cells + k))
        state = np.empty((slots, STATE_FIELDS, k))
        no_orders = np.empty((ORDER_FIELDS, 0))
        for slot in prange(slots):
            for i in range(slot, sets, slots):
                a, b = offsets[i], offsets[i + 1]
                _, closed, _, exposure_bars = simulate_into_nb(prices, bars[a:b], rows[a:b], rules, equity[slot],
                                                               no_orders, trades[slot], state[slot])
                out[i] = stats_nb(equity[slot], rules.init_cash, trades[slot, TRADE_PNL, :closed],
                                  trades[slot, TRADE_RETURN, :closed], exposure_bars, calendar.periods_per_year,
                                  calendar.years)
        return out

    return sweep_stats_nb


sweep_stats_nb = _compile(STAMP)
