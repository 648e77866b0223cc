"""The Python API for notebooks and scripts: ``run(strategy, data, **rules)`` and ``sweep(Cls, data, **grids)``.

``strategy`` is a strategy instance, a class (its defaults) or a name
(:func:`strategies.find`); ``data`` is bars in any of these forms:

* a feed request: :class:`~backtest.config.DataSpec` or a mapping of its fields (read from
  ``warehouse``, a DSN or a clickhouse-connect client; default ``$TICKHOUSE_DSN`` or
  ``./data/warehouse``), run as
  ``python -m backtest`` runs it (:func:`backtest.runner.run_backtest`);
* a polars or pandas frame, long form (``ts``, ``symbol``, ``open`` ... ``volume``) or one
  symbol's OHLCV (a ``ts`` column or a datetime index; column names in any case);
* :class:`~backtest.feed.BarArrays`.

``rules`` are the engine's (:class:`~backtest.engine.rules.EngineConfig` fields:
``fees_bps=2, fill="close"``). Both call what ``python -m backtest`` calls
(:func:`backtest.runner.simulate`, :func:`backtest.sweep.local.sweep`).

:meth:`Result.report` writes the files a CLI run writes (CSVs and ``report.html``,
:func:`reports.run_files.write_run_files`), also for bars given in memory. Like the CLI, this
module is an entry point above the layers (``reports -> backtest -> strategies``): that method
imports ``reports`` when it is called, the one import of ``reports`` in ``backtest/``
(``tests/unit/test_layout.py`` allows exactly it).

>>> import numpy as np, polars as pl
>>> from strategies import Strategy, param
>>> class Momentum(Strategy):
...     window = param(5, min=1)
...     def signals(self, bars):
...         return np.sign(self.ind.returns(bars.close, self.window))
>>> close = 100 + np.sin(np.arange(300) / 10) * 10
>>> frame = pl.DataFrame({"ts": pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 10, 26), "1d",
...                                               eager=True), "close": close})
>>> result = run(Momentum(window=3), frame, fill="close")
>>> result.stats["trades"], result.equity.columns, result.trades["symbol"][0]
(10, ['ts', 'equity'], 'X')
>>> sweep(Momentum, frame, window=range(2, 6), fill="close").select("param_window", "trades").head(2).rows()
[(2, 10), (3, 10)]
>>> import tempfile
>>> path = result.report(tempfile.mkdtemp())
>>> path.name, sorted(p.name for p in path.parent.glob("*.csv"))[:2]
('report.html', ['breakdown.csv', 'data_access.csv'])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

import strategies
from backtest.config import DataSpec
from backtest.engine.simulate import EngineConfig, SimulationResult
from backtest.errors import BacktestError
from backtest.feed import BarArrays, Feed, bar_arrays
from backtest.engine.modes import Execution
from backtest.feed.request import Interval
from backtest.runner import (RunResult, TickSource, engine_for, fingerprint, read_strategy_bars, run_backtest,
                             simulate)
from backtest.sweep.local import sweep as sweep_sets
from backtest.sweep.spec import SweepSpec

_OHLCV = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Result:
    """One run: the strategy, its bars, rules (as run) and simulation; ``stats``, ``trades``, ``equity`` to read.

    ``run`` is the CLI's record of a run on warehouse data (what ``reports.run_files.write_run_files``
    renders as CSVs and ``report.html``); None for bars given in memory. :meth:`report` writes
    those files for either.
    """

    strategy: strategies.Strategy
    bars: BarArrays
    engine: EngineConfig
    simulation: SimulationResult
    stats: Mapping[str, Any]
    run: RunResult | None = None

    @property
    def equity(self) -> pl.DataFrame:
        """``ts`` and ``equity`` on every bar."""
        return pl.DataFrame({"ts": self.bars.index, "equity": self.simulation.equity})

    @property
    def trades(self) -> pl.DataFrame:
        """The trades with ``symbol``, ``entry_time`` and ``exit_time`` beside the engine's columns."""
        trades = self.simulation.trades
        index = pl.Series(self.bars.index)
        return trades.with_columns(
            pl.Series("symbol", [self.bars.symbols[c] for c in trades["column"].to_list()], dtype=pl.String),
            index.gather(trades["entry_bar"]).alias("entry_time"),
            index.gather(trades["exit_bar"]).alias("exit_time"))

    def report(self, path: str | Path) -> Path:
        """Write the run's CSV files and ``report.html`` into the folder ``path``; return the page's path.

        The files ``python -m backtest`` writes. For bars given in memory the page says so where a
        warehouse run shows its request, feed queries and command line, and the ``python -m warehouse
        bench`` table is left out.
        """
        from reports.run_files import write_run_files  # the one import of reports in backtest (module text)

        if self.run is not None:
            write_run_files(self.run, path)
        else:
            memory = RunResult(self.strategy.name, self.strategy.values, None, self.engine, self.bars,
                               self.simulation, dict(self.stats), (), fingerprint(self.bars))
            write_run_files(memory, path, benchmark_csv=None)
        return Path(path) / "report.html"

    def __repr__(self) -> str:
        stats = self.stats
        return (f"Result({self.strategy!r} on {','.join(self.bars.symbols)}, {len(self.bars.index):,} bars: "
                f"total_return {stats['total_return']:.2%}, sharpe {stats['sharpe']:.2f}, "
                f"max_drawdown {stats['max_drawdown']:.2%}, trades {stats['trades']})")

    def _repr_html_(self) -> str:
        """A table of the statistics (Jupyter shows it for a result on its own line)."""
        rows = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{_cell(v)}</td></tr>"
                       for k, v in self.stats.items())
        return f"<p>{self.strategy!r} on {', '.join(self.bars.symbols)}</p><table>{rows}</table>"


def run(strategy: strategies.Strategy | type | str, data: Any, *, warehouse: Any = None, **rules: Any) -> Result:
    """Run ``strategy`` on ``data`` under the engine ``rules``; see the module text for the forms."""
    instance = strategy if isinstance(strategy, strategies.Strategy) else strategies.find(strategy)()
    engine = engine_for(instance, engine_of(rules))
    if isinstance(data, (DataSpec, Mapping)):  # the CLI's path: feed costs and fingerprint recorded
        spec = data if isinstance(data, DataSpec) else DataSpec.from_mapping(data)
        ran = run_backtest(Feed(warehouse), type(instance), instance.values, spec, engine)
        return Result(instance, ran.bars, engine, ran.simulation, ran.stats, ran)
    bars = bars_of(data)
    simulation, stats = simulate(instance, bars, engine)
    return Result(instance, bars, engine, simulation, stats)


def sweep(strategy: type | str, data: Any, *, metric: str = "sharpe", warehouse: Any = None,
          parquet: str | Path | None = None, **grids_and_rules: Any) -> pl.DataFrame:
    """Every combination of the parameter ``grids`` (``fast=range(5, 50)``, lists, single values), best first.

    Keyword arguments naming a parameter of the strategy are grids; the others
    are engine rules. Returns one row per valid set: ``rank``, ``param_<name>``,
    then every statistic; combinations the strategy refuses are left out.
    Memory stays bounded: above 100,000 sets the table holds the best 100,000
    (:data:`backtest.sweep.collect.RANKED_ROWS`); ``parquet`` names a file that
    receives every row as it is computed. A progress bar shows on a terminal.
    """
    cls = strategies.find(strategy)
    grids = {k: v for k, v in grids_and_rules.items() if k in cls.params()}
    rules = {k: v for k, v in grids_and_rules.items() if k not in grids}
    if not grids:
        raise BacktestError(f"sweep: no parameter of {cls.name} given (known: {', '.join(cls.params())})")
    params = {k: list(v) if isinstance(v, Iterable) and not isinstance(v, str) else [v] for k, v in grids.items()}
    size = int(np.prod([len(v) for v in params.values()]))
    spec = SweepSpec(params=params, metric=metric, max_sets=max(size, 1))
    engine = engine_of(rules)
    ticks = None
    if engine.execution is Execution.ticks and isinstance(data, (DataSpec, Mapping)):
        request = data if isinstance(data, DataSpec) else DataSpec.from_mapping(data)
        ticks = TickSource(Feed(warehouse), Interval.parse(request.interval).seconds)
    return sweep_sets(bars_of(data, warehouse=warehouse, strategy=cls), cls, spec, engine, parquet=parquet,
                      ticks=ticks).frame


def engine_of(rules: Mapping[str, Any]) -> EngineConfig:
    """:class:`EngineConfig` from keyword rules; an unknown one is a one-line error listing the known."""
    known = [f.name for f in fields(EngineConfig)]
    for key in rules:
        if key not in known:
            raise BacktestError(f"engine.{key}: unknown rule (known: {', '.join(known)})")
    return EngineConfig(**rules)


def bars_of(data: Any, *, warehouse: Any = None, strategy: type[strategies.Strategy] = strategies.Strategy) -> BarArrays:
    """:class:`BarArrays` from any ``data`` form the module text lists (with the book for a ``strategy`` that reads
    quotes)."""
    if isinstance(data, BarArrays):
        return data
    if isinstance(data, (DataSpec, Mapping)):
        request = data if isinstance(data, DataSpec) else DataSpec.from_mapping(data)
        return read_strategy_bars(Feed(warehouse), request, strategy)
    if hasattr(data, "to_numpy") and hasattr(data, "columns"):
        return bar_arrays(_long_frame(data))
    raise BacktestError(f"data: {type(data).__name__} is not bars (a DataSpec, a mapping, a polars or pandas "
                        "frame, or BarArrays)")


def _long_frame(data: Any) -> pl.DataFrame:
    """A long polars frame (``ts``, ``symbol``, OHLCV) from a polars or pandas frame in either layout."""
    if not isinstance(data, pl.DataFrame):  # pandas: its datetime index becomes ``ts``
        data = pl.from_pandas(data.reset_index() if data.index.name or not _has_ts(data.columns) else data)
    frame = data.rename({c: c.lower() for c in data.columns})
    if "ts" not in frame.columns:
        stamp = next((c for c in frame.columns if frame[c].dtype in (pl.Datetime, pl.Date)), None)
        if stamp is None:
            raise BacktestError(f"data: no time column among {frame.columns}; name it ts")
        frame = frame.rename({stamp: "ts"})
    if "close" not in frame.columns:
        raise BacktestError(f"data: no close column among {frame.columns}")
    filled = {c: pl.col("close") for c in _OHLCV[:3] if c not in frame.columns}
    filled.update({"volume": pl.lit(0.0)} if "volume" not in frame.columns else {})
    filled.update({"symbol": pl.lit("X")} if "symbol" not in frame.columns else {})
    frame = frame.with_columns(**filled).with_columns(pl.col("ts").cast(pl.Datetime("us")))
    return frame.select("ts", "symbol", *_OHLCV)


def _has_ts(columns: Iterable[Any]) -> bool:
    return any(str(c).lower() == "ts" for c in columns)


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
