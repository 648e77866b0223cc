"""``data.benchmark=SPY``: the report's benchmark is buy and hold of a chosen symbol, not of the run's symbols."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from support.brokers import query

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo_dsn(tmp_path_factory) -> str:
    dsn = f"chdb://{tmp_path_factory.mktemp('bench_wh')}/warehouse"
    done = _run("-m", "warehouse", "--dsn", dsn, "demo", "--ticks", "200k", "--symbols", "AAPL,SPY", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return dsn


def _metric(folder: Path, name: str) -> float:
    metrics = pl.read_csv(folder / "metrics_full.csv")
    return float(metrics.filter(pl.col("metric") == name)["value"][0])


def test_a_chosen_symbol_is_the_benchmark(demo_dsn, tmp_path):
    common = ["-m", "backtest", "+strategy=sma_cross", f"warehouse.dsn={demo_dsn}", "data.symbols=[AAPL]",
              "data.interval=5m", "data.start=2024-01-02", "data.end=2024-01-06"]
    chosen, own = tmp_path / "spy", tmp_path / "own"
    done = _run(*common, "data.benchmark=SPY", f"hydra.run.dir={chosen}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _run(*common, f"hydra.run.dir={own}", cwd=tmp_path).returncode == 0

    closes = query(demo_dsn, "SELECT symbol, argMin(close, bucket) AS first, argMax(close, bucket) AS last FROM ("
                             "SELECT symbol, toStartOfInterval(ts, INTERVAL 5 MINUTE) AS bucket, "
                             "argMax(price, (ts, trade_id)) AS close FROM ticks_dedup FINAL "
                             "WHERE ts >= '2024-01-02' AND ts < '2024-01-06' GROUP BY symbol, bucket) "
                             "GROUP BY symbol ORDER BY symbol")
    spy = closes.filter(symbol="SPY").row(0, named=True)
    aapl = closes.filter(symbol="AAPL").row(0, named=True)
    assert _metric(chosen, "benchmark_return") == pytest.approx(spy["last"] / spy["first"] - 1, rel=1e-9)
    assert _metric(own, "benchmark_return") == pytest.approx(aapl["last"] / aapl["first"] - 1, rel=1e-9)
    page = (chosen / "report.html").read_text()
    traces = re.findall(r'"name":"([^"]+)"', page)
    assert "SPY" in traces and "Buy and hold of AAPL" not in traces
    assert "in SPY (data.benchmark)" in page
    assert "benchmark: SPY" in (chosen / ".hydra" / "config.yaml").read_text()


def test_a_benchmark_without_bars_is_one_line(demo_dsn, tmp_path):
    done = _run("-m", "backtest", "+strategy=sma_cross", f"warehouse.dsn={demo_dsn}", "data.symbols=[AAPL]",
                "data.benchmark=NOPE", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: ") and "NOPE" in done.stderr
