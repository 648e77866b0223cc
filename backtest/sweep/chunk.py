"""One chunk of parameter sets through the sweep kernel: the unit of work of both executors.

The local executor (:mod:`backtest.sweep.local`) calls :func:`evaluate_chunk`
chunk after chunk; the Dask executor (:mod:`backtest.sweep.dask_executor`)
calls it on a worker per task.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np

import strategies
from backtest.engine.rules import kernel_rules
from backtest.engine.simulate import EngineConfig
from backtest.feed import BarArrays
from backtest.stats import calendar
from backtest.sweep.kernels import Calendar, Prices, sweep_stats_nb
from strategies.indicators import IndicatorCache
from strategies.signal_events import SignalEvents


def evaluate_chunk(bars: BarArrays, strategy: str, params: Sequence[Any], engine: EngineConfig,
                   cache: IndicatorCache) -> np.ndarray:
    """Statistics (``STAT_*`` columns) of ``params`` (strategy ``Params``) over ``bars``, one row each."""
    module = strategies.load(strategy)

    def events(p: Any) -> SignalEvents:
        return strategies.signal_events(module, bars, p, cache)

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
        np.asarray(offsets, dtype=np.int64), kernel_rules(engine), Calendar(periods_per_year, years),
        numba.get_num_threads())
