"""One chunk of parameter sets through the sweep kernel: the unit of work of both executors.

The local executor (:mod:`backtest.sweep.local`) calls :func:`evaluate_chunk`
chunk after chunk; the Dask executor (:mod:`backtest.sweep.dask_executor`)
calls it on a worker per task.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
import numba
import numpy as np

from backtest.engine.rules import kernel_rules
from backtest.engine.simulate import EngineConfig
from backtest.feed import BarArrays
from backtest.runner import engine_for, strategy_events
from backtest.stats import STAT_NAMES, calendar
from backtest.sweep.kernels import Calendar, Prices, sweep_stats_nb
from strategies import Indicators, SignalEvents, Strategy


def evaluate_chunk(bars: BarArrays, params: Sequence[Strategy], engine: EngineConfig,
                   indicators: Indicators) -> np.ndarray:
    """Statistics (``STAT_*`` columns) of ``params`` (strategies of one class) over ``bars``, one row each.

    Every set computes its indicators through ``indicators`` (one per data set, ``shared``).
    """
    if not params:
        return np.zeros((0, len(STAT_NAMES)))

    def events(strategy: Strategy) -> SignalEvents:
        return strategy_events(strategy, bars, engine, indicators)

    # signal kernels release the GIL: the sets' signals are computed on numba's thread count
    with ThreadPoolExecutor(max_workers=numba.get_num_threads()) as pool:
        found = list(pool.map(events, params))
    event_bars = [e.bars for e in found]
    event_rows = [e.rows for e in found]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in event_bars])]).tolist()
    k = bars.close.shape[1]
    periods_per_year, years = calendar(bars.index)
    return sweep_stats_nb(
        Prices(bars.open, bars.high, bars.low, bars.close),
        np.concatenate(event_bars) if event_bars else np.zeros(0, dtype=np.int64),
        np.concatenate(event_rows) if event_rows else np.zeros((0, k)),
        np.asarray(offsets, dtype=np.int64), kernel_rules(engine_for(params[0], engine)), Calendar(periods_per_year, years),
        numba.get_num_threads())
