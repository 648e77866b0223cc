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

from warehouse.bench.scan_vs_rollup import DEFAULT_OUT, bench_spec, check_runs, default_dsn, format_table, pick_windows, prepare, \
    run_queries, write_csv
from warehouse.client import connect, resolve_dsn
from warehouse.demo.generate import parse_count


def cmd_bench(args: argparse.Namespace) -> int:
    """Load (or reuse) the bench ticks, time the six queries, write the CSV and print the table."""
    spec, runs = bench_spec(parse_count(args.ticks)), check_runs(args.runs)
    dsn = resolve_dsn(args.dsn) if args.dsn else default_dsn(spec.ticks)
    where = dsn.removeprefix("chdb://") if dsn.startswith("chdb://") else "the server"
    client = connect(dsn)
    print(prepare(client, spec, where))
    windows = pick_windows(client, spec.symbols[0])
    rows = run_queries(client, windows, runs)
    path = write_csv(rows, args.out)
    minutes, year = rows[0], rows[-1]
    short = "" if windows.year_end >= windows.year_start.replace(year=windows.year_start.year + 1) \
        else " (all the data: it spans less than a year)"
    print(f"{windows.symbol}, 100 minutes: {minutes.start} to {minutes.end}; year: {year.start} to {year.end}"
          f"{short}, {year.rows_returned:,} 1m bars of {windows.year_trades:,} trades")
    print(format_table(rows))
    by_name = {row.query: row for row in rows}
    for slow, fast in (("bars_100min_raw", "bars_100min_rollup"), ("count_final", "count")):
        a, b = by_name[slow], by_name[fast]
        reads = f"{a.rows_to_read / b.rows_to_read:.1f}x the rows to read" if b.rows_to_read else \
            f"{a.rows_to_read:,} rows to read vs none (part metadata)"
        print(f"{slow} / {fast}: {a.median_ms / b.median_ms:.1f}x the time, {reads}")
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
