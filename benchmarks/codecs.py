"""Compressed bytes per row and write cost of each ``ticks`` column under candidate codecs.

Usage: python benchmarks/codecs.py [--ticks 2M] [--runs 7]

The same demo ticks, sorted by the table key (as MergeTree stores them), are
measured two ways:

* size: one table per codec holding every column, ``OPTIMIZE FINAL``, compressed
  bytes per row of each column from ``system.columns``;
* write cost: one single-column table per (column, codec), the column inserted
  ``--runs`` times (codecs interleaved, so a busy machine slows them alike); the
  least CPU time of the insert minus that of ``CODEC(NONE)`` (the peer measured in
  the same run), in ns per row. Every tick pays it twice, in ``ticks`` and in
  ``ticks_dedup``.

The schema in warehouse/schema/ddl.py uses the choices this prints.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import polars as pl
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from warehouse.client import connect
from warehouse.demo.generate import DemoSpec, generate, parse_count

COLUMNS = {
    "ts": "DateTime64(6, 'UTC')",
    "price": "Float64",
    "size": "Float64",
    "side": "Int8",
    "trade_id": "UInt64",
    "version": "UInt32",
}
CODECS = ["LZ4", "ZSTD(1)", "ZSTD(3)", "Delta, LZ4", "Delta, ZSTD(1)", "DoubleDelta", "DoubleDelta, ZSTD(1)",
          "Gorilla", "Gorilla, LZ4", "Gorilla, ZSTD(1)", "T64, LZ4", "T64, ZSTD(1)"]
FLOAT_ONLY = {"Gorilla", "Gorilla, LZ4", "Gorilla, ZSTD(1)"}
INT_ONLY = {"T64, LZ4", "T64, ZSTD(1)"}


def applicable(codec: str, kind: str) -> bool:
    """Whether ``codec`` applies to a column of ClickHouse type ``kind``.

    >>> applicable("Gorilla", "Float64"), applicable("T64, LZ4", "Float64"), applicable("LZ4", "Int8")
    (True, False, True)
    """
    return not (codec in FLOAT_ONLY and kind != "Float64") and not (codec in INT_ONLY and kind == "Float64")


def bytes_per_row(client: Client, data: pa.Table) -> dict[str, dict[str, float]]:
    """Per codec, per column: compressed bytes per row after a full merge."""
    results: dict[str, dict[str, float]] = {}
    for i, codec in enumerate(CODECS):
        columns = [f"{name} {kind} CODEC({codec if applicable(codec, kind) else 'ZSTD(1)'})"
                   for name, kind in COLUMNS.items()]
        client.command(f"CREATE TABLE codec_{i} (symbol LowCardinality(String), {', '.join(columns)}) "
                       "ENGINE = MergeTree ORDER BY (symbol, ts)")
        client.insert_arrow(f"codec_{i}", data)
        client.command(f"OPTIMIZE TABLE codec_{i} FINAL")
        sizes = client.query("SELECT name, data_compressed_bytes FROM system.columns WHERE table = {t:String} "
                             "AND database = currentDatabase()", parameters={"t": f"codec_{i}"}).result_rows
        results[codec] = {name: size / data.num_rows for name, size in sizes}
    return results


def write_ns_per_row(client: Client, data: pa.Table, runs: int) -> dict[str, dict[str, float]]:
    """Per codec, per column: CPU ns per row an insert spends beyond ``CODEC(NONE)``."""
    best: dict[tuple[str, str], float] = {}
    for run in range(runs):
        for name, kind in COLUMNS.items():
            column = data.select([name])
            for j, codec in enumerate(["NONE", *CODECS]):
                if not applicable(codec, kind):
                    continue
                table = f"w_{name}_{j}_{run}"
                client.command(f"CREATE TABLE {table} ({name} {kind} CODEC({codec})) "
                               "ENGINE = MergeTree ORDER BY tuple()")
                started = time.process_time()
                client.insert_arrow(table, column)
                seconds = time.process_time() - started
                client.command(f"DROP TABLE {table}")
                best[name, codec] = min(best.get((name, codec), seconds), seconds)
    return {codec: {name: max(best[name, codec] - best[name, "NONE"], 0.0) / data.num_rows * 1e9
                    for name, kind in COLUMNS.items() if applicable(codec, kind)} for codec in CODECS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", default="2M")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    ticks = parse_count(args.ticks)
    os.environ["TICKHOUSE_DSN"] = f"chdb://{tempfile.mkdtemp(prefix='tickhouse-codecs-')}/wh"
    client = connect()
    frames = [pl.from_arrow(b) for b in generate(DemoSpec(ticks=ticks, duplicate_rate=0, correction_rate=0))]
    data = pl.concat(frames).sort(["symbol", "ts", "trade_id"]).to_arrow()
    sizes = bytes_per_row(client, data)
    costs = write_ns_per_row(client, data, args.runs)
    print(f"\n{ticks:,} demo ticks: compressed bytes per row / write CPU ns per row over CODEC(NONE) "
          f"(least of {args.runs} runs); n/a = codec not applicable")
    print(f"{'codec':<22}" + "".join(f"{c:>16}" for c in COLUMNS))
    for codec in CODECS:
        cells = [f"{sizes[codec][n]:>8.3f} /{costs[codec][n]:>5.1f}" if applicable(codec, k) else f"{'n/a':>16}"
                 for n, k in COLUMNS.items()]
        print(f"{codec:<22}" + "".join(cells))
    smallest = {name: min((c for c in CODECS if applicable(c, kind)), key=lambda c: sizes[c][name])
                for name, kind in COLUMNS.items()}
    print("\nsmallest per column: " + ", ".join(f"{n}: {c} ({sizes[c][n]:.3f} B, {costs[c][n]:.1f} ns)"
                                                  for n, c in smallest.items()))


if __name__ == "__main__":
    main()
