"""What a sweep's rows say about the parameter landscape: heatmap views over two parameters, and stability.

Both read a sweep's frame (one row per set, ``param_<name>`` columns and
statistics, as ``sweep.csv``); the report pages lay out what they return.

* :func:`heatmap_views`: the metric over two parameters, three ways for the
  other swept parameters: fixed at the best set's values (``at_best``), the
  best over them (``best``) and their mean (``mean``). With no other
  parameter, one view: ``set``.
* :func:`stability`: the best set's neighbours -- every set whose parameters
  each sit at most one grid step (in the sorted values swept) from the best's
  -- and how far the metric falls among them.

>>> import polars as pl
>>> frame = pl.DataFrame({"param_fast": [5, 5, 10, 10, 15], "param_slow": [20, 30, 20, 30, 30],
...                       "sharpe": [0.1, 0.4, -0.2, 0.3, 0.2]})
>>> views = heatmap_views(frame, "sharpe", x="param_slow", y="param_fast")
>>> views.filter(pl.col("param_fast") == 5).rows()
[('set', 5, 20, 0.1, 1), ('set', 5, 30, 0.4, 1)]
>>> summary, near = stability(frame, "sharpe")
>>> summary["best"], summary["neighbours"], round(summary["drop"], 4), near["param_fast"].to_list()
(0.4, 3, 0.3333, [10, 5, 10])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from backtest.errors import BacktestError
from backtest.sweep.collect import PARAM_PREFIX

VIEWS = ("at_best", "best", "mean")


def _params(frame: pl.DataFrame) -> list[str]:
    """The ``param_*`` columns of ``frame``."""
    names = [c for c in frame.columns if c.startswith(PARAM_PREFIX)]
    if not names:
        raise BacktestError(f"sweep: no {PARAM_PREFIX}* columns (columns: {', '.join(frame.columns)})")
    return names


def best_row(frame: pl.DataFrame, metric: str, *, best: str = "max") -> dict[str, Any]:
    """The row with the best ``metric`` (``best``: ``max`` or ``min``; missing values never win).

    >>> best_row(pl.DataFrame({"param_a": [1, 2], "m": [None, 0.5]}), "m", best="min")["param_a"]
    2
    """
    if metric not in frame.columns:
        raise BacktestError(f"metric: {metric!r} is not a column of the sweep (columns: {', '.join(frame.columns)})")
    if best not in ("max", "min"):
        raise BacktestError(f"best: {best!r} is not one of max, min")
    ranked = frame.filter(pl.col(metric).is_not_null() & pl.col(metric).cast(pl.Float64).is_not_nan())
    if not ranked.height:
        raise BacktestError(f"metric: no set has a value of {metric!r}")
    return ranked.sort(metric, descending=best == "max").row(0, named=True)


def heatmap_views(frame: pl.DataFrame, metric: str, *, x: str, y: str, best: str = "max") -> pl.DataFrame:
    """Long table ``view, <y>, <x>, value, sets``: ``metric`` per cell of parameters ``x`` and ``y``.

    ``view``: ``at_best`` (the other parameters at the best set's values), ``best`` (the best over them),
    ``mean`` (their mean, NaN values left out); ``set`` alone when ``x`` and ``y`` are the only parameters.
    ``sets``: how many sets the cell's value summarises.
    """
    names = _params(frame)
    for name in (x, y):
        if name not in names:
            raise BacktestError(f"params: {name.removeprefix(PARAM_PREFIX)!r} is not a swept parameter "
                                f"(swept: {', '.join(n.removeprefix(PARAM_PREFIX) for n in names)})")
    top = best_row(frame, metric, best=best)
    others = [n for n in names if n not in (x, y)]
    value = pl.col(metric).cast(pl.Float64).fill_nan(None)
    if not others:
        return frame.group_by(y, x).agg(value.first().alias("value"), pl.len().cast(pl.Int64).alias("sets")).select(
            pl.lit("set").alias("view"), y, x, "value", "sets").sort(y, x)
    fixed = frame.filter(pl.all_horizontal(pl.col(o) == top[o] for o in others))
    views = [
        fixed.group_by(y, x).agg(value.first().alias("value"), pl.len().cast(pl.Int64).alias("sets"))
        .with_columns(pl.lit("at_best").alias("view")),
        frame.group_by(y, x).agg((value.max() if best == "max" else value.min()).alias("value"),
                                 pl.len().cast(pl.Int64).alias("sets")).with_columns(pl.lit("best").alias("view")),
        frame.group_by(y, x).agg(value.mean().alias("value"), pl.len().cast(pl.Int64).alias("sets"))
        .with_columns(pl.lit("mean").alias("view")),
    ]
    order = pl.col("view").replace_strict({v: i for i, v in enumerate(VIEWS)}, return_dtype=pl.Int64)
    return pl.concat([v.select("view", y, x, "value", "sets") for v in views]).sort(order, y, x)


def stability(frame: pl.DataFrame, metric: str, *, best: str = "max") -> tuple[dict[str, Any], pl.DataFrame]:
    """How much ``metric`` falls around the best set: a summary, and the neighbours (best first).

    Neighbours: the other sets each of whose parameters is within one step of the best set's among the values
    swept. Summary: ``best`` (its value), ``neighbours`` (how many have a value), ``mean`` and ``worst`` of
    theirs, ``drop`` (best minus the neighbours' mean, as a loss: positive when they are worse) and
    ``relative_drop`` (``drop`` over ``|best|``; NaN when best is 0 or there are no neighbours).
    """
    names = _params(frame)
    top = best_row(frame, metric, best=best)
    near = pl.lit(True)
    for name in names:
        values = np.sort(frame[name].drop_nulls().unique().to_numpy())
        at = int(np.searchsorted(values, top[name]))
        allowed = values[max(at - 1, 0):at + 2].tolist()
        near = near & pl.col(name).is_in(allowed)
    itself = pl.all_horizontal(pl.col(n) == top[n] for n in names)
    value = pl.col(metric).cast(pl.Float64).fill_nan(None)
    around = frame.filter(near & ~itself & value.is_not_null()).sort(metric, descending=best == "max")
    values = around[metric].cast(pl.Float64).to_numpy()
    sign = 1.0 if best == "max" else -1.0
    mean = float(values.mean()) if len(values) else float("nan")
    worst = float((values.min() if best == "max" else values.max())) if len(values) else float("nan")
    drop = sign * (float(top[metric]) - mean)
    summary = {"best": top[metric], "neighbours": len(values), "mean": mean, "worst": worst, "drop": drop,
               "relative_drop": drop / abs(top[metric]) if len(values) and top[metric] else float("nan"),
               **{name: top[name] for name in names}}
    return summary, around.select(*names, metric)
