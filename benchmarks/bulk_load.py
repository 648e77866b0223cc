"""Bulk-load speed and memory of the tick loader, next to a bare insert peer.

Usage: python benchmarks/bulk_load.py [--ticks 10M] [--batch-rows 1000000] [--repeat 3]

Measures, in one run, on the embedded warehouse (a temporary directory):
  * loader, MVs attached   - load_ticks(Arrow table): validation and the sort into
                             key order on a worker thread, exact-bars classification
                             and the insert with both MVs firing, each batch as two
                             halves on two chDB connections at once;
  * loader, MVs detached   - the same with ticks_dedup_mv and bars_1m_mv detached;
  * peer: bare insert      - client.insert_arrow of the already-clean rows into
                             ticks with no MVs and no validation (what a plain
                             clickhouse-connect user gets);
  * peak RSS (VmHWM) of `python -m warehouse load file.parquet` in a fresh process.
With ``--repeat N`` the variants run N times, interleaved, and each line shows the
medians. Each line also shows the CPU seconds it took (all threads; the cores are shared with
other work, so wall time alone can mislead). Demo data without redeliveries or
corrections, so every variant writes the same rows.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from warehouse.client import connect
from warehouse.demo.generate import DemoSpec, generate, parse_count, write_parquet
from warehouse.ingest.writer import INSERT_SCHEMA
from warehouse.ingest.files import IN_MEMORY_BATCH_ROWS, load_ticks
from warehouse.schema.migrate import migrate
from warehouse.ingest.validate import clean_ticks


Timing = tuple[float, float]  # wall seconds, CPU seconds


def _timed_load(database: str, table: pa.Table, batch_rows: int, detach: bool) -> Timing:
    client = connect(database=database)
    migrate(client)
    if detach:
        client.command("DETACH TABLE ticks_dedup_mv")
        client.command("DETACH TABLE bars_1m_mv")
    started, cpu = time.perf_counter(), time.process_time()
    report = load_ticks(client, table, batch_rows=batch_rows, progress=False)
    timing = time.perf_counter() - started, time.process_time() - cpu
    assert report.loaded == table.num_rows and report.rejected == 0
    return timing


def _timed_bare_insert(database: str, table: pa.Table, batch_rows: int) -> Timing:
    client = connect(database=database)
    migrate(client)
    client.command("DETACH TABLE ticks_dedup_mv")
    client.command("DETACH TABLE bars_1m_mv")
    clean = [clean_ticks(b, source="bench").ticks for b in table.to_batches(max_chunksize=batch_rows)]
    flagged = [t.append_column("first_seen", pa.array([1] * t.num_rows, pa.uint8())).cast(INSERT_SCHEMA)
               for t in clean]
    started, cpu = time.perf_counter(), time.process_time()
    for part in flagged:
        client.insert_arrow("ticks", part)
    return time.perf_counter() - started, time.process_time() - cpu


_CLI_WITH_PEAK = """
import sys
from warehouse.cli import main
code = main(sys.argv[1:])
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print("PEAK_KIB", peak.split()[1], file=sys.stderr)
sys.exit(code)
"""


def _peak_rss_of_cli_load(parquet: Path, warehouse: Path) -> tuple[float, Timing]:
    """Peak RSS (VmHWM of the process after exec, so not the forking parent's pages), wall and CPU."""
    dsn = f"chdb://{warehouse}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CLI_WITH_PEAK, "--dsn", dsn, "load", str(parquet)], check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    peak_kib = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KIB"))
    return peak_kib / 1024, (seconds, cpu)


def _cpu_pressure() -> str:
    """Share of the last minute in which runnable tasks waited for a core (Linux PSI), if known."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return ""
    return f", CPU pressure {float(some.split('avg60=')[1].split()[0]):.0f}% (time some task waited for a core)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", default="10M")
    parser.add_argument("--batch-rows", type=int, default=IN_MEMORY_BATCH_ROWS,
                        help="rows per batch of the Arrow variants (the CLI's file load keeps its own)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant (medians are shown)")
    args = parser.parse_args()
    ticks = parse_count(args.ticks)
    spec = DemoSpec(ticks=ticks, duplicate_rate=0.0, correction_rate=0.0, seed=1)
    workdir = Path(tempfile.mkdtemp(prefix="tickhouse-bench-"))
    os.environ["TICKHOUSE_DSN"] = f"chdb://{workdir / 'warehouse'}"
    table = pa.Table.from_batches(list(generate(spec)))
    parquet = workdir / "ticks.parquet"
    write_parquet(spec, parquet)

    runs: dict[str, list[Timing]] = {}
    peaks = []
    for run in range(args.repeat):
        runs.setdefault("peer: bare insert_arrow, no MVs", []).append(
            _timed_bare_insert(f"bench_bare_{run}", table, args.batch_rows))
        runs.setdefault("loader (Arrow), MVs detached", []).append(
            _timed_load(f"bench_detached_{run}", table, args.batch_rows, detach=True))
        runs.setdefault("loader (Arrow), both MVs attached", []).append(
            _timed_load(f"bench_attached_{run}", table, args.batch_rows, detach=False))
        peak, cli = _peak_rss_of_cli_load(parquet, workdir / f"cli-warehouse-{run}")
        runs.setdefault("CLI load of Parquet file (process)", []).append(cli)
        peaks.append(peak)
    medians = {name: (statistics.median(t[0] for t in timings), statistics.median(t[1] for t in timings))
               for name, timings in runs.items()}
    peer = next(iter(medians.values()))[0]
    print(f"\nbulk load of {ticks:,} ticks, batches of {args.batch_rows:,}, {os.cpu_count()} cores, embedded chDB, "
          f"{'median of ' + str(args.repeat) + ' runs, ' if args.repeat > 1 else ''}"
          f"load average {os.getloadavg()[0]:.1f}{_cpu_pressure()}")
    print(f"{'variant':<40}{'seconds':>10}{'ticks/s':>14}{'x peer time':>13}{'CPU s':>9}")
    for name, (seconds, cpu) in medians.items():
        print(f"{name:<40}{seconds:>10.2f}{ticks / seconds:>14,.0f}{seconds / peer:>13.2f}{cpu:>9.2f}")
    print(f"peak RSS of `python -m warehouse load {parquet.name}`: {max(peaks):,.0f} MiB (largest of the runs)")


if __name__ == "__main__":
    main()
