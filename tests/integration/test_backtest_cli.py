"""``python -m backtest`` as a user runs it: real subprocesses on a demo warehouse of their own."""

from __future__ import annotations

import os
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
    assert "sma_cross(fast=5, slow=30) on AAPL,MSFT 5m" in done.stdout
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
    # composing: Hydra refuses unknown keys, unknown options and mistyped values, naming them
    (["+strategy=sma_cross", "engine.fee=1"],
     "error: Could not override 'engine.fee': Key 'fee' not in 'EngineConfig' (known: init_cash, fill, fees_bps, "),
    (["+strategy=sma_cross", "strategy.fsat=3"],
     "error: Could not override 'strategy.fsat': Key 'fsat' is not in struct (known: name, fast, slow)"),
    (["+strategy=sma_cross", "engine.fees_bps=abc"],
     "error: Error merging override engine.fees_bps=abc: Value 'abc' of type 'str' could not be converted to Float"),
    (["+strategy=nope"], "error: strategy: 'nope' is not a strategy (available: bollinger_breakout, "),
    (["-m", "+strategy=sma_cross,nope"], "error: strategy: 'nope' is not a strategy (available: "),
    (["+strategy=/abs/my.py:EmaCross"], "error: strategy: '/abs/my.py:EmaCross': no file '/abs/my.py'"),
    (["+strategy=sub/my.py:EmaCross"], "error: strategy: 'sub/my.py:EmaCross': no file "),
    # running: the settings' own classes and the feed refuse what they cannot use
    ([], "error: strategy: none chosen; pass +strategy=<name>"),
    (["+strategy=sma_cross", "+strategy.fsat=3"], "error: strategy.fsat: unknown parameter of sma_cross (known: "
                                                  "fast, slow)"),
    (["+strategy=sma_cross", "strategy.fast=50"], "error: strategy.fast: 50 must be < strategy.slow (30)"),
    (["+strategy=sma_cross", "engine.fees_bps=-1"], "error: engine.fees_bps: -1.0 must be >= 0"),
    (["+strategy=sma_cross", "data.symbols=[ZZZ]"], "error: symbols: 'ZZZ' not in the warehouse"),
    (["+strategy=sma_cross", "data.start=2030-01-01", "data.end=2030-02-01"], "error: data: no bars for AAPL"),
    (["+strategy=sma_cross", "data.interval=7q"], "error: interval: '7q' is not like 1s, 5m, 1h or 1d"),
    (["+strategy=sma_cross", "engine.execution=ticks", "engine.latency_ms=-5"],
     "error: engine.latency_ms: -5.0 must be >= 0"),
    (["+strategy=sma_cross", "engine.order_type=limit"], "error: engine.order_type: limit needs engine.execution=ticks"),
])
def test_bad_input_is_one_line_and_exit_2(demo_dsn, tmp_path, args, message):
    done = _run("-m", "backtest", *args, f"warehouse.dsn={demo_dsn}", f"hydra.run.dir={tmp_path / 'run'}",
                f"hydra.sweep.dir={tmp_path / 'multi'}", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "multi" / "0").exists()  # a multirun with a bad job is refused before any job runs


def test_tick_execution_runs_from_the_command_line_and_across_latencies(demo_dsn, tmp_path):
    """``engine.execution=ticks`` fills on the demo's trades; ``-m engine.latency_ms=0,250`` runs one job per latency."""
    done = _run("-m", "backtest", "-m", "+strategy=sma_cross", "engine.execution=ticks", "engine.latency_ms=0,250",
                f"warehouse.dsn={demo_dsn}", "data.interval=5m", f"hydra.sweep.dir={tmp_path / 'multi'}",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    fills = [pl.read_csv(tmp_path / "multi" / str(job) / "fills.csv") for job in (0, 1)]
    assert len(fills[0]) > 10 and set(fills[1]["reason"]) <= {"signal", "end"}
    assert fills[0]["price"].to_list() != fills[1]["price"].to_list()  # 250 ms later, other prints


def test_a_bad_choice_names_the_field_the_value_and_the_options(demo_dsn, tmp_path):
    """A string field (checked by EngineConfig) or an Enum field (checked by OmegaConf): one line either way."""
    done = _run("-m", "backtest", "+strategy=sma_cross", "engine.fill=open", f"warehouse.dsn={demo_dsn}",
                f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr
    assert "engine.fill" in lines[0] and "'open'" in lines[0] and "next_open, close" in lines[0], lines[0]


def test_full_error_shows_the_traceback_when_asked(tmp_path):
    done = subprocess.run([sys.executable, "-m", "backtest", "+strategy=sma_cross", "engine.fee=1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "HYDRA_FULL_ERROR": "1"})
    assert done.returncode == 1 and "Traceback" in done.stderr
    assert "Key 'fee' not in 'EngineConfig'" in done.stderr


def test_help_lists_the_groups_and_their_options(tmp_path):
    done = _run("-m", "backtest", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for line in ("data: demo", "engine: backtesting_py, default",
                 "strategy: bollinger_breakout, book_imbalance, donchian_breakout, rsi_reversion, sma_cross, vwap_reversion",
                 "sweep: grid, random", "warehouse: embedded, server"):
        assert line in done.stdout.splitlines(), done.stdout
    assert "python -m backtest +strategy=<name>" in done.stdout and "fees_bps: 0.0" in done.stdout
    assert "your class as module:Class or path/file.py:Class" in done.stdout


def test_multirun_records_a_failed_job_goes_on_and_exits_1(demo_dsn, tmp_path):
    root = tmp_path / "multi"
    done = _run("-m", "backtest", "-m", "+strategy=sma_cross,rsi_reversion", "data.symbols=[AAPL],[ZZZ]",
                f"warehouse.dsn={demo_dsn}", f"hydra.sweep.dir={root}", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.count("error: symbols: 'ZZZ' not in the warehouse") == 2
    assert f"error: 2 of 4 jobs failed; see {root / 'multirun.csv'}" in done.stderr
    assert "Traceback" not in done.stderr
    assert "sma_cross(fast=10, slow=30) on AAPL" in done.stdout and "rsi_reversion(window=14" in done.stdout
    combined = pl.read_csv(root / "multirun.csv")
    assert combined["status"].to_list() == ["ok", "error", "ok", "error"]
    assert combined["error"][1].startswith("symbols: 'ZZZ' not in the warehouse")
    assert "data.symbols=[ZZZ]" in combined["overrides"][3]
    assert combined["strategy"].to_list()[::2] == ["sma_cross", "rsi_reversion"]
    assert (root / "1" / "report.html").exists() and (root / "2" / "metrics.csv").exists()
