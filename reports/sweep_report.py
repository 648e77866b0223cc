"""``sweep.html`` of a parameter sweep: best sets, a heatmap over two parameters, the metric's spread, walk-forward.

Input ``sweep``: ``sweep.csv`` (or its frame), one row per parameter set with
parameter columns ``param_<name>`` (as in a run's ``metrics.csv``) and
statistic columns (``sharpe``, ``total_return``, ...). Optional
``walk_forward``: ``walk_forward.csv`` (or its frame) with ``ts`` and
``equity`` per bar of the out-of-sample stitches, and optionally ``fold``
(which window a bar belongs to) and ``param_*`` columns (the set chosen for
it). Nothing is recomputed: the page lays out those numbers.

A sweep too large to hold (``sweep.csv`` then keeps only its best rows) passes
what the page needs of every set: ``cells`` (``heatmap.csv``: the heatmap's
cells), ``distribution`` (the metric of every set, read from
``sweep.parquet``) and ``sets`` (how many were evaluated).

>>> import tempfile, polars as pl
>>> sweep = pl.DataFrame({"param_fast": [5, 5, 10, 10], "param_slow": [20, 30, 20, 30],
...                       "sharpe": [0.1, 0.4, -0.2, 0.3], "total_return": [0.01, 0.05, -0.02, 0.03]})
>>> path = write_sweep_report(sweep, tempfile.mkdtemp(), metric="sharpe")
>>> text = path.read_text()
>>> path.name, text.count('<svg class="chart"'), "fast = 5, slow = 30" in text
('sweep.html', 2, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from backtest.errors import BacktestError
from reports import html
from reports.charts import heatmap, histogram, line_chart, time_ticks
from reports.format import number, stat_text

BEST_SHOWN = 20
PARAM_PREFIX = "param_"


def write_sweep_report(sweep: str | Path | pl.DataFrame, out_dir: str | Path, *, metric: str = "sharpe",
                       params: Sequence[str] | None = None, best: str = "max",
                       walk_forward: str | Path | pl.DataFrame | None = None, title: str = "",
                       cells: pl.DataFrame | None = None, distribution: np.ndarray | None = None,
                       sets: int | None = None) -> Path:
    """Write ``sweep.html`` into ``out_dir`` and return its path.

    ``metric``: the column ranked, mapped and histogrammed; ``best``: ``max`` or
    ``min`` (which end of ``metric`` is better); ``params``: the two parameters
    (with or without ``param_``) of the heatmap, default the first two;
    ``cells``, ``distribution``, ``sets``: see the module text.
    """
    frame = sweep if isinstance(sweep, pl.DataFrame) else pl.read_csv(sweep)
    names = [c for c in frame.columns if c.startswith(PARAM_PREFIX)]
    if metric not in frame.columns:
        raise BacktestError(f"metric: {metric!r} is not a column of the sweep (columns: {', '.join(frame.columns)})")
    if best not in ("max", "min"):
        raise BacktestError(f"best: {best!r} is not one of max, min")
    if not names:
        raise BacktestError(f"sweep: no {PARAM_PREFIX}* columns (columns: {', '.join(frame.columns)})")
    chosen = [p if p.startswith(PARAM_PREFIX) else PARAM_PREFIX + p for p in (params or names[:2])]
    for name in chosen:
        if name not in names:
            raise BacktestError(f"params: {name.removeprefix(PARAM_PREFIX)!r} is not a swept parameter "
                             f"(swept: {', '.join(n.removeprefix(PARAM_PREFIX) for n in names)})")
    ranked = frame.sort(metric, descending=best == "max", nulls_last=True)
    total = frame.height if sets is None else sets
    values = frame[metric].cast(pl.Float64).to_numpy() if distribution is None else distribution
    sections = [_best_section(ranked, names, metric, total),
                _heatmap_section(frame if cells is None else cells, chosen, [n for n in names if n not in chosen],
                                 metric, best, binned=cells is not None),
                _distribution_section(values, ranked, names, metric)]
    if walk_forward is not None:
        wf = walk_forward if isinstance(walk_forward, pl.DataFrame) else pl.read_csv(walk_forward, try_parse_dates=True)
        sections.append(_walk_forward_section(wf))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sweep.html"
    subtitle = (f"{total:,} parameter sets over {', '.join(n.removeprefix(PARAM_PREFIX) for n in names)}; "
                f"ranked by {metric} ({'higher' if best == 'max' else 'lower'} is better)")
    path.write_text(html.page(title or f"Sweep by {metric}", sections, subtitle), encoding="utf-8")
    return path


def _label(row: dict, names: Sequence[str]) -> str:
    """``fast = 5, slow = 30`` for a row's parameters."""
    return ", ".join(f"{n.removeprefix(PARAM_PREFIX)} = {number(row[n])}" for n in names)


def _best_section(ranked: pl.DataFrame, names: Sequence[str], metric: str, total: int) -> str:
    """The top sets with their parameters and main statistics."""
    stats = [c for c in ("total_return", "sharpe", "max_drawdown", "trades", "win_rate", "final_equity")
             if c in ranked.columns and c != metric]
    shown = [metric, *stats]
    columns = ["#", *(n.removeprefix(PARAM_PREFIX) for n in names), *shown]
    rows = [[str(i + 1), *(number(row[n]) for n in names), *(stat_text(c, row[c]) for c in shown)]
            for i, row in enumerate(ranked.head(BEST_SHOWN).iter_rows(named=True))]
    note = (f"Top {min(BEST_SHOWN, ranked.height)} of {total:,} sets; "
            + ("all are in sweep.csv." if total == ranked.height else
               f"the best {ranked.height:,} are in sweep.csv, all in sweep.parquet."))
    return html.section("Best parameter sets", html.table(columns, rows, numeric=range(len(columns)), scroll=True),
                        note=note, name="best")


def _heatmap_section(frame: pl.DataFrame, chosen: Sequence[str], others: Sequence[str], metric: str, best: str, *,
                     binned: bool) -> str:
    """``metric`` over the two chosen parameters; the best value over the other parameters per cell.

    ``binned``: ``frame`` holds the cells of a large sweep (an axis may be binned), not its sets.
    """
    if len(chosen) < 2:
        return html.section("Heatmap", html.notice("One swept parameter: no heatmap (see the distribution)."))
    rows_p, cols_p = chosen[0], chosen[1]
    pick = pl.col(metric).max() if best == "max" else pl.col(metric).min()
    cells = frame.group_by(rows_p, cols_p).agg(pick)
    row_values = sorted(cells[rows_p].unique().to_list())
    col_values = sorted(cells[cols_p].unique().to_list())
    grid = np.full((len(row_values), len(col_values)), np.nan)
    for r, c, v in cells.select(rows_p, cols_p, metric).iter_rows():
        grid[row_values.index(r), col_values.index(c)] = np.nan if v is None else v
    chart = heatmap("sweep-heatmap", grid, [number(v) for v in row_values], [number(v) for v in col_values],
                    label=f"{metric} by {rows_p} and {cols_p}", cell_format=lambda v: stat_text(metric, v),
                    row_title=rows_p.removeprefix(PARAM_PREFIX), col_title=cols_p.removeprefix(PARAM_PREFIX))
    note = (f"Each cell: the {best} {metric} over {', '.join(o.removeprefix(PARAM_PREFIX) for o in others)}."
            if others else f"Each cell: {metric} of that set; grey: not run or no value.")
    if binned:
        note += " Long axes are binned: a label is its bin's first value, the cell the bin's best."
    return html.section(f"{metric} by {rows_p.removeprefix(PARAM_PREFIX)} and {cols_p.removeprefix(PARAM_PREFIX)}",
                        chart, note=note, name="heatmap")


def _distribution_section(values: np.ndarray, ranked: pl.DataFrame, names: Sequence[str], metric: str) -> str:
    """Histogram of ``metric`` (``values``: every set's), the best one marked."""
    top = ranked.row(0, named=True)
    best_value = top[metric]
    chart = histogram("sweep-distribution", values, label=f"Distribution of {metric}",
                      value_format=lambda v: stat_text(metric, v), mark=best_value)
    missing = int(np.sum(~np.isfinite(values)))
    note = (f"{np.isfinite(values).sum():,} sets with a value"
            + (f", {missing:,} without (n/a)" if missing else "")
            + f"; red line: the best set ({_label(top, names)}: {stat_text(metric, best_value)}).")
    return html.section(f"Distribution of {metric}", chart, note=note, name="distribution")


def _walk_forward_section(wf: pl.DataFrame) -> str:
    """The stitched out-of-sample equity with window boundaries, and the set each window used."""
    for column in ("ts", "equity"):
        if column not in wf.columns:
            raise BacktestError(f"walk_forward: no {column!r} column (columns: {', '.join(wf.columns)})")
    wf = wf.sort("ts")
    index = _utc_times(wf["ts"])
    boundaries: list[float] = []
    body = ""
    if "fold" in wf.columns:
        starts = np.flatnonzero(np.r_[True, wf["fold"].to_numpy()[1:] != wf["fold"].to_numpy()[:-1]])
        boundaries = [float(s) for s in starts[1:]]
        params = [c for c in wf.columns if c.startswith(PARAM_PREFIX)]
        folds = wf.group_by("fold", maintain_order=True).agg(
            pl.col("ts").first().alias("first"), pl.col("ts").last().alias("last"),
            pl.col("equity").last().alias("equity_end"), *(pl.col(p).first() for p in params))
        columns = ["fold", "first bar", "last bar", "equity at end", *(p.removeprefix(PARAM_PREFIX) for p in params)]
        rows = [[str(r["fold"]), str(r["first"]), str(r["last"]), number(r["equity_end"]),
                 *(number(r[p]) for p in params)] for r in folds.iter_rows(named=True)]
        body = html.table(columns, rows, numeric=[3, *range(4, len(columns))], scroll=True)
    chart = line_chart("walk-forward", wf["equity"].cast(pl.Float64).to_numpy(), label="Walk-forward equity",
                       x_ticks=time_ticks(index), height=260, vlines=boundaries)
    return html.section("Walk-forward equity (out of sample)", chart + body,
                        note="Dashed lines: where a new window (with its own chosen parameters) starts.",
                        name="walk-forward")


def _utc_times(ts: pl.Series) -> np.ndarray:
    """``datetime64[us]`` (UTC, naive) from a datetime column, aware or not, or ISO text."""
    times = ts.str.to_datetime(time_zone="UTC") if ts.dtype == pl.String else ts
    if getattr(times.dtype, "time_zone", None):
        times = times.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return times.dt.cast_time_unit("us").to_numpy()
