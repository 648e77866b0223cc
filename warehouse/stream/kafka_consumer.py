"""Kafka -> warehouse: a confluent-kafka consumer that commits offsets only after the insert.

``python -m warehouse ingest kafka --brokers HOST:PORT --topic ticks --group G``.
Auto-commit is off; after :func:`warehouse.stream.runner.run` has written a batch,
the next offset of every partition in it is committed synchronously, with metadata
``inflight<=0``. Before the batch is written, its first offset of every partition is
committed with ``inflight<=K`` (K = its messages from that partition): a write-ahead
mark. On assignment the consumer writes the first K messages after the committed
offset in replay mode (a crashed predecessor may have half-written them); K = 0 after
a clean commit or with no commit at all (nothing was written: the mark comes first),
and the most messages a consumer leaves unacknowledged (``unacknowledged_max``: the
batch being written plus those waiting for a deferred bar rebuild, see
:mod:`warehouse.stream.runner`) for a commit without this metadata (another tool's, or
a broker that keeps none: tansu 0.1.2 answers OffsetFetch with null metadata, so there
every restart after a crash replays that many messages per partition; a group's first
start replays nothing, because the mark's offset commit alone shows that a write began).
On a rebalance the current batch is written and committed before partitions go.

Memory: one batch (``--batch`` messages) plus librdkafka's prefetch queue, capped
at ``queued.max.messages.kbytes`` (:data:`PREFETCH_KBYTES`) per consumer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, TopicPartition

from warehouse.errors import WarehouseError

if TYPE_CHECKING:  # batch imports numba: not needed to join the group (warehouse.stream.kafka_prejoin)
    from warehouse.stream.batch import Batch

PREFETCH_KBYTES = 32 * 1024
FETCH_WAIT_MAX_MS = 50  # librdkafka's default 500: the first fetch after an assignment returned ~0.9 s later on tansu
SESSION_TIMEOUT_MS = 6000  # tansu delays a group join by half of it; Kafka's own default is 45000
_METADATA = re.compile(r"^inflight<=(\d+)$")


def consumer_config(brokers: str, group: str, **overrides: object) -> dict[str, object]:
    """librdkafka settings of the ingest consumer.

    >>> config = consumer_config("127.0.0.1:9092", "g")
    >>> config["enable.auto.commit"], config["session.timeout.ms"], config["fetch.wait.max.ms"]
    (False, 6000, 50)
    """
    return {
        "bootstrap.servers": brokers,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "fetch.wait.max.ms": FETCH_WAIT_MAX_MS,
        "queued.max.messages.kbytes": PREFETCH_KBYTES,
        **overrides,
    }


class KafkaSource:
    """A :class:`warehouse.stream.batch.Source` over one topic of a consumer group."""

    def __init__(self, brokers: str, topic: str, group: str, unacknowledged_max: int,
                 log: Callable[[str], None], config: dict[str, object] | None = None) -> None:
        self.name = f"kafka:{topic}"
        self.topic, self.unacknowledged_max, self.log = topic, unacknowledged_max, log
        self.consumer = Consumer(consumer_config(brokers, group, **(config or {})))
        self.committed: dict[int, int] = {}  # partition -> next offset, as committed
        self.replay_until: dict[int, int] = {}  # partition -> first offset no crashed batch can reach
        self.at_eof: set[int] = set()
        self.flush_before_revoke: Callable[[], None] | None = None
        try:
            _require_topic(self.consumer, brokers, topic)
        except WarehouseError:
            self.consumer.close()  # its threads would keep retrying the broker until exit
            raise
        self.consumer.subscribe([topic], on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._lost)

    def read(self, batch: Batch, max_messages: int, timeout: float) -> None:
        """Append up to ``max_messages`` messages (one ``consume`` call)."""
        if max_messages <= 0:
            return
        messages = self.consumer.consume(num_messages=max_messages, timeout=timeout)
        good = [message for message in messages if message.error() is None]
        if len(good) < len(messages):
            self._events(messages)
        if not good:
            return
        partitions = np.fromiter([message.partition() for message in good], np.int64, len(good))
        offsets = np.fromiter([message.offset() for message in good], np.int64, len(good))
        for partition in np.unique(partitions).tolist():
            mine = offsets[partitions == partition]
            first, end = int(mine[0]), int(mine[-1]) + 1
            batch.cursor.setdefault(partition, [first, first])[1] = end  # [first, next]
            if first < self.replay_until.get(partition, -1):
                batch.replay = True
            if len(good) == len(messages):
                self.at_eof.discard(partition)
        batch.extend([message.value() or b"" for message in good], np.stack([partitions, offsets], axis=1))

    def _events(self, messages: list) -> None:
        """Partition ends and errors among ``messages``, in order."""
        for message in messages:
            error = message.error()
            if error is None:
                self.at_eof.discard(message.partition())
            elif error.code() == KafkaError._PARTITION_EOF:
                self.at_eof.add(message.partition())
            elif error.fatal():
                raise WarehouseError(f"brokers: fatal Kafka error: {error.str()}")
            else:
                self.log(f"kafka: {error.str()}")

    def hand_over(self, batch: Batch) -> None:
        """Nothing to do: librdkafka's prefetch is not delivered until committed."""

    def position(self, message_id: Sequence[int]) -> str:
        """``topic/partition/offset`` of a ``(partition, offset)`` id."""
        partition, offset = message_id
        return f"{self.topic}/{partition}/{offset}"

    def prepare(self, batch: Batch) -> None:
        """Commit the write-ahead mark: each partition's first offset in ``batch`` and its message count."""
        self._commit({p: (first, f"inflight<={end - first}") for p, (first, end) in batch.cursor.items()})

    def commit(self, batch: Batch) -> None:
        """Commit the next offset of every partition in ``batch`` (synchronously)."""
        if self._commit({p: (end, "inflight<=0") for p, (_, end) in batch.cursor.items()}):
            self.committed.update({p: end for p, (_, end) in batch.cursor.items()})

    def _commit(self, offsets: dict[int, tuple[int, str]]) -> bool:
        if not offsets:
            return True
        try:
            marks = [TopicPartition(self.topic, p, o, metadata=m) for p, (o, m) in offsets.items()]
            self.consumer.commit(offsets=marks, asynchronous=False)
        except KafkaException as exc:  # e.g. partitions reassigned meanwhile: the new owner re-reads them
            self.log(f"kafka: commit failed ({exc.args[0].str()}); those messages will be delivered again")
            return False
        return True

    def drained(self) -> bool:
        """Every assigned partition is at its end (and something is assigned)."""
        assigned = {tp.partition for tp in self.consumer.assignment()}
        return bool(assigned) and assigned <= self.at_eof

    def lag(self) -> str:
        """Consumer lag: high watermark minus committed offset, summed over assigned partitions.

        The high watermark is the one the last fetch response carried (tansu answers
        ListOffsets(latest) with the last record batch's base offset, not the end).
        """
        total = 0
        for tp in self.consumer.assignment():
            low, high = self.consumer.get_watermark_offsets(tp, cached=True)
            if high < 0:
                return "lag ?"
            total += max(0, high - max(self.committed.get(tp.partition, low), low))
        return f"lag {total:,}"

    def close(self) -> None:
        """Leave the group (the committed offsets stay)."""
        self.consumer.close()

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in consumer.committed(partitions, timeout=10.0):
            low, _ = consumer.get_watermark_offsets(tp, timeout=10.0)
            start = tp.offset if tp.offset != OFFSET_INVALID else low
            match = _METADATA.match(tp.metadata or "")
            window = int(match.group(1)) if match else 0 if tp.offset == OFFSET_INVALID else self.unacknowledged_max
            self.committed[tp.partition] = start
            self.replay_until[tp.partition] = start + window
            self.at_eof.discard(tp.partition)
        self.log(f"kafka: assigned partitions {sorted(tp.partition for tp in partitions)} of {self.topic}")

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.flush_before_revoke is not None:
            self.flush_before_revoke()
        for tp in partitions:
            self.committed.pop(tp.partition, None)
            self.at_eof.discard(tp.partition)

    def _lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.log(f"kafka: partitions {sorted(tp.partition for tp in partitions)} lost; "
                 "their uncommitted messages will be delivered again")
        for tp in partitions:
            self.committed.pop(tp.partition, None)
            self.at_eof.discard(tp.partition)


def _require_topic(consumer: Consumer, brokers: str, topic: str) -> None:
    try:
        metadata = consumer.list_topics(topic, timeout=10.0)
    except KafkaException as exc:
        raise WarehouseError(f"brokers: cannot reach Kafka at {brokers!r} ({exc.args[0].str()})") from None
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        raise WarehouseError(f"topic: {topic!r} does not exist on {brokers}; create it or start the producer first")
