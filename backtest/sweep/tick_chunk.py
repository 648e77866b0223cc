"""One chunk of parameter sets replayed on ticks (``engine.execution=ticks``): one read of the ticks per chunk.

Each set's signals are computed on the bars as in a bar sweep; then every set of the chunk is
replayed on the same pass over the warehouse's ticks (:meth:`backtest.runner.TickSource.replay_many`),
and each set keeps only its statistics row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backtest.engine.kernels import stats_nb
from backtest.engine.simulate import EngineConfig
from backtest.feed import BarArrays
from backtest.runner import TickSource, engine_for, strategy_events
from backtest.stats import STAT_NAMES, calendar
from strategies import Indicators, Strategy


def evaluate_tick_chunk(bars: BarArrays, params: Sequence[Strategy], engine: EngineConfig, indicators: Indicators,
                        ticks: TickSource) -> np.ndarray:
    """Statistics (``STAT_*`` columns) of ``params`` replayed on the ticks ``ticks`` reads, one row each."""
    if not params:
        return np.zeros((0, len(STAT_NAMES)))
    rules = engine_for(params[0], engine)
    events = [strategy_events(strategy, bars, engine, indicators) for strategy in params]
    periods_per_year, years = calendar(bars.index)
    rows = []
    for simulation in ticks.replay_many(bars, events, rules):
        closed = simulation.trades.filter(~simulation.trades["is_open"])
        rows.append(stats_nb(simulation.equity, float(rules.init_cash), closed["pnl"].to_numpy(),
                             closed["return"].to_numpy(), int(simulation.exposure_bars), periods_per_year, years))
    return np.vstack(rows)
