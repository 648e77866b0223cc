"""One backtest from names and values: read the bars, make the signals, simulate, summarize.

This is what ``python -m backtest`` and notebooks call; it holds no SQL (the
:class:`~backtest.feed.Feed` does the reading) and writes no files.

>>> from warehouse.client import connect
>>> from warehouse.schema.migrate import migrate
>>> from warehouse.ingest.ohlcv import load_ohlcv
>>> import backtesting, os
>>> client = connect(database="runner_example")
>>> _ = migrate(client)
>>> _ = load_ohlcv(client, os.path.join(os.path.dirname(backtesting.__file__), "test", "GOOG.csv"))
>>> data = DataSpec(symbols=("GOOG",), start="2004-01-01", end="2014-01-01", interval="1d", source="ohlcv")
>>> result = run_backtest(Feed(client), "sma_cross", {"fast": 10, "slow": 20}, data, EngineConfig())
>>> result.stats["trades"] > 0, result.bars.close.shape, result.params
(True, (2148, 1), {'fast': 10, 'slow': 20})
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import strategies
from backtest.config import DATA_SOURCES, DataSpec  # noqa: F401 (DATA_SOURCES, DataSpec: public here too)
from backtest.engine.modes import Signals
from backtest.engine.simulate import EngineConfig, SimulationResult, run
from backtest.errors import BacktestError
from backtest.feed import BarArrays, Feed, bar_arrays
from backtest.stats import summarize
from warehouse.feed_sql import QueryCost
from warehouse.schema.migrate import current_version

@dataclass(frozen=True)
class RunResult:
    """Everything one run produced, ready for a report: ``strategy`` is its name, ``params`` its values."""

    strategy: str
    params: dict[str, Any]
    data: DataSpec
    engine: EngineConfig
    bars: BarArrays
    simulation: SimulationResult
    stats: dict[str, Any]
    query_costs: Sequence[QueryCost]
    fingerprint: str


def read_bars(feed: Feed, data: DataSpec) -> BarArrays:
    """The bars ``data`` names as engine arrays; no bars at all is an error naming the request."""
    if current_version(feed.client) == 0:
        raise BacktestError("warehouse: it has no schema yet; run `python -m warehouse init` and load data "
                            "(`python -m warehouse demo` for the demo ticks)")
    if data.source == "ohlcv":
        frame = feed.ohlcv(list(data.symbols), data.start, data.end, data.interval)
        bars = bar_arrays(frame) if not frame.is_empty() else None
    else:  # straight into arrays: no frame of symbol strings to build and pivot (Feed.arrays)
        bars = feed.arrays(list(data.symbols), data.start, data.end, data.interval, source=data.source)
    if bars is None or bars.close.shape[0] == 0:
        raise BacktestError(
            f"data: no bars for {','.join(data.symbols)} in [{data.start}, {data.end}) at {data.interval} "
            f"(source {data.source}); check the range with `python -m warehouse status`")
    return bars


def fingerprint(bars: BarArrays) -> str:
    """A short hash of the bars' times and prices: two runs on equal data share it.

    >>> import numpy as np
    >>> one = np.ones((2, 1))
    >>> bars = BarArrays(np.array([0, 60], dtype="datetime64[s]"), ("X",), one, one, one, one, one)
    >>> fingerprint(bars)
    '2x1:b31c5915826cf615'
    """
    digest = hashlib.sha256()
    digest.update(bars.index.astype("datetime64[us]").astype(np.int64).tobytes())
    digest.update(",".join(bars.symbols).encode())
    for array in (bars.open, bars.high, bars.low, bars.close, bars.volume):
        digest.update(np.ascontiguousarray(array).tobytes())
    rows, columns = bars.close.shape
    return f"{rows}x{columns}:{digest.hexdigest()[:16]}"


def make_strategy(strategy: str | type[strategies.Strategy], values: Mapping[str, Any]) -> strategies.Strategy:
    """The strategy ``strategy`` names (see :func:`strategies.find`) with ``values`` (``name`` is ignored).

    >>> make_strategy("sma_cross", {"name": "sma_cross", "fast": 5})
    SmaCross(fast=5, slow=30)
    """
    return strategies.find(strategy)(**{k: v for k, v in values.items() if k != "name"})


def engine_for(strategy: strategies.Strategy, engine: EngineConfig) -> EngineConfig:
    """``engine``, reading signals as target weights when ``strategy`` returns weights."""
    return dataclasses.replace(engine, signals=Signals.target) if strategy.uses_weights() else engine


def simulate(strategy: strategies.Strategy, bars: BarArrays, engine: EngineConfig) -> tuple[SimulationResult,
                                                                                            dict[str, Any]]:
    """Run ``strategy`` on ``bars`` under ``engine``: the simulation and its statistics."""
    events = strategies.signal_events(strategy, bars, strategies.Indicators(bars))
    simulation = run(bars.open, bars.high, bars.low, bars.close, events, engine_for(strategy, engine))
    closed = simulation.trades.filter(~simulation.trades["is_open"])
    stats = summarize(simulation.equity, engine.init_cash, closed["pnl"].to_numpy(), closed["return"].to_numpy(),
                      simulation.exposure_bars, bars.index)
    return simulation, stats


def run_backtest(feed: Feed, strategy: str | type[strategies.Strategy], strategy_values: Mapping[str, Any],
                 data: DataSpec, engine: EngineConfig) -> RunResult:
    """Read ``data`` through ``feed``, run ``strategy`` with ``strategy_values`` under ``engine``."""
    instance = make_strategy(strategy, strategy_values)
    first_cost = len(feed.stats)
    bars = read_bars(feed, data)
    simulation, stats = simulate(instance, bars, engine)
    label = strategy if isinstance(strategy, str) else instance.name
    return RunResult(label, instance.values, data, engine, bars, simulation, stats, tuple(feed.stats[first_cost:]),
                     fingerprint(bars))
