"""``python -m warehouse produce|ingest``: a simulated feed into Kafka / Redis Streams, and the consumers.

``produce kafka|redis`` publishes the demo model's ticks as JSON (with redeliveries,
corrections and malformed messages); ``ingest kafka|redis`` writes a stream into the
warehouse with at-least-once delivery and exactly-once results. SIGTERM / Ctrl-C
write and acknowledge the current batch and exit 0 (1 when the warehouse refused it:
it stays unacknowledged and is delivered again).
"""

from __future__ import annotations

import argparse
import gc
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from warehouse.client import connect
from warehouse.demo.generate import DemoSpec, parse_count
from warehouse.demo.span import fit_note, fitted_spec
from warehouse.errors import WarehouseError
from warehouse.schema.migrate import migrate
from warehouse.stream.broker_defaults import (DEFAULT_BROKERS, DEFAULT_GROUP, DEFAULT_REDIS_URL, DEFAULT_STREAM,
                                              DEFAULT_TOPIC)
from warehouse.stream.consumers import check_format, open_source, stream_sink
from warehouse.stream.decode import warm_up
from warehouse.stream.extras import require
from warehouse.stream.produce import check_rate, feed, kafka_sender, publish, redis_sender
from warehouse.stream.runner import run
from warehouse.stream.sink import RunOptions, log_line


def cmd_produce(args: argparse.Namespace) -> int:
    """Publish the simulated feed to Kafka or Redis."""
    require(args.broker, f"produce {args.broker}")
    check_rate(args.rate)
    if getattr(args, "kite", False):
        return _produce_kite(args)
    asked = DemoSpec(ticks=parse_count(args.ticks), symbols=tuple(s.strip() for s in args.symbols.split(",")),
                     start=args.start, duplicate_rate=args.duplicates, correction_rate=args.corrections,
                     seed=args.seed, batch_rows=min(100_000, parse_count(args.ticks)))
    spec = fitted_spec(asked)  # symbols are added rather than sessions past today
    if spec != asked:
        print(fit_note(asked, spec, args.ticks.strip()), flush=True)
    if args.broker == "kafka":
        if args.partitions < 1:
            raise WarehouseError(f"partitions: {args.partitions!r} is not an integer >= 1")
        send, flush = kafka_sender(args.brokers, args.topic, args.partitions)
        target = f"kafka {args.brokers} topic {args.topic}"
    else:
        send, flush = redis_sender(args.url, args.stream), (lambda: None)
        target = f"redis {args.url} stream {args.stream}"
    report = publish(feed(spec, args.bad), send, args.rate, flush)
    print(report.summary(target))
    return 0


def _produce_kite(args: argparse.Namespace) -> int:
    """Publish the demo NSE market as KiteTicker full-mode ticks (what ``KiteRedisPublisher`` sends live)."""
    from warehouse.demo.kite import INSTRUMENTS, kite_ticks
    from warehouse.stream.kite import KiteRedisPublisher

    seconds = max(1, parse_count(args.ticks) // len(INSTRUMENTS))
    publisher = KiteRedisPublisher(args.url, args.stream, maxlen=None)
    started = time.perf_counter()
    for second, ticks in enumerate(kite_ticks(seconds=seconds, start=args.start, seed=args.seed)):
        publisher.on_ticks(None, ticks)
        if args.rate:
            ahead = publisher.published / args.rate - (time.perf_counter() - started)
            if ahead > 0:
                time.sleep(ahead)
    took = time.perf_counter() - started
    print(f"redis {args.url} stream {args.stream}: published {publisher.published:,} Kite ticks "
          f"({len(INSTRUMENTS)} instruments, {seconds:,} seconds of session) in {took:.1f} s "
          f"({publisher.published / max(took, 1e-9):,.0f}/s); the consumer needs their instruments: "
          f"python -m warehouse load-instruments --demo-nse")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Consume a Kafka topic or a Redis stream into the warehouse."""
    require(args.broker, f"ingest {args.broker}")
    check_format(args)
    options = RunOptions(batch=args.batch, linger=args.linger, until_idle=args.until_idle,
                         status_every=args.status_every)
    log = log_line
    # The warehouse first: one that cannot be opened (locked, a file, read-only) fails before a message is read
    # and left pending; then Redis sends its first read (Kafka has joined the group already) while we migrate.
    client = connect(args.dsn)
    source = open_source(args, options, log)
    try:
        threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
        migrate(client)
        sink = stream_sink(args, client, source.name)
        gc.freeze()  # the many objects of the imports are never garbage: collections skip them
        started = time.perf_counter()
        with _stop_on_signals() as stop:
            stats = run(source, sink, options, stop, log)
    finally:
        source.close()
    print(stats.summary(source.name, time.perf_counter() - started), flush=True)
    return 1 if stats.unacknowledged else 0


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT while inside the block (previous handlers restored after)."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        log_line(f"{signal.Signals(signum).name}: writing and acknowledging the current batch, then stopping")
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _broker_args(parser: argparse.ArgumentParser, broker: str) -> None:
    if broker == "kafka":
        parser.add_argument("--brokers", default=DEFAULT_BROKERS, help="host:port[,host:port] (default %(default)s)")
        parser.add_argument("--topic", default=DEFAULT_TOPIC, help="topic (default %(default)s)")
    else:
        parser.add_argument("--url", default=DEFAULT_REDIS_URL, help="Redis URL (default %(default)s)")
        parser.add_argument("--stream", default=DEFAULT_STREAM, help="stream key (default %(default)s)")


def add_consumer_options(parser: argparse.ArgumentParser, *, brokers: tuple[str, ...] = ("kafka", "redis")) -> None:
    """The options of a consumer of ``brokers`` (``ingest redis``, ``serve --ingest redis``)."""
    for broker in brokers:
        _broker_args(parser, broker)
    parser.add_argument("--group", default=DEFAULT_GROUP, help="consumer group (default %(default)s)")
    if "redis" in brokers:
        parser.add_argument("--consumer", default="ingest-1", help="redis: consumer name in the group "
                            "(default %(default)s)")
        parser.add_argument("--claim-idle", type=int, default=60_000, metavar="MS",
                            help="redis: take over other consumers' entries pending this long (default %(default)s ms)")
        parser.add_argument("--trim", action="store_true", help="redis: delete entries every group has acknowledged")
    parser.add_argument("--format", choices=("ticks", "kite"), default="ticks",
                        help="messages: JSON trades (default) or KiteTicker full-mode ticks from KiteRedisPublisher "
                        "(-> ticks, quotes with depth and OI; tokens enriched from instruments)")
    parser.add_argument("--batch", type=int, default=RunOptions.batch,
                        help="messages per insert; bounds memory (default %(default)s)")
    parser.add_argument("--linger", type=float, default=RunOptions.linger,
                        help="seconds a message may wait for its batch to fill (default %(default)s)")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``produce`` and ``ingest`` on ``python -m warehouse``."""
    produce = commands.add_parser("produce", help="publish simulated ticks (JSON) to Kafka or Redis Streams")
    brokers = produce.add_subparsers(dest="broker", required=True, metavar="kafka|redis")
    for broker in ("kafka", "redis"):
        sub = brokers.add_parser(broker, help=f"publish to {'a Kafka topic' if broker == 'kafka' else 'a Redis stream'}")
        _broker_args(sub, broker)
        sub.add_argument("--ticks", default="1M", help="ticks to publish, e.g. 200k, 2M (default %(default)s)")
        sub.add_argument("--rate", type=float, default=0.0, help="messages per second; 0 = as fast as possible")
        sub.add_argument("--symbols", default=",".join(DemoSpec.symbols), help="comma-separated symbols")
        sub.add_argument("--start", default=DemoSpec.start, help="first trading day (default %(default)s)")
        sub.add_argument("--duplicates", type=float, default=DemoSpec.duplicate_rate, help="redelivery rate")
        sub.add_argument("--corrections", type=float, default=DemoSpec.correction_rate, help="correction rate")
        sub.add_argument("--bad", type=float, default=0.001, help="malformed messages per tick (default %(default)s)")
        sub.add_argument("--seed", type=int, default=DemoSpec.seed)
        if broker == "kafka":
            sub.add_argument("--partitions", type=int, default=3, help="partitions if the topic is created")
        else:
            sub.add_argument("--kite", action="store_true", help="publish the demo NSE market as Kite full-mode "
                             "ticks (depth, OI) instead of trades; --ticks counts ticks")
        sub.set_defaults(run=cmd_produce)

    ingest = commands.add_parser("ingest", help="consume a Kafka topic or Redis stream into the warehouse")
    sources = ingest.add_subparsers(dest="broker", required=True, metavar="kafka|redis")
    for broker in ("kafka", "redis"):
        sub = sources.add_parser(broker, help=f"consume {'a Kafka topic' if broker == 'kafka' else 'a Redis stream'}")
        add_consumer_options(sub, brokers=(broker,))
        sub.add_argument("--until-idle", action="store_true", help="exit once everything available is written")
        sub.add_argument("--status-every", type=float, default=RunOptions.status_every,
                         help="seconds between status lines on stderr; 0 = none (default %(default)s)")
        sub.set_defaults(run=cmd_ingest)
