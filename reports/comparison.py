"""A page comparing runs side by side: what differs, statistics (with ``a - b`` for two), equity and drawdowns overlaid.

Used by ``python -m reports compare RUN_A RUN_B`` (``compare.html``,
:mod:`reports.compare`) and by multiruns (``multirun.html`` in the sweep
folder, :mod:`reports.multirun`). A run is read from its folder
(:func:`load_run`): ``metrics.csv`` and ``equity.csv`` of a run, or, for a
sweep job, the best row of ``sweep.csv`` and its curve in ``top_equity.csv``.
Nothing is recomputed but the drawdown of a sweep job's curve
(:func:`backtest.curves.drawdown`, as ``equity.csv`` holds it for runs).

Beside the page, its table (``<name>.csv`` unless named): one row per identity field, parameter and
statistic: ``field``, ``kind`` (``run``, ``param`` or ``stat``), one column per
run, and with two runs ``difference`` (first minus second, numbers only).

>>> import tempfile, polars as pl
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> for name, fast, ret in (("a", 5, 0.10), ("b", 10, 0.04)):
...     (root / name).mkdir()
...     pl.DataFrame({"strategy": ["sma_cross"], "param_fast": [fast], "total_return": [ret]}).write_csv(
...         root / name / "metrics.csv")
...     pl.DataFrame({"ts": ["2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"], "equity": [100.0, 100 * (1 + ret)],
...                   "drawdown": [0.0, 0.0]}).write_csv(root / name / "equity.csv")
>>> page = write_comparison([load_run(root / "a"), load_run(root / "b")], root, name="compare", title="a vs b")
>>> pl.read_csv(root / "compare.csv").filter(pl.col("field") == "total_return")["difference"].round(6).to_list()
[0.06]
>>> load_run(root / "nothing")
Traceback (most recent call last):
backtest.errors.BacktestError: run: ... is not a run folder (no metrics.csv with equity.csv, nor sweep.csv)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from backtest.curves import drawdown
from backtest.errors import BacktestError
from reports import html
from reports.format import stat_text
from reports.plots import LINK_SCRIPT, PLOTLY_JS, write_plotly_js
from reports.sweep_charts import equity_lines_html
from reports.sweep_report import utc_times

IDENTITY = ("strategy", "symbols", "start", "end", "interval", "source", "fingerprint")
NOT_STATS = frozenset({*IDENTITY, "rank", "job", "status", "error", "overrides"})
MAX_CURVES = 12  # curves overlaid on one chart


@dataclass(frozen=True)
class RunFolder:
    """One run as a comparison page reads it: ``metrics`` (one row), per-bar ``equity`` (``ts``, ``equity``,
    ``drawdown``), and a ``label``; ``note`` says where the numbers come from when not from a single run."""

    label: str
    path: Path
    metrics: dict[str, Any]
    equity: pl.DataFrame | None
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # shown with the identity fields (overrides of a job)


def load_run(folder: str | Path, *, label: str = "", field_name: str = "run") -> RunFolder:
    """The run (or sweep job) in ``folder``; a folder that is neither is a one-line error naming ``field_name``."""
    path = Path(folder)
    if (path / "metrics.csv").is_file() and (path / "equity.csv").is_file():
        equity = pl.read_csv(path / "equity.csv", columns=["ts", "equity", "drawdown"])
        metrics = pl.read_csv(path / "metrics.csv", infer_schema_length=None).row(0, named=True)
        return RunFolder(label or path.name, path, metrics, equity)
    if (path / "sweep.csv").is_file():
        table = pl.read_csv(path / "sweep.csv", n_rows=1, infer_schema_length=None)
        if not table.height:
            raise BacktestError(f"{field_name}: {path} is a sweep whose every set was invalid (empty sweep.csv)")
        equity = None
        if (path / "top_equity.csv").is_file():
            curve = pl.read_csv(path / "top_equity.csv").filter(pl.col("rank") == 1)
            equity = curve.select("ts", "equity", pl.Series("drawdown", drawdown(curve["equity"].to_numpy())))
        return RunFolder(label or path.name, path, table.row(0, named=True), equity,
                         note="the sweep's best set (sweep.csv rank 1, top_equity.csv)")
    raise BacktestError(f"{field_name}: {path} is not a run folder (no metrics.csv with equity.csv, nor sweep.csv)")


def comparison_frame(runs: Sequence[RunFolder]) -> pl.DataFrame:
    """The long table of the page: ``field``, ``kind``, one text-or-number column per run, ``difference`` for two.

    Run columns hold text (numbers as written in the runs' CSVs); ``difference`` is the first run's value
    minus the second's where both are numbers.
    """
    fields: list[tuple[str, str]] = []
    for run in runs:
        for key in run.metrics:
            kind = "param" if key.startswith("param_") else "run" if key in NOT_STATS else "stat"
            if (key, kind) not in fields:
                fields.append((key, kind))
    order = {"run": 0, "param": 1, "stat": 2}
    fields.sort(key=lambda f: order[f[1]])
    columns: dict[str, list[Any]] = {"field": [f for f, _ in fields], "kind": [k for _, k in fields]}
    for run in runs:
        columns[run.label] = [None if run.metrics.get(f) is None else str(run.metrics.get(f)) for f, _ in fields]
    if len(runs) == 2:
        a, b = (r.metrics for r in runs)
        columns["difference"] = [_number(a.get(f)) - _number(b.get(f)) if kind != "run" else None
                                 for f, kind in fields]
    return pl.DataFrame(columns, schema_overrides={"difference": pl.Float64} if len(runs) == 2 else None)


def _number(value: object) -> float:
    """``value`` as a float (NaN for text, missing values and booleans)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return float("nan")
    return float(value)


def write_comparison(runs: Sequence[RunFolder], out_dir: str | Path, *, name: str, title: str, subtitle: str = "",
                     table_name: str = "") -> Path:
    """Write ``<name>.html`` and its table (``table_name``, default ``<name>.csv``) and ``plotly.min.js`` into
    ``out_dir``; return the page's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = comparison_frame(runs)
    csv = table_name or f"{name}.csv"
    table.write_csv(out / csv)
    sections = [_runs_section(runs, table), _stats_section(runs, table, csv)]
    drawn = [r for r in runs if r.equity is not None and r.equity.height][:MAX_CURVES]
    if drawn:
        sections.append(_curves_section(drawn, len(runs)))
    write_plotly_js(out)
    path = out / f"{name}.html"
    path.write_text(html.page(title, sections, subtitle, script_src=PLOTLY_JS, script=LINK_SCRIPT), encoding="utf-8")
    return path


def _runs_section(runs: Sequence[RunFolder], table: pl.DataFrame) -> str:
    """Identity and parameters per run, differing rows first, marked."""
    rows, same = [], []
    extras = sorted({k for r in runs for k in r.extra})
    for key in extras:
        values = [r.extra.get(key, "") for r in runs]
        (rows if len(set(values)) > 1 else same).append([key, *values])
    for row in table.filter(pl.col("kind") != "stat").iter_rows(named=True):
        values = [_shown(row["field"], row[r.label]) for r in runs]
        (rows if len(set(values)) > 1 else same).append([row["field"].removeprefix("param_"), *values])
    marked = [[f"≠ {r[0]}", *r[1:]] for r in rows] + same
    where = [f"{r.label}: {r.path}" + (f" ({r.note})" if r.note else "") for r in runs]
    note = (f"{len(rows)} of {len(rows) + len(same)} fields differ (marked ≠, listed first). Folders: "
            + "; ".join(where) + ".")
    return html.section("What differs", html.table(["field", *(r.label for r in runs)], marked, scroll=True),
                        note=note, name="runs")


def _stats_section(runs: Sequence[RunFolder], table: pl.DataFrame, csv: str) -> str:
    """Every statistic side by side, with the difference for two runs."""
    two = len(runs) == 2
    rows = []
    for row in table.filter(pl.col("kind") == "stat").iter_rows(named=True):
        cells = [_shown(row["field"], row[r.label]) for r in runs]
        if two:
            cells.append(stat_text(row["field"], row["difference"]) if row["difference"] is not None else "n/a")
        rows.append([row["field"], *cells])
    columns = ["statistic", *(r.label for r in runs), *(["difference (a - b)"] if two else [])]
    return html.section("Statistics", html.table(columns, rows, numeric=range(1, len(columns))),
                        note=f"As each run's metrics.csv holds them; every row is in {csv}.", name="stats")


def _shown(field_name: str, text: str | None) -> str:
    """A value as written in a CSV, printed like the reports print it."""
    if text is None:
        return "n/a"
    try:
        value: object = int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return text
    return stat_text(field_name, value)


def _curves_section(drawn: Sequence[RunFolder], total: int) -> str:
    """Equity curves overlaid, and their drawdowns overlaid."""
    times = [utc_times(r.equity["ts"]) for r in drawn]
    equity = equity_lines_html("compare-equity", [(r.label, t, r.equity["equity"].to_numpy())
                                                  for r, t in zip(drawn, times)])
    under = equity_lines_html("compare-drawdown", [(r.label, t, r.equity["drawdown"].to_numpy())
                                                   for r, t in zip(drawn, times)], y_title="drawdown", percent=True)
    note = ("Time charts zoom together. " + (f"The first {len(drawn)} of {total} runs are drawn. "
                                            if len(drawn) < total else "")
            + "Drawdown: equity over its running peak, minus one.")
    return html.section("Equity and drawdowns", equity + "<h3>Drawdown</h3>" + under, note=note, name="curves")

