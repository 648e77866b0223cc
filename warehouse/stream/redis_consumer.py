"""Redis Streams -> warehouse: a consumer-group reader that ``XACK``s only after the insert.

``python -m warehouse ingest redis --url redis://127.0.0.1:6379/0 --stream ticks:stream --group G --consumer C``.

* The group is created at the stream's start if missing (``XGROUP CREATE ... 0 MKSTREAM``),
  and, unless this consumer has entries pending, the first ``XREADGROUP`` is sent at
  once, so Redis prepares it while the warehouse opens.
* On start, and again whenever the stream is idle, entries that another consumer of
  the group left pending for longer than ``claim_idle_ms`` are taken over with
  ``XAUTOCLAIM``. Entries in this consumer's own pending list (claimed, or left by a
  crashed run under the same name) are read first (``XREADGROUP ... 0``) and written
  in replay mode: they may have been half-written already.
* New entries come from ``XREADGROUP ... >`` with ``COUNT`` = the batch size, and as
  soon as one brings entries the next ``XREADGROUP`` is sent, so Redis prepares it
  while the batch is written: memory is bounded by two batches. Entries of that
  prefetch are delivered (pending) before the batch is acknowledged; on stop they go
  into the last batch.
* ``XREADGROUP`` goes over a socket of our own (:class:`~warehouse.stream.redis_socket.RedisSocket`:
  redis-py has no public API for raw replies); its replies are read into one buffer
  and parsed by a numba kernel
  (:func:`warehouse.stream.resp_kernels.resp_entries_nb`): payloads and entry ids stay
  slices of that buffer (:class:`~warehouse.stream.messages.Messages`), and the
  ``XACK`` of a batch is written from the id slices by another kernel; no Python
  object per entry. A reply in any other shape (an error, entries with other
  fields) is parsed by hiredis instead.
* ``XACK``s are sent by a thread: Redis reads a large one (several batches waiting
  for a bar rebuild) at its own pace, and the reader goes on meanwhile. Their replies
  are read before the next ``XACK`` is queued, and before closing.
* An entry is one field ``tick`` holding a JSON object, or the tick's fields
  themselves (``XADD s * symbol AAPL ts ... price ...``).
* ``trim=True`` deletes entries every group of the stream has acknowledged
  (``XTRIM MINID`` below the oldest pending or undelivered entry of any group).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable

import numpy as np
import redis

from warehouse.errors import WarehouseError
from warehouse.stream.batch import Batch
from warehouse.stream.messages import Messages
from warehouse.stream.redis_socket import RedisSocket
from warehouse.stream.resp_kernels import resp_bulk_args_nb, resp_entries_nb
from warehouse.stream.sink import RunOptions

FIELD = b"tick"
_FIELD = np.frombuffer(FIELD, np.uint8)
_NONE = Messages.of([])


class RedisSource:
    """A :class:`warehouse.stream.batch.Source` over one stream of a consumer group.

    ``count`` is the most entries one ``XREADGROUP`` asks for (the batch size).
    """

    def __init__(self, url: str, stream: str, group: str, consumer: str, *, count: int = RunOptions.batch,
                 claim_idle_ms: int = 60_000, trim: bool = False, log: Callable[[str], None] = print) -> None:
        self.name = f"redis:{stream}"
        self.stream, self.group, self.consumer, self.count = stream, group, consumer, count
        self.claim_idle_ms, self.trim, self.log = claim_idle_ms, trim, log
        try:
            self.redis = redis.Redis.from_url(url, socket_timeout=30)
            self.redis.ping()
        except ValueError as exc:
            raise WarehouseError(f"url: {url!r} is not a Redis URL ({exc})") from None
        except redis.RedisError as exc:
            raise WarehouseError(f"url: cannot reach Redis at {url!r} ({exc})") from None
        try:
            self.redis.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise WarehouseError(f"stream: cannot create group {group!r} on {stream!r} ({exc})") from None
        try:
            self.reader = RedisSocket(url, timeout=30)  # raw replies, one request in flight
        except (redis.RedisError, ValueError) as exc:
            self.redis.close()
            raise WarehouseError(f"url: cannot open a second connection to Redis at {url!r} ({exc})") from None
        self.in_flight = False
        self.acker = self.redis.connection_pool.get_connection()  # XACKs in flight
        self.acks_in_flight = 0  # XACKs queued or sent whose replies are not read yet
        self.acks: queue.Queue[list | None] = queue.Queue()  # packed XACKs for the sending thread
        self.ack_error: BaseException | None = None  # why the sending thread stopped sending
        threading.Thread(target=self._send_acks, name="redis-xack", daemon=True).start()
        self.ready: tuple[Messages, Messages] = (_NONE, _NONE)  # (payloads, ids) read, not yet in a batch
        self.pending_from: str | None = "0-0"  # reading our own pending list; None: reading new entries
        self.idle = False
        self.last_claim = 0.0
        self.unacknowledged = 0  # entries handed to batches and not yet acknowledged
        self._claim()
        if not self.redis.xpending_range(stream, group, "-", "+", 1, consumername=consumer):
            self.pending_from = None  # nothing of ours to replay: ask for new entries now (the warehouse opens meanwhile)
            self._send(">", None)

    def read(self, batch: Batch, max_messages: int, timeout: float) -> None:
        """Append up to ``max_messages`` entries: own pending ones first, then new ones."""
        if max_messages <= 0:
            return
        if not len(self.ready[0]):
            self._fill(timeout)
        payloads, ids = self.ready
        if self.pending_from is not None and len(payloads):
            batch.replay = True
        batch.extend(payloads[:max_messages], ids[:max_messages])
        self.unacknowledged += min(max_messages, len(payloads))
        self.ready = (payloads[max_messages:], ids[max_messages:])

    def hand_over(self, batch: Batch) -> None:
        """Append the entries already read or delivered by the request in flight."""
        if self.in_flight:
            self._receive(prefetch=False)
        self.read(batch, len(self.ready[0]), 0.0)

    def prepare(self, batch: Batch) -> None:
        """Nothing to do: the group's pending list already records what is in flight."""

    def position(self, entry_id: bytes) -> str:
        """``stream/entry-id``."""
        return f"{self.stream}/{entry_id.decode()}"

    def _fill(self, timeout: float) -> None:
        """Read the next entries into ``ready``."""
        if self.in_flight:
            self._receive()
            return
        # Claims only while nothing is unacknowledged: XAUTOCLAIM also returns our own idle entries,
        # and a batch still being written must not be read again.
        if (self.pending_from is None and self.idle and not self.unacknowledged
                and time.monotonic() - self.last_claim > self.claim_idle_ms / 1000):
            if self._claim():
                self.pending_from = "0-0"
        if self.pending_from is not None:
            self._send(self.pending_from, None)
            last = self._receive()
            self.pending_from = last.decode() if last is not None else None
            return
        self._send(">", max(1, int(timeout * 1000)))
        self._receive()

    def _send(self, start: str, block_ms: int | None) -> None:
        block = ("BLOCK", block_ms) if block_ms is not None else ()
        self.reader.send("XREADGROUP", "GROUP", self.group, self.consumer, "COUNT", self.count, *block,
                         "STREAMS", self.stream, start)
        self.in_flight = True

    def _receive(self, prefetch: bool = True) -> bytes | None:
        """Take the reply of the request in flight; after new entries, ask for the next ones at once.

        The prefetch lets Redis prepare the next entries while this batch is written.
        Returns the id of the reply's last entry (None: no entries).
        """
        try:
            payloads, ids = self._read_reply()
        except BaseException:
            self.reader.close()
            raise
        finally:
            self.in_flight = False
        last = ids[len(ids) - 1] if len(ids) else None
        deleted = payloads.starts < 0
        if deleted.any():  # entries deleted from the stream while pending: nothing left to write
            self.redis.xack(self.stream, self.group, *(ids[i] for i in np.flatnonzero(deleted)))
            kept = np.flatnonzero(~deleted)
            payloads = Messages(payloads.data, payloads.starts[kept], payloads.ends[kept])
            ids = Messages(ids.data, ids.starts[kept], ids.ends[kept])
        self.ready = (Messages.concat([self.ready[0], payloads]), Messages.concat([self.ready[1], ids]))
        if self.pending_from is None:
            self.idle = last is None
            if last is not None and prefetch:
                self._send(">", None)
        return last

    def _read_reply(self) -> tuple[Messages, Messages]:
        """(payloads, entry ids) of the ``XREADGROUP`` reply in flight; a deleted entry's payload slice is (-1, -1)."""
        buffer = np.empty(1 << 16, np.uint8)
        received = 0
        state = np.array([0, -1, 0], np.int64)
        slices = np.empty((4, 0), np.int64)
        while True:
            status = resp_entries_nb(buffer, received, state, *slices, _FIELD)
            if status == 0:
                break
            if status == 2:
                slices = np.empty((4, int(state[1])), np.int64)
                if buffer.size < state[1] * 128:  # room for typical entries: grow once, not many times
                    buffer = _grown(buffer, received, int(state[1]) * 160)
                continue
            if status == 3:
                return self._read_other(buffer[:received])
            if received == buffer.size:
                buffer = _grown(buffer, received, 2 * buffer.size)
            received += self.reader.recv_into(memoryview(buffer)[received:])
        count = int(state[1])
        if state[0] != received:
            raise redis.ConnectionError(f"unexpected bytes after a reply ({received - state[0]:,})")
        id_starts, id_ends, payload_starts, payload_ends = slices[:, :count]
        return Messages(buffer, payload_starts, payload_ends), Messages(buffer, id_starts, id_ends)

    def _read_other(self, start: np.ndarray) -> tuple[Messages, Messages]:
        """Parse a reply of another shape with hiredis (``start``: its bytes received so far)."""
        entries = _entries(self.reader.read_reply(start.tobytes()))
        payloads = [fields[1] if fields is not None and len(fields) == 2 and fields[0] == FIELD else _payload(fields)
                    for _, fields in entries]
        kept = Messages.of([p or b"" for p in payloads])
        deleted = np.array([p is None for p in payloads], np.bool_)
        starts, ends = kept.starts.copy(), kept.ends.copy()
        starts[deleted], ends[deleted] = -1, -1
        return Messages(kept.data, starts, ends), Messages.of([entry_id for entry_id, _ in entries])

    def commit(self, batch: Batch) -> None:
        """Queue ``XACK`` for every entry of ``batch`` (the replies of the previous ones are read first).

        Acknowledgements are sent only after the batch was written, so not waiting for
        Redis to apply them changes nothing about delivery: a crash in between at worst
        redelivers entries that were written already.
        """
        self._acknowledged()
        head = b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(self.stream.encode()), self.stream.encode(),
                                                  len(self.group.encode()), self.group.encode())
        for ids in batch.id_chunks:
            for start in range(0, len(ids), 50_000):
                part = ids[start:start + 50_000]
                args = resp_bulk_args_nb(part.data, part.starts, part.ends)
                self.acks.put([b"*%d\r\n$4\r\nXACK\r\n" % (len(part) + 3) + head, memoryview(args)])
                self.acks_in_flight += 1
        self.unacknowledged -= len(batch)
        if self.trim:
            self._acknowledged()
            self._trim()

    def _send_acks(self) -> None:
        """The sending thread: send queued ``XACK``s until ``None``; after an error, send no more."""
        while (command := self.acks.get()) is not None:
            try:
                if self.ack_error is None:
                    self.acker.send_packed_command(command)
            except BaseException as exc:  # reported by _acknowledged(); the entries stay pending
                self.ack_error = exc
            finally:
                self.acks.task_done()

    def _acknowledged(self) -> None:
        """Wait until the ``XACK``s in flight are sent and answered."""
        self.acks.join()
        try:
            if self.ack_error is not None:
                raise self.ack_error
            while self.acks_in_flight:
                self.acker.read_response()
                self.acks_in_flight -= 1
        except BaseException:
            self.acker.disconnect()
            self.acks_in_flight, self.ack_error = 0, None
            raise

    def drained(self) -> bool:
        """No own pending entries left and the last read of new entries came back empty."""
        return self.pending_from is None and self.idle

    def lag(self) -> str:
        """The group's pending count (delivered, not acknowledged) and lag (not yet delivered)."""
        try:
            self._acknowledged()
            info = next(g for g in self.redis.xinfo_groups(self.stream) if g["name"].decode() == self.group)
        except (redis.RedisError, StopIteration):
            return "pending ?, lag ?"
        lag = info.get("lag")
        return f"pending {info['pending']:,}, lag {lag:,}" if lag is not None else f"pending {info['pending']:,}"

    def close(self) -> None:
        """Wait for the acknowledgements, close the connections.

        Entries of a read still in flight stay pending: they are delivered again.
        """
        try:
            self._acknowledged()
        finally:
            self.acks.put(None)
            self.reader.close()
            self.acker.disconnect()
            self.redis.connection_pool.release(self.acker)
            self.redis.close()

    def _claim(self) -> int:
        """Take over entries other consumers left pending for ``claim_idle_ms``; return how many."""
        self.last_claim = time.monotonic()
        cursor, claimed = "0-0", 0
        while True:
            # (redis-py drops the cursor when JUSTID is asked for, so the entries come along)
            cursor, entries, *_ = self.redis.xautoclaim(self.stream, self.group, self.consumer,
                                                        self.claim_idle_ms, start_id=cursor, count=10_000)
            claimed += len(entries)
            cursor = cursor.decode() if isinstance(cursor, bytes) else cursor
            if cursor == "0-0":
                break
        if claimed:
            self.log(f"redis: claimed {claimed:,} entries idle for over {self.claim_idle_ms:,} ms "
                     f"from other consumers of {self.group}")
        return claimed

    def _trim(self) -> None:
        """Delete entries that every group has acknowledged."""
        keep_from = None
        for group in self.redis.xinfo_groups(self.stream):
            oldest = group["last-delivered-id"]
            if group["pending"]:
                oldest = self.redis.xpending(self.stream, group["name"])["min"]
            oldest = oldest.decode() if isinstance(oldest, bytes) else oldest
            if keep_from is None or _id_key(oldest) < _id_key(keep_from):
                keep_from = oldest
        if keep_from is not None:
            self.redis.xtrim(self.stream, minid=keep_from, approximate=False)


def _grown(buffer: np.ndarray, used: int, size: int) -> np.ndarray:
    grown = np.empty(size, np.uint8)
    grown[:used] = buffer[:used]
    return grown


def _entries(reply: object) -> list:
    """The entries of a raw XREADGROUP reply (RESP3: {stream: entries}; RESP2: [[stream, entries]])."""
    if not reply:
        return []
    return next(iter(reply.values())) if isinstance(reply, dict) else reply[0][1]


def _payload(fields: list[bytes] | None) -> bytes | None:
    """An entry's message: its ``tick`` field, or its fields as one JSON object (None: entry deleted).

    >>> _payload([b"symbol", b"AAPL", b"price", b"1.5"])
    b'{"symbol": "AAPL", "price": "1.5"}'
    """
    if fields is None:
        return None
    pairs = dict(zip(fields[::2], fields[1::2]))
    if FIELD in pairs:
        return pairs[FIELD]
    return json.dumps({k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs.items()}).encode()


def _id_key(entry_id: str) -> tuple[int, int]:
    """Sort key of a stream id.

    >>> _id_key("1700000000000-3") < _id_key("1700000000001-0")
    True
    """
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
