"""``sweep.html`` of a parameter sweep: what was swept, best sets, heatmaps, stability, top equity curves, spread.

Input ``sweep``: ``sweep.csv`` (or its frame), one row per parameter set with
parameter columns ``param_<name>`` (as in a run's ``metrics.csv``) and
statistic columns (``sharpe``, ``total_return``, ...). The numbers come from
``backtest``: the heatmap's views and the stability from
:mod:`backtest.sweep.landscape`; the page lays them out with plotly
(``plotly.min.js`` written beside it, :mod:`reports.plots`).

Beside the page: ``heatmap_views.csv`` (every drawn cell: ``x_param``,
``y_param``, ``view``, ``x``, ``y``, ``value``, ``sets``) and
``stability.csv`` (the best set, then its neighbours).

A sweep too large to hold (``sweep.csv`` then keeps only its best rows) passes
what the page needs of every set: ``cells`` (``heatmap.csv``: the best value
per cell of the first two parameters, long axes binned), ``distribution``
(the metric of every set, read from ``sweep.parquet``) and ``sets`` (how many
were evaluated). Optional: ``top_equity`` (``top_equity.csv``: ``rank``,
``ts``, ``equity`` of the best sets re-run) and ``context`` (label/value
pairs: :func:`reports.sweep_context.sweep_context`).

>>> import tempfile, polars as pl
>>> sweep = pl.DataFrame({"param_fast": [5, 5, 10, 10], "param_slow": [20, 30, 20, 30],
...                       "sharpe": [0.1, 0.4, -0.2, 0.3], "total_return": [0.01, 0.05, -0.02, 0.03]})
>>> path = write_sweep_report(sweep, tempfile.mkdtemp(), metric="sharpe")
>>> text = path.read_text()
>>> path.name, text.count('<div class="plot'), "fast = 5, slow = 30" in text, (path.parent / "plotly.min.js").is_file()
('sweep.html', 2, True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl

from backtest.errors import BacktestError
from backtest.sweep.landscape import best_row, heatmap_views, stability
from reports import html
from reports.format import number, percent, stat_text
from reports.plots import LINK_SCRIPT, PLOTLY_JS, write_plotly_js
from reports.sweep_charts import equity_lines_html, heatmap_html, histogram_html

BEST_SHOWN = 20
MAX_PAIRS = 10  # parameter pairs offered in the heatmap's dropdown
PARAM_PREFIX = "param_"


def write_sweep_report(sweep: str | Path | pl.DataFrame, out_dir: str | Path, *, metric: str = "sharpe",
                       params: Sequence[str] | None = None, best: str = "max", title: str = "",
                       cells: pl.DataFrame | None = None, distribution: np.ndarray | None = None,
                       sets: int | None = None, top_equity: pl.DataFrame | None = None,
                       context: Sequence[tuple[str, str]] = ()) -> Path:
    """Write ``sweep.html`` (with ``plotly.min.js`` and its CSVs) into ``out_dir`` and return its path.

    ``metric``: the column ranked, mapped and histogrammed; ``best``: ``max`` or
    ``min`` (which end of ``metric`` is better); ``params``: the two parameters
    (with or without ``param_``) of the heatmap shown first, default the first two;
    the others are in its dropdown. ``cells``, ``distribution``, ``sets``,
    ``top_equity``, ``context``: see the module text.
    """
    frame = sweep if isinstance(sweep, pl.DataFrame) else pl.read_csv(sweep)
    names = [c for c in frame.columns if c.startswith(PARAM_PREFIX)]
    if not names:
        raise BacktestError(f"sweep: no {PARAM_PREFIX}* columns (columns: {', '.join(frame.columns)})")
    top = best_row(frame, metric, best=best)
    chosen = [p if p.startswith(PARAM_PREFIX) else PARAM_PREFIX + p for p in (params or names[:2])]
    for name in chosen:
        if name not in names:
            raise BacktestError(f"params: {name.removeprefix(PARAM_PREFIX)!r} is not a swept parameter "
                                f"(swept: {', '.join(n.removeprefix(PARAM_PREFIX) for n in names)})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ranked = frame.sort(metric, descending=best == "max", nulls_last=True)
    total = frame.height if sets is None else sets
    values = frame[metric].cast(pl.Float64).to_numpy() if distribution is None else distribution
    sections = [html.section("What was swept", html.key_values(context), name="context")] if context else []
    sections += [_best_section(ranked, names, metric, total),
                 _heatmap_section(frame, chosen, names, metric, best, top, cells, out),
                 _stability_section(frame, names, metric, best, partial=total > frame.height, out=out)]
    if top_equity is not None and top_equity.height:
        sections.append(_top_equity_section(top_equity, ranked, names))
    sections.append(_distribution_section(values, top, names, metric))
    write_plotly_js(out)
    path = out / "sweep.html"
    subtitle = (f"{total:,} parameter sets over {', '.join(n.removeprefix(PARAM_PREFIX) for n in names)}; "
                f"ranked by {metric} ({'higher' if best == 'max' else 'lower'} is better)")
    path.write_text(html.page(title or f"Sweep by {metric}", sections, subtitle, script_src=PLOTLY_JS,
                              script=LINK_SCRIPT), encoding="utf-8")
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


def _heatmap_section(frame: pl.DataFrame, chosen: Sequence[str], names: Sequence[str], metric: str, best: str,
                     top: dict, cells: pl.DataFrame | None, out: Path) -> str:
    """``metric`` over two parameters (the chosen pair first, then the other pairs), each view selectable.

    ``cells`` (a sweep too large to hold): the best value per binned cell of the first two parameters only.
    """
    if len(names) < 2:
        return html.section("Heatmap", html.notice("One swept parameter: no heatmap (see the distribution)."),
                            name="heatmap")
    x, y = chosen[1], chosen[0]
    if cells is not None:
        pairs = [(x, y, cells.select(pl.lit("best").alias("view"), y, x, pl.col(metric).alias("value"), "sets"))]
    else:
        others = [(b, a) for a, b in combinations(names, 2) if {a, b} != {x, y}]
        pairs = [(px, py, heatmap_views(frame, metric, x=px, y=py, best=best))
                 for px, py in [(x, y), *others][:MAX_PAIRS]]
    pl.concat([v.select(pl.lit(px.removeprefix(PARAM_PREFIX)).alias("x_param"),
                        pl.lit(py.removeprefix(PARAM_PREFIX)).alias("y_param"), "view",
                        pl.col(px).cast(pl.Float64).alias("x"), pl.col(py).cast(pl.Float64).alias("y"), "value", "sets")
               for px, py, v in pairs]).write_csv(out / "heatmap_views.csv")
    note = (f"Star: the best set ({_label(top, names)}). "
            + ("Views: the other parameters fixed at the best set's values, the best over them, or their mean; "
               "pick pair and view in the menu. " if len(names) > 2 else "")
            + ("Long axes are binned: a label is its bin's first value, the cell the bin's best. " if cells is not None
               else "")
            + "Grey: no set or no value. Every cell is in heatmap_views.csv.")
    title = f"{metric} by {y.removeprefix(PARAM_PREFIX)} and {x.removeprefix(PARAM_PREFIX)}"
    return html.section(title, heatmap_html(pairs, metric, top), note=note, name="heatmap")


def _stability_section(frame: pl.DataFrame, names: Sequence[str], metric: str, best: str, *, partial: bool,
                       out: Path) -> str:
    """How much ``metric`` falls one grid step around the best set: the numbers and the neighbours."""
    summary, around = stability(frame, metric, best=best)
    table = pl.concat([pl.DataFrame([{**{n: summary[n] for n in names}, metric: summary["best"]}]).select(
        pl.lit("best").alias("role"), *names, metric).cast({metric: pl.Float64}),
        around.select(pl.lit("neighbour").alias("role"), *names, pl.col(metric).cast(pl.Float64))],
        how="vertical_relaxed")
    table.write_csv(out / "stability.csv")
    pairs = [("best set", stat_text(metric, summary["best"])),
             ("neighbours with a value", number(summary["neighbours"])),
             ("neighbours' mean", stat_text(metric, summary["mean"])),
             ("worst neighbour", stat_text(metric, summary["worst"])),
             ("fall to the neighbours' mean", f"{stat_text(metric, summary['drop'])} "
                                              f"({percent(summary['relative_drop'], 1)} of the best)")]
    columns = ["", *(n.removeprefix(PARAM_PREFIX) for n in names), metric]
    rows = [[role, *(number(v) for v in values), stat_text(metric, value)]
            for role, *values, value in table.head(1 + 12).iter_rows()]
    note = ("Neighbours: every set whose parameters each lie within one step of the best set's among the values "
            "swept. A small fall means the best set is not a lone peak. All neighbours are in stability.csv."
            + (" Only the sets kept in sweep.csv are counted." if partial else ""))
    body = html.columns(html.key_values(pairs), html.table(columns, rows, numeric=range(1, len(columns))))
    return html.section("Parameter stability", body, note=note, name="stability")


def _top_equity_section(top_equity: pl.DataFrame, ranked: pl.DataFrame, names: Sequence[str]) -> str:
    """The equity curves of the best sets, re-run with the full engine, overlaid."""
    curves = []
    for (rank,), part in top_equity.group_by("rank", maintain_order=True):
        row = ranked.row(int(rank) - 1, named=True)
        curves.append((f"#{rank} {_label(row, names)}", utc_times(part["ts"]), part["equity"].to_numpy()))
    note = f"The best {len(curves)} sets re-run on the same bars with the full engine (top_equity.csv)."
    return html.section(f"Equity of the best {len(curves)} sets", equity_lines_html("top-equity", curves), note=note,
                        name="top-equity")


def _distribution_section(values: np.ndarray, top: dict, names: Sequence[str], metric: str) -> str:
    """Histogram of ``metric`` (``values``: every set's), the best one marked."""
    values = np.asarray(values, dtype=np.float64)
    missing = int(np.sum(~np.isfinite(values)))
    note = (f"{np.isfinite(values).sum():,} sets with a value"
            + (f", {missing:,} without (n/a)" if missing else "")
            + f"; red line: the best set ({_label(top, names)}: {stat_text(metric, top[metric])}).")
    return html.section(f"Distribution of {metric}", histogram_html(values, metric, float(top[metric])), note=note,
                        name="distribution")


def utc_times(ts: pl.Series) -> np.ndarray:
    """``datetime64[us]`` (UTC, naive) from a datetime column, aware or not, or ISO text.

    >>> utc_times(pl.Series(["2024-01-02T14:30:00+00:00"])).tolist()
    [datetime.datetime(2024, 1, 2, 14, 30)]
    """
    times = ts.str.to_datetime(time_zone="UTC") if ts.dtype == pl.String else ts
    if getattr(times.dtype, "time_zone", None):
        times = times.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return times.dt.cast_time_unit("us").to_numpy()
