"""The core both stream consumers share: decode JSON messages, write batches, retry, commit.

A consumer (:mod:`warehouse.stream.kafka_consumer`, :mod:`warehouse.stream.redis_consumer`) is a
:class:`Source`: it reads messages into a :class:`Batch` and acknowledges a batch
(Kafka offset commit, Redis ``XACK``). :func:`run` drives it:

* a batch is written when it holds ``batch`` messages or its oldest message has
  waited ``linger`` seconds (or, with ``until_idle``, when the source is drained);
* writing = decode + validate (:mod:`warehouse.stream.decode`), malformed/invalid messages
  to ``rejects`` with raw payload, reason and source position, good ticks through
  :class:`warehouse.ingest.writer.TickWriter` (dedup + exact bars);
* a batch is written on a worker thread while the next one is read; it is
  acknowledged only after the write succeeded, and before the next batch is handed
  to the writer, so acknowledgements follow the order of the writes; a warehouse
  error is retried with exponential backoff, and the reader stops at one full batch
  meanwhile, so memory is bounded by two batches plus one read ahead (see the consumers);
* a batch a crashed predecessor may have half-written (``Batch.replay``) is
  written in replay mode: rejects already stored for its positions are skipped, and
  every (symbol, minute) bar it touches is recomputed from ``ticks_dedup``, so a
  crash between the raw insert, the materialized views and a correction's bar
  rebuild cannot leave a bar counted twice or not at all. A retried write is a
  replay of its own failed attempt.

At-least-once delivery plus this gives exactly-once results in ``ticks_dedup``,
``bars_1m`` and ``rejects``.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, TextIO

import numpy as np
import polars as pl
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from warehouse.errors import WarehouseError
from warehouse.ingest.writer import TickWriter, WriteStats
from warehouse.ingest.files import write_rejects
from warehouse.ingest.rollup import rebuild_minutes
from warehouse.stream.decode import parse_messages
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


@dataclass(frozen=True)
class RunOptions:
    """Batching, retry and reporting knobs of :func:`run`.

    >>> RunOptions(batch=0)
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: batch: 0 is not an integer >= 1
    """

    batch: int = 200_000  # messages per write; bounds memory (the batch written, the one read, a prefetch)
    linger: float = 1.0  # seconds the oldest message may wait for its batch to fill
    until_idle: bool = False  # exit once the source is drained
    status_every: float = 5.0  # seconds between status lines (0: none)
    retry_first: float = 0.5  # first backoff after a warehouse error, doubled up to retry_max
    retry_max: float = 30.0
    rebuild_batches: int = 4  # written batches whose corrections' bar rebuilds are done at once (at most)

    def __post_init__(self) -> None:
        for name in ("batch", "rebuild_batches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WarehouseError(f"{name.replace('_', '-')}: {value!r} is not an integer >= 1")
        for name in ("linger", "status_every", "retry_first", "retry_max"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < 86_400:
                raise WarehouseError(f"{name.replace('_', '-')}: {value!r} is not a number of seconds in [0, 86400)")


@dataclass
class SinkStats:
    """What a consumer did; ``written`` holds the tick writer's counts."""

    messages: int = 0  # messages written and acknowledged
    ticks: int = 0  # good ticks among them
    rejects: int = 0  # rejected messages (stored in rejects)
    batches: int = 0
    replayed: int = 0  # batches written in replay mode
    retries: int = 0  # failed write attempts
    unacknowledged: int = 0  # messages left unacknowledged at exit (redelivered later)
    written: WriteStats = field(default_factory=WriteStats)

    def summary(self, source: str, seconds: float) -> str:
        """One line for the end of a run."""
        rate = self.messages / seconds if seconds else 0.0
        return (f"{source}: {self.messages:,} messages in {self.batches:,} batches ({rate:,.0f}/s): "
                f"{self.ticks:,} ticks ({self.written.new_trades:,} new trades, {self.written.redeliveries:,} "
                f"redeliveries, {self.written.corrections:,} corrections), {self.rejects:,} rejects, "
                f"{self.replayed:,} replayed batches, {self.retries:,} retries"
                + (f", {self.unacknowledged:,} left unacknowledged" if self.unacknowledged else ""))


class StreamSink:
    """Writes batches of messages to the warehouse: rejects, then ticks through TickWriter."""

    def __init__(self, client: Client, source: str) -> None:
        self.client = client
        self.source = source
        self.writer = TickWriter(client, defer_rebuilds=True)
        self.stats = SinkStats(written=self.writer.stats)

    def write(self, batch: Batch, *, replay: bool) -> None:
        """One attempt at writing ``batch``; raises the warehouse's error on failure."""
        clean = parse_messages(batch.messages(), batch.positions(), source=self.source)
        rejects = clean.rejects
        if replay and rejects.num_rows:
            stored = self.client.query_arrow(
                "SELECT DISTINCT position FROM rejects WHERE target = 'ticks' AND source = {source:String} "
                "AND position IN {positions:Array(String)}",
                parameters={"source": self.source, "positions": rejects["position"].to_pylist()})
            keep = pc.invert(pc.is_in(rejects["position"], value_set=stored["position"]))
            rejects = rejects.filter(keep)
        write_rejects(self.client, rejects, target="ticks", source=self.source)
        self.writer.write(clean.ticks)
        if replay and clean.ticks.num_rows:
            touched = pl.from_arrow(clean.ticks.select(["symbol", "ts"])).select(
                "symbol", pl.col("ts").dt.truncate("1m").dt.replace_time_zone(None).alias("minute")).unique()
            rebuild_minutes(self.client, touched["symbol"].to_list(), touched["minute"].to_list())
        self.stats.messages += len(batch)
        self.stats.ticks += clean.ticks.num_rows
        self.stats.rejects += clean.rejects.num_rows
        self.stats.batches += 1
        self.stats.replayed += replay

    def deliver(self, batch: Batch, options: RunOptions, stop: threading.Event, log: Callable[[str], None]) -> bool:
        """Write ``batch``, retrying warehouse errors with backoff; False if ``stop`` came first."""
        return self._retrying(lambda attempt: self.write(batch, replay=batch.replay or attempt > 0), len(batch),
                              options, stop, log)

    def rebuild(self, waiting: int, options: RunOptions, stop: threading.Event, log: Callable[[str], None]) -> bool:
        """Rebuild the bars of the corrections written so far (``waiting`` messages wait for it), with retries."""
        return self._retrying(lambda _: self.writer.rebuild_deferred(), waiting, options, stop, log)

    def _retrying(self, attempt_once: Callable[[int], object], messages: int, options: RunOptions,
                  stop: threading.Event, log: Callable[[str], None]) -> bool:
        attempt = 0
        while True:
            try:
                attempt_once(attempt)
                return True
            except (ClickHouseError, OSError) as exc:
                attempt += 1
                self.stats.retries += 1
                delay = min(options.retry_max, options.retry_first * 2 ** (attempt - 1))
                log(f"warehouse error: {_first_line(exc)}; {messages:,} messages not acknowledged, "
                    f"retry {attempt} in {delay:.1f} s")
                if stop.wait(delay):
                    return False


def run(source: Source, sink: StreamSink, options: RunOptions, stop: threading.Event,
        log: Callable[[str], None] | None = None) -> SinkStats:
    """Consume ``source`` into ``sink`` until ``stop`` is set (or, with ``until_idle``, drained).

    On stop the current batch is written and acknowledged before returning; if the
    warehouse fails then, the batch stays unacknowledged (``stats.unacknowledged``)
    and is delivered again to the next consumer. A source with a
    ``flush_before_revoke`` attribute (Kafka) gets a callback that writes and
    acknowledges the current batch before it loses partitions.
    """
    return _Runner(source, sink, options, stop, log or log_line).run()


class _Outcome(Enum):
    """What a worker job did with its batch."""

    STOPPED = 0  # not written, or written but its rebuild was stopped: acknowledge nothing more
    WRITTEN = 1
    REBUILT = 2  # written, then the bars of it and the batches waiting before it were rebuilt


class _Runner:
    """The read/write loop.

    A batch is written on a worker thread while the next one is read (decoding, chDB
    and the numba kernels release the GIL). A written batch is acknowledged, from this
    thread, before the next batch is prepared and handed over, so acknowledgements keep
    the order of the writes; unless its corrections left bars to rebuild: then it waits
    (ids only, ``unacknowledged``) until one rebuild covers it and the batches after it,
    which happens after ``rebuild_batches`` batches, when the reader has nothing new,
    and before stopping or losing Kafka partitions. Until then those minutes' bars show
    the trades' previous versions; a crash leaves the waiting batches unacknowledged,
    and they are written again in replay mode, which rebuilds every bar they touch.
    The rebuild due after a batch runs in that batch's job on the worker, so the reader
    goes on meanwhile (a rebuild takes as long as a few writes).
    """

    def __init__(self, source: Source, sink: StreamSink, options: RunOptions, stop: threading.Event,
                 log: Callable[[str], None]) -> None:
        self.source, self.sink, self.options, self.stop, self.log = source, sink, options, stop, log
        self.batch = self._new_batch()
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-write")
        self.writing: tuple[Batch, Future[bool]] | None = None
        self.unacknowledged: Batch | None = None  # written, waiting for the deferred bar rebuild
        self.waiting_batches = 0
        self.failed = False  # a write was stopped before it succeeded: acknowledge nothing after it
        if hasattr(source, "flush_before_revoke"):
            source.flush_before_revoke = self.flush_now

    def run(self) -> SinkStats:
        try:
            return self._run()
        finally:
            self.writer.shutdown(wait=True)

    def _run(self) -> SinkStats:
        status = _Status(self.source, self.sink.stats, self.options.status_every, self.log)
        wait = min(0.2, self.options.linger) or 0.05
        while not self.stop.is_set():
            before = len(self.batch)
            self.source.read(self.batch, self.options.batch - len(self.batch), timeout=wait)
            idle = len(self.batch) == before  # (an empty batch alone may just have been handed to the writer)
            drained = self.options.until_idle and self.source.drained()
            full = len(self.batch) >= self.options.batch
            due = bool(self.batch) and time.monotonic() - self.batch.started >= self.options.linger
            if self.batch and (full or due or drained):
                if not self.flush():
                    break
            elif drained:
                break
            if self.writing is not None and self.writing[1].done():
                self.settle()
            if self.unacknowledged is not None and self.writing is None and idle and not self.batch:
                self.rebuild()  # nothing new to read: bring the bars up to date now
            if self.failed:
                break
            status.maybe_print()
        self.settle()
        if not self.failed:
            self.source.hand_over(self.batch)  # what a prefetch already delivered goes in the last batch
            self.flush_final()
        if self.failed:
            self.sink.stats.unacknowledged += len(self.batch)
        status.maybe_print(force=self.options.status_every > 0)
        return self.sink.stats

    def _new_batch(self) -> Batch:
        return Batch(describe=self.source.position)

    def flush(self) -> bool:
        """Settle the batch being written, then start writing the current one.

        False (nothing more acknowledged) when a write or rebuild was stopped first.
        """
        batch = self.batch
        if not batch:
            return True
        self.settle()
        if self.failed:
            return False
        self.source.prepare(self._marked(batch))
        waiting = len(self.unacknowledged or ()) if self.waiting_batches + 1 >= self.options.rebuild_batches else -1
        self.writing = (batch, self.writer.submit(self._write, batch, waiting))
        self.batch = self._new_batch()
        return True

    def _write(self, batch: Batch, waiting: int) -> _Outcome:
        """The worker's job: write ``batch``; then, if ``waiting`` >= 0 (messages written before it and not
        acknowledged), rebuild the bars its corrections and theirs left behind."""
        if not self.sink.deliver(batch, self.options, self.stop, self.log):
            return _Outcome.STOPPED
        if waiting < 0 or not self.sink.writer.deferred:
            return _Outcome.WRITTEN
        rebuilt = self.sink.rebuild(waiting + len(batch), self.options, self.stop, self.log)
        return _Outcome.REBUILT if rebuilt else _Outcome.STOPPED

    def _marked(self, batch: Batch) -> Batch:
        """What a write-ahead mark must cover: the waiting batches and ``batch``."""
        if self.unacknowledged is None:
            return batch
        marked = Batch()
        marked.absorb(self.unacknowledged, ids=False)
        marked.absorb(batch, ids=False)
        return marked

    def settle(self) -> None:
        """Wait for the batch being written; acknowledge it, or keep it waiting for a rebuild."""
        if self.writing is None:
            return
        batch, job = self.writing
        self.writing = None
        outcome = job.result()
        if outcome is _Outcome.STOPPED:
            self._fail(batch)
        elif outcome is _Outcome.REBUILT:
            self._commit_waiting(batch)
        else:
            self._written(batch)

    def _written(self, batch: Batch) -> None:
        """Acknowledge ``batch``, or keep it waiting for a rebuild (its own corrections' or an earlier batch's)."""
        if self.unacknowledged is None and not self.sink.writer.deferred:
            self.source.commit(batch)
            return
        if self.unacknowledged is None:
            self.unacknowledged = self._new_batch()
        self.unacknowledged.absorb(batch)
        self.waiting_batches += 1

    def _commit_waiting(self, batch: Batch | None = None) -> None:
        """The bars are rebuilt: acknowledge the waiting batches and ``batch`` (one commit: Kafka's mark spans both)."""
        done = self.unacknowledged
        if done is None:
            done = batch
        elif batch is not None:
            done.absorb(batch)
        if done is not None:
            self.source.commit(done)
        self.unacknowledged, self.waiting_batches = None, 0

    def rebuild(self) -> None:
        """Rebuild the deferred bars, then acknowledge the batches that waited for it."""
        waiting = self.unacknowledged
        if waiting is None:
            return
        if not self.sink.rebuild(len(waiting), self.options, self.stop, self.log):
            self._fail(self._new_batch())
            return
        self._commit_waiting()

    def _fail(self, batch: Batch) -> None:
        """Stopped before ``batch`` was written: it and the batches waiting for a rebuild stay unacknowledged."""
        self.failed = True
        self.sink.stats.unacknowledged += len(batch) + len(self.unacknowledged or ())
        self.unacknowledged = None

    def flush_now(self) -> None:
        """Write and acknowledge everything read so far (before a Kafka rebalance takes partitions away)."""
        self.flush()
        self.settle()
        if not self.failed:
            self.rebuild()

    def flush_final(self) -> None:
        """The consumer is stopping: one attempt at writing the current batch, then the deferred rebuild."""
        batch = self.batch
        if batch:
            self.source.prepare(self._marked(batch))
            try:
                self.sink.write(batch, replay=batch.replay)
            except (ClickHouseError, OSError) as exc:
                self.log(f"warehouse error while stopping: {_first_line(exc)}; {len(batch):,} messages left "
                         "unacknowledged (they will be delivered again)")
                self.batch = self._new_batch()
                self._fail(batch)
                return
            self.batch = self._new_batch()
            self._written(batch)
        if not self.failed:
            self.rebuild()


class _Status:
    """Periodic status line: rate, backlog, batches, rejects, retries."""

    def __init__(self, source: Source, stats: SinkStats, every: float, log: Callable[[str], None]) -> None:
        self.source, self.stats, self.every, self.log = source, stats, every, log
        self.started = self.last = time.monotonic()
        self.last_messages = 0

    def maybe_print(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and (not self.every or now - self.last < self.every):
            return
        recent = (self.stats.messages - self.last_messages) / max(now - self.last, 1e-9)
        total = self.stats.messages / max(now - self.started, 1e-9)
        self.log(f"{self.source.name}: {self.stats.messages:,} messages ({recent:,.0f}/s now, {total:,.0f}/s avg), "
                 f"{self.source.lag()}, {self.stats.batches:,} batches, {self.stats.rejects:,} rejects, "
                 f"{self.stats.retries:,} retries")
        self.last, self.last_messages = now, self.stats.messages


def log_line(line: str, stream: TextIO | None = None) -> None:
    """Print one timestamped log line (default: to stderr)."""
    print(time.strftime("%H:%M:%S ") + line, file=stream or sys.stderr, flush=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
