"""Loads are crash-consistent: ``kill -9`` at a random moment of ``warehouse load``, run the same
command again, and ``ticks_dedup`` and ``bars_1m`` hold exactly the file's deduplicated trades.

Each trial starts ``python -m warehouse load`` on a fresh warehouse, kills it after a random
fraction of an uninterrupted load's time (measured first, in the same run), runs the command
again to the end and reads the result with a plain clickhouse-connect client (none of our
settings). The random fractions are printed, so a failing trial can be replayed.
"""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse.demo.generate import DemoSpec

from support.brokers import query, run_cli, start_cli
from support.data import demo_ticks
from support.exact_bars import BARS_SQL, assert_bars_equal, deduplicated, reference_bars

TRIALS = 3
BATCH_ROWS = "40000"
_COLUMNS = ["symbol", "ts", "trade_id", "version", "price", "size", "side"]
_DEDUP_SQL = f"SELECT {', '.join(_COLUMNS)} FROM ticks_dedup FINAL ORDER BY symbol, ts, trade_id"


@pytest.fixture(scope="module")
def tick_files(tmp_path_factory) -> tuple[pa.Table, dict[str, Path]]:
    ticks = demo_ticks(DemoSpec(ticks=400_000, duplicate_rate=0.05, correction_rate=0.01, seed=11,
                                batch_rows=100_000))
    folder = tmp_path_factory.mktemp("crash")
    pq.write_table(ticks, folder / "ticks.parquet")
    pl.from_arrow(ticks).write_csv(folder / "ticks.csv")
    return ticks, {"parquet": folder / "ticks.parquet", "csv": folder / "ticks.csv"}


def _load(dsn: str, path: Path) -> subprocess.CompletedProcess:
    done = run_cli(dsn, "load", str(path), "--batch-rows", BATCH_ROWS)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _assert_exact(dsn: str, ticks: pa.Table, context: str) -> None:
    expected = deduplicated(pl.from_arrow(ticks)).sort(["symbol", "ts", "trade_id"]).select(_COLUMNS)
    stored = query(dsn, _DEDUP_SQL, plain=True).with_columns(
        pl.col("symbol").cast(pl.String), pl.col("ts").dt.convert_time_zone("UTC"))
    assert stored.height == expected.height, context
    assert stored.cast(expected.schema).equals(expected), context
    bars = query(dsn, BARS_SQL, plain=True).with_columns(
        pl.col("symbol").cast(pl.String), pl.from_epoch("minute", time_unit="s").dt.cast_time_unit("us"))
    assert_bars_equal(bars, reference_bars(pl.from_arrow(ticks)))
    status = run_cli(dsn, "status")
    assert status.returncode == 0 and "bars_1m equals ticks_dedup" in status.stdout, context + status.stdout


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_a_load_killed_at_a_random_moment_and_run_again_is_exact(tmp_path, tick_files, kind):
    ticks, files = tick_files
    started = time.monotonic()
    _load(f"chdb://{tmp_path / 'whole'}", files[kind])
    whole = time.monotonic() - started
    rng = random.Random()
    killed = 0
    for trial in range(TRIALS):
        fraction = rng.uniform(0.35, 0.95)
        dsn = f"chdb://{tmp_path / f'trial{trial}'}"
        process = start_cli(dsn, "load", str(files[kind]), "--batch-rows", BATCH_ROWS)
        time.sleep(fraction * whole)
        if process.poll() is None:
            process.kill()
            killed += 1
        process.wait()
        again = _load(dsn, files[kind])
        _assert_exact(dsn, ticks, f"{kind} trial {trial}: killed after {fraction:.3f} of {whole:.2f} s\n"
                                  f"{again.stdout}")
    assert killed >= TRIALS - 1, f"only {killed} of {TRIALS} loads were still running when killed"
