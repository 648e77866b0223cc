"""Bulk-load speed and memory of the tick loader, next to a bare insert peer.

Usage: python benchmarks/bulk_load.py [--ticks 10M] [--batch-rows 1000000]

Measures, in one run, on the embedded warehouse (a temporary directory):
  * loader, MVs attached   - load_ticks(Arrow table): validation, exact-bars
                             classification, insert with both MVs firing;
  * loader, MVs detached   - the same with ticks_dedup_mv and bars_1m_mv detached;
  * peer: bare insert      - client.insert_arrow of the already-clean rows into a
                             MergeTree with no MVs and no validation (the floor);
  * peak RSS (VmHWM) of `python -m warehouse load file.parquet` in a fresh process.
Demo data without redeliveries/corrections, so every variant writes the same rows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from warehouse.client import connect
from warehouse.demo import DemoSpec, generate, parse_count, write_parquet
from warehouse.ingest import INSERT_SCHEMA
from warehouse.loaders import DEFAULT_BATCH_ROWS, load_ticks
from warehouse.migrate import migrate
from warehouse.validate import clean_ticks


def _timed_load(database: str, table: pa.Table, batch_rows: int, detach: bool) -> float:
    client = connect(database=database)
    migrate(client)
    if detach:
        client.command("DETACH TABLE ticks_dedup_mv")
        client.command("DETACH TABLE bars_1m_mv")
    started = time.perf_counter()
    report = load_ticks(client, table, batch_rows=batch_rows, progress=False)
    seconds = time.perf_counter() - started
    assert report.loaded == table.num_rows and report.rejected == 0
    return seconds


def _timed_bare_insert(table: pa.Table, batch_rows: int) -> float:
    client = connect(database="bench_bare")
    migrate(client)
    client.command("DETACH TABLE ticks_dedup_mv")
    client.command("DETACH TABLE bars_1m_mv")
    clean = [clean_ticks(b, source="bench").ticks for b in table.to_batches(max_chunksize=batch_rows)]
    flagged = [t.append_column("first_seen", pa.array([1] * t.num_rows, pa.uint8())).cast(INSERT_SCHEMA)
               for t in clean]
    started = time.perf_counter()
    for part in flagged:
        client.insert_arrow("ticks", part)
    return time.perf_counter() - started


_CLI_WITH_PEAK = """
import sys
from warehouse.cli import main
code = main(sys.argv[1:])
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print("PEAK_KIB", peak.split()[1], file=sys.stderr)
sys.exit(code)
"""


def _peak_rss_of_cli_load(parquet: Path, workdir: Path) -> tuple[float, float]:
    """Peak RSS (VmHWM of the process after exec, so not the forking parent's pages)."""
    dsn = f"chdb://{workdir / 'rss-warehouse'}"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CLI_WITH_PEAK, "--dsn", dsn, "load", str(parquet)], check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    peak_kib = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KIB"))
    return peak_kib / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", default="10M")
    parser.add_argument("--batch-rows", type=int, default=DEFAULT_BATCH_ROWS)
    args = parser.parse_args()
    ticks = parse_count(args.ticks)
    spec = DemoSpec(ticks=ticks, duplicate_rate=0.0, correction_rate=0.0, seed=1)
    workdir = Path(tempfile.mkdtemp(prefix="tickhouse-bench-"))
    os.environ["TICKHOUSE_DSN"] = f"chdb://{workdir / 'warehouse'}"
    table = pa.Table.from_batches(list(generate(spec)))
    parquet = workdir / "ticks.parquet"
    write_parquet(spec, parquet)

    rows = [
        ("peer: bare insert_arrow, no MVs", _timed_bare_insert(table, args.batch_rows)),
        ("loader (Arrow), MVs detached", _timed_load("bench_detached", table, args.batch_rows, detach=True)),
        ("loader (Arrow), both MVs attached", _timed_load("bench_attached", table, args.batch_rows, detach=False)),
    ]
    peak_mib, cli_seconds = _peak_rss_of_cli_load(parquet, workdir)
    peer = rows[0][1]
    print(f"\nbulk load of {ticks:,} ticks, batches of {args.batch_rows:,}, {os.cpu_count()} cores, embedded chDB")
    print(f"{'variant':<40}{'seconds':>10}{'ticks/s':>14}{'x peer time':>13}")
    for name, seconds in rows:
        print(f"{name:<40}{seconds:>10.2f}{ticks / seconds:>14,.0f}{seconds / peer:>13.2f}")
    print(f"{'CLI load of Parquet file (process)':<40}{cli_seconds:>10.2f}{ticks / cli_seconds:>14,.0f}"
          f"{cli_seconds / peer:>13.2f}")
    print(f"peak RSS of `python -m warehouse load {parquet.name}`: {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
