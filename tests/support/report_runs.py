"""Real runs for the report tests: GOOG daily bars (the ``backtesting`` package's file) in a fresh database,
a small parameter grid over them (``sweep.csv`` rows), and a real sweep and walk-forward over them."""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path

import numpy as np
import polars as pl

from backtest.engine.simulate import EngineConfig
from backtest.feed import Feed
from backtest.runner import DataSpec, RunResult, read_bars, run_backtest
from backtest.sweep.local import SweepResult, sweep
from backtest.sweep.spec import SweepSpec, WalkForward
from backtest.sweep.walk_forward import WalkForwardResult, walk_forward
from reports.run_files import metrics_frame
from reports.sweep_context import sweep_context
from reports.sweep_files import write_walk_forward_files
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


GOOG = DataSpec(symbols=("GOOG",), start="2004-01-01", end="2014-01-01", interval="1d", source="ohlcv")
GRID = {"fast": "5,10,15,20", "slow": "30,40,50,60,80"}


def goog_sweep_result(feed: Feed, *, strategy: str = "sma_cross", params: dict[str, str] | None = None,
                      engine: EngineConfig = ENGINE) -> SweepResult:
    """The sweep of ``params`` (default :data:`GRID`) over every GOOG bar, by Sharpe, the 5 best re-run for their
    equity."""
    return sweep(read_bars(feed, GOOG), strategy, SweepSpec(params=params or GRID), engine, data=GOOG)


WALK_FORWARD = SweepSpec(params=GRID, walk_forward=WalkForward(train="500s", test="250s"))


def goog_walk_forward_result(feed: Feed) -> WalkForwardResult:
    """The walk-forward :data:`WALK_FORWARD` over GOOG's daily bars, windows counted in sessions."""
    return walk_forward(read_bars(feed, GOOG), "sma_cross", WALK_FORWARD, ENGINE)


def goog_walk_forward_files(feed: Feed, out: Path) -> Path:
    """The files of :func:`goog_walk_forward_result` in ``out``, its page saying what was swept; the page's path."""
    result = goog_walk_forward_result(feed)
    context = sweep_context("sma_cross", WALK_FORWARD, ENGINE, GOOG, result.index)
    return write_walk_forward_files(result, out, context=context)[-1]


def plotted(text: str, chart: str) -> list[dict]:
    """The traces of chart ``chart`` as the page hands them to Plotly.newPlot, base64 arrays decoded."""
    start = text.index(f'Plotly.newPlot(                        "chart-{chart}",')
    traces, _ = json.JSONDecoder().raw_decode(text, text.index("[", start))

    def decoded(value):
        if isinstance(value, dict) and {"dtype", "bdata"} <= set(value) <= {"dtype", "bdata", "shape"}:
            flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
            return flat.reshape([int(n) for n in value["shape"].split(",")]) if "shape" in value else flat
        return value
    return [{key: decoded(value) for key, value in trace.items()} for trace in traces]


def charts_on(text: str) -> list[str]:
    """The names of the plotly charts on a page, in order."""
    return re.findall(r'<div class="plot[\w -]*" data-chart="([\w-]+)">', text)
