"""Parameter sweeps: every set of a grid or random search evaluated in one compiled pass per chunk.

How a sweep runs (:func:`sweep`):

1. :mod:`backtest.sweep.spec` walks ``sweep.params`` lazily, ``sweep.chunk``
   valid sets at a time; sets the strategy refuses are counted with their reason.
2. Nothing is built ahead: chunk after chunk is evaluated. For each chunk the strategy's
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

4. Each chunk's rows go to :class:`~backtest.sweep.collect.Rows`: streamed
   to ``parquet`` when given, folded into a bounded ranking and the heatmap
   cells, so memory is O(chunk) whatever the grid's size. A
   :class:`~backtest.sweep.progress.SweepProgress` bar (or a status line every
   ``status_every`` seconds off a terminal) shows sets done, rate and ETA.

The result is one row per set (``param_<name>`` columns, then every
statistic of :data:`backtest.stats.STAT_NAMES`) sorted by ``sweep.metric``
(higher first; lower first for volatility and max_drawdown_bars; NaN last);
above :data:`~backtest.sweep.collect.RANKED_ROWS` sets, the best that many
(every row is in the Parquet file). Equity curves are not kept: :func:`rerun`
re-runs any row with :func:`backtest.engine.simulate.run` (the CLI does so for
the ``top_k`` best).

>>> import numpy as np
>>> from backtest.engine.simulate import EngineConfig
>>> from backtest.feed import BarArrays
>>> close = (100 + np.cumsum(np.random.default_rng(1).normal(0, 1, 500)))[:, None]
>>> bars = BarArrays(np.arange(500).astype("datetime64[D]").astype("datetime64[us]"), ("X",),
...                  close, close, close, close, close)
>>> spec = SweepSpec(params={"fast": "range(5,30,5)", "slow": "range(10,60,10)"}, metric="total_return")
>>> result = sweep(bars, "sma_cross", spec, EngineConfig(fill="close"))
>>> result.frame.height, result.evaluated, result.skipped, len(result.invalid), result.indicators
(19, 19, 6, 6, 8)
>>> best = result.frame.row(0, named=True)
>>> bool(rerun(result, 1).equity[-1] == best["final_equity"])
True
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from backtest.engine.simulate import EngineConfig, SimulationResult, run
from backtest.errors import BacktestError
from backtest.feed import BarArrays
from backtest.engine.modes import Execution
from backtest.runner import DataSpec, TickSource, engine_for, strategy_events
from backtest.stats import STAT_NAMES
from backtest.sweep.chunk import evaluate_chunk
from backtest.sweep.collect import PARAM_PREFIX, Rows
from backtest.sweep.progress import SweepProgress
from backtest.sweep.spec import ParamSet, ParamSpace, Sets, SweepSpec, count_sets, iter_chunks
from backtest.sweep.tick_chunk import evaluate_tick_chunk
from strategies import Indicators, Strategy


@dataclass(frozen=True)
class SweepResult:
    """One sweep: ``frame`` (the best rows, every one up to ``RANKED_ROWS``, best first), ``invalid`` (refused sets
    kept, with reasons), ``heatmap`` cells; ``evaluated`` and ``skipped`` count every set."""

    strategy: str
    spec: SweepSpec
    space: ParamSpace
    engine: EngineConfig
    bars: BarArrays
    frame: pl.DataFrame
    invalid: pl.DataFrame
    heatmap: pl.DataFrame
    evaluated: int
    skipped: int
    indicators: int  # distinct indicators computed
    seconds: float
    fixed: Mapping[str, Any] = field(default_factory=dict)  # the strategy's values not swept
    data: DataSpec | None = None
    parquet: Path | None = None  # every row, in evaluation order
    ticks: TickSource | None = None  # where a tick-execution sweep read its trades

    @property
    def bar_sets_per_second(self) -> float:
        """Bars x sets simulated per second of the whole evaluation."""
        return self.bars.close.shape[0] * self.evaluated / self.seconds if self.seconds > 0 else float("nan")


def evaluate_stream(bars: BarArrays, chunks: Iterable[Sets], engine: EngineConfig, spec: SweepSpec,
                    indicators: Indicators | None = None, *,
                    ticks: TickSource | None = None) -> Iterator[tuple[Sets, np.ndarray]]:
    """Each chunk with its sets' statistics, in order, on the executor ``spec`` names (a missing extra raises here).

    With ``engine.execution=ticks`` every chunk is replayed on one read of the ticks ``ticks`` reads.
    """
    if engine.execution is Execution.ticks:
        if spec.executor == "dask":
            raise BacktestError("sweep.executor: dask cannot sweep with engine.execution=ticks yet (its workers "
                                "read no warehouse); use sweep.executor=local")
        if ticks is None:
            raise BacktestError("engine.execution: ticks needs the trades of the run; sweep a feed request "
                                "(symbols, start, end) so they come from the warehouse")
        shared = Indicators(bars, shared=True) if indicators is None else indicators
        return ((chunk, evaluate_tick_chunk(bars, [s.params for s in chunk.valid], engine, shared, ticks))
                for chunk in chunks)
    if spec.executor == "dask":
        from backtest.sweep.dask_executor import evaluate_on_dask

        return evaluate_on_dask(bars, chunks, engine, spec)
    shared = Indicators(bars, shared=True) if indicators is None else indicators
    return ((chunk, evaluate_chunk(bars, [s.params for s in chunk.valid], engine, shared)) for chunk in chunks)


def evaluate(bars: BarArrays, sets: Sequence[ParamSet], engine: EngineConfig, spec: SweepSpec) -> np.ndarray:
    """Statistics of every set, in order, on the executor ``spec`` names."""
    chunks = [Sets(list(sets[i:i + spec.chunk]), []) for i in range(0, len(sets), spec.chunk)]
    stats = [s for _, s in evaluate_stream(bars, chunks, engine, spec)]
    return np.concatenate(stats) if stats else np.zeros((0, len(STAT_NAMES)))


def sweep(bars: BarArrays, strategy: str | type[Strategy], spec: SweepSpec, engine: EngineConfig,
          strategy_values: Mapping[str, Any] | None = None, data: DataSpec | None = None, *,
          parquet: str | Path | None = None, status_every: float | None = None,
          ticks: TickSource | None = None) -> SweepResult:
    """Evaluate the sets of ``spec`` for ``strategy`` (a name or class) on ``bars``; fixed parameters from
    ``strategy_values``.

    ``parquet``: a file every row is streamed to; ``status_every``: seconds
    between status lines on stderr where no progress bar is drawn (None: none);
    ``ticks``: where ``engine.execution=ticks`` reads the trades.
    """
    space = ParamSpace.parse(spec.params, strategy)
    values = dict(strategy_values or {})
    total = count_sets(space, spec)
    rows = Rows(space, spec, total=total, parquet=parquet)
    indicators = Indicators(bars, shared=True)
    started = time.perf_counter()
    stream = evaluate_stream(bars, iter_chunks(space, spec, values), engine, spec, indicators, ticks=ticks)
    try:
        with SweepProgress(total, every=status_every) as progress:
            for chunk, stats in stream:
                rows.add([s.values for s in chunk.valid], stats, chunk.invalid)
                progress.advance(len(chunk.valid) + len(chunk.invalid))
    finally:
        rows.close()
    seconds = time.perf_counter() - started
    return SweepResult(space.label, spec, space, engine, bars, rows.ranked(), rows.invalid_frame(), rows.heatmap(),
                       rows.evaluated, rows.skipped, len(indicators.cache), seconds,
                       {k: v for k, v in values.items() if k != "name"}, data, rows.path, ticks)


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
    if not 1 <= rank <= result.frame.height:
        raise BacktestError(f"rank: {rank} is not between 1 and {result.frame.height}")
    row = result.frame.row(rank - 1, named=True)
    strategy = result.space.strategy(**{**result.fixed, **{n: row[PARAM_PREFIX + n] for n in result.space.names}})
    bars = result.bars
    events = strategy_events(strategy, bars, result.engine)
    if result.ticks is not None and result.engine.execution is Execution.ticks:
        return result.ticks.replay(bars, events, engine_for(strategy, result.engine))
    return run(bars.open, bars.high, bars.low, bars.close, events, engine_for(strategy, result.engine))


def format_sweep(result: SweepResult, shown: int = 10) -> str:
    """A text summary: counts, speed and the best rows."""
    spec = result.spec
    n_bars, n_cols = result.bars.close.shape
    head = (f"{result.strategy} {spec.mode} sweep over {', '.join(result.space.names)}: "
            f"{result.evaluated:,} sets evaluated, {result.skipped:,} skipped as invalid; "
            f"{n_bars:,} bars x {n_cols} symbol(s); {result.indicators} distinct indicators; "
            f"{result.seconds:.2f} s ({result.bar_sets_per_second:,.0f} bar-sets/s, executor {spec.executor})")
    columns = ["rank", *(PARAM_PREFIX + n for n in result.space.names),
               *dict.fromkeys([spec.metric, "total_return", "sharpe", "max_drawdown", "trades"])]
    table = result.frame.head(shown).select(columns)
    lines = [head, f"best by {spec.metric}:"]
    lines.append("  " + "  ".join(f"{c.removeprefix(PARAM_PREFIX):>12}" for c in columns))
    for row in table.iter_rows():
        lines.append("  " + "  ".join(f"{_cell(v):>12}" for v in row))
    if result.evaluated > result.frame.height:
        lines.append(f"(the best {result.frame.height:,} of {result.evaluated:,} sets are ranked in memory"
                     + (f"; every set is in {result.parquet}" if result.parquet else "") + ")")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    """A short text for a table cell."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
