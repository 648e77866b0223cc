"""The cost of enriching token-only ticks from ``instruments`` on the bulk path, against the same ticks with symbols.

Usage: python benchmarks/enrichment.py [--ticks 4M] [--instruments 100000] [--repeat 3]

One embedded warehouse (a temporary directory), ``instruments`` filled with ``--instruments`` rows (a Kite-sized
table: the demo's symbols among them); the demo ticks (no redeliveries or corrections) loaded with
``load_ticks`` twice per repeat, interleaved, each into a fresh database: once with their ``symbol``
column, once with an ``instrument_token`` column instead (the loader joins it to ``instruments``). Prints
rows/s of each (median), the enrichment's cost per tick and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import polars as pl
import pyarrow as pa

from warehouse.client import connect
from warehouse.demo.generate import DemoSpec, generate, parse_count
from warehouse.ingest.files import load_ticks
from warehouse.schema.migrate import migrate


def _instruments(client, symbols: tuple[str, ...], rows: int) -> None:
    """``rows`` instruments, the demo symbols first (token 100000 + position)."""
    names = [*symbols, *(f"X{i}" for i in range(rows - len(symbols)))]
    table = pl.DataFrame({"instrument_token": [100_000 + i for i in range(rows)], "exchange_token": [0] * rows,
                          "symbol": names, "tradingsymbol": names, "name": names, "exchange": ["NYSE"] * rows,
                          "exchange_tz": ["America/New_York"] * rows},
                         schema_overrides={"instrument_token": pl.UInt64, "exchange_token": pl.UInt64})
    client.insert_arrow("instruments", table.to_arrow())


def _load(dsn: str, database: str, table: pa.Table, rows: int) -> float:
    client = connect(dsn, database=database)
    migrate(client)
    _instruments(client, DemoSpec.symbols, rows)
    started = time.perf_counter()
    report = load_ticks(client, table, name=database, progress=False)
    took = time.perf_counter() - started
    assert report.loaded == table.num_rows and report.rejected == 0, report.summary()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", default="4M")
    parser.add_argument("--instruments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    spec = DemoSpec(ticks=parse_count(args.ticks), duplicate_rate=0.0, correction_rate=0.0)
    with_symbols = pa.Table.from_batches(list(generate(spec)))
    tokens = {symbol: 100_000 + i for i, symbol in enumerate(DemoSpec.symbols)}
    frame = pl.from_arrow(with_symbols)
    with_tokens = frame.with_columns(pl.col("symbol").replace_strict(tokens, return_dtype=pl.UInt64)
                                     .alias("instrument_token")).drop("symbol").to_arrow()
    dsn = "chdb://" + tempfile.mkdtemp(prefix="enrich-bench-")
    times: dict[str, list[float]] = {"symbols": [], "tokens": []}
    for run in range(args.repeat):
        times["symbols"].append(_load(dsn, f"sym_{run}", with_symbols, args.instruments))
        times["tokens"].append(_load(dsn, f"tok_{run}", with_tokens, args.instruments))
    n = with_symbols.num_rows
    sym, tok = statistics.median(times["symbols"]), statistics.median(times["tokens"])
    print(f"{n:,} ticks, {args.instruments:,} instruments, median of {args.repeat}")
    print("| ticks named by | seconds | ticks/s |")
    print("| --- | ---: | ---: |")
    print(f"| symbol | {sym:.2f} | {n / sym:,.0f} |")
    print(f"| instrument token (enriched) | {tok:.2f} | {n / tok:,.0f} |")
    print(f"enrichment: {(tok - sym) / n * 1e9:,.0f} ns per tick; tokens / symbols time = {tok / sym:.2f}x")


if __name__ == "__main__":
    main()
