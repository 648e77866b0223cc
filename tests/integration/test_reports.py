"""Run and sweep reports from real runs: CSVs agree with the engine, the page shows the run's numbers,
a 1-year 1m run stays under 5 MB, empty and failed runs say what happened, ``python -m reports``."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from html import escape
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from backtest.runner import DataSpec, run_backtest
from backtest.engine.simulate import EngineConfig
from backtest.metrics import METRIC_NAMES, run_tear_sheet
from backtest.feed import Feed
from support.report_runs import goog_feed, goog_run, goog_sweep, goog_walk_forward
from reports import write_failed_report
from reports.downsample import m4
from reports.format import percent, stat_text
from reports.risk import metric_text
from reports.run_files import write_run_files
from reports.sweep_report import write_sweep_report
from warehouse.client import connect
from warehouse.schema.migrate import migrate
from warehouse.ingest.ohlcv import load_ohlcv

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


@pytest.fixture(scope="module")
def feed() -> Feed:
    return goog_feed()


def test_csvs_and_report_agree_with_the_engine(feed, tmp_path):
    result = goog_run(feed)
    bench = tmp_path / "benchmark.csv"
    bench.write_text("query,source,rows_to_read,rows_returned,median_ms\n"
                     "bars_100min_raw,ticks_dedup,81920,100,41.5\nbars_100min_rollup,bars_1m,8192,100,3.2\n")
    paths = write_run_files(result, tmp_path / "run", benchmark_csv=bench)
    assert {p.name for p in paths} == {"metrics.csv", "metrics_full.csv", "drawdowns.csv", "trades.csv", "equity.csv",
                                       "orders.csv", "data_access.csv", "report.html"}
    run = tmp_path / "run"
    metrics = pl.read_csv(run / "metrics.csv").row(0, named=True)
    equity = pl.read_csv(run / "equity.csv")
    trades = pl.read_csv(run / "trades.csv")
    init = result.engine.init_cash
    assert equity["equity"].to_numpy() == pytest.approx(result.simulation.equity, rel=1e-12)
    assert metrics["final_equity"] == pytest.approx(equity["equity"][-1], rel=1e-12)
    assert metrics["total_return"] == pytest.approx(equity["equity"][-1] / init - 1, rel=1e-9)
    closed = trades.filter(~pl.col("is_open"))
    assert metrics["trades"] == closed.height == result.stats["trades"] > 10
    assert closed["pnl"].sum() == pytest.approx(equity["equity"][-1] - init, rel=1e-9)  # close_at_end: all closed
    assert equity["drawdown"].min() == pytest.approx(metrics["max_drawdown"], rel=1e-12)
    access = pl.read_csv(run / "data_access.csv")
    assert access["rows_returned"].sum() == result.bars.close.shape[0] == 2148

    text = (run / "report.html").read_text()
    for key in ("final_equity", "total_return", "sharpe", "max_drawdown"):
        assert stat_text(key, result.stats[key]) in text, key
    assert result.fingerprint in text and escape("'data.symbols=[GOOG]'") in text
    assert f"First 200 of {trades.height:,} trades" in text if trades.height > 200 else f"All {trades.height}" in text
    assert "bars_100min_rollup" in text and "81,920" in text  # the benchmark table
    assert len(re.findall(r'<svg class="chart" data-chart="([\w-]+)"', text)) == 4
    assert not re.search(r'(src|href)="https?:', text) and "<script" not in text


def test_risk_card_and_csvs_show_what_backtest_metrics_computes(feed, tmp_path):
    result = goog_run(feed)
    sheet = run_tear_sheet(result)
    write_run_files(result, tmp_path, benchmark_csv=None)
    text = (tmp_path / "report.html").read_text()
    card = text[text.index('<section id="risk">'):]
    card = card[:card.index("</section>")]
    for name in METRIC_NAMES:  # every metric, as the module computed it (a 9-year run: no caveat marks)
        assert f"<span>{name}</span><span>{escape(metric_text(name, sheet[name]))}</span>" in card, name
    assert "Annualised from" not in text and sheet["alpha"].reason == "" and sheet["beta"].value > 0
    worst = sheet.drawdowns.row(0, named=True)
    assert percent(worst["depth"]) == stat_text("max_drawdown", result.stats["max_drawdown"])
    assert f"<td>{worst['valley']:%Y-%m-%d}</td>" in card and card.count("<tr>") == 1 + 5
    full = pl.read_csv(tmp_path / "metrics_full.csv")
    assert full["metric"].to_list() == sheet.frame()["metric"].to_list()
    assert full.filter(pl.col("metric") == "sharpe")["value"][0] == pytest.approx(result.stats["sharpe"], rel=1e-12)
    drawdowns = pl.read_csv(tmp_path / "drawdowns.csv")
    assert drawdowns.height == sheet.drawdowns.height and drawdowns["depth"][0] == pytest.approx(worst["depth"])


def test_a_three_day_run_carries_the_small_sample_caveat(feed, tmp_path):
    result = goog_run(feed, 2, 3, start="2010-03-01", end="2010-03-04")
    assert result.bars.close.shape == (3, 1)
    text = write_run_files(result, tmp_path, benchmark_csv=None)[-1].read_text()
    notice = "Annualised from 3 days of data (3 bars): CAGR, annual return, volatility, Sharpe, Sortino, Calmar"
    assert text.count(notice) == 2  # on the Statistics card and on the Risk and return card
    assert "<span>cagr *</span>" in text and "<span>sharpe *</span>" in text and "<span>max_drawdown</span>" in text
    full = pl.read_csv(tmp_path / "metrics_full.csv")
    assert full.filter(pl.col("annualised"))["metric"].sort().to_list() == sorted(
        ["annual_return", "cagr", "volatility", "sharpe", "sortino", "calmar", "alpha"])
    undefined = full.filter(pl.col("value").is_nan())
    assert undefined.height and (undefined["reason"].str.len_chars() > 0).all()


def test_a_year_of_minute_bars_stays_under_5_mb(tmp_path):
    """525,600 bars (a 24/7 year at 1m) with a one-bar spike and ~30k trades, through the real warehouse."""
    n = 525_600
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.standard_t(4, n) * 0.0006))
    close[200_000] *= 1.3
    opens = np.r_[close[0], close[:-1]]
    ts = pl.datetime_range(pl.datetime(2023, 1, 1), pl.datetime(2023, 12, 31, 23, 59), "1m", eager=True)
    pl.DataFrame({"ts": ts, "open": opens, "high": np.maximum(opens, close) * 1.0002,
                  "low": np.minimum(opens, close) * 0.9998, "close": close, "volume": 1.0}).write_csv(tmp_path / "BTC.csv")
    client = connect(database="reports_year")
    migrate(client)
    load_ohlcv(client, tmp_path / "BTC.csv")
    data = DataSpec(symbols=("BTC",), start="2023-01-01", end="2024-01-01", interval="1m", source="ohlcv")
    result = run_backtest(Feed(client), "sma_cross", {"fast": 5, "slow": 20}, data, EngineConfig())
    assert result.bars.close.shape == (n, 1) and result.stats["trades"] > 20_000
    report = write_run_files(result, tmp_path / "run", benchmark_csv=None)[-1]
    size = report.stat().st_size
    assert size < 5 * MB, f"{size / MB:.2f} MB"
    price = re.search(r'data-chart="price-BTC".*?<path class="line" d="M([^"]+)"', report.read_text()).group(1)
    ys = np.array(price.split(), dtype=float)[1::2]
    assert len(ys) <= 4 * 1000 and ys.min() < 20  # downsampled, and the spike (top of the chart) survived


def test_m4_keeps_every_buckets_extremes():
    values = np.random.default_rng(3).normal(size=100_003).cumsum()
    values[[5, 70_000]] = np.nan
    keep = m4(values, 500)
    assert len(keep) <= 2000 and not np.isnan(values[keep]).any()
    bucket = np.arange(len(values)) * 500 // len(values)
    for b in (0, 250, 499):
        inside = np.flatnonzero((bucket == b) & np.isfinite(values))
        kept = keep[(keep >= inside[0]) & (keep <= inside[-1])]
        assert values[kept].max() == np.nanmax(values[inside]) and values[kept].min() == np.nanmin(values[inside])
        assert inside[0] in kept and inside[-1] in kept


def test_a_run_without_trades_says_so(feed, tmp_path):
    result = goog_run(feed, 10, 30, start="2004-08-01", end="2004-09-20")  # 22 bars: the slow SMA never forms
    assert result.simulation.trades.is_empty()
    report = write_run_files(result, tmp_path, benchmark_csv=None)[-1]
    text = report.read_text()
    assert "No trades: the strategy never entered a position" in text
    assert text.count('<svg class="chart"') == 4 and 'class="line"' in text
    assert pl.read_csv(tmp_path / "trades.csv").height == 0


def test_failed_run_via_the_cli_writes_a_report_with_the_error(tmp_path):
    out, dsn = tmp_path / "run", f"chdb://{tmp_path / 'empty'}"
    init = subprocess.run([sys.executable, "-m", "warehouse", "--dsn", dsn, "init"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert init.returncode == 0, init.stderr
    done = subprocess.run([sys.executable, "-m", "backtest", "+strategy=sma_cross", "data.symbols=[NOPE]",
                           f"warehouse.dsn={dsn}", f"hydra.run.dir={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    error = done.stderr.strip().splitlines()[-1].removeprefix("error: ")
    text = (out / "report.html").read_text()
    assert "Run failed: sma_cross" in text and escape(error) in text
    assert escape("python -m backtest +strategy=sma_cross 'data.symbols=[NOPE]'") in text
    assert not (out / "metrics.csv").exists()


def test_failed_report_without_hydra(tmp_path):
    text = write_failed_report(tmp_path, None, "data: no bars for X").read_text()
    assert "error: data: no bars for X" in text and "Not run through Hydra" in text


def test_sweep_report_from_real_runs(feed, tmp_path):
    sweep = goog_sweep(feed)
    sweep.write_csv(tmp_path / "sweep.csv")
    goog_walk_forward(feed).write_csv(tmp_path / "walk_forward.csv")
    path = write_sweep_report(tmp_path / "sweep.csv", tmp_path, metric="sharpe", params=("slow", "fast"),
                              walk_forward=tmp_path / "walk_forward.csv")
    text = path.read_text()
    best = sweep.sort("sharpe", descending=True).row(0, named=True)
    first_row = re.search(r"<tbody><tr><td[^>]*>1</td><td[^>]*>([\d,]+)</td><td[^>]*>([\d,]+)</td>", text)
    assert (int(first_row.group(1)), int(first_row.group(2))) == (best["param_fast"], best["param_slow"])
    heat = re.search(r'data-chart="sweep-heatmap".*?</svg>', text).group(0)
    assert heat.count("<rect") == sweep.height == 20
    assert f"fast = {best['param_fast']}, slow = {best['param_slow']}: {stat_text('sharpe', best['sharpe'])}" in text
    assert text.count('<svg class="chart"') == 3 and 'data-chart="walk-forward"' in text
    with pytest.raises(Exception, match="metric: 'sharp' is not a column"):
        write_sweep_report(sweep, tmp_path, metric="sharp")
    with pytest.raises(Exception, match="params: 'size' is not a swept parameter"):
        write_sweep_report(sweep, tmp_path, params=("fast", "size"))


def test_reports_cli_prints_and_serves(tmp_path):
    write_failed_report(tmp_path, {}, "data: nothing")
    done = subprocess.run([sys.executable, "-m", "reports", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == str((tmp_path / "report.html").resolve())
    missing = subprocess.run([sys.executable, "-m", "reports.open", str(tmp_path / "none")], cwd=ROOT,
                             capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.startswith("error: dir: ")
    server = subprocess.Popen([sys.executable, "-m", "reports", str(tmp_path), "--serve", "--port", "0"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/report\.html", url)
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b"error: data: nothing" in response.read()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_reports_look_for_the_benchmark_where_warehouse_bench_writes_it():
    from reports.run_report import DEFAULT_BENCHMARK
    from warehouse.bench.scan_vs_rollup import DEFAULT_OUT

    assert DEFAULT_BENCHMARK == DEFAULT_OUT
