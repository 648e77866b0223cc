"""Real runs for the report tests: GOOG daily bars (the ``backtesting`` package's file) in a fresh database,
a small parameter grid over them (``sweep.csv`` rows), and a walk-forward stitched from real runs."""

from __future__ import annotations

import dataclasses
import uuid

import polars as pl

from backtest.engine.simulate import EngineConfig
from backtest.feed import Feed
from backtest.runner import DataSpec, RunResult, run_backtest
from reports.run_files import equity_frame, metrics_frame
from support.data import load_goog
from warehouse.client import connect
from warehouse.schema.migrate import migrate

ENGINE = EngineConfig(fees_bps=5, size=0.9)


def goog_feed() -> Feed:
    """A feed on a new database holding GOOG 1d bars (2004-08-19 to 2013-03-01)."""
    client = connect(database=f"rep_{uuid.uuid4().hex[:10]}")
    migrate(client)
    load_goog(client)
    return Feed(client)


def goog_run(feed: Feed, fast: int = 10, slow: int = 30, start: str = "2004-01-01", end: str = "2014-01-01",
             engine: EngineConfig = ENGINE) -> RunResult:
    """sma_cross on GOOG daily bars between ``start`` and ``end``."""
    data = DataSpec(symbols=("GOOG",), start=start, end=end, interval="1d", source="ohlcv")
    return run_backtest(feed, "sma_cross", {"fast": fast, "slow": slow}, data, engine)


def goog_sweep(feed: Feed, fasts: tuple[int, ...] = (5, 10, 15, 20),
               slows: tuple[int, ...] = (30, 40, 50, 60, 80), **span: str) -> pl.DataFrame:
    """One ``metrics.csv`` row per (fast, slow) pair, run for real: the shape of ``sweep.csv``."""
    return pl.concat([metrics_frame(goog_run(feed, f, s, **span)) for f in fasts for s in slows],
                     how="diagonal_relaxed")


def goog_walk_forward(feed: Feed, years: tuple[str, ...] = ("2006", "2008", "2010", "2012", "2013")) -> pl.DataFrame:
    """Per window: the best-Sharpe set on the previous two years, run on the next two starting from the
    previous window's final equity; equity rows stitched."""
    parts, cash = [], ENGINE.init_cash
    for fold, (train, test, stop) in enumerate(zip(years, years[1:], years[2:])):
        grid = goog_sweep(feed, start=f"{train}-01-01", end=f"{test}-01-01")
        best = grid.sort("sharpe", descending=True, nulls_last=True).row(0, named=True)
        run = goog_run(feed, best["param_fast"], best["param_slow"], start=f"{test}-01-01", end=f"{stop}-01-01",
                       engine=dataclasses.replace(ENGINE, init_cash=cash))
        cash = run.stats["final_equity"]
        parts.append(equity_frame(run).select("ts", "equity").with_columns(
            pl.lit(fold).alias("fold"), pl.lit(best["param_fast"]).alias("param_fast"),
            pl.lit(best["param_slow"]).alias("param_slow")))
    return pl.concat(parts)
