"""``python -m warehouse <command>``: init, demo, load, load-quotes, load-ohlcv, load-instruments, load-news,
load-indices, status, repair, compact, rebuild-bars,
bench, produce, ingest, serve, dashboard.

Every command takes ``--dsn``, before or after its name (default ``$TICKHOUSE_DSN`` or the
embedded ``./data/warehouse``). User errors print one line ``error: ...`` and exit 2.

>>> main(["init"])  # doctest: +ELLIPSIS
schema at version ... (...)
0
>>> build_parser().parse_args(["status", "--dsn", "chdb:///wh"]).dsn
'chdb:///wh'
>>> build_parser().parse_args(["--dsn", "chdb:///wh", "ingest", "redis"]).dsn
'chdb:///wh'
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from datetime import datetime, timezone
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from warehouse.bench import cli as bench_cli
from warehouse.dashboard import cli as dashboard_cli
from warehouse.serve import cli as serve_cli
from warehouse.stream import cli as stream_cli
from warehouse.client import connect
from warehouse.demo.generate import DemoSpec, generate, parse_count
from warehouse.demo.kite import write_instruments_csv
from warehouse.demo.nse import load_nse
from warehouse.demo.quotes import demo_quotes
from warehouse.demo.span import fit_note, fitted_spec, parse_dense
from warehouse.ingest.files import DEFAULT_BATCH_ROWS, load_ticks
from warehouse.ingest.compact import compact
from warehouse.ingest.indices import load_indices
from warehouse.ingest.instruments import load_instruments
from warehouse.ingest.journal import repair
from warehouse.ingest.news import load_news
from warehouse.ingest.ohlcv import load_ohlcv
from warehouse.ingest.quote_rollup import repair_quotes
from warehouse.ingest.quotes import load_quotes
from warehouse.ingest.rollup import rebuild_range
from warehouse.ingest.session_check import SessionRule, session_rule
from warehouse.errors import WarehouseError
from warehouse.schema.migrate import migrate
from warehouse.schema.ddl import LATEST_VERSION, KafkaSource, Target, render
from warehouse.status import format_status

Command = Callable[[argparse.Namespace], int]
DSN_HELP = "chdb:///abs/path, chdb://:memory: or http(s)://user:pass@host:8123/db"
QUOTE_BATCH_TICKS = 540_000  # the demo's quotes in batches of ~500k (two halves at once, ~170 MB each)


def _target(args: argparse.Namespace) -> Target:
    kafka = KafkaSource(args.kafka_brokers, args.kafka_topic, args.kafka_group) if args.kafka_brokers else None
    return Target(cluster=args.cluster, kafka=kafka)


def cmd_init(args: argparse.Namespace) -> int:
    """Create or upgrade the schema (``--print-sql`` renders it without a warehouse)."""
    target = _target(args)
    if args.print_sql:
        print(";\n\n".join(render(target)) + ";")
        return 0
    client = connect(args.dsn)
    if target.kafka and type(client).__name__ == "ChdbClient":
        raise WarehouseError("kafka-brokers: the Kafka table engine does not run inside chDB; "
                             "use `python -m warehouse ingest kafka` or a server DSN")
    applied = migrate(client, target)
    if applied:
        print(f"schema at version {LATEST_VERSION} (applied {', '.join(map(str, applied))})")
    else:
        print(f"schema at version {LATEST_VERSION} (already up to date)")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    """Load tick files; exit 1 when a file had rows and every one was rejected."""
    client = connect(args.dsn)
    migrate(client)
    sessions = _sessions(args, client)
    return _load_each(args.paths, lambda path: load_ticks(client, path, batch_rows=args.batch_rows,
                                                          sessions=sessions), see="position, code, field, value, raw")


def cmd_load_quotes(args: argparse.Namespace) -> int:
    """Load quote files (5-level depth); exit 1 when a file had rows and every one was rejected."""
    client = connect(args.dsn)
    migrate(client)
    sessions = _sessions(args, client)
    return _load_each(args.paths, lambda path: load_quotes(client, path, batch_rows=args.batch_rows,
                                                           sessions=sessions), see="position, code, field, value, raw")


def cmd_load_ohlcv(args: argparse.Namespace) -> int:
    """Import bar files; exit 1 when a file had rows and every one was rejected."""
    client = connect(args.dsn)
    migrate(client)
    sessions = _sessions(args, client)
    return _load_each(args.paths, lambda path: load_ohlcv(client, path, symbol=args.symbol, interval=args.interval,
                                                          tz=args.tz, sessions=sessions),
                      see="position, code, field, value, raw")


def _sessions(args: argparse.Namespace, client: Any) -> SessionRule | None:
    """The session rule of ``--require-session`` / ``--exchange`` (checked before any file is read), or None."""
    if args.require_session is None and args.exchange is None:
        return None
    return session_rule(client, require=args.require_session, exchange=args.exchange)


def _session_options(command: argparse.ArgumentParser) -> None:
    """``--require-session`` and ``--exchange`` of a loader (ticks, quotes, OHLCV)."""
    command.add_argument("--require-session", metavar="regular|extended",
                         help="refuse rows outside their exchange's session (to rejects, code outside_session): "
                         "regular = open to close of a trading day; extended = any time of a trading day "
                         "(holidays and weekends refused). The exchange is --exchange, else instruments'")
    command.add_argument("--exchange", help="the exchange every symbol of the files trades on (NSE, NYSE, XLON, "
                         "...) for --require-session (default: each symbol's in instruments; a symbol with none "
                         "is an error)")


def cmd_load_instruments(args: argparse.Namespace) -> int:
    """Import Kite's instruments CSV; exit 1 when a file had rows and every one was rejected."""
    client = connect(args.dsn)
    migrate(client)
    zones = dict(_pair(item, "zone") for item in args.zone)
    paths = list(args.paths)
    if args.demo_nse:
        paths.append(str(write_instruments_csv(Path(tempfile.mkdtemp()) / "demo_nse_instruments.csv")))
    if not paths:
        raise WarehouseError("paths: give an instruments CSV (Kite's) or --demo-nse")
    return _load_each(paths, lambda path: load_instruments(client, path, zones=zones),
                      see="position, code, field, value")


def cmd_load_news(args: argparse.Namespace) -> int:
    """Import news files (JSON lines, CSV); exit 1 when a file had rows and every one was rejected."""
    client = connect(args.dsn)
    migrate(client)
    return _load_each(args.paths, lambda path: load_news(client, path, tz=args.tz), see="position, code, field, value")


def cmd_load_indices(args: argparse.Namespace) -> int:
    """Import index levels (CSV, Parquet); exit 1 when a file had rows and every one was rejected."""
    client = connect(args.dsn)
    migrate(client)
    return _load_each(args.paths, lambda path: load_indices(client, path, tz=args.tz),
                      see="position, code, field, value")


def _load_each(paths: Sequence[str], load: Callable[[str], Any], *, see: str) -> int:
    """Run ``load`` on each path and print its summary; 1 when some file had rows and every one was rejected."""
    worst = 0
    for path in paths:
        report = load(path)
        print(report.summary())
        if report.rejected and not report.loaded:
            print(f"error: every row of {path} was rejected; see: SELECT {see} FROM rejects "
                  f"WHERE source = '{path}'", file=sys.stderr)
            worst = 1
    return worst


def _pair(text: str, field: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    if not name.strip() or not value.strip():
        raise WarehouseError(f"{field}: {text!r} is not NAME=VALUE (e.g. NSE=Asia/Kolkata)")
    return name.strip(), value.strip()


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate seeded synthetic ticks (and quotes consistent with them) and load them through the normal ingest
    paths; symbols are added (and the output says so) when the sessions would otherwise run past today. An NSE
    market (:mod:`warehouse.demo.nse`) comes beside them unless ``--no-nse``."""
    asked = DemoSpec(ticks=parse_count(args.ticks), symbols=tuple(s.strip() for s in args.symbols.split(",")),
                     start=args.start, duplicate_rate=args.duplicates, correction_rate=args.corrections,
                     seed=args.seed, dense=parse_dense(args.dense))
    spec = fitted_spec(asked)
    if spec != asked:
        print(fit_note(asked, spec, args.ticks.strip()), flush=True)
    client = connect(args.dsn)
    migrate(client)
    present = client.command("SELECT count() FROM ticks WHERE symbol IN {symbols:Array(String)}",
                             parameters={"symbols": list(spec.symbols)})
    if present and not args.again:
        print(f"demo symbols already hold {present:,} ticks; nothing loaded (pass --again to add another copy)")
        return 0
    report = load_ticks(client, generate(spec), name="demo")
    print(report.summary())
    if args.quotes:  # the same stream again, for the book at each original trade (bounded memory)
        quotes = demo_quotes(dataclasses.replace(spec, batch_rows=QUOTE_BATCH_TICKS))
        print(load_quotes(client, quotes, name="demo quotes").summary())
    if args.nse:  # the NSE market beside it, on the NSE's sessions of the same days (its lines say what it wrote)
        print("\n".join(load_nse(client, spec, quotes=args.quotes, again=args.again)))
    return 0


def cmd_rebuild_bars(args: argparse.Namespace) -> int:
    """Recompute bars_1m from ticks_dedup for some symbols / a time range."""
    symbols = [s.strip() for s in args.symbols.split(",")] if args.symbols else None
    bars = rebuild_range(connect(args.dsn), symbols, _time_arg(args.start, "start"), _time_arg(args.end, "end"))
    print(f"rebuilt {bars:,} bars")
    return 0


def _time_arg(text: str | None, field: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WarehouseError(f"{field}: {text!r} is not an ISO date/time like 2024-01-02 or 2024-01-02T14:30") from None
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def cmd_status(args: argparse.Namespace) -> int:
    """Print tables, sizes, trades per symbol and the bars check; exit 1 when bars disagree with the ticks."""
    exact, report = format_status(connect(args.dsn))
    print(report)
    return 0 if exact else 1


def cmd_compact(args: argparse.Namespace) -> int:
    """Merge each month of ticks_dedup and bars_1m into one part (cheap FINAL reads)."""
    client = connect(args.dsn)
    migrate(client)
    done = compact(client)
    for merged in done:
        print(f"{merged.table} {merged.partition}: {merged.parts_before} parts -> 1")
    print(f"compacted {len(done)} table months" if done else "nothing to compact: every month is one part")
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    """Rebuild the bars of the tick batches, and the quote minutes of the quote batches, a killed writer left open
    (every writer does it when it starts)."""
    client = connect(args.dsn)
    migrate(client)
    repaired = repair(client)
    print(f"repaired {len(repaired):,} open tick batches" if repaired else "nothing to repair: no open tick batches")
    quotes = repair_quotes(client)
    print(f"repaired {len(quotes):,} open quote batches" if quotes else "nothing to repair: no open quote batches")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m warehouse``."""
    parser = argparse.ArgumentParser(prog="python -m warehouse", description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", help=DSN_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    init = commands.add_parser("init", help="create or upgrade the schema (idempotent)")
    init.add_argument("--print-sql", action="store_true", help="print the DDL instead of running it")
    init.add_argument("--cluster", help="server only: ON CLUSTER name (Replicated*/Distributed tables)")
    init.add_argument("--kafka-brokers", help="server only: host:port list for the Kafka-engine table")
    init.add_argument("--kafka-topic", default="ticks")
    init.add_argument("--kafka-group", default="tickhouse")
    init.set_defaults(run=cmd_init)

    load = commands.add_parser("load", help="load tick files (.parquet, .csv, .csv.gz) into ticks")
    load.add_argument("paths", nargs="+", metavar="PATH")
    load.add_argument("--batch-rows", type=int, default=DEFAULT_BATCH_ROWS, help="rows per insert batch")
    _session_options(load)
    load.set_defaults(run=cmd_load)

    quotes = commands.add_parser("load-quotes", help="load quote files (.parquet, .csv, .csv.gz; symbol, ts, "
                                 "bid/ask px, qty, orders for levels 1-5, totals, last trade, OI) into quotes")
    quotes.add_argument("paths", nargs="+", metavar="PATH")
    quotes.add_argument("--batch-rows", type=int, default=DEFAULT_BATCH_ROWS, help="rows per insert batch")
    _session_options(quotes)
    quotes.set_defaults(run=cmd_load_quotes)

    bars = commands.add_parser("load-ohlcv", help="import bar files (CSV/TSV, MetaTrader, yfinance, Kite JSON, "
                               "Parquet) of any interval into ohlcv")
    bars.add_argument("paths", nargs="+", metavar="PATH")
    bars.add_argument("--symbol", help="symbol of a one-symbol file (default: the file name's stem, upper-cased); "
                      "a file with a symbol/ticker column keeps its symbols")
    bars.add_argument("--interval", help="e.g. 1d, 1h, 5m (default: inferred per symbol from the timestamps)")
    bars.add_argument("--tz", help="zone of naive timestamps, e.g. Asia/Kolkata (default: UTC; "
                      "times with an offset and epoch times are exact)")
    _session_options(bars)
    bars.set_defaults(run=cmd_load_ohlcv)

    instruments = commands.add_parser("load-instruments", help="import Kite's instruments CSV (tokens, symbols, "
                                      "exchanges, lot and tick sizes, expiries) into instruments")
    instruments.add_argument("paths", nargs="*", metavar="PATH")
    instruments.add_argument("--demo-nse", action="store_true", help="also the demo NSE instruments that "
                             "produce redis --kite publishes (RELIANCE, INFY, RELIANCE24JANFUT)")
    instruments.add_argument("--zone", action="append", default=[], metavar="EXCHANGE=ZONE",
                             help="time zone of an exchange the loader does not know, e.g. SGX=Asia/Singapore")
    instruments.set_defaults(run=cmd_load_instruments)

    news = commands.add_parser("load-news", help="import news (JSON lines or CSV: id, published_at, symbols, "
                               "sentiment, ...) into news")
    news.add_argument("paths", nargs="+", metavar="PATH")
    news.add_argument("--tz", help="zone of naive times, e.g. Asia/Kolkata (default UTC)")
    news.set_defaults(run=cmd_load_news)

    levels = commands.add_parser("load-indices", help="import index levels (CSV or Parquet: index, ts, value, "
                                 "open/high/low/close) into indices")
    levels.add_argument("paths", nargs="+", metavar="PATH")
    levels.add_argument("--tz", help="zone of naive times of indices instruments does not place (default UTC)")
    levels.set_defaults(run=cmd_load_indices)

    demo = commands.add_parser("demo", help="generate and load seeded synthetic ticks")
    demo.add_argument("--ticks", default="2M", help="rows to generate, e.g. 500k, 2M, 100M (default 2M)")
    demo.add_argument("--symbols", default=",".join(DemoSpec.symbols), help="comma-separated symbols")
    demo.add_argument("--start", default=DemoSpec.start, help="first trading day (default %(default)s)")
    demo.add_argument("--duplicates", type=float, default=DemoSpec.duplicate_rate, help="redelivery rate")
    demo.add_argument("--corrections", type=float, default=DemoSpec.correction_rate, help="correction rate")
    demo.add_argument("--seed", type=int, default=DemoSpec.seed)
    demo.add_argument("--dense", metavar="SYMBOL=k[,...]",
                      help="symbols that trade k times as often as they otherwise would, e.g. SPY=10")
    demo.add_argument("--again", action="store_true", help="load even if the symbols already have ticks")
    demo.add_argument("--no-quotes", dest="quotes", action="store_false",
                      help="ticks only (by default the demo also writes a 5-level book with each trade at its bid or ask)")
    demo.add_argument("--no-nse", dest="nse", action="store_false",
                      help="the US symbols only (by default the demo also loads an NSE-like market beside them: "
                      "RELIANCE, INFY and a RELIANCE future with OI on the NSE's sessions of the same days, in IST)")
    demo.set_defaults(run=cmd_demo)

    rebuild = commands.add_parser("rebuild-bars", help="recompute bars_1m exactly from ticks_dedup")
    rebuild.add_argument("--symbols", help="comma-separated symbols (default: all)")
    rebuild.add_argument("--start", help="UTC start, ISO format (default: beginning)")
    rebuild.add_argument("--end", help="UTC end, exclusive (default: end)")
    rebuild.set_defaults(run=cmd_rebuild_bars)

    status = commands.add_parser("status", help="tables, rows, bytes, parts, trades per symbol, bars check "
                                 "(exit 1 when bars disagree with the ticks)")
    status.set_defaults(run=cmd_status)

    fix = commands.add_parser("repair", help="rebuild the bars / quote minutes of batches a killed writer left open")
    fix.set_defaults(run=cmd_repair)

    merge = commands.add_parser("compact", help="merge each month of ticks_dedup and bars_1m into one part "
                                "(FINAL reads get cheap; run after large loads)")
    merge.set_defaults(run=cmd_compact)
    for module in (bench_cli, stream_cli, serve_cli, dashboard_cli):
        module.add_commands(commands)
    _dsn_after(commands)
    return parser


def _dsn_after(commands: argparse._SubParsersAction) -> None:
    """Let every command (and sub-command) take ``--dsn`` after its name too; given there, it wins over one
    given before (argparse.SUPPRESS: not given, the value from before the command stays)."""
    for command in commands.choices.values():
        if "--dsn" not in command._option_string_actions:
            command.add_argument("--dsn", default=argparse.SUPPRESS, help=DSN_HELP)
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _dsn_after(action)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one CLI command; return its exit code (2 for user errors)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
