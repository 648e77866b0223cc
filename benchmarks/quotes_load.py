"""Bulk quote load: ``load_quotes`` on a Parquet file against a bare insert of the same file, bytes per quote, and a read.

Usage: python benchmarks/quotes_load.py [--quotes 4M] [--repeat 3] [--runs 15]

Demo quotes (5 symbols, 5-level depth, time order; :mod:`warehouse.demo.quotes`) are written to a
zstd Parquet file once (not timed). Each repeat loads the file into a fresh embedded warehouse three ways,
interleaved so a busy machine slows all alike:

* ``load_quotes``: what ``python -m warehouse load-quotes`` does: read (500k-row batches), check every row,
  compute the ``quotes_1m`` minutes, insert each batch whole while the next one is read and checked, write
  the minutes;
* ``load_quotes 1M``: the same with ``--batch-rows 1000000``: each batch goes in as two halves of 500k at
  once, on two connections (more memory);
* ``bare insert`` (the peer): the same Parquet batches inserted into ``quotes`` as they are, one
  connection, no checks and no minutes: the floor the loader is measured against.

Each load prints its time, rate, CPU seconds (all threads) and the 1-minute load average after it.

Then: bytes per stored quote (``system.parts.bytes_on_disk`` of ``quotes`` after ``OPTIMIZE FINAL``)
and the median of ``--runs`` reads of 100 minutes of the busiest symbol through ``Feed.quotes``,
``Feed.quote_arrays`` and ``Feed.depth_at`` (the book at the window's end).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from backtest.feed import Feed
from warehouse.client import close_embedded, connect
from warehouse.demo.generate import DemoSpec, parse_count
from warehouse.demo.quotes import demo_quotes
from warehouse.ingest.quote_check import QUOTES_SCHEMA
from warehouse.ingest.quotes import _insert, load_quotes
from warehouse.schema.migrate import migrate


def write_file(path: Path, quotes: int) -> tuple[int, str, object]:
    """Demo quotes into ``path``; (rows, busiest symbol, its first quote time)."""
    counts: dict[str, int] = {}
    first: dict[str, object] = {}
    rows = 0
    with pq.ParquetWriter(path, QUOTES_SCHEMA, compression="zstd") as writer:
        for table in demo_quotes(DemoSpec(ticks=int(quotes / 0.94) + 1)):
            writer.write_table(table)
            rows += table.num_rows
            for item in pc.value_counts(table.column("symbol")).to_pylist():
                counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
                if item["values"] not in first:
                    mask = pc.equal(table.column("symbol"), item["values"])
                    first[item["values"]] = table.filter(mask).column("ts")[0].as_py()
    symbol = max(counts, key=counts.get)
    return rows, symbol, first[symbol]


def bare_insert(client, path: Path) -> None:
    """The peer: the file's batches straight into ``quotes``."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=500_000, use_threads=False):  # as load_quotes reads
        _insert(client, pa.Table.from_batches([batch]))


def _load(batch_rows: int | None):
    def load(client, path: Path, rows: int) -> None:
        report = load_quotes(client, path, progress=False, batch_rows=batch_rows)
        assert report.loaded == rows, report.summary()
    return load


LOADS = {"load_quotes": _load(None), "load_quotes 1M": _load(1_000_000),
         "bare insert": lambda client, path, rows: bare_insert(client, path)}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quotes", default="4M", help="quotes in the file (about; default 4M)")
    parser.add_argument("--repeat", type=int, default=3, help="loads of each kind (the best is shown)")
    parser.add_argument("--runs", type=int, default=15, help="reads of 100 minutes (the median is shown)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="quotes-load-"))
    try:
        run(args, work)
    finally:  # the warehouses and the file take a few GiB
        close_embedded()
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    """Write the file into ``work``, time the loads, then bytes per quote and the reads."""
    path = work / "quotes.parquet"
    rows, symbol, first = write_file(path, parse_count(args.quotes))
    print(f"{rows:,} quotes in {path.stat().st_size / 2**20:.0f} MiB of Parquet; repeats: {args.repeat}", flush=True)
    best = dict.fromkeys(LOADS, float("inf"))
    for repeat in range(args.repeat):
        for kind, load in LOADS.items():
            close_embedded()
            folder = work / f"{kind.replace(' ', '_')}_{repeat}"
            client = connect(f"chdb://{folder}")
            migrate(client)
            cpu, started = _cpu_seconds(), time.perf_counter()
            load(client, path, rows)
            seconds = time.perf_counter() - started
            best[kind] = min(best[kind], seconds)
            print(f"  {kind:<15} {seconds:6.2f} s  {rows / seconds:>12,.0f} quotes/s  CPU {_cpu_seconds() - cpu:5.2f} s  "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
            if repeat or kind != "load_quotes":  # the first load_quotes warehouse is kept for the reads
                close_embedded()
                shutil.rmtree(folder, ignore_errors=True)
    print("best: " + "; ".join(f"{kind} {rows / seconds:,.0f} quotes/s" + (
        f" ({seconds / best['bare insert']:.2f}x the bare insert's time)" if kind != "bare insert" else "")
        for kind, seconds in best.items()))
    close_embedded()
    client = connect(f"chdb://{work / 'load_quotes_0'}")
    client.command("OPTIMIZE TABLE quotes FINAL")
    on_disk = client.command("SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND table = 'quotes' "
                             "AND database = currentDatabase()")
    print(f"bytes per stored quote: {int(on_disk) / rows:.1f}")
    if args.runs < 1:
        return
    feed = Feed(client)
    start = first + timedelta(days=2)
    end = start + timedelta(minutes=100)
    reads = {"Feed.quotes": lambda: feed.quotes(symbol, start, end).height,
             "Feed.quote_arrays": lambda: feed.quote_arrays(symbol, start, end).ts.size,
             "Feed.depth_at": lambda: feed.depth_at(symbol, end).height}
    print(f"reads of 100 minutes of {symbol} from {start:%Y-%m-%d %H:%M} UTC (median of {args.runs}; "
          f"{rows:,} quotes stored):")
    for name, read in reads.items():
        read()  # the first read of a kind plans and warms caches
        times, returned = [], 0
        for _ in range(args.runs):
            began = time.perf_counter()
            returned = read()
            times.append((time.perf_counter() - began) * 1000)
        print(f"  {name:<18} {statistics.median(times):7.1f} ms  {returned:>7,} rows  "
              f"(rows to read {feed.stats[-1].rows_to_read:,})")


if __name__ == "__main__":
    main()
