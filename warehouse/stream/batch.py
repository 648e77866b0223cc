"""What a stream consumer reads into and what it must provide: :class:`Batch` and :class:`Source`.

A consumer (:mod:`warehouse.stream.kafka_consumer`, :mod:`warehouse.stream.redis_consumer`)
is a :class:`Source`: it reads messages into a :class:`Batch` and acknowledges a batch
(Kafka offset commit, Redis ``XACK``) once :mod:`warehouse.stream.runner` has written it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from warehouse.stream.messages import Messages


@dataclass
class Batch:
    """Messages read and not yet acknowledged.

    Sources append chunks: payloads (:class:`~warehouse.stream.messages.Messages`, or a
    list of ``bytes``) with their ids in the source (a list, e.g. Kafka
    ``(partition, offset)`` pairs, or ``Messages`` of Redis entry ids). ``describe``
    turns an id into the position text that rejects carry (``stream/id``,
    ``topic/partition/offset``), and is only called for rejects. ``cursor`` is the
    source's own acknowledgement state (e.g. next offset per partition); ``replay``
    marks a batch a crashed consumer may have written.

    >>> batch = Batch()
    >>> batch.extend([b"a", b"b"], [(0, 7), (0, 8)])
    >>> batch.extend(Messages.of([b"c"]), [(1, 3)])
    >>> len(batch), list(batch.messages()), batch.positions()[2]
    (3, [b'a', b'b', b'c'], '(1, 3)')
    """

    chunks: list[Messages] = field(default_factory=list)
    id_chunks: list[Sequence] = field(default_factory=list)
    describe: Callable[[Any], str] = str
    cursor: dict = field(default_factory=dict)
    replay: bool = False
    started: float = 0.0
    size: int = 0

    def __len__(self) -> int:
        return self.size

    def extend(self, payloads: Sequence[bytes], ids: Sequence) -> None:
        """Append messages (``payloads[i]`` has id ``ids[i]``)."""
        if not len(payloads):
            return
        if not self.size:
            self.started = time.monotonic()
        self.chunks.append(Messages.of(payloads))
        self.id_chunks.append(ids)
        self.size += len(payloads)

    def messages(self) -> Messages:
        """All payloads, in order."""
        return Messages.concat(self.chunks)

    def ids(self) -> Sequence:
        """All ids, in order."""
        if len(self.id_chunks) == 1:
            return self.id_chunks[0]
        if self.id_chunks and all(isinstance(ids, Messages) for ids in self.id_chunks):
            return Messages.concat(self.id_chunks)
        if self.id_chunks and all(isinstance(ids, np.ndarray) for ids in self.id_chunks):
            return np.concatenate(self.id_chunks)
        return [i for ids in self.id_chunks for i in ids]

    def absorb(self, other: Batch, ids: bool = True) -> None:
        """Take over ``other``'s acknowledgement (ids, cursor, count), not its payloads.

        Batches written but acknowledged later are kept this way: ids copied out of the
        read buffers, so those can be freed (``ids=False``: none taken). Kafka cursors
        ``[first, next]`` merge per partition.

        >>> a, b = Batch(cursor={0: [5, 7]}), Batch(cursor={0: [7, 9], 1: [0, 2]})
        >>> b.extend([b"x", b"y"], [(0, 7), (0, 8)])
        >>> a.absorb(b)
        >>> len(a), a.cursor, a.chunks, a.ids()
        (2, {0: [5, 9], 1: [0, 2]}, [], [(0, 7), (0, 8)])
        """
        if ids:
            self.id_chunks += [i.compact() if isinstance(i, Messages) else i for i in other.id_chunks]
        for partition, (first, end) in other.cursor.items():
            span = self.cursor.setdefault(partition, [first, end])
            span[0], span[1] = min(span[0], first), max(span[1], end)
        self.size += other.size
        self.replay = self.replay or other.replay

    def positions(self) -> Sequence[str]:
        """The messages' positions, formatted on access."""
        return _Positions(self.ids(), self.describe)


class _Positions(Sequence[str]):
    def __init__(self, ids: Sequence, describe: Callable[[Any], str]) -> None:
        self.ids, self.describe = ids, describe

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):  # type: ignore[override]
        return self.describe(self.ids[i])


class Source(Protocol):
    """What :func:`run` needs from a broker consumer."""

    name: str  # rejects.source of its messages, e.g. "kafka:ticks"

    def read(self, batch: Batch, max_messages: int, timeout: float) -> None:
        """Append up to ``max_messages`` messages, waiting at most ``timeout`` seconds."""

    def position(self, message_id: Any) -> str:
        """Position text of a message id, e.g. ``ticks/0/17`` or ``ticks:stream/1700000000000-0``."""

    def hand_over(self, batch: Batch) -> None:
        """Append every message already delivered to this consumer but not yet read (prefetch)."""

    def prepare(self, batch: Batch) -> None:
        """Record that ``batch`` is about to be written (Kafka's write-ahead mark); called before each write."""

    def commit(self, batch: Batch) -> None:
        """Acknowledge every message of ``batch`` (called only after it was written)."""

    def drained(self) -> bool:
        """True when nothing is left to read right now."""

    def lag(self) -> str:
        """Backlog for the status line, e.g. ``lag 1,234``."""
