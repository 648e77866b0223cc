"""The ``+sweep=grid|random`` branch of ``python -m backtest``: sweep or walk forward, write files, summarize.

>>> import os, tempfile
>>> from backtest.config import CONF_DIR
>>> from hydra import compose, initialize_config_dir
>>> from omegaconf import OmegaConf
>>> with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):  # values as the sweeper passes them: text
...     cfg = compose(config_name="config", overrides=["+strategy=sma_cross", "+sweep=grid", "sweep.max_sets=100",
...                                                    "sweep.params.fast='range(5,50)'", "sweep.params.slow='range(5,50)'"])
>>> execute_sweep(OmegaConf.to_container(cfg, resolve=True), tempfile.mkdtemp())
Traceback (most recent call last):
backtest.errors.BacktestError: sweep.max_sets: the grid has 2,025 sets, above 100; narrow sweep.params, raise sweep.max_sets or pass sweep.force=true
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backtest.config import DataSpec
from backtest.engine.modes import Execution
from backtest.engine.simulate import EngineConfig
from backtest.feed import Feed
from backtest.feed.request import Interval
from backtest.runner import TickSource, read_strategy_bars
from backtest.sweep.local import format_sweep, sweep
from backtest.sweep.spec import ParamSpace, SweepSpec, count_sets
from backtest.sweep.walk_forward import walk_forward
from reports.sweep_context import sweep_context
from reports.sweep_files import write_sweep_files, write_walk_forward_files
from strategies import find

STATUS_EVERY = 10.0  # seconds between status lines on stderr when it is not a terminal


def execute_sweep(container: Mapping[str, Any], out_dir: str | Path) -> str:
    """Run the sweep (or walk-forward) of a composed config, write its files into ``out_dir``, return a summary.

    The spec and its size are checked before any bar is read. Every set's row
    is streamed to ``sweep.parquet``; a progress bar on a terminal, otherwise a
    status line every :data:`STATUS_EVERY` seconds, shows how far it has got.
    """
    spec = SweepSpec.from_mapping(container["sweep"])
    engine = EngineConfig.from_mapping(container["engine"])
    data = DataSpec.from_mapping(container["data"])
    strategy = dict(container["strategy"])
    name = strategy["name"]
    count_sets(ParamSpace.parse(spec.params, name), spec)
    feed = Feed(container["warehouse"]["dsn"])
    bars = read_strategy_bars(feed, data, find(name))
    ticks = TickSource(feed, Interval.parse(data.interval).seconds) if engine.execution is Execution.ticks else None
    if spec.walk_forward.enabled:
        result = walk_forward(bars, name, spec, engine, strategy)
        write_walk_forward_files(result, out_dir, context=sweep_context(name, spec, engine, data, bars.index,
                                                                        fixed=strategy))
        stats = result.stats
        return (f"{name} walk-forward by {spec.metric}: {result.folds.height} folds, "
                f"{len(result.equity):,} out-of-sample bars; stitched total_return {stats['total_return']:.2%}, "
                f"sharpe {stats['sharpe']:.2f}, max_drawdown {stats['max_drawdown']:.2%}, trades {stats['trades']}")
    result = sweep(bars, name, spec, engine, strategy, data, parquet=Path(out_dir) / "sweep.parquet",
                   status_every=STATUS_EVERY, ticks=ticks)
    write_sweep_files(result, out_dir)
    return format_sweep(result)
