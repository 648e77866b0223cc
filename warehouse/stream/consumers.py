"""A stream consumer from its options: the source (Kafka or Redis) and the sink of its message format.

``python -m warehouse ingest`` and ``serve --ingest`` build their consumers here, from the
options ``warehouse.stream.cli.add_consumer_options`` declares.

>>> import argparse
>>> check_format(argparse.Namespace(format="kite", broker="kafka"))
Traceback (most recent call last):
warehouse.errors.WarehouseError: format: 'kite' messages come through Redis (KiteRedisPublisher); use ingest redis
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pyarrow as pa
from clickhouse_connect.driver.client import Client

from warehouse.errors import WarehouseError
from warehouse.stream import kafka_prejoin
from warehouse.stream.batch import Source
from warehouse.stream.sink import RunOptions, StreamSink


def check_format(args: argparse.Namespace) -> None:
    """Refuse a message format the broker cannot carry (before anything is opened)."""
    if args.format == "kite" and args.broker != "redis":
        raise WarehouseError("format: 'kite' messages come through Redis (KiteRedisPublisher); use ingest redis")


def stream_sink(args: argparse.Namespace, client: Client, source: str, *,
                on_ticks: Callable[[pa.Table], None] | None = None,
                on_quotes: Callable[[pa.Table], None] | None = None) -> StreamSink:
    """The sink of ``args.format``: JSON trades (``ticks``) or KiteTicker full-mode ticks (``kite``)."""
    if args.format == "kite":
        from warehouse.stream.kite_sink import KiteSink

        return KiteSink(client, source, on_ticks=on_ticks, on_quotes=on_quotes)
    return StreamSink(client, source, on_ticks=on_ticks)


def open_source(args: argparse.Namespace, options: RunOptions, log: Callable[[str], None]) -> Source:
    """The consumer ``args`` describe (``broker`` kafka or redis, and that broker's options)."""
    if args.broker == "kafka":
        unacknowledged_max = options.batch * (options.rebuild_batches + 1)
        early = kafka_prejoin.adopt(args.brokers, args.topic, args.group, unacknowledged_max, log)
        if early is not None:
            return early
        from warehouse.stream.kafka_consumer import KafkaSource

        return KafkaSource(args.brokers, args.topic, args.group, unacknowledged_max, log)
    from warehouse.stream.redis_consumer import RedisSource
    if args.claim_idle < 0:
        raise WarehouseError(f"claim-idle: {args.claim_idle!r} is not a number of milliseconds >= 0")
    return RedisSource(args.url, args.stream, args.group, args.consumer, count=options.batch,
                       claim_idle_ms=args.claim_idle, trim=args.trim, log=log)
