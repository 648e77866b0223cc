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
from backtest.engine.kernels.tick_records import QuoteStream, TradeStream
from backtest.engine.modes import Allocation, Execution, Signals
from backtest.engine.simulate import EngineConfig, SimulationResult, run
from backtest.engine.ticks import replay_many
from backtest.errors import BacktestError
from backtest.feed import BarArrays, Feed, bar_arrays
from backtest.feed.request import FeedError, Interval
from backtest.feed.quote_bars import QuoteBars, with_quotes
from backtest.feed.tick_windows import tick_windows
from backtest.stats import summarize
from warehouse.feed_sql import QueryCost
from warehouse.schema.migrate import current_version

@dataclass(frozen=True)
class RunResult:
    """Everything one run produced, ready for a report: ``strategy`` is its name, ``params`` its values.

    ``data`` is the feed request, or None for bars given in memory (``backtest.Result.report``).
    """

    strategy: str
    params: dict[str, Any]
    data: DataSpec | None
    engine: EngineConfig
    bars: BarArrays
    simulation: SimulationResult
    stats: dict[str, Any]
    query_costs: Sequence[QueryCost]
    fingerprint: str
    benchmark: Benchmark | None = None  # a chosen symbol's closes (data.benchmark); None: buy and hold of the run's


@dataclass(frozen=True)
class Benchmark:
    """A benchmark symbol's close at each of the run's bars (its last close at or before the bar; NaN before its
    first)."""

    symbol: str
    close: np.ndarray


def read_benchmark(feed: Feed, data: DataSpec, index: np.ndarray) -> Benchmark | None:
    """``data.benchmark``'s closes on the run's bar ``index``; None without one.

    >>> read_benchmark(Feed(), DataSpec(), np.array([], dtype="datetime64[s]")) is None
    True
    """
    if data.benchmark is None:
        return None
    bars = feed.arrays([data.benchmark], data.start, data.end, data.interval, source=data.source,
                       tz=data.tz, session=data.session, exchange=data.exchange)
    if bars.close.shape[0] == 0:
        raise BacktestError(f"data.benchmark: no bars for {data.benchmark!r} in [{data.start}, {data.end}) at "
                            f"{data.interval}")
    times = bars.index.astype("datetime64[us]").astype(np.int64)
    at = np.searchsorted(times, index.astype("datetime64[us]").astype(np.int64), side="right") - 1
    close = np.where(at >= 0, bars.close[np.maximum(at, 0), 0], np.nan)
    return Benchmark(data.benchmark, close)


def read_bars(feed: Feed, data: DataSpec) -> BarArrays:
    """The bars ``data`` names as engine arrays; no bars at all is an error naming the request."""
    if current_version(feed.client) == 0:
        raise BacktestError("warehouse: it has no schema yet; run `python -m warehouse init` and load data "
                            "(`python -m warehouse demo` for the demo ticks)")
    if data.source == "ohlcv":
        frame = feed.ohlcv(list(data.symbols), data.start, data.end, data.interval)
        bars = bar_arrays(frame) if not frame.is_empty() else None
    else:  # straight into arrays: no frame of symbol strings to build and pivot (Feed.arrays)
        bars = feed.arrays(list(data.symbols), data.start, data.end, data.interval, source=data.source,
                           tz=data.tz, session=data.session, exchange=data.exchange)
    if bars is None or bars.close.shape[0] == 0:
        raise BacktestError(
            f"data: no bars for {','.join(data.symbols)} in [{data.start}, {data.end}) at {data.interval} "
            f"(source {data.source}); check the range with `python -m warehouse status`")
    return bars


def read_strategy_bars(feed: Feed, data: DataSpec, strategy: type[strategies.Strategy]) -> BarArrays | QuoteBars:
    """The bars ``data`` names, with the book at each bar's close when ``strategy`` reads quotes."""
    bars = read_bars(feed, data)
    return with_quotes(feed, bars, Interval.parse(data.interval).seconds) if strategy.reads == "quotes" else bars


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
    """``engine`` as ``strategy`` runs under it; its target weights set ``signals=target, allocation=target_weights``.

    The two names mean one path (signals read as signed fractions of equity): a strategy with
    ``weights(bars)``, ``engine.signals=target`` or ``engine.allocation=target_weights`` sets
    both. A direction allocation with target weights, or ``target_weights`` with direction
    signals, is a one-line error naming the conflict.

    >>> from strategies.sma_cross import SmaCross
    >>> engine_for(SmaCross(), EngineConfig(signals="target")).allocation
    <Allocation.target_weights: 3>
    >>> engine_for(SmaCross(), EngineConfig(allocation="target_weights"))
    Traceback (most recent call last):
    backtest.errors.BacktestError: engine.allocation: target_weights reads target weights, but sma_cross returns direction signals (define weights(bars), or set engine.signals=target to read its signals as weights)
    """
    weights = strategy.uses_weights() or engine.signals is Signals.target
    if not weights:
        if engine.allocation is Allocation.target_weights:
            raise BacktestError(f"engine.allocation: target_weights reads target weights, but {strategy.name} returns "
                                "direction signals (define weights(bars), or set engine.signals=target to read its "
                                "signals as weights)")
        return engine
    if engine.allocation in (Allocation.equal, Allocation.signal_weight):
        given = f"{strategy.name} returns weights(bars)" if strategy.uses_weights() else "engine.signals is target"
        raise BacktestError(f"engine.allocation: {engine.allocation} sizes direction entries, but {given} "
                            "(target weights: allocation=target_weights)")
    return dataclasses.replace(engine, signals=Signals.target, allocation=Allocation.target_weights)


def strategy_events(strategy: strategies.Strategy, bars: BarArrays, engine: EngineConfig,
                    indicators: strategies.Indicators | None = None) -> strategies.SignalEvents:
    """``strategy``'s checked signal events on ``bars``; signal strengths pass with ``allocation=signal_weight``."""
    if strategy.reads == "quotes" and not isinstance(bars, QuoteBars):
        raise BacktestError(f"strategy: {strategy.name} reads quotes; run it on a feed request (symbols, start, "
                            "end) so the book comes from the warehouse")
    return strategies.signal_events(strategy, bars, strategies.Indicators(bars) if indicators is None else indicators,
                                    strengths=engine.allocation is Allocation.signal_weight)


@dataclass(frozen=True)
class TickSource:
    """Where tick execution reads each symbol's trades and quotes: ``feed``, for bars ``interval_seconds`` long."""

    feed: Feed
    interval_seconds: int

    def replay(self, bars: BarArrays, events: strategies.SignalEvents, engine: EngineConfig) -> SimulationResult:
        """Replay ``events`` (decided at each bar's end) on the ticks from the first bar's start to the last's end."""
        return self.replay_many(bars, [events], engine)[0]

    def replay_many(self, bars: BarArrays, events: list[strategies.SignalEvents],
                    engine: EngineConfig) -> list[SimulationResult]:
        """Replay several sets' ``events`` on one read of the ticks (a sweep chunk)."""
        starts = bars.index.astype("datetime64[ns]").astype(np.int64)
        bar_end = starts + self.interval_seconds * 10**9
        start, end = (np.datetime64(int(t), "ns").astype("datetime64[us]").item() for t in (starts[0], bar_end[-1]))
        windows = ((TradeStream(*trades), QuoteStream(*quotes))
                   for trades, quotes in tick_windows(self.feed, bars.symbols, start, end))
        try:
            return replay_many(bar_end, events, windows, engine, symbols=bars.symbols)
        except FeedError as error:  # a symbol with no ticks at all
            raise BacktestError(f"ticks: {error} in [{start:%Y-%m-%dT%H:%M}, {end:%Y-%m-%dT%H:%M}); tick execution "
                                "needs them (load ticks, or use engine.execution=bars)") from None


def simulate(strategy: strategies.Strategy, bars: BarArrays, engine: EngineConfig, *,
             ticks: TickSource | None = None) -> tuple[SimulationResult, dict[str, Any]]:
    """Run ``strategy`` on ``bars`` under ``engine``: the simulation and its statistics.

    With ``engine.execution=ticks`` the orders fill on the trades and quotes ``ticks`` reads.
    """
    events = strategy_events(strategy, bars, engine)
    if engine.execution is Execution.ticks:
        if ticks is None:
            raise BacktestError("engine.execution: ticks needs the trades of the run; give a feed request "
                                "(symbols, start, end) so they come from the warehouse")
        simulation = ticks.replay(bars, events, engine_for(strategy, engine))
    else:
        simulation = run(bars.open, bars.high, bars.low, bars.close, events, engine_for(strategy, engine))
    closed = simulation.trades.filter(~simulation.trades["is_open"])
    stats = summarize(simulation.equity, engine.init_cash, closed["pnl"].to_numpy(), closed["return"].to_numpy(),
                      simulation.exposure_bars, bars.index)
    return simulation, stats


def run_backtest(feed: Feed, strategy: str | type[strategies.Strategy], strategy_values: Mapping[str, Any],
                 data: DataSpec, engine: EngineConfig) -> RunResult:
    """Read ``data`` through ``feed``, run ``strategy`` with ``strategy_values`` under ``engine``."""
    instance = make_strategy(strategy, strategy_values)
    engine = engine_for(instance, engine)  # the rules as run (target weights named), checked before reading
    first_cost = len(feed.stats)
    bars = read_strategy_bars(feed, data, type(instance))
    ticks = TickSource(feed, Interval.parse(data.interval).seconds) if engine.execution is Execution.ticks else None
    simulation, stats = simulate(instance, bars, engine, ticks=ticks)
    label = strategy if isinstance(strategy, str) else instance.name
    benchmark = read_benchmark(feed, data, bars.index)
    return RunResult(label, instance.values, data, engine, bars, simulation, stats, tuple(feed.stats[first_cost:]),
                     fingerprint(bars), benchmark)
