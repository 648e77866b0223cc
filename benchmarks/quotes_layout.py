"""Quotes stored as 30 plain level columns or as 6 Array columns, under a few codec sets: which is smaller and faster.

Usage: python benchmarks/quotes_layout.py [--quotes 1.2M] [--runs 15]

The same demo quotes (:func:`warehouse.demo.quotes.demo_quotes`: 5 symbols, 5-level depth, in time
order) are loaded into one ``ReplacingMergeTree(symbol, ts, seq)`` table per variant of a fresh
embedded warehouse. For each variant it prints

* ``write``: quotes per second of the insert (Arrow in key order read in place by chDB, as the loader inserts;
  for the Array layout the 5 columns of a field are interleaved into a list column first, timed too);
* ``B/row``: bytes per quote on disk (``system.parts.bytes_on_disk`` after ``OPTIMIZE FINAL``);
* ``frame ms``: median time to read 100 minutes of the busiest symbol (``quotes FINAL``, every column,
  ordered by ts) into Arrow: what ``Feed.quotes`` does;
* ``arrays ms``: the same rows as the engine's ``(n, 5)`` price and quantity arrays (an Array column
  each; the column layout builds them with ``[bid_px_1, ..., bid_px_5]``): what ``Feed.quote_arrays`` does.

warehouse/schema/quotes_ddl.py uses the winner.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.client import connect
from warehouse.demo.generate import DemoSpec, parse_count
from warehouse.demo.quotes import demo_quotes
from warehouse.schema.quotes_ddl import LEVEL_FIELDS, LEVELS, OTHER_COLUMNS, SIDES, level_columns

TYPES = {"px": "Float64", "qty": "Float64", "orders": "UInt32"}
VARIANTS = {  # name -> (layout, codec per level field, codec of the other columns)
    "columns ZSTD(1)": ("columns", {"px": "ZSTD(1)", "qty": "ZSTD(1)", "orders": "ZSTD(1)"}, "ZSTD(1)"),
    "columns LZ4": ("columns", {"px": "LZ4", "qty": "LZ4", "orders": "LZ4"}, "LZ4"),
    "columns Delta/T64+ZSTD(1)": ("columns", {"px": "Delta, ZSTD(1)", "qty": "ZSTD(1)", "orders": "T64, ZSTD(1)"},
                                  "ZSTD(1)"),
    "columns Gorilla/T64+LZ4": ("columns", {"px": "Gorilla, LZ4", "qty": "Gorilla, LZ4", "orders": "T64, LZ4"}, "LZ4"),
    "arrays ZSTD(1)": ("arrays", {"px": "ZSTD(1)", "qty": "ZSTD(1)", "orders": "ZSTD(1)"}, "ZSTD(1)"),
    "arrays Delta/T64+ZSTD(1)": ("arrays", {"px": "Delta, ZSTD(1)", "qty": "ZSTD(1)", "orders": "T64, ZSTD(1)"},
                                 "ZSTD(1)"),
}


def ddl(table: str, layout: str, codecs: dict[str, str], other: str) -> str:
    """``CREATE TABLE`` of one variant."""
    if layout == "columns":
        levels = [f"{name} {TYPES[field]} CODEC({codecs[field]})" for side in SIDES for field in LEVEL_FIELDS
                  for name in level_columns(sides=(side,), fields=(field,))]
    else:
        levels = [f"{side}_{field} Array({TYPES[field]}) CODEC({codecs[field]})" for side in SIDES
                  for field in LEVEL_FIELDS]
    columns = ["symbol LowCardinality(String)", "ts DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1))",
               "exchange_ts DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1))", "seq UInt64 CODEC(ZSTD(1))", *levels,
               *[f"{name} Float64 CODEC({other})" for name in OTHER_COLUMNS], "session LowCardinality(String)"]
    return (f"CREATE TABLE {table} ({', '.join(columns)}) ENGINE = ReplacingMergeTree "
            "PARTITION BY toYYYYMM(ts) PRIMARY KEY (symbol, ts) ORDER BY (symbol, ts, seq)")


def as_arrays(quotes: pa.Table) -> pa.Table:
    """The Array layout's input: each side and field's 5 level columns as one list column."""
    out = quotes.select(["symbol", "ts", "exchange_ts", "seq"])
    for side in SIDES:
        for field in LEVEL_FIELDS:
            names = level_columns(sides=(side,), fields=(field,))
            flat = np.column_stack([quotes.column(name).to_numpy() for name in names]).ravel()
            out = out.append_column(f"{side}_{field}", pa.FixedSizeListArray.from_arrays(pa.array(flat), LEVELS)
                                    .cast(pa.list_(pa.from_numpy_dtype(flat.dtype))))
    for name in (*OTHER_COLUMNS, "session"):
        out = out.append_column(name, quotes.column(name))
    return out


def insert(client, table: str, rows: pa.Table) -> None:
    """Insert as the loader does on the embedded warehouse: chDB reads the Arrow table in place, in order,
    and does not pre-merge the block (``optimize_on_insert = 0``: a ReplacingMergeTree insert otherwise
    merges each block on the way in, which halved the rate)."""
    _bench_rows = rows  # noqa: F841 -- read by name by the Python() table function
    client.command(f"INSERT INTO {table} SELECT * FROM Python(_bench_rows)",
                   settings={"max_threads": 1, "optimize_on_insert": 0})


def arrays_sql(table: str, layout: str) -> str:
    if layout == "arrays":
        picked = "bid_px, bid_qty, ask_px, ask_qty"
    else:
        picked = ", ".join(f"[{', '.join(level_columns(sides=(side,), fields=(field,)))}] AS {side}_{field}"
                           for side in SIDES for field in ("px", "qty"))
    return (f"SELECT toUnixTimestamp64Nano(ts) AS t, {picked} FROM {table} FINAL WHERE symbol = {{s:String}} "
            "AND ts >= {a:DateTime64(6, 'UTC')} AND ts < {b:DateTime64(6, 'UTC')} ORDER BY ts, seq")


def median_ms(client, sql: str, params: dict, runs: int) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        rows = client.query_arrow(sql, parameters=params).num_rows
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quotes", default="1.2M", help="quotes to generate (about; default 1.2M)")
    parser.add_argument("--runs", type=int, default=15, help="reads per variant (the median is shown)")
    args = parser.parse_args()
    wanted = parse_count(args.quotes)
    quotes = pa.concat_tables(demo_quotes(DemoSpec(ticks=int(wanted / 0.94) + 1))).combine_chunks()
    quotes = quotes.sort_by([("symbol", "ascending"), ("ts", "ascending"), ("seq", "ascending")])  # as the writer does
    counts = pc.value_counts(quotes.column("symbol")).to_pylist()
    symbol = max(counts, key=lambda item: item["counts"])["values"]
    first = quotes.filter(pc.equal(quotes.column("symbol"), symbol)).column("ts")[0].as_py()
    start = first + timedelta(days=2)
    params = {"s": symbol, "a": start, "b": start + timedelta(minutes=100)}
    client = connect(f"chdb://{tempfile.mkdtemp(prefix='quotes-layout-')}")
    print(f"{quotes.num_rows:,} quotes of {len(pc.unique(quotes.column('symbol')))} symbols; reads: 100 minutes of "
          f"{symbol} from {start:%Y-%m-%d %H:%M} UTC, median of {args.runs}")
    print(f"{'variant':<28}{'write quotes/s':>16}{'B/row':>8}{'frame ms':>10}{'arrays ms':>11}{'rows':>8}")
    for i, (name, (layout, codecs, other)) in enumerate(VARIANTS.items()):
        table = f"quotes_{i}"
        client.command(ddl(table, layout, codecs, other))
        started = time.perf_counter()
        insert(client, table, as_arrays(quotes) if layout == "arrays" else quotes)
        rate = quotes.num_rows / (time.perf_counter() - started)
        client.command(f"OPTIMIZE TABLE {table} FINAL")
        on_disk = client.command("SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND table = {t:String} "
                                 "AND database = currentDatabase()", parameters={"t": table})
        frame_sql = (f"SELECT * FROM {table} FINAL WHERE symbol = {{s:String}} AND ts >= {{a:DateTime64(6, 'UTC')}} "
                     "AND ts < {b:DateTime64(6, 'UTC')} ORDER BY ts, seq")
        frame_ms, rows = median_ms(client, frame_sql, params, args.runs)
        arrays_ms, _ = median_ms(client, arrays_sql(table, layout), params, args.runs)
        print(f"{name:<28}{rate:>16,.0f}{int(on_disk) / quotes.num_rows:>8.1f}{frame_ms:>10.1f}{arrays_ms:>11.1f}"
              f"{rows:>8,}", flush=True)


if __name__ == "__main__":
    main()
