"""``python -m warehouse bench`` on a tiny demo: every query (ticks, each window's bars raw and from the
rollup, the counts) lands in benchmark.csv with consistent rows and times, and the window table in
the output; a second run reuses the data; bad arguments give one-line errors and exit 2."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WINDOWS = ["1bar", "100min", "day", "week", "month", "year"]
QUERIES = ["ticks_100min", *[f"bars_{w}_{s}" for w in WINDOWS for s in ("raw", "rollup")], "count", "count_final"]


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warehouse", "bench", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_bench_writes_every_query_and_window_and_reuses_its_data(tmp_path: Path) -> None:
    dsn, out = f"chdb://{tmp_path / 'wh'}", tmp_path / "results"
    first = bench("--dsn", dsn, "--ticks", "200k", "--runs", "2", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "loaded 200,000 ticks" in first.stdout and "| bars_year_rollup | bars_1m |" in first.stdout
    window_lines = [line for line in first.stdout.splitlines()
                    if line.startswith("| ") and line.split(" | ")[0][2:] in WINDOWS]
    assert [line.split(" | ")[0][2:] for line in window_lines] == WINDOWS

    with (out / "benchmark.csv").open() as handle:
        rows = {row["query"]: row for row in csv.DictReader(handle)}
    assert list(rows) == QUERIES
    number = {q: {k: float(v) for k, v in row.items() if k in (
        "rows_to_read", "rows_returned", "median_ms", "min_ms", "max_ms", "call_median_ms", "cpu_median_ms",
        "ticks_in_table")}
        for q, row in rows.items()}
    for q, row in number.items():
        assert row["rows_returned"] > 0 and row["ticks_in_table"] == 200_000, q
        assert 0 < row["min_ms"] <= row["median_ms"] <= row["max_ms"], q
        assert row["call_median_ms"] >= row["median_ms"] and row["cpu_median_ms"] > 0, q  # the call adds the estimate
    assert [rows[q]["source"] for q in QUERIES] == (["ticks_dedup"] + ["ticks_dedup", "bars_1m"] * len(WINDOWS)
                                                    + ["ticks_dedup"] * 2)
    for window in WINDOWS:  # the same bars either way, the rollup reading no more rows
        raw, rollup = number[f"bars_{window}_raw"], number[f"bars_{window}_rollup"]
        assert raw["rows_returned"] == rollup["rows_returned"], window
        assert raw["rows_to_read"] >= rollup["rows_to_read"], window
    assert number["bars_1bar_rollup"]["rows_returned"] == 1
    assert number["bars_100min_rollup"]["rows_returned"] == 100
    assert number["ticks_100min"]["rows_returned"] > 100  # many trades a minute
    assert number["count_final"]["rows_to_read"] == 200_000 > number["count"]["rows_to_read"]
    assert (number["bars_year_rollup"]["rows_returned"] >= number["bars_month_rollup"]["rows_returned"]
            > number["bars_week_rollup"]["rows_returned"] > number["bars_day_rollup"]["rows_returned"]
            > number["bars_100min_rollup"]["rows_returned"])
    assert rows["bars_100min_raw"]["start"].endswith("T14:30Z") and rows["bars_100min_raw"]["end"].endswith("T16:10Z")

    again = bench("--dsn", dsn, "--ticks", "200k", "--runs", "1", "--out", str(out / "again.csv"))
    assert again.returncode == 0, again.stderr
    assert "reusing" in again.stdout and "loaded" not in again.stdout and (out / "again.csv").is_file()

    other = bench("--dsn", dsn, "--ticks", "100k", "--out", str(tmp_path))
    assert other.returncode == 2 and other.stderr.startswith("error: dsn: ") and other.stderr.count("\n") == 1
    assert "holds 200,000 ticks" in other.stderr


@pytest.mark.parametrize("args, message", [
    (["--ticks", "lots"], "error: ticks: 'lots' is not a count"),
    (["--ticks", "200k", "--runs", "0"], "error: runs: 0 is not an integer >= 1"),
])
def test_bench_bad_arguments_give_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = bench("--dsn", f"chdb://{tmp_path / 'wh'}", "--out", str(tmp_path), *args)
    assert result.returncode == 2 and result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert not (tmp_path / "wh").exists()  # refused before opening or loading anything
