"""Compressed bytes per row of each ``ticks`` column under candidate codecs.

Usage: python benchmarks/codecs.py [--ticks 2M]

Loads the same demo ticks (sorted by the table key, as MergeTree stores them)
into one table per codec and prints bytes/row per column; the baseline peer is
ClickHouse's default (LZ4). The schema in warehouse/schema.py uses the winners.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import polars as pl

from warehouse.client import connect
from warehouse.demo import DemoSpec, generate, parse_count

COLUMNS = {
    "ts": "DateTime64(6, 'UTC')",
    "price": "Float64",
    "size": "Float64",
    "side": "Int8",
    "trade_id": "UInt64",
    "version": "UInt32",
}
CODECS = ["LZ4", "ZSTD(1)", "ZSTD(3)", "Delta, ZSTD(1)", "DoubleDelta, ZSTD(1)", "Gorilla, ZSTD(1)",
          "DoubleDelta", "Gorilla", "T64, ZSTD(1)"]
FLOAT_ONLY = {"Gorilla", "Gorilla, ZSTD(1)"}
INT_ONLY = {"T64, ZSTD(1)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", default="2M")
    ticks = parse_count(parser.parse_args().ticks)
    os.environ["TICKHOUSE_DSN"] = f"chdb://{tempfile.mkdtemp(prefix='tickhouse-codecs-')}/wh"
    client = connect()
    batches = list(generate(DemoSpec(ticks=ticks, duplicate_rate=0, correction_rate=0)))
    table = pl.from_arrow(batches[0]) if len(batches) == 1 else pl.concat([pl.from_arrow(b) for b in batches])
    data = table.to_arrow()
    results: dict[str, dict[str, float]] = {}
    for i, codec in enumerate(CODECS):
        columns = []
        for name, kind in COLUMNS.items():
            usable = not (codec in FLOAT_ONLY and kind != "Float64") and not (codec in INT_ONLY and kind == "Float64")
            columns.append(f"{name} {kind}" + (f" CODEC({codec})" if usable else " CODEC(ZSTD(1))"))
        client.command(f"CREATE TABLE codec_{i} (symbol LowCardinality(String), {', '.join(columns)}) "
                       "ENGINE = MergeTree ORDER BY (symbol, ts)")
        client.insert_arrow(f"codec_{i}", data)
        client.command(f"OPTIMIZE TABLE codec_{i} FINAL")
        sizes = client.query("SELECT name, data_compressed_bytes FROM system.columns WHERE table = {t:String} "
                             "AND database = currentDatabase()", parameters={"t": f"codec_{i}"}).result_rows
        results[codec] = {name: size / ticks for name, size in sizes}
    print(f"\ncompressed bytes per row, {ticks:,} demo ticks ({'n/a' } = codec not applicable)")
    print(f"{'codec':<24}" + "".join(f"{c:>10}" for c in COLUMNS))
    for codec, per_column in results.items():
        cells = []
        for name, kind in COLUMNS.items():
            applicable = not (codec in FLOAT_ONLY and kind != "Float64") and not (codec in INT_ONLY and kind == "Float64")
            cells.append(f"{per_column[name]:>10.3f}" if applicable else f"{'n/a':>10}")
        print(f"{codec:<24}" + "".join(cells))
    best = {name: min((c for c in results if not (c in FLOAT_ONLY and kind != "Float64")
                       and not (c in INT_ONLY and kind == "Float64")), key=lambda c: results[c][name])
            for name, kind in COLUMNS.items()}
    print("\nsmallest per column: " + ", ".join(f"{n}: {c} ({results[c][n]:.3f} B, "
                                                  f"{results['LZ4'][n] / results[c][n]:.1f}x vs LZ4)"
                                                  for n, c in best.items()))


if __name__ == "__main__":
    main()
