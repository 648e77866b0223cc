"""Sweep, walk-forward and comparison pages from real runs: the heatmap's best cell is the best set, the top
sets' equity ends at their final equity, stability's neighbours, the folds' returns compound to the combined
out-of-sample equity, and compare's differences are a - b."""

from __future__ import annotations

import re
import subprocess
import sys
from html import escape
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from backtest.feed import Feed
from support.report_runs import (ENGINE, charts_on, goog_feed, goog_run, goog_sweep, goog_sweep_result,
                                 goog_walk_forward_result, plotted)
from reports.format import stat_text
from reports.run_files import write_run_files
from reports.sweep_files import write_sweep_files, write_walk_forward_files
from reports.sweep_report import write_sweep_report

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def feed() -> Feed:
    return goog_feed()


def test_sweep_report_from_real_runs(feed, tmp_path):
    sweep = goog_sweep(feed)
    sweep.write_csv(tmp_path / "sweep.csv")
    path = write_sweep_report(tmp_path / "sweep.csv", tmp_path, metric="sharpe", params=("slow", "fast"))
    text = path.read_text()
    best = sweep.sort("sharpe", descending=True).row(0, named=True)
    first_row = re.search(r"<tbody><tr><td[^>]*>1</td><td[^>]*>([\d,]+)</td><td[^>]*>([\d,]+)</td>", text)
    assert (int(first_row.group(1)), int(first_row.group(2))) == (best["param_fast"], best["param_slow"])
    heat = plotted(text, "sweep-heatmap")[0]  # rows: slow, columns: fast; each cell one set
    assert np.asarray(heat["z"]).size == sweep.height == 20
    cell = np.asarray(heat["z"])[heat["y"].index(str(best["param_slow"])), heat["x"].index(str(best["param_fast"]))]
    assert cell == best["sharpe"] == np.nanmax(np.asarray(heat["z"], dtype=float))
    assert f"fast = {best['param_fast']}, slow = {best['param_slow']}: {stat_text('sharpe', best['sharpe'])}" in text
    assert charts_on(text) == ["sweep-heatmap", "sweep-distribution"] and (tmp_path / "plotly.min.js").is_file()
    with pytest.raises(Exception, match="metric: 'sharp' is not a column"):
        write_sweep_report(sweep, tmp_path, metric="sharp")
    with pytest.raises(Exception, match="params: 'size' is not a swept parameter"):
        write_sweep_report(sweep, tmp_path, params=("fast", "size"))


def test_sweep_files_heatmap_views_stability_and_top_equity(feed, tmp_path):
    result = goog_sweep_result(feed)
    write_sweep_files(result, tmp_path)
    table = pl.read_csv(tmp_path / "sweep.csv")
    best = table.row(0, named=True)
    views = pl.read_csv(tmp_path / "heatmap_views.csv")
    assert views["view"].unique().to_list() == ["set"]  # two parameters: one view
    cell = views.filter((pl.col("x") == best["param_slow"]) & (pl.col("y") == best["param_fast"]))
    assert cell["value"].to_list() == [best["sharpe"]] and views["value"].max() == best["sharpe"]
    text = (tmp_path / "sweep.html").read_text()
    assert charts_on(text) == ["sweep-heatmap", "top-equity", "sweep-distribution"]
    top = pl.read_csv(tmp_path / "top_equity.csv")
    lines = plotted(text, "top-equity")
    assert len(lines) == 5 == top["rank"].n_unique()
    for rank, line in enumerate(lines, 1):  # the last point drawn is the re-run's final equity = the sweep's
        assert line["y"][-1] == pytest.approx(table["final_equity"][rank - 1], rel=1e-12)
    stable = pl.read_csv(tmp_path / "stability.csv")
    assert stable.row(0, named=True)["role"] == "best" and stable["sharpe"][0] == best["sharpe"]
    near = table.filter(pl.col("param_fast").is_in(_steps([5, 10, 15, 20], best["param_fast"]))
                        & pl.col("param_slow").is_in(_steps([30, 40, 50, 60, 80], best["param_slow"])))
    assert stable.height == near.height  # the best set and every set one grid step around it
    mean = near.filter(pl.col("rank") != 1)["sharpe"].mean()
    assert f"{stat_text('sharpe', best['sharpe'] - mean)} (" in text
    for label, value in (("goog", "GOOG"), ("grid", "fast: 5,10,15,20; slow: 30,40,50,60,80"),
                         ("rules", "fees_bps = 5"), ("range", "[2004-01-01, 2014-01-01)")):
        assert escape(value) in text, label


def _steps(values: list[int], at: int) -> list[int]:
    """``at`` and its neighbours among ``values``."""
    i = values.index(at)
    return values[max(i - 1, 0):i + 2]


def test_walk_forward_page_and_files(feed, tmp_path):
    result = goog_walk_forward_result(feed)
    write_walk_forward_files(result, tmp_path)
    folds = pl.read_csv(tmp_path / "walk_forward_folds.csv")
    per_bar = pl.read_csv(tmp_path / "walk_forward.csv")
    # windows in sessions: daily bars, so one bar each; the folds roll by 250 and test 250 bars but the last
    assert folds["train_bars"].to_list() == [500] * folds.height and folds["test_bars"][:-1].to_list() == [250] * (
        folds.height - 1)
    assert per_bar.height == folds["test_bars"].sum()
    combined = pl.read_csv(tmp_path / "walk_forward_metrics.csv").row(0, named=True)
    product = ENGINE.init_cash * np.prod(1 + folds["test_return"].to_numpy())
    assert combined["final_equity"] == pytest.approx(product, rel=1e-9) == per_bar["equity"][-1]
    text = (tmp_path / "walk_forward.html").read_text()
    assert "sweep.csv" not in text and charts_on(text) == ["walk-forward"]
    assert plotted(text, "walk-forward")[0]["y"][-1] == per_bar["equity"][-1]
    table = re.search(r'id="folds".*?</table>', text).group(0)
    assert table.count("<tr>") == folds.height + 1
    for row in folds.iter_rows(named=True):
        assert f"<td>{row['fold']}</td><td>{row['train_start'][:10]}</td>" in table  # daily bars: dates
        assert f">{stat_text('total_return', row['test_return'])}<" in table


def test_compare_two_runs(feed, tmp_path):
    write_run_files(goog_run(feed), tmp_path / "a", benchmark_csv=None)
    write_run_files(goog_run(feed, fast=5, slow=60), tmp_path / "b", benchmark_csv=None)
    done = subprocess.run([sys.executable, "-m", "reports", "compare", str(tmp_path / "a"), str(tmp_path / "b"),
                           "--out", str(tmp_path / "cmp")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "cmp" / "compare.html")
    table = pl.read_csv(tmp_path / "cmp" / "compare.csv")
    a, b = (pl.read_csv(tmp_path / n / "metrics.csv").row(0, named=True) for n in ("a", "b"))
    for row in table.filter(pl.col("kind") != "run").iter_rows(named=True):
        if isinstance(a[row["field"]], (int, float)):
            assert row["difference"] == pytest.approx(a[row["field"]] - b[row["field"]], rel=1e-12, abs=1e-12)
    assert table.filter(pl.col("field") == "param_fast")["difference"].to_list() == [5.0]
    text = (tmp_path / "cmp" / "compare.html").read_text()
    assert charts_on(text) == ["compare-equity", "compare-drawdown"]
    equity = plotted(text, "compare-equity")
    assert [line["y"][-1] for line in equity] == [a["final_equity"], b["final_equity"]]
    assert "≠ fast" in text and "≠ slow" in text and "≠ strategy" not in text
    default = subprocess.run([sys.executable, "-m", "reports", "compare", str(tmp_path / "a"), str(tmp_path / "b")],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert default.returncode == 0 and (tmp_path / "a" / "compare.html").is_file()
    bad = subprocess.run([sys.executable, "-m", "reports", "compare", str(tmp_path / "a"), str(tmp_path / "cmp")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr == (f"error: RUN_B: {tmp_path / 'cmp'} is not a run folder "
                                                  "(no metrics.csv with equity.csv, nor sweep.csv)\n")
