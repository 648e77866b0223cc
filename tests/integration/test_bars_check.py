"""``warehouse status`` checks bars against the deduplicated ticks and names the command that repairs
them; ``repair`` closes batches a killed writer left open; ``compact`` merges months into one part."""

from __future__ import annotations

import re
import subprocess
import sys

import pyarrow.parquet as pq

from warehouse.demo.generate import DemoSpec

from support.brokers import query, run_cli
from support.data import demo_ticks


def _loaded(tmp_path, batch_rows: int = 100_000) -> str:
    dsn = f"chdb://{tmp_path / 'wh'}"
    path = tmp_path / "ticks.parquet"
    pq.write_table(demo_ticks(DemoSpec(ticks=60_000, seed=3)), path)
    done = run_cli(dsn, "load", str(path), "--batch-rows", str(batch_rows))
    assert done.returncode == 0, done.stderr
    return dsn


def _sql(dsn: str, statement: str) -> None:
    """Change the warehouse around our writers, from another process (the test holds its own warehouse)."""
    code = f"from warehouse.client import connect; connect({dsn!r}).command({statement!r})"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_status_finds_a_wrong_month_of_bars_and_names_the_command_that_fixes_it(tmp_path):
    dsn = _loaded(tmp_path)
    # a bar state nobody's ticks explain: 7 extra trades in AAPL's first minute
    _sql(dsn, "INSERT INTO bars_1m SELECT symbol, minute, open, high, low, close, volume, notional, 7 "
              "FROM bars_1m WHERE symbol = 'AAPL' ORDER BY minute LIMIT 1")
    status = run_cli(dsn, "status")
    assert status.returncode == 1 and "bars check: FAILED" in status.stdout
    line = next(line for line in status.stdout.splitlines() if line.strip().startswith("AAPL 2024"))
    command = re.search(r"run: python -m warehouse (.*)$", line).group(1).split()
    assert command[:3] == ["rebuild-bars", "--symbols", "AAPL"]
    assert run_cli(dsn, *command).returncode == 0
    fixed = run_cli(dsn, "status")
    assert fixed.returncode == 0 and "bars_1m equals ticks_dedup" in fixed.stdout


def test_repair_closes_a_batch_left_open_and_rebuilds_its_bars(tmp_path):
    dsn = _loaded(tmp_path)
    # what a writer killed after its ticks went in leaves: an open journal entry and bars short of trades
    _sql(dsn, "INSERT INTO load_journal (batch_id, symbols, lo, hi, done) VALUES "
              "(generateUUIDv4(), ['MSFT'], '2024-01-02 00:00:00', '2024-01-03 00:00:00', 0)")
    _sql(dsn, "ALTER TABLE bars_1m DELETE WHERE symbol = 'MSFT' AND minute < '2024-01-03 00:00:00' "
              "SETTINGS mutations_sync = 2")
    status = run_cli(dsn, "status")
    assert status.returncode == 1 and "run: python -m warehouse repair" in status.stdout
    repaired = run_cli(dsn, "repair")
    assert repaired.returncode == 0 and "repaired 1 open tick batches" in repaired.stdout
    assert run_cli(dsn, "status").returncode == 0
    assert run_cli(dsn, "repair").stdout.startswith("nothing to repair")


def test_compact_leaves_one_part_per_month_and_the_same_rows(tmp_path):
    dsn = _loaded(tmp_path, batch_rows=5_000)  # a part per batch and month
    before = query(dsn, "SELECT count() AS n, sum(trades) AS t FROM (SELECT symbol, minute, sum(trades) AS trades "
                        "FROM bars_1m GROUP BY symbol, minute)")
    dedup = query(dsn, "SELECT count() AS n FROM ticks_dedup FINAL")
    done = run_cli(dsn, "compact")
    assert done.returncode == 0 and re.search(r"ticks_dedup 2024\d\d: \d+ parts -> 1", done.stdout), done.stdout
    parts = query(dsn, "SELECT table, partition, count() AS parts FROM system.parts WHERE active AND database = "
                       "currentDatabase() AND table IN ('ticks_dedup', 'bars_1m') GROUP BY table, partition")
    assert parts["parts"].max() == 1
    assert query(dsn, "SELECT count() AS n FROM ticks_dedup").equals(dedup)  # FINAL's rows, now without FINAL
    assert query(dsn, "SELECT count() AS n, sum(trades) AS t FROM bars_1m").equals(before)
    assert "nothing to compact" in run_cli(dsn, "compact").stdout
