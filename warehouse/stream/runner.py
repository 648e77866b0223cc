"""The loop both stream consumers share: read a batch, write it on a worker thread, acknowledge it.

A consumer (:mod:`warehouse.stream.kafka_consumer`, :mod:`warehouse.stream.redis_consumer`) is a
:class:`~warehouse.stream.batch.Source`: it reads messages into a
:class:`~warehouse.stream.batch.Batch` and acknowledges a batch (Kafka offset commit,
Redis ``XACK``). :func:`run` drives it:

* a batch is written when it holds ``batch`` messages or its oldest message has
  waited ``linger`` seconds (or, with ``until_idle``, when the source is drained);
* writing (:class:`~warehouse.stream.sink.StreamSink`) = decode + validate, rejects with
  raw payload, reason and source position, good ticks with dedup + exact bars, retries
  with backoff, replay mode for a batch a crashed predecessor may have half-written;
* a batch is written on a worker thread while the next one is read; it is
  acknowledged only after the write succeeded, and before the next batch is handed
  to the writer, so acknowledgements follow the order of the writes; while a write is
  retried the reader stops at one full batch, so memory is bounded by two batches
  plus one read ahead (see the consumers).

At-least-once delivery plus this gives exactly-once results in ``ticks_dedup``,
``bars_1m`` and ``rejects``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from enum import Enum

from clickhouse_connect.driver.exceptions import ClickHouseError

from warehouse.stream.batch import Batch, Source
from warehouse.stream.sink import RunOptions, SinkStats, StreamSink, first_line, log_line



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
                self.log(f"warehouse error while stopping: {first_line(exc)}; {len(batch):,} messages left "
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
