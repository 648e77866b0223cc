"""The read/write loop of the stream consumers (warehouse.stream.runner.run) against a scripted source and sink.

What matters is the order of events: a batch is acknowledged only after it was written
and after the rebuild of the bars its corrections (and those of the batches before it)
left behind; a rebuild that does not succeed before the stop acknowledges nothing.
"""

from __future__ import annotations

import threading

from warehouse.stream.batch import Batch
from warehouse.stream.runner import run
from warehouse.stream.sink import RunOptions, SinkStats


class _Source:
    """``batches`` batches of ``size`` messages with ids 0, 1, ...; records prepare/commit."""

    name = "test"

    def __init__(self, events: list, batches: int, size: int) -> None:
        self.events, self.left, self.size, self.next_id = events, batches * size, size, 0

    def read(self, batch: Batch, max_messages: int, timeout: float) -> None:
        n = min(max_messages, self.left, self.size)
        ids = list(range(self.next_id, self.next_id + n))
        batch.extend([b"{}"] * n, ids)
        self.next_id += n
        self.left -= n

    def position(self, message_id: int) -> str:
        return str(message_id)

    def hand_over(self, batch: Batch) -> None:
        pass

    def prepare(self, batch: Batch) -> None:
        pass

    def commit(self, batch: Batch) -> None:
        self.events.append(("commit", list(batch.ids())))

    def drained(self) -> bool:
        return self.left == 0

    def lag(self) -> str:
        return ""


class _Writer:
    def __init__(self) -> None:
        self.deferred: list = []


class _Sink:
    """Every write leaves bars to rebuild (a correction in each batch); ``failing`` rebuilds raise."""

    def __init__(self, events: list, failing: bool = False) -> None:
        self.events, self.failing = events, failing
        self.writer = _Writer()
        self.stats = SinkStats()

    def deliver(self, batch: Batch, options: RunOptions, stop: threading.Event, log) -> bool:
        self.write(batch, replay=False)
        return True

    def write(self, batch: Batch, *, replay: bool) -> None:
        self.events.append(("write", list(batch.ids())))
        self.writer.deferred.append(batch.ids())
        self.stats.messages += len(batch)
        self.stats.batches += 1

    def rebuild(self, waiting: int, options: RunOptions, stop: threading.Event, log) -> bool:
        if self.failing:
            stop.set()  # the operator stops the consumer while the warehouse is down
            return False
        self.events.append(("rebuild", threading.current_thread() is not threading.main_thread()))
        self.writer.deferred = []
        return True


def _options(**kwargs) -> RunOptions:
    return RunOptions(batch=3, linger=60, until_idle=True, status_every=0, **kwargs)


def test_batches_are_acknowledged_once_after_their_write_and_the_rebuild_that_covers_them():
    events: list = []
    stats = run(_Source(events, batches=5, size=3), _Sink(events), _options(rebuild_batches=2), threading.Event(),
                log=lambda line: None)
    assert stats.messages == 15 and stats.unacknowledged == 0
    committed = [i for kind, ids in events if kind == "commit" for i in ids]
    assert sorted(committed) == list(range(15)), "every message acknowledged exactly once"
    for k, (kind, ids) in enumerate(events):
        if kind != "commit":
            continue
        before = events[:k]
        last_rebuild = max(j for j, e in enumerate(before) if e[0] == "rebuild")
        written = {i for kind_, ids_ in before[:last_rebuild] if kind_ == "write" for i in ids_}
        assert set(ids) <= written, "acknowledged only after written and rebuilt"
    rebuilds = [on_worker for kind, on_worker in events if kind == "rebuild"]
    assert rebuilds[0], "the rebuild due after a batch runs in that batch's job, on the worker"


def test_a_rebuild_stopped_before_it_succeeded_acknowledges_nothing_after_it():
    events: list = []
    source = _Source(events, batches=4, size=3)
    stats = run(source, _Sink(events, failing=True), _options(rebuild_batches=2), threading.Event(),
                log=lambda line: None)
    assert [kind for kind, _ in events] == ["write", "write"], "stopped in the rebuild after the second write"
    assert stats.unacknowledged == source.next_id, "everything read stays unacknowledged (delivered again)"
