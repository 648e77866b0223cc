"""``walk_forward.html``: what was swept, the combined out-of-sample equity and its statistics, the fold table.

Everything shown comes from a :class:`~backtest.sweep.walk_forward.WalkForwardResult`
(the stitched equity, per-fold choices and statistics computed in ``backtest``);
the page names only the files written beside it (``walk_forward.csv``,
``walk_forward_folds.csv``, ``walk_forward_metrics.csv``: see
:mod:`reports.sweep_files`), and loads ``plotly.min.js`` from beside it.

>>> import tempfile, numpy as np
>>> from backtest.engine.simulate import EngineConfig
>>> from backtest.feed import BarArrays
>>> from backtest.sweep.spec import SweepSpec, WalkForward
>>> from backtest.sweep.walk_forward import walk_forward
>>> close = (100 + np.cumsum(np.random.default_rng(2).normal(0, 1, 400)))[:, None]
>>> bars = BarArrays(np.arange(400).astype("datetime64[D]").astype("datetime64[us]"), ("X",),
...                  close, close, close, close, close)
>>> spec = SweepSpec(params={"fast": "3,5", "slow": "10,20"}, walk_forward=WalkForward(train=200, test=50))
>>> result = walk_forward(bars, "sma_cross", spec, EngineConfig(fill="close"))
>>> text = write_walk_forward_report(result, tempfile.mkdtemp()).read_text()
>>> text.count('<div class="plot'), text.count("<tr>") - 1, "sweep.csv" in text
(1, 4, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from backtest.sweep.walk_forward import WalkForwardResult
from reports import html
from reports.format import number, stat_text
from reports.plots import LINK_SCRIPT, PLOTLY_JS, write_plotly_js
from reports.sweep_charts import equity_lines_html

PARAM_PREFIX = "param_"
SHOWN_STATS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "volatility", "trades", "win_rate",
               "profit_factor", "exposure", "final_equity", "max_drawdown_duration")


def write_walk_forward_report(result: WalkForwardResult, out_dir: str | Path, *,
                              context: Sequence[tuple[str, str]] = ()) -> Path:
    """Write ``walk_forward.html`` (and ``plotly.min.js``) into ``out_dir``; return the page's path.

    ``context``: label/value pairs saying what was swept (:func:`reports.sweep_context.sweep_context`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metric = result.metric
    sections = [html.section("What was swept", html.key_values(context), name="context")] if context else []
    sections += [_combined_section(result), _folds_section(result)]
    write_plotly_js(out)
    path = out / "walk_forward.html"
    subtitle = (f"{result.folds.height} folds; each picks the best set by {metric} on its train window and trades it "
                f"on the next test window; {len(result.equity):,} out-of-sample bars stitched")
    path.write_text(html.page(f"Walk-forward by {metric}", sections, subtitle, script_src=PLOTLY_JS,
                              script=LINK_SCRIPT), encoding="utf-8")
    return path


def _combined_section(result: WalkForwardResult) -> str:
    """The stitched out-of-sample equity (dashed lines where a fold starts) and its statistics."""
    starts = np.flatnonzero(np.r_[True, result.fold[1:] != result.fold[:-1]])
    chart = equity_lines_html("walk-forward", [("out-of-sample equity", result.index, result.equity)],
                              boundaries=[result.index[s] for s in starts[1:]])
    stats = html.key_values((k, stat_text(k, result.stats[k])) for k in SHOWN_STATS if k in result.stats)
    note = ("Each test window starts flat with the previous window's final equity and closes what it holds at its "
            "end, so the final equity is the initial cash times the product of (1 + each fold's test return). "
            "Dashed lines: a new fold (with its own chosen parameters). Per bar: walk_forward.csv; "
            "statistics: walk_forward_metrics.csv.")
    return html.section("Combined out-of-sample result", chart + stats, note=note, name="combined")


def _folds_section(result: WalkForwardResult) -> str:
    """One row per fold: windows, bars, the chosen parameters, in- and out-of-sample statistics."""
    metric = result.metric
    params = [c for c in result.folds.columns if c.startswith(PARAM_PREFIX)]
    stats = [(f"train_{metric}", f"train {metric}", metric), ("train_return", "train return", "total_return"),
             (f"test_{metric}", f"test {metric}", metric), ("test_return", "test return", "total_return"),
             ("test_trades", "test trades", "trades"),
             ("test_final_equity", "equity after", "final_equity")]
    stats = [s for s in stats if s[0] in result.folds.columns]
    columns = ["fold", "train from", "train to", "test from", "test to", "bars",
               *(p.removeprefix(PARAM_PREFIX) for p in params), *(label for _, label, _ in stats)]
    edges = ("train_start", "train_end", "test_start", "test_end")
    times = np.concatenate([result.folds[c].to_numpy().astype("datetime64[us]") for c in edges])
    unit = "D" if (times == times.astype("datetime64[D]")).all() else "m"  # daily bars: dates alone
    rows = []
    for row in result.folds.iter_rows(named=True):
        windows = [_time(row[c], unit) for c in edges]
        rows.append([str(row["fold"]), *windows, f"{number(row['train_bars'])} / {number(row['test_bars'])}",
                     *(number(row[p]) for p in params), *(stat_text(kind, row[c]) for c, _, kind in stats)])
    note = ("Windows give the first and last bar (UTC) of each; bars: train / test; train and test statistics are "
            "of the chosen set; equity after: at the test window's end. walk_forward_folds.csv holds the table with "
            "each test window's max drawdown.")
    return html.section("Folds", html.table(columns, rows, numeric=range(5, len(columns)), scroll=True), note=note,
                        name="folds")


def _time(value: object, unit: str) -> str:
    """A bar time to the minute (``2024-01-02 14:30``) or the day (``unit`` ``D``).

    >>> _time(np.datetime64("2024-01-02T14:30"), "m"), _time(np.datetime64("2024-01-02"), "D")
    ('2024-01-02 14:30', '2024-01-02')
    """
    return str(np.datetime_as_string(np.datetime64(value, "us"), unit=unit)).replace("T", " ")
