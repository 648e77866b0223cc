"""Parameter sweeps: every set of a grid or random search evaluated in one compiled pass per chunk.

How a sweep runs (:func:`sweep`):

1. :mod:`backtest.sweep.spec` turns ``sweep.params`` into the sets to
   evaluate; sets the strategy refuses are counted with their reason.
2. Sets are cut into chunks of ``sweep.chunk``. For each chunk the strategy's
   ``signals`` run once per set through one shared
   :class:`~strategies.indicators.Indicators` (each distinct indicator is
   computed once per sweep), each set's signals shrink to its event bars, and
   :func:`~backtest.sweep.kernels.sweep_stats_nb` simulates the chunk's sets
   in parallel (``prange``), keeping only their statistics. Memory: the bars,
   the distinct indicators, one chunk's signal events and one equity curve
   per thread -- never sets x bars.
3. ``sweep.executor=dask`` sends the chunks to Dask workers (``sweep.address``
   of a running scheduler, or a ``LocalCluster`` of ``sweep.workers``
   processes); the workers receive the bar arrays once and return statistics.
   The numbers are identical to the local executor's.

The result is one row per set (``param_<name>`` columns, then every
statistic of :data:`backtest.stats.STAT_NAMES`) sorted by ``sweep.metric``
(higher first; lower first for volatility and max_drawdown_bars; NaN last).
Equity curves are not kept: :func:`rerun` re-runs any row with
:func:`backtest.engine.simulate.run` (the CLI does so for the ``top_k`` best).

>>> import numpy as np
>>> from backtest.engine.simulate import EngineConfig
>>> from backtest.feed import BarArrays
>>> close = (100 + np.cumsum(np.random.default_rng(1).normal(0, 1, 500)))[:, None]
>>> bars = BarArrays(np.arange(500).astype("datetime64[D]").astype("datetime64[us]"), ("X",),
...                  close, close, close, close, close)
>>> spec = SweepSpec(params={"fast": "range(5,30,5)", "slow": "range(10,60,10)"}, metric="total_return")
>>> result = sweep(bars, "sma_cross", spec, EngineConfig(fill="close"))
>>> result.frame.height, len(result.invalid), result.indicators
(19, 6, 8)
>>> best = result.frame.row(0, named=True)
>>> bool(rerun(result, 1).equity[-1] == best["final_equity"])
True
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

import strategies
from backtest.engine.simulate import EngineConfig, SimulationResult, run
from backtest.errors import BacktestError
from backtest.feed import BarArrays
from backtest.runner import DataSpec, engine_for
from backtest.stats import STAT_NAMES
from backtest.sweep.chunk import evaluate_chunk
from backtest.sweep.spec import ParamSet, ParamSpace, SweepSpec, enumerate_sets
from strategies import Indicators, Strategy

PARAM_PREFIX = "param_"
_INT_STATS = ("trades", "max_drawdown_bars")


@dataclass(frozen=True)
class SweepResult:
    """One sweep: ``frame`` (one row per valid set, best first), ``invalid`` (refused sets with reasons)."""

    strategy: str
    spec: SweepSpec
    space: ParamSpace
    engine: EngineConfig
    bars: BarArrays
    frame: pl.DataFrame
    invalid: pl.DataFrame
    params: tuple[Strategy, ...]  # the strategy of each frame row, in row order
    indicators: int  # distinct indicators computed
    seconds: float
    data: DataSpec | None = None

    @property
    def bar_sets_per_second(self) -> float:
        """Bars x sets simulated per second of the whole evaluation."""
        return self.bars.close.shape[0] * self.frame.height / self.seconds if self.seconds > 0 else float("nan")


def evaluate(bars: BarArrays, sets: Sequence[ParamSet], engine: EngineConfig, spec: SweepSpec,
             indicators: Indicators | None = None) -> np.ndarray:
    """Statistics of every set, in order, on the executor ``spec`` names."""
    if not sets:
        return np.zeros((0, len(STAT_NAMES)))
    chunks = [[s.params for s in sets[i:i + spec.chunk]] for i in range(0, len(sets), spec.chunk)]
    if spec.executor == "dask":
        from backtest.sweep.dask_executor import evaluate_on_dask

        return evaluate_on_dask(bars, chunks, engine, spec)
    indicators = Indicators(bars, shared=True) if indicators is None else indicators
    return np.concatenate([evaluate_chunk(bars, chunk, engine, indicators) for chunk in chunks])


def sweep(bars: BarArrays, strategy: str | type[Strategy], spec: SweepSpec, engine: EngineConfig,
          strategy_values: Mapping[str, Any] | None = None, data: DataSpec | None = None) -> SweepResult:
    """Evaluate the sets of ``spec`` for ``strategy`` (a name or class) on ``bars``; fixed parameters from
    ``strategy_values``."""
    space = ParamSpace.parse(spec.params, strategy)
    sets = enumerate_sets(space, spec, strategy_values or {})
    indicators = Indicators(bars, shared=True)
    started = time.perf_counter()
    stats = evaluate(bars, sets.valid, engine, spec, indicators)
    seconds = time.perf_counter() - started
    frame = _frame(space, [s.values for s in sets.valid], stats)
    order = frame.with_row_index("_row").with_columns(pl.col(spec.metric).fill_nan(None).alias("_key")).sort(
        "_key", descending=spec.descending, nulls_last=True, maintain_order=True)
    rows = order["_row"].to_list()
    frame = order.drop("_row", "_key").with_columns(pl.Series("rank", range(1, len(rows) + 1))).select(
        "rank", pl.exclude("rank"))
    invalid = pl.DataFrame([{**{PARAM_PREFIX + k: v for k, v in values.items()}, "reason": reason}
                            for values, reason in sets.invalid],
                           schema=[*(PARAM_PREFIX + n for n in space.names), "reason"] if not sets.invalid else None)
    return SweepResult(space.label, spec, space, engine, bars, frame, invalid,
                       tuple(sets.valid[i].params for i in rows), len(indicators.cache), seconds, data)


def _frame(space: ParamSpace, values: Sequence[Mapping[str, Any]], stats: np.ndarray) -> pl.DataFrame:
    """Parameter columns then statistic columns, one row per set."""
    columns: dict[str, Any] = {PARAM_PREFIX + n: [v[n] for v in values] for n in space.names}
    for i, name in enumerate(STAT_NAMES):
        column = stats[:, i]
        columns[name] = column.astype(np.int64) if name in _INT_STATS else column
    return pl.DataFrame(columns)


def rerun(result: SweepResult, rank: int) -> SimulationResult:
    """The full simulation (equity, orders, trades) of the set ranked ``rank`` (1 = best).

    >>> import numpy as np
    >>> from backtest.feed import BarArrays
    >>> close = np.arange(100.0, 160.0)[:, None]
    >>> bars = BarArrays(np.arange(60).astype("datetime64[D]"), ("X",), close, close, close, close, close)
    >>> result = sweep(bars, "sma_cross", SweepSpec(params={"fast": "2,3"}), EngineConfig())
    >>> rerun(result, 3)
    Traceback (most recent call last):
    backtest.errors.BacktestError: rank: 3 is not between 1 and 2
    """
    if not 1 <= rank <= len(result.params):
        raise BacktestError(f"rank: {rank} is not between 1 and {len(result.params)}")
    bars, strategy = result.bars, result.params[rank - 1]
    events = strategies.signal_events(strategy, bars, Indicators(bars))
    return run(bars.open, bars.high, bars.low, bars.close, events, engine_for(strategy, result.engine))


def heatmap_frame(result: SweepResult) -> pl.DataFrame:
    """Long-format heatmap data: the first two swept parameters -> best ``metric`` over the others.

    Columns ``param_<x>``, ``param_<y>``, ``<metric>``, ``sets`` (how many sets
    the cell holds); empty with fewer than two swept parameters.
    """
    names = [PARAM_PREFIX + n for n in result.space.names]
    metric = result.spec.metric
    if len(names) < 2:
        return pl.DataFrame()
    value = pl.col(metric).fill_nan(None)
    best = value.max() if result.spec.descending else value.min()
    return (result.frame.group_by(names[:2]).agg(best.alias(metric), pl.len().alias("sets"))
            .sort(names[:2]))


def format_sweep(result: SweepResult, shown: int = 10) -> str:
    """A text summary: counts, speed and the best rows."""
    spec = result.spec
    n_bars, n_cols = result.bars.close.shape
    head = (f"{result.strategy} {spec.mode} sweep over {', '.join(result.space.names)}: "
            f"{result.frame.height:,} sets evaluated, {len(result.invalid):,} skipped as invalid; "
            f"{n_bars:,} bars x {n_cols} symbol(s); {result.indicators} distinct indicators; "
            f"{result.seconds:.2f} s ({result.bar_sets_per_second:,.0f} bar-sets/s, executor {spec.executor})")
    columns = ["rank", *(PARAM_PREFIX + n for n in result.space.names),
               *dict.fromkeys([spec.metric, "total_return", "sharpe", "max_drawdown", "trades"])]
    table = result.frame.head(shown).select(columns)
    lines = [head, f"best by {spec.metric}:"]
    lines.append("  " + "  ".join(f"{c.removeprefix(PARAM_PREFIX):>12}" for c in columns))
    for row in table.iter_rows():
        lines.append("  " + "  ".join(f"{_cell(v):>12}" for v in row))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    """A short text for a table cell."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)

