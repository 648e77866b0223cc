"""``python -m warehouse bench``: the seed benchmark of the feed's queries (:mod:`warehouse.bench.scan_vs_rollup`).

``--dsn`` (before or after ``bench``) picks the warehouse; without it each tick
count gets its own embedded directory ``./data/bench/<N>`` (``$TICKHOUSE_DSN``
is ignored, so a benchmark never writes into your warehouse by accident). The
demo ticks are loaded once and reused by later runs with the same ``--ticks``.
Results go to ``--out`` (default ``outputs/bench/benchmark.csv``) and stdout.

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_commands(parser.add_subparsers())
>>> args = parser.parse_args(["bench", "--ticks", "200k", "--out", "/tmp/b.csv"])
>>> args.ticks, args.runs, args.out
('200k', 5, '/tmp/b.csv')
"""

from __future__ import annotations

import argparse
import resource

from warehouse.bench.scan_vs_rollup import DEFAULT_OUT, BenchRow, bench_spec, check_runs, default_dsn, format_table, \
    pick_windows, prepare, run_queries, storage_line, window_symbols, window_table, write_csv
from warehouse.client import connect, resolve_dsn
from warehouse.demo.generate import parse_count


def cmd_bench(args: argparse.Namespace) -> int:
    """Load (or reuse) the bench ticks, time the queries, write the CSV and print the tables."""
    spec, runs = bench_spec(parse_count(args.ticks)), check_runs(args.runs)
    dsn = resolve_dsn(args.dsn) if args.dsn else default_dsn(spec.ticks)
    where = dsn.removeprefix("chdb://") if dsn.startswith("chdb://") else "the server"
    client = connect(dsn)
    print(prepare(client, spec, where))
    print(storage_line(client))
    rows: list[BenchRow] = []
    for symbol in window_symbols(spec):
        windows = pick_windows(client, symbol)
        timed = run_queries(client, windows, runs, counts=not rows)
        rows += timed
        year_start, year_end = windows.spans["year"]
        short = "" if year_end >= year_start.replace(year=year_start.year + 1) \
            else " (all the data: it spans less than a year)"
        print(f"\n{symbol}, 100 minutes: {windows.minutes_start:%Y-%m-%d %H:%M} to {windows.minutes_end:%H:%M} UTC; "
              f"year: {year_start:%Y-%m-%d} to {year_end:%Y-%m-%d}{short}, {windows.bars['year']:,} 1m bars of "
              f"{windows.trades['year']:,} trades")
        print(format_table(timed))
        print()
        print(window_table(timed, windows))
    path = write_csv(rows, args.out)
    by_name = {row.query: row for row in rows}
    count_final, count = by_name["count_final"], by_name["count"]
    print(f"\ncount_final / count: {count_final.median_ms / count.median_ms:.1f}x the time, "
          f"{count_final.rows_to_read:,} rows to read vs {count.rows_to_read:,}")
    print(f"peak RSS of this process (load included): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    print(f"{rows[0].ticks_in_table:,} ticks in the table, median of {runs} runs; wrote {path}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register this module's subcommands on ``python -m warehouse``."""
    bench = commands.add_parser("bench", help="time the feed's queries on N demo ticks; write benchmark.csv")
    bench.add_argument("--dsn", default=argparse.SUPPRESS,
                       help="warehouse to load/reuse (default: ./data/bench/<N>, never $TICKHOUSE_DSN)")
    bench.add_argument("--ticks", default="10M", help="demo ticks to load, e.g. 200k, 10M, 100M (default 10M)")
    bench.add_argument("--runs", type=int, default=5, help="runs per query; the median is reported (default 5)")
    bench.add_argument("--out", default=str(DEFAULT_OUT), help="CSV path or directory (default %(default)s)")
    bench.set_defaults(run=cmd_bench)
