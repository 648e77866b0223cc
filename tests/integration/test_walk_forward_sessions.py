"""A walk-forward on intraday demo bars with windows counted in sessions: every test window is whole trading
days, the train window the sessions right before it, and the stitched equity compounds the folds' returns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> list[str]:
    """Overrides reading 5m bars of AAPL from a 200k-tick demo warehouse of its own."""
    dsn = f"chdb://{tmp_path_factory.mktemp('wf_sessions')}/wh"
    done = _run("-m", "warehouse", "--dsn", dsn, "demo", "--ticks", "200k", "--symbols", "AAPL", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return [f"warehouse.dsn={dsn}", "data.symbols=[AAPL]", "data.interval=5m"]


def test_session_windows_are_whole_trading_days(demo, tmp_path):
    run = _run("-m", "backtest", "+strategy=sma_cross", *demo, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    bars = pl.read_csv(tmp_path / "run" / "equity.csv", try_parse_dates=True)
    per_day = bars.group_by(pl.col("ts").dt.date().alias("day"), maintain_order=True).len()  # a US session a date
    days, counts = per_day["day"].to_list(), per_day["len"].to_list()

    root = tmp_path / "multi"
    done = _run("-m", "backtest", "+strategy=sma_cross", "+sweep=grid", "sweep.params.fast=5,10",
                "sweep.params.slow=20,40", "sweep.walk_forward.train=5s", "sweep.walk_forward.test=2s", *demo,
                f"hydra.sweep.dir={root}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = root / "0"
    folds = pl.read_csv(out / "walk_forward_folds.csv", try_parse_dates=True)
    per_bar = pl.read_csv(out / "walk_forward.csv", try_parse_dates=True)
    assert folds.height == (len(days) - 5 + 1) // 2  # roll by 2 sessions while a test session is left
    for row in folds.iter_rows(named=True):
        first = days.index(row["test_start"].date())
        tested = per_bar.filter(pl.col("fold") == row["fold"])["ts"].dt.date().unique().sort().to_list()
        assert tested == days[first:first + 2]  # whole sessions, none split between folds
        assert row["test_bars"] == sum(counts[first:first + 2])
        assert row["train_start"].date() == days[first - 5] and row["train_bars"] == sum(counts[first - 5:first])
    growth = np.prod(1 + folds["test_return"].to_numpy())
    assert per_bar["equity"][-1] == pytest.approx(10_000 * growth, rel=1e-9)
    page = (out / "walk_forward.html").read_text()
    assert "train 5s, test 2s" in page and f"{folds.height} folds" in page
