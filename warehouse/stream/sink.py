"""Writing one batch of messages to the warehouse: decode, rejects, ticks, retries.

:class:`StreamSink` writes a :class:`~warehouse.stream.batch.Batch` (the loop that reads,
writes and acknowledges batches is :mod:`warehouse.stream.runner`):

* decode + validate (:mod:`warehouse.stream.decode`), malformed/invalid messages to
  ``rejects`` with raw payload, reason and source position, good ticks through
  :class:`warehouse.ingest.writer.TickWriter` (dedup + exact bars);
* a warehouse error is retried with exponential backoff (:class:`RunOptions`);
* a batch a crashed predecessor may have half-written (``Batch.replay``) is
  written in replay mode: rejects already stored for its positions are skipped, and
  every (symbol, minute) bar it touches is recomputed from ``ticks_dedup``, so a
  crash between the raw insert, the materialized views and a correction's bar
  rebuild cannot leave a bar counted twice or not at all. A retried write is a
  replay of its own failed attempt.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from warehouse.errors import WarehouseError
from warehouse.ingest.files import write_rejects
from warehouse.ingest.rollup import bar_minutes, rebuild_minutes
from warehouse.ingest.writer import TickWriter, WriteStats
from warehouse.stream.batch import Batch
from warehouse.stream.decode import parse_messages


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
    quotes: int = 0  # quotes written (a Kite stream: one per full-mode tick)
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
                f"redeliveries, {self.written.corrections:,} corrections), "
                + (f"{self.quotes:,} quotes, " if self.quotes else "") + f"{self.rejects:,} rejects, "
                f"{self.replayed:,} replayed batches, {self.retries:,} retries"
                + (f", {self.unacknowledged:,} left unacknowledged" if self.unacknowledged else ""))


class StreamSink:
    """Writes batches of messages to the warehouse: rejects, then ticks through TickWriter.

    ``on_ticks``, if given, is called with each batch's good ticks (a
    :data:`warehouse.ingest.validate.TICKS_SCHEMA` table) right after decoding, before the warehouse
    write, e.g. :meth:`warehouse.serve.hot_state.HotState.on_table` (the hot path). It sees every
    attempt: a retried or replayed batch comes again, so it must tolerate repeats (the hot state
    skips seen trade ids); an exception it raises stops the consumer.
    """

    def __init__(self, client: Client, source: str, *, on_ticks: Callable[[pa.Table], None] | None = None) -> None:
        self.client = client
        self.source = source
        self.on_ticks = on_ticks
        self.writer = TickWriter(client, defer_rebuilds=True, source=source)
        self.stats = SinkStats(written=self.writer.stats)

    def write(self, batch: Batch, *, replay: bool) -> None:
        """One attempt at writing ``batch``; raises the warehouse's error on failure."""
        clean = parse_messages(batch.messages(), batch.positions(), source=self.source)
        self.store(batch, clean.ticks, clean.rejects, replay=replay)

    def store(self, batch: Batch, ticks: pa.Table, rejects: pa.Table, *, replay: bool) -> None:
        """Write the decoded ``batch``: the hot path, its rejects (a replay skips those stored already), its ticks
        (a replay recomputes their minutes' bars); then count it."""
        if self.on_ticks is not None:
            self.on_ticks(ticks)
        refused = rejects.num_rows
        if replay and rejects.num_rows:
            stored = self.client.query_arrow(
                "SELECT DISTINCT position FROM rejects WHERE target = 'ticks' AND source = {source:String} "
                "AND position IN {positions:Array(String)}",
                parameters={"source": self.source, "positions": rejects["position"].to_pylist()})
            keep = pc.invert(pc.is_in(rejects["position"], value_set=stored["position"]))
            rejects = rejects.filter(keep)
        write_rejects(self.client, rejects, target="ticks", source=self.source)
        self.writer.write(ticks)
        if replay and ticks.num_rows:
            touched = bar_minutes(ticks)
            rebuild_minutes(self.client, touched["symbol"].to_list(), touched["minute"].to_list())
        self.stats.messages += len(batch)
        self.stats.ticks += ticks.num_rows
        self.stats.rejects += refused
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
                log(f"warehouse error: {first_line(exc)}; {messages:,} messages not acknowledged, "
                    f"retry {attempt} in {delay:.1f} s")
                if stop.wait(delay):
                    return False


def log_line(line: str, stream: TextIO | None = None) -> None:
    """Print one timestamped log line (default: to stderr)."""
    print(time.strftime("%H:%M:%S ") + line, file=stream or sys.stderr, flush=True)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
