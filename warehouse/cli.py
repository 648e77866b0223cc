"""``python -m warehouse <command>``: init, demo, load, load-ohlcv, status, rebuild-bars.

Every command takes ``--dsn`` (default ``$TICKHOUSE_DSN`` or the embedded
``./data/warehouse``). User errors print one line ``error: ...`` and exit 2.

>>> main(["init"])  # doctest: +ELLIPSIS
schema at version 2 (...)
0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from warehouse.client import connect
from warehouse.errors import WarehouseError
from warehouse.migrate import migrate
from warehouse.schema import LATEST_VERSION, KafkaSource, Target, render
from warehouse.status import format_status

Command = Callable[[argparse.Namespace], int]


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


def cmd_status(args: argparse.Namespace) -> int:
    """Print tables, sizes and per-symbol time spans."""
    print(format_status(connect(args.dsn)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m warehouse``."""
    parser = argparse.ArgumentParser(prog="python -m warehouse", description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", help="chdb:///abs/path or http(s)://user:pass@host:8123/db")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    init = commands.add_parser("init", help="create or upgrade the schema (idempotent)")
    init.add_argument("--print-sql", action="store_true", help="print the DDL instead of running it")
    init.add_argument("--cluster", help="server only: ON CLUSTER name (Replicated*/Distributed tables)")
    init.add_argument("--kafka-brokers", help="server only: host:port list for the Kafka-engine table")
    init.add_argument("--kafka-topic", default="ticks")
    init.add_argument("--kafka-group", default="tickhouse")
    init.set_defaults(run=cmd_init)

    status = commands.add_parser("status", help="tables, rows, bytes, parts, time span per symbol")
    status.set_defaults(run=cmd_status)
    return parser


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
