"""Run and sweep reports from real runs: CSVs agree with the engine, the page shows the run's numbers,
its plotly charts carry the series backtest computes (buy and hold, MAE/MFE, breakdown, rolling windows),
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

import backtest
from strategies.sma_cross import SmaCross
from backtest.runner import DataSpec, RunResult, fingerprint, run_backtest
from backtest.engine.simulate import EngineConfig, run
from backtest.metrics import METRIC_NAMES, run_tear_sheet
from backtest.feed import BarArrays, Feed
from backtest.stats import summarize
from support.report_runs import charts_on, goog_feed, goog_run, plotted
from reports import write_failed_report
from reports.downsample import m4
from reports.format import percent, stat_text
from reports.risk import metric_text
from reports.run_files import write_run_files
from warehouse.client import connect
from warehouse.schema.migrate import migrate
from warehouse.ingest.ohlcv import load_ohlcv

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
RUN_CHARTS = ["equity", "rolling", "returns", "price-GOOG", "monthly"]


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
                                       "orders.csv", "data_access.csv", "breakdown.csv", "report.html",
                                       "plotly.min.js"}
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
    cost = f"{access['rows_to_read'].sum():,} rows to read from ohlcv, {access['wall_ms'].sum():,.1f} ms"

    text = (run / "report.html").read_text()
    for key in ("final_equity", "total_return", "sharpe", "max_drawdown"):
        assert stat_text(key, result.stats[key]) in text, key
    assert result.fingerprint in text and escape("'data.symbols=[GOOG]'") in text
    assert f"First 200 of {trades.height:,} trades" in text if trades.height > 200 else f"All {trades.height}" in text
    assert "bars_100min_rollup" in text and "81,920" in text  # the benchmark table
    assert f"<span>data access cost</span><span>{cost}</span>" in text  # in the Run card at the top
    assert charts_on(text) == RUN_CHARTS and "<svg" not in text  # every chart drawn by plotly
    # offline: one script file beside the page (plotly.js from the wheel), no URL anywhere
    assert re.findall(r'<script src="([^"]+)"', text) == ["plotly.min.js"] and "://" not in text
    assert (run / "plotly.min.js").read_text().startswith("/**") and (run / "plotly.min.js").stat().st_size > 3 * MB


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


def crafted_run(engine: EngineConfig) -> RunResult:
    """X long and Y short over six daily bars, entered on bar 0's signal and left on bar 3's (bars in memory)."""
    index = np.arange("2024-01-01", "2024-01-07", dtype="datetime64[D]").astype("datetime64[us]")
    column = np.array
    opens = column([100.0, 100.0, 104.0, 98.0, 103.0, 103.0])
    high = column([101.0, 108.0, 106.0, 99.0, 110.0, 104.0])  # bar 4: after the exit at its open
    low = column([99.0, 97.0, 101.0, 95.0, 90.0, 102.0])
    close = column([100.0, 104.0, 99.0, 102.0, 104.0, 103.0])
    two = [np.column_stack([a, a * 2]) for a in (opens, high, low, close)]
    bars = BarArrays(index, ("X", "Y"), *two, np.ones((6, 2)))
    signals = np.full((6, 2), np.nan)
    signals[0], signals[3] = [1.0, -1.0], [0.0, 0.0]
    sim = run(*two, signals, engine)
    return RunResult("crafted", {}, None, engine, bars, sim, summarize(
        sim.equity, engine.init_cash, sim.trades["pnl"].to_numpy(), sim.trades["return"].to_numpy(),
        sim.exposure_bars, index), (), fingerprint(bars))


def test_mae_mfe_breakdown_and_buy_and_hold_of_a_crafted_run(tmp_path):
    result = crafted_run(EngineConfig(size=0.4, fees_bps=10))
    write_run_files(result, tmp_path, benchmark_csv=None)
    trades = pl.read_csv(tmp_path / "trades.csv")
    assert trades.select("symbol", "direction", "entry_bar", "exit_bar", "bars_held").rows() == [
        ("X", "long", 1, 4, 3), ("Y", "short", 1, 4, 3)]
    # held over bars 1-3 whole (entry at bar 1's open, exit at bar 4's open): low 95, high 108, entry 100 (x2 for Y)
    assert trades["mae"].to_list() == pytest.approx([95 / 100 - 1, 1 - 216 / 200], abs=1e-12)
    assert trades["mfe"].to_list() == pytest.approx([108 / 100 - 1, 1 - 190 / 200], abs=1e-12)
    assert trades["duration_days"].to_list() == [3.0, 3.0]
    text = (tmp_path / "report.html").read_text()
    row = re.search(r"<tr><td[^>]*>1</td><td>X</td>.*?</tr>", text).group(0)
    assert ">-5.00%<" in row and ">8.00%<" in row and ">3d<" in row and "<td>signal</td>" in row

    breakdown = pl.read_csv(tmp_path / "breakdown.csv")
    total = breakdown.filter(pl.col("group") == "all").row(0, named=True)
    for group in ("symbol", "side"):
        part = breakdown.filter(pl.col("group") == group)
        assert part["trades"].sum() == total["trades"] == 2
        assert part["pnl"].sum() == pytest.approx(total["pnl"], rel=1e-12)
        assert part["contribution"].sum() == pytest.approx(total["contribution"], rel=1e-12)
    assert total["contribution"] == pytest.approx(result.stats["total_return"], rel=1e-9)
    assert breakdown.filter(pl.col("key") == "X")["pnl"][0] == pytest.approx(trades["pnl"][0], rel=1e-12)
    assert breakdown.filter(pl.col("key") == "short")["win_rate"][0] == 0.0  # Y rose: the short lost

    bench = next(t for t in plotted(text, "equity") if t["name"] == "Buy and hold of X, Y")
    first, last = result.bars.close[0], result.bars.close[-1]
    assert bench["y"][-1] == pytest.approx(result.engine.init_cash * np.mean(last / first), rel=1e-12)
    assert "final 10,300.00" in text  # 10,000 x 103 / 100 in both symbols


def test_fills_at_the_close_count_the_exit_bar_whole(tmp_path):
    result = crafted_run(EngineConfig(size=0.4, fill="close"))
    write_run_files(result, tmp_path, benchmark_csv=None)
    moves = pl.read_csv(tmp_path / "trades.csv")
    # entry at bar 0's close (100), exit at bar 3's close: bars 1-3 whole, bar 0 only by its fill
    assert moves.select("entry_bar", "exit_bar").rows() == [(0, 3), (0, 3)]
    assert moves["mae"][0] == pytest.approx(95 / 100 - 1) and moves["mfe"][0] == pytest.approx(108 / 100 - 1)


def test_views_carry_what_backtest_computes(feed, tmp_path):
    result = goog_run(feed)
    text = write_run_files(result, tmp_path, benchmark_csv=None)[-1].read_text()
    equity, init = result.simulation.equity, result.engine.init_cash
    returns = np.diff(np.r_[init, equity]) / np.r_[init, equity[:-1]]
    assert "Rolling Sharpe (126 bars, about 6 months)" in text  # daily bars: 6 months of them
    rolling = plotted(text, "rolling")
    sharpe, volatility = (t["y"] for t in rolling)
    window = returns[-126:]
    ppy = run_tear_sheet(result).periods_per_year
    assert sharpe[-1] == pytest.approx(window.mean() / window.std(ddof=1) * np.sqrt(ppy), rel=1e-9)
    assert volatility[-1] == pytest.approx(window.std(ddof=1) * np.sqrt(ppy), rel=1e-9)
    first_full = result.bars.index[125].astype("datetime64[ms]").astype(np.int64)
    assert len(sharpe) == 2148 - 125 and rolling[0]["x"][0] == first_full  # drawn from the first full window
    bars = plotted(text, "returns")[0]
    assert bars["y"].sum() == len(equity) == 2148 and len(bars["y"]) == 60
    drawn = {t["name"]: t["y"] for t in plotted(text, "equity")}
    assert drawn["Drawdown"].min() == pytest.approx(result.stats["max_drawdown"], rel=1e-12)
    held = result.simulation.positions[:, 0] * result.bars.close[:, 0] / equity
    assert drawn["Net exposure"] == pytest.approx(held, abs=1e-12)
    assert drawn["Gross exposure"] == pytest.approx(np.abs(held), abs=1e-12)
    assert 0.8 < np.median(np.abs(held[held != 0])) < 1.0  # size=0.9 of equity at entry
    eoy = text[text.index("<h3>End of year</h3>"):]
    years = re.findall(r"<tr><td>(\d{4})</td><td[^>]*>(-?[\d.]+)%</td><td[^>]*>(-?[\d.]+)%</td>", eoy)
    assert [y for y, _, _ in years] == [str(y) for y in range(2004, 2014)]
    mine, bench = (np.prod([1 + float(row[k]) / 100 for row in years]) - 1 for k in (1, 2))
    assert mine == pytest.approx(result.stats["total_return"], abs=0.002)  # compounded from 2-decimal percents
    sheet = run_tear_sheet(result)
    assert bench == pytest.approx(sheet["benchmark_return"].value, rel=0.002)


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
    assert size < 5 * MB, f"{size / MB:.2f} MB"  # the budget reports/plots.py states (plotly.min.js beside it)
    text = report.read_text()
    close = next(t for t in plotted(text, "price-BTC") if t["name"] == "BTC close")
    assert len(close["y"]) <= 4 * 1500 and close["y"].max() == pytest.approx(close_max(result))  # the spike drawn
    equity = next(t for t in plotted(text, "equity") if t["name"] == "Strategy equity")
    assert equity["y"].min() == result.simulation.equity.min() and equity["y"].max() == result.simulation.equity.max()
    marks = [t for t in plotted(text, "price-BTC") if t.get("mode") == "markers"]
    entries = sum(len(t["x"]) for t in marks if "entry" in t["name"])
    assert result.stats["trades"] > entries == 5_000 and "the 5,000 with the largest |pnl| are marked" in text


def test_a_million_bar_run_in_memory_stays_under_5_mb(tmp_path):
    """1,000,000 minute bars of one symbol (about two years, 24/7) and ~60k trades: the budget of reports/plots.py."""
    n = 1_000_000
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.standard_t(4, n) * 0.0006))
    opens = np.r_[close[0], close[:-1]]
    frame = pl.DataFrame({"ts": np.datetime64("2023-01-01T00:00", "us") + np.arange(n).astype("timedelta64[m]"),
                          "open": opens, "high": np.maximum(opens, close) * 1.0002,
                          "low": np.minimum(opens, close) * 0.9998, "close": close, "volume": 1.0})
    result = backtest.run(SmaCross(fast=5, slow=20), frame)
    assert result.stats["trades"] > 50_000
    page = result.report(tmp_path)
    size = page.stat().st_size
    assert size < 5 * MB, f"{size / MB:.2f} MB"
    text = page.read_text()
    for chart in ("equity", "rolling", "price-X"):
        assert max(len(t["x"]) for t in plotted(text, chart)) <= 4 * 1500, chart
    assert pl.read_csv(tmp_path / "trades.csv").height == result.trades.height  # the CSVs keep every trade


def close_max(result) -> float:
    """The highest close of a run's first symbol."""
    return float(np.nanmax(result.bars.close[:, 0]))


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
    assert charts_on(text) == RUN_CHARTS
    flat = [result.engine.init_cash] * len(result.bars.index)
    assert plotted(text, "equity")[0]["y"].tolist() == flat  # still drawn
    assert pl.read_csv(tmp_path / "trades.csv").height == 0
    assert pl.read_csv(tmp_path / "breakdown.csv")["trades"].to_list() == [0, 0, 0, 0]


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
