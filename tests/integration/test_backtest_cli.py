"""``python -m backtest`` as a user runs it: real subprocesses on a demo warehouse of their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo_dsn(tmp_path_factory) -> str:
    """A warehouse with 300k demo ticks, owned by no process between commands."""
    dsn = f"chdb://{tmp_path_factory.mktemp('cli_wh')}/warehouse"
    done = _run("-m", "warehouse", "--dsn", dsn, "demo", "--ticks", "300k", "--symbols", "AAPL,MSFT", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return dsn


def test_a_run_prints_a_summary_and_writes_its_files(demo_dsn, tmp_path):
    out = tmp_path / "run"
    done = _run("-m", "backtest", "+strategy=sma_cross", f"warehouse.dsn={demo_dsn}", "data.symbols=[AAPL,MSFT]",
                "data.interval=5m", "strategy.fast=5", "engine.fees_bps=2", "engine.size=0.5",
                f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "sma_cross Params(fast=5, slow=30) on AAPL,MSFT 5m" in done.stdout
    assert f"output: {out}" in done.stdout
    assert f"report: {out / 'report.html'}" in done.stdout and (out / "report.html").stat().st_size > 10_000
    metrics = pl.read_csv(out / "metrics.csv")
    assert metrics["param_fast"][0] == 5 and metrics["symbols"][0] == "AAPL,MSFT"
    equity = pl.read_csv(out / "equity.csv")
    assert metrics["final_equity"][0] == pytest.approx(equity["equity"][-1], rel=1e-12)
    trades = pl.read_csv(out / "trades.csv")
    assert metrics["trades"][0] == trades.filter(~pl.col("is_open")).height > 0
    assert set(trades["symbol"]) == {"AAPL", "MSFT"}
    access = pl.read_csv(out / "data_access.csv")
    assert access["source"].to_list() == ["bars_1m"] and access["rows_returned"][0] > 0
    saved = (out / ".hydra" / "overrides.yaml").read_text()
    assert "engine.fees_bps=2" in saved


@pytest.mark.parametrize("args, message", [
    (["+strategy=nope"], "error: strategy: 'nope' is not a strategy (available: "),
    ([], "error: strategy: none chosen; pass +strategy=<name>"),
    (["+strategy=sma_cross", "strategy.fast=50"], "error: strategy.fast: 50 must be < strategy.slow (30)"),
    (["+strategy=sma_cross", "engine.fees_bps=-1"], "error: engine.fees_bps: -1 must be >= 0"),
    (["+strategy=sma_cross", "data.symbols=[ZZZ]"], "error: symbols: 'ZZZ' not in the warehouse"),
    (["+strategy=sma_cross", "data.start=2030-01-01", "data.end=2030-02-01"], "error: data: no bars for AAPL"),
    (["+strategy=sma_cross", "data.interval=7q"], "error: interval: '7q' is not like 1s, 5m, 1h or 1d"),
    (["+strategy=sma_cross", "strategy.fsat=3"], "error: overrides: Could not override 'strategy.fsat'"),
])
def test_bad_input_is_one_line_and_exit_2(demo_dsn, tmp_path, args, message):
    done = _run("-m", "backtest", *args, f"warehouse.dsn={demo_dsn}", f"hydra.run.dir={tmp_path / 'run'}",
                cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_warehouse_without_schema_says_to_run_init(tmp_path):
    done = _run("-m", "backtest", "+strategy=sma_cross", f"warehouse.dsn=chdb://{tmp_path}/empty",
                f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: warehouse: it has no schema yet; run `python -m warehouse init` and "
                                   "load data (`python -m warehouse demo` for the demo ticks)")
