"""Whole ``Feed`` calls next to the query time their cost record shows (the peer).

Usage: python benchmarks/feed.py [--ticks 10M] [--runs 5] [--dsn chdb:///abs/path]

Uses the warehouse of ``python -m warehouse bench`` (loads it when empty) and the
same windows: 100 minutes of one symbol as ticks, as 1m bars from ticks and from
``bars_1m``, and a year of 1m bars from ``bars_1m``. For each, the median over
``--runs`` of the whole call (query, ``EXPLAIN ESTIMATE`` for the cost record,
Arrow -> polars, alignment) and of the query alone (``Feed.stats`` ``wall_ms``).
"""

from __future__ import annotations

import argparse
import statistics
import time

from backtest.feed import Feed
from warehouse.bench.scan_vs_rollup import bench_spec, default_dsn, pick_windows, prepare
from warehouse.client import connect, resolve_dsn
from warehouse.demo.generate import parse_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", default="10M")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dsn", help="default: the bench's ./data/bench/<N>")
    args = parser.parse_args()
    spec = bench_spec(parse_count(args.ticks))
    dsn = resolve_dsn(args.dsn) if args.dsn else default_dsn(spec.ticks)
    client = connect(dsn)
    print(prepare(client, spec, dsn))
    w = pick_windows(client, spec.symbols[0])
    feed = Feed(client)
    calls = {
        "Feed.ticks, 100 min": lambda: feed.ticks(w.symbol, w.minutes_start, w.minutes_end),
        "Feed.bars 1m raw, 100 min": lambda: feed.bars(w.symbol, w.minutes_start, w.minutes_end, source="raw"),
        "Feed.bars 1m rollup, 100 min": lambda: feed.bars(w.symbol, w.minutes_start, w.minutes_end),
        "Feed.bars 1m rollup, year": lambda: feed.bars(w.symbol, *w.spans["year"]),
    }
    print("| call | rows | whole call median ms | query median ms (peer) | x peer |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, call in calls.items():
        whole = []
        for _ in range(args.runs):
            started = time.perf_counter()
            frame = call()
            whole.append((time.perf_counter() - started) * 1000)
        query = statistics.median(cost.wall_ms for cost in feed.stats[-args.runs:])
        median = statistics.median(whole)
        print(f"| {name} | {frame.height:,} | {median:.2f} | {query:.2f} | {median / query:.2f} |")


if __name__ == "__main__":
    main()
