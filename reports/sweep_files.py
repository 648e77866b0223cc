"""The CSV files of a sweep and of a walk-forward.

Sweep (:func:`write_sweep_files`):

* ``sweep.csv``: one row per evaluated set, best first: ``rank``,
  ``param_<name>`` per swept parameter, every statistic; above
  :data:`~backtest.sweep.collect.RANKED_ROWS` sets, the best that many.
* ``sweep.parquet`` (when the sweep streamed to it, as the CLI's does): every
  evaluated set in evaluation order, the same columns without ``rank``.
* ``heatmap.csv``: long format for the report's heatmap: the first two swept
  parameters, the best ``<metric>`` over the other swept parameters, ``sets``
  (above :data:`~backtest.sweep.collect.RANKED_ROWS` sets, long axes binned).
* ``invalid.csv``: the sets the strategy refused, with its reason (the first
  :data:`~backtest.sweep.collect.RANKED_ROWS`; the summary counts them all).
* ``top_equity.csv``: ``rank``, ``ts``, ``equity`` of the ``top_k`` best sets,
  re-run with the full engine (the sweep itself keeps no equity curve).
* ``sweep.html`` (``plotly.min.js``, ``heatmap_views.csv`` and
  ``stability.csv`` beside it): the page of :mod:`reports.sweep_report`.

Walk-forward (:func:`write_walk_forward_files`): ``walk_forward.csv`` (per
out-of-sample bar: ``ts``, ``fold``, ``equity``, the chosen ``param_*``),
``walk_forward_folds.csv`` (per fold: windows, bars, choice, train and test
statistics), ``walk_forward_metrics.csv`` (stitched statistics, one row) and
``walk_forward.html`` (:mod:`reports.walk_forward_report`).

>>> import tempfile, numpy as np
>>> from backtest.engine.simulate import EngineConfig
>>> from backtest.feed import BarArrays
>>> from backtest.sweep.local import sweep
>>> from backtest.sweep.spec import SweepSpec
>>> close = (100 + np.cumsum(np.random.default_rng(1).normal(0, 1, 300)))[:, None]
>>> bars = BarArrays(np.arange(300).astype("datetime64[D]").astype("datetime64[us]"), ("X",),
...                  close, close, close, close, close)
>>> result = sweep(bars, "sma_cross", SweepSpec(params={"fast": "5,10", "slow": "10,20"}, top_k=2), EngineConfig())
>>> sorted(p.name for p in write_sweep_files(result, tempfile.mkdtemp()))
['heatmap.csv', 'heatmap_views.csv', 'invalid.csv', 'plotly.min.js', 'stability.csv', 'sweep.csv', 'sweep.html',
 'top_equity.csv']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import polars as pl

from backtest.sweep.local import SweepResult, rerun
from backtest.sweep.walk_forward import WalkForwardResult
from reports.plots import PLOTLY_JS
from reports.sweep_context import sweep_context
from reports.sweep_report import write_sweep_report
from reports.walk_forward_report import write_walk_forward_report


def _times(index) -> pl.Series:
    """Bar times as a UTC datetime series."""
    return pl.Series(index.astype("datetime64[us]")).dt.replace_time_zone("UTC")


def write_sweep_files(result: SweepResult, out_dir: str | Path) -> list[Path]:
    """Write the sweep's CSV files into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    top = []
    for rank in range(1, min(result.spec.top_k, result.frame.height) + 1):
        top.append(pl.DataFrame({"rank": rank, "ts": _times(result.bars.index), "equity": rerun(result, rank).equity}))
    frames = {
        "sweep.csv": result.frame,
        "heatmap.csv": result.heatmap,
        "invalid.csv": result.invalid,
        "top_equity.csv": pl.concat(top) if top else pl.DataFrame(schema={"rank": pl.Int64, "ts": pl.String,
                                                                          "equity": pl.Float64}),
    }
    paths = [result.parquet] if result.parquet is not None else []
    for name, frame in frames.items():
        frame.write_csv(out / name)
        paths.append(out / name)
    if result.frame.height:
        context = sweep_context(result.strategy, result.spec, result.engine, result.data, result.bars.index,
                                fixed=result.fixed)
        page = write_sweep_report(result.frame, out, metric=result.spec.metric,
                                  best="max" if result.spec.descending else "min", top_equity=frames["top_equity.csv"],
                                  context=context, **_every_set(result))
        paths += [out / "heatmap_views.csv", out / "stability.csv", out / PLOTLY_JS, page]
    return paths


def _every_set(result: SweepResult) -> dict:
    """What the report needs of the sets ``sweep.csv`` leaves out: none when it holds them all."""
    if result.evaluated == result.frame.height:
        return {}
    metric = result.spec.metric
    values = (pl.read_parquet(result.parquet, columns=[metric])[metric] if result.parquet is not None
              else result.frame[metric]).cast(pl.Float64).to_numpy()
    return {"cells": result.heatmap, "distribution": values, "sets": result.evaluated}


def write_walk_forward_files(result: WalkForwardResult, out_dir: str | Path, *,
                             context: Sequence[tuple[str, str]] = ()) -> list[Path]:
    """Write the walk-forward's CSV files and page into ``out_dir``; return their paths.

    ``context``: what was swept, for the page (:func:`reports.sweep_context.sweep_context`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = [c for c in result.folds.columns if c.startswith("param_")]
    per_bar = pl.DataFrame({"ts": _times(result.index), "fold": result.fold, "equity": result.equity}).join(
        result.folds.select("fold", *params), on="fold", how="left")
    stats = {k: str(v) if isinstance(v, timedelta) else v for k, v in result.stats.items()}
    folds = result.folds.with_columns(
        *(_times(result.folds[c].to_numpy()).alias(c) for c in ("train_start", "train_end", "test_start", "test_end")))
    frames = {"walk_forward.csv": per_bar, "walk_forward_folds.csv": folds,
              "walk_forward_metrics.csv": pl.DataFrame([stats])}
    paths = []
    for name, frame in frames.items():
        frame.write_csv(out / name)
        paths.append(out / name)
    return [*paths, out / PLOTLY_JS, write_walk_forward_report(result, out, context=context)]
