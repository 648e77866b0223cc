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
>>> result.stats["trades"] > 0, result.bars.close.shape
(True, (2148, 1))
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import strategies
from backtest.config import DATA_SOURCES, DataSpec  # noqa: F401 (DATA_SOURCES, DataSpec: public here too)
from backtest.engine.simulate import EngineConfig, SimulationResult, run
from backtest.errors import BacktestError
from backtest.feed import BarArrays, Feed, bar_arrays
from backtest.stats import summarize
from warehouse.feed_sql import QueryCost
from warehouse.schema.migrate import current_version

@dataclass(frozen=True)
class RunResult:
    """Everything one run produced, ready for a report."""

    strategy: str
    params: Any
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
    else:
        frame = feed.bars(list(data.symbols), data.start, data.end, data.interval, source=data.source)
    if frame.is_empty():
        raise BacktestError(
            f"data: no bars for {','.join(data.symbols)} in [{data.start}, {data.end}) at {data.interval} "
            f"(source {data.source}); check the range with `python -m warehouse status`")
    return bar_arrays(frame)


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


def run_backtest(feed: Feed, strategy: str, strategy_values: Mapping[str, Any], data: DataSpec,
                 engine: EngineConfig) -> RunResult:
    """Read ``data`` through ``feed``, run ``strategy`` with ``strategy_values`` under ``engine``."""
    module = strategies.load(strategy)
    params = strategies.make_params(module, strategy_values)
    first_cost = len(feed.stats)
    bars = read_bars(feed, data)
    simulation = run(bars.open, bars.high, bars.low, bars.close, strategies.signal_events(module, bars, params),
                     engine)
    closed = simulation.trades.filter(~simulation.trades["is_open"])
    stats = summarize(simulation.equity, engine.init_cash, closed["pnl"].to_numpy(), closed["return"].to_numpy(),
                      simulation.exposure_bars, bars.index)
    return RunResult(strategy, params, data, engine, bars, simulation, stats, tuple(feed.stats[first_cost:]),
                     fingerprint(bars))
