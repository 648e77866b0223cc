"""A portfolio's year of 1m bars pulled into engine arrays, against the same bars read from Parquet.

Usage: python benchmarks/portfolio_pull.py [--symbols 100] [--sessions 252] [--runs 3] [--dsn chdb:///abs/path]

Builds (once; later runs reuse it) an embedded warehouse of ``--symbols`` symbols with one trade
in every minute of ``--sessions`` regular sessions (390 minutes each, a random walk; loaded
through the normal ingest path, so ``bars_1m`` holds one bar per symbol and minute), and writes
the same bars as one long Parquet file (ts, symbol, OHLCV) -- what a vectorbt user keeps. Then
times, median of ``--runs``, in the same run:

* ours - ``Feed.arrays``: every symbol over the year as numbers from ``bars_1m`` (no symbol
  strings, no sort) put in place with the missing-bar rule, as a backtest reads them; the
  query alone is shown too (``Feed.stats``);
* ours, frame path - ``Feed.bars`` (the aligned long frame) then ``bar_arrays``;
* peer - ``polars.read_parquet`` of the file and the same pivot (``bar_arrays``), no warehouse.
All three give the same arrays (checked).

The goal (issue P): a 100-symbol year of 1m bars in engine arrays in under 3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from backtest.feed import Feed, bar_arrays
from warehouse.client import connect, resolve_dsn
from warehouse.ingest.files import load_ticks
from warehouse.ingest.validate import TICKS_SCHEMA
from warehouse.schema.migrate import migrate

OPEN_MINUTE = 14 * 60 + 30
SESSION_MINUTES = 390


def _sessions(count: int) -> np.ndarray:
    first = np.busday_offset(np.datetime64("2024-01-02"), 0, roll="forward")
    return np.busday_offset(first, np.arange(count))


def _minutes(sessions: int) -> np.ndarray:
    """Every trading minute (µs since the epoch) of ``sessions`` sessions."""
    opens = _sessions(sessions).astype("datetime64[us]").astype(np.int64) + OPEN_MINUTE * 60_000_000
    return (opens[:, None] + np.arange(SESSION_MINUTES)[None, :] * 60_000_000).ravel()


def _ticks(symbols: list[str], sessions: int, seed: int = 7) -> pa.Table:
    """One trade 17 seconds into every minute of every symbol, prices a random walk per symbol."""
    minutes = _minutes(sessions)
    rng = np.random.default_rng(seed)
    walk = 100 * np.exp(np.cumsum(rng.normal(0, 5e-4, (len(symbols), minutes.size)), axis=1))
    n = walk.size
    return pa.table({
        "symbol": pa.array(np.repeat(np.array(symbols), minutes.size)),
        "ts": pa.array(np.tile(minutes + 17_000_000, len(symbols)), pa.timestamp("us", "UTC")),
        "price": pa.array(np.round(walk.ravel(), 2)), "size": pa.array(rng.integers(1, 500, n).astype(np.float64)),
        "side": pa.array(np.ones(n, np.int8)), "trade_id": pa.array(np.arange(1, n + 1, dtype=np.uint64)),
        "version": pa.array(np.zeros(n, np.uint32)),
    }, schema=TICKS_SCHEMA)


def _median_ms(call, runs: int, loads: list[float]) -> tuple[float, object]:
    """The median ms of ``runs`` calls and the last result; the 1-minute load average before each call goes to
    ``loads`` (the machine is shared: a figure means little without it)."""
    times, result = [], None
    for _ in range(runs):
        loads.append(os.getloadavg()[0])
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=252)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dsn", help="default: ./data/bench/portfolio-<symbols>x<sessions>")
    args = parser.parse_args()
    label = f"portfolio-{args.symbols}x{args.sessions}"
    dsn = resolve_dsn(args.dsn or f"chdb://data/bench/{label}")
    parquet = Path(dsn.removeprefix("chdb://") + ".parquet") if dsn.startswith("chdb://") else Path(f"{label}.parquet")
    symbols = [f"S{i:03d}" for i in range(args.symbols)]
    client = connect(dsn)
    migrate(client)
    if client.command("SELECT count() FROM ticks") == 0:
        started = time.perf_counter()
        report = load_ticks(client, _ticks(symbols, args.sessions), name=label, progress=False)
        print(f"{report.summary()} (build: {time.perf_counter() - started:.1f} s)")
    sessions = _sessions(args.sessions)
    start = datetime.combine(date.fromisoformat(str(sessions[0])), datetime.min.time(), timezone.utc)
    end = datetime.combine(date.fromisoformat(str(sessions[-1])), datetime.min.time(), timezone.utc) + timedelta(1)
    feed = Feed(client)
    if not parquet.exists():
        feed.bars(symbols, start, end).select("ts", "symbol", "open", "high", "low", "close", "volume") \
            .write_parquet(parquet)
    loads: list[float] = []
    ours_ms, ours = _median_ms(lambda: feed.arrays(symbols, start, end), args.runs, loads)
    query_ms = statistics.median(cost.wall_ms for cost in feed.stats[-args.runs:])
    frame_ms, framed = _median_ms(lambda: bar_arrays(feed.bars(symbols, start, end)), args.runs, loads)
    peer_ms, peer = _median_ms(lambda: bar_arrays(pl.read_parquet(parquet)), args.runs, loads)
    for other in (framed, peer):
        assert all(np.array_equal(getattr(ours, name), getattr(other, name), equal_nan=True)
                   for name in ("open", "high", "low", "close", "volume"))
    rows = ours.close.size
    print(f"{args.symbols} symbols x {ours.close.shape[0]:,} minutes = {rows:,} bars; {start:%Y-%m-%d} to {end:%Y-%m-%d}")
    print("| pull into engine arrays | median ms | bars/s |")
    print("| --- | ---: | ---: |")
    print(f"| ours: Feed.arrays (bars_1m) | {ours_ms:,.0f} | {rows / ours_ms * 1000:,.0f} |")
    print(f"| ours, the query alone | {query_ms:,.0f} | {rows / query_ms * 1000:,.0f} |")
    print(f"| ours, frame path: Feed.bars + bar_arrays | {frame_ms:,.0f} | {rows / frame_ms * 1000:,.0f} |")
    print(f"| peer: polars.read_parquet + bar_arrays | {peer_ms:,.0f} | {rows / peer_ms * 1000:,.0f} |")
    print(f"ours / peer time: {ours_ms / peer_ms:.2f}x (median of {args.runs} runs); "
          f"load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
