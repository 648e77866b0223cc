"""The files of one run: metrics, trades, equity, orders, drawdowns and data access as CSV, and ``report.html``.

``metrics.csv`` is one row of :mod:`backtest.stats` (the columns sweeps and multirun pages compare);
``metrics_full.csv`` one row per :mod:`backtest.metrics` figure (``metric, value, reason, annualised``);
``drawdowns.csv`` every drawdown period, deepest first; ``trades.csv`` every trade with its symbol, times,
``bars_held``, ``duration_days``, ``mae`` and ``mfe`` (:mod:`backtest.excursions`); ``breakdown.csv`` the
trades per symbol, per side and in total (:mod:`backtest.breakdown`). ``report.html`` loads ``plotly.min.js``
from beside it.

>>> import tempfile, numpy as np
>>> from backtest.engine.simulate import EngineConfig, run
>>> from backtest.feed import BarArrays
>>> from backtest.runner import DataSpec, RunResult
>>> close = np.array([[10.0], [11.0], [12.0]])
>>> bars = BarArrays(np.array(["2024-01-02", "2024-01-03", "2024-01-04"], dtype="datetime64[us]"), ("X",),
...                  close, close, close, close, close)
>>> sim = run(close, close, close, close, np.array([[1.0], [np.nan], [np.nan]]), EngineConfig(fill="close"))
>>> result = RunResult("sma_cross", {}, DataSpec(symbols=("X",)), EngineConfig(), bars, sim,
...                    {"total_return": 0.2}, (), "3x1:abc")
>>> out = tempfile.mkdtemp()
>>> sorted(p.name for p in write_run_files(result, out, benchmark_csv=None))
['breakdown.csv', 'data_access.csv', 'drawdowns.csv', 'equity.csv', 'metrics.csv', 'metrics_full.csv', 'orders.csv',
 'plotly.min.js', 'report.html', 'trades.csv']
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import polars as pl

from backtest.breakdown import trade_breakdown
from backtest.curves import drawdown
from backtest.excursions import run_excursions
from backtest.metrics import TearSheet, run_tear_sheet
from backtest.runner import RunResult
from reports.plots import PLOTLY_JS
from reports.run_report import DEFAULT_BENCHMARK, write_run_report


def write_run_files(result: RunResult, out_dir: str | Path,
                    benchmark_csv: str | Path | None = DEFAULT_BENCHMARK) -> list[Path]:
    """Write the run's CSVs, ``plotly.min.js`` and ``report.html`` into ``out_dir``; return their paths, the page last.

    ``benchmark_csv``: the ``python -m warehouse bench`` results shown in the report when the file exists.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sheet = run_tear_sheet(result)
    frames = {
        "metrics.csv": metrics_frame(result),
        "metrics_full.csv": sheet.frame(),
        "drawdowns.csv": drawdowns_frame(sheet),
        "trades.csv": trades_frame(result),
        "breakdown.csv": trade_breakdown(result.simulation.trades, symbols=result.bars.symbols,
                                         init_cash=result.simulation.init_cash),
        "equity.csv": equity_frame(result),
        "orders.csv": _with_times(result.simulation.orders, result, ("bar",)),
        "data_access.csv": data_access_frame(result),
    }
    if result.simulation.fills is not None:  # tick execution: every fill with its times and slippage
        frames["fills.csv"] = _with_symbols(result.simulation.fills, result)
    paths = []
    for name, frame in frames.items():
        frame.write_csv(out / name)
        paths.append(out / name)
    report = write_run_report(result, out, benchmark_csv)
    return [*paths, out / PLOTLY_JS, report]


def trades_frame(result: RunResult) -> pl.DataFrame:
    """Every trade with symbol and UTC times, then ``bars_held``, ``duration_days``, ``mae``, ``mfe``."""
    moves = run_excursions(result)
    days = (moves["duration"].dt.total_microseconds() / 86_400e6).alias("duration_days")
    return pl.concat([_with_times(result.simulation.trades, result, ("entry_bar", "exit_bar")),
                      moves.select("bars_held", days, "mae", "mfe")], how="horizontal")


def _with_symbols(fills: pl.DataFrame, result: RunResult) -> pl.DataFrame:
    """Fill records with the symbol's name in place of its column number."""
    names = pl.Series(result.bars.symbols)
    return fills.select(names.gather(fills["column"]).alias("symbol"), pl.exclude("column"))


def metrics_frame(result: RunResult) -> pl.DataFrame:
    """One row: run identity, parameters (``param_*``) and every statistic."""
    data, index = result.data, result.bars.index
    row: dict[str, object] = {  # bars given in memory (data None): their first and last bar, source "memory"
        "strategy": result.strategy,
        "symbols": ",".join(result.bars.symbols if data is None else data.symbols),
        "start": str(index[0]) if data is None else data.start,
        "end": str(index[-1]) if data is None else data.end,
        "interval": None if data is None else data.interval,
        "source": "memory" if data is None else data.source,
        "fingerprint": result.fingerprint,
    }
    row.update({f"param_{k}": v for k, v in result.params.items()})
    for key, value in result.stats.items():
        row[key] = str(value) if isinstance(value, timedelta) else value
    return pl.DataFrame([row])


def drawdowns_frame(sheet: TearSheet) -> pl.DataFrame:
    """Every drawdown period, deepest first: UTC times, ``depth`` and ``length_days``."""
    times = [pl.col(c).dt.replace_time_zone("UTC") for c in ("start", "valley", "recovery")]
    length = (pl.col("length").dt.total_microseconds() / 86_400e6).alias("length_days")
    return sheet.drawdowns.select(*times, "depth", length)


def equity_frame(result: RunResult) -> pl.DataFrame:
    """Per bar: time, equity, cash, drawdown and units held per symbol."""
    equity = result.simulation.equity
    columns: dict[str, object] = {
        "ts": pl.Series(result.bars.index.astype("datetime64[us]")).dt.replace_time_zone("UTC"),
        "equity": equity,
        "cash": result.simulation.cash,
        "drawdown": drawdown(equity),
    }
    for j, symbol in enumerate(result.bars.symbols):
        columns[f"position_{symbol}"] = result.simulation.positions[:, j]
    return pl.DataFrame(columns)


def data_access_frame(result: RunResult) -> pl.DataFrame:
    """The feed's query costs of this run, one row per query."""
    rows = [dataclasses.asdict(cost) for cost in result.query_costs]
    if rows:
        return pl.DataFrame(rows)
    return pl.DataFrame(schema={"call": pl.String, "source": pl.String})


def _with_times(frame: pl.DataFrame, result: RunResult, bar_columns: tuple[str, ...]) -> pl.DataFrame:
    """``frame`` with a symbol name for ``column`` and a UTC time next to every bar number."""
    index = pl.Series(result.bars.index.astype("datetime64[us]")).dt.replace_time_zone("UTC")
    symbols = pl.Series(list(result.bars.symbols), dtype=pl.String)
    extra = [pl.Series("symbol", symbols.gather(frame["column"]) if frame.height else [], dtype=pl.String)]
    for column in bar_columns:
        times = index.gather(frame[column]) if frame.height else pl.Series([], dtype=index.dtype)
        extra.append(times.alias(column.replace("bar", "time")))
    return frame.with_columns(extra)
