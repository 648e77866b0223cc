"""Start ``ingest kafka``'s consumer-group join before the rest of the CLI is imported.

A group join takes seconds (tansu delays it by half the session timeout, Kafka by
``group.initial.rebalance.delay.ms``), and so do importing polars, numba and the
warehouse modules, opening chDB and loading the cached kernels. ``python -m warehouse
ingest kafka ...`` therefore creates and subscribes its
:class:`~warehouse.stream.kafka_consumer.KafkaSource` first (:func:`start`, called by
``warehouse/__main__.py`` before it imports :mod:`warehouse.cli`), and the command takes
it over (:func:`adopt`) when its parsed arguments name the same brokers, topic and group.
Nothing is delivered or committed before the command runs: librdkafka joins the group on
its own threads, while assignments and messages arrive only inside ``consume``. Anything
unusual (help, no ``ingest kafka``) starts nothing here; an unreachable broker, a
missing topic or a missing kafka extra is kept and raised by :func:`adopt`, so the
command reports it without waiting for the broker a second time. Nothing here imports
confluent-kafka unless the command is ``ingest kafka``.

>>> start(["status"]) is None, adopt("127.0.0.1:9092", "ticks", "tickhouse", 10, print)
(True, None)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from warehouse.errors import WarehouseError
from warehouse.stream.broker_defaults import DEFAULT_BROKERS, DEFAULT_GROUP, DEFAULT_TOPIC
from warehouse.stream.extras import require

if TYPE_CHECKING:  # confluent-kafka is the kafka extra: imported only for `ingest kafka`
    from warehouse.stream.kafka_consumer import KafkaSource

# the early consumer, or why it could not start (the command reports that instead of trying again)
_early: tuple[tuple[str, str, str], "KafkaSource | WarehouseError"] | None = None


def start(argv: Sequence[str]) -> None:
    """Subscribe the consumer ``argv`` (``python -m warehouse``'s arguments) asks for, if it is ``ingest kafka``."""
    global _early
    args = list(argv)
    if "-h" in args or "--help" in args:
        return
    for i in range(len(args) - 1):
        if args[i:i + 2] == ["ingest", "kafka"]:
            break
    else:
        return
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--brokers", default=DEFAULT_BROKERS)
    parser.add_argument("--topic", default=DEFAULT_TOPIC)
    parser.add_argument("--group", default=DEFAULT_GROUP)
    parser.add_argument("--format", default="ticks")
    known, _ = parser.parse_known_args(args[i + 2:])
    if known.format != "ticks":  # kite comes through Redis only: the command refuses it at once
        return
    key = (known.brokers, known.topic, known.group)
    try:  # the real bound and log are set by adopt(), before the first consume
        require("kafka", "ingest kafka")  # without the extra: the command reports the hint
        from warehouse.stream.kafka_consumer import KafkaSource

        _early = key, KafkaSource(known.brokers, known.topic, known.group, 0, lambda line: None)
    except WarehouseError as error:
        _early = key, error


def adopt(brokers: str, topic: str, group: str, unacknowledged_max: int,
          log: Callable[[str], None]) -> KafkaSource | None:
    """The consumer :func:`start` subscribed for these brokers, topic and group (closed if it is another one).

    Raises the :class:`~warehouse.errors.WarehouseError` that stopped :func:`start` for the same ones.
    """
    global _early
    if _early is None:
        return None
    (key, source), _early = _early, None
    if key != (brokers, topic, group):
        if not isinstance(source, WarehouseError):
            source.close()
        return None
    if isinstance(source, WarehouseError):  # an unreachable broker or a missing topic: no second wait
        raise source
    source.unacknowledged_max, source.log = unacknowledged_max, log
    return source
