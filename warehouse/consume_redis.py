"""Redis Streams -> warehouse: a consumer-group reader that ``XACK``s only after the insert.

``python -m warehouse ingest redis --url redis://127.0.0.1:6379/0 --stream ticks:stream --group G --consumer C``.

* The group is created at the stream's start if missing (``XGROUP CREATE ... 0 MKSTREAM``).
* On start, and again whenever the stream is idle, entries that another consumer of
  the group left pending for longer than ``claim_idle_ms`` are taken over with
  ``XAUTOCLAIM``. Entries in this consumer's own pending list (claimed, or left by a
  crashed run under the same name) are read first (``XREADGROUP ... 0``) and written
  in replay mode: they may have been half-written already.
* New entries come from ``XREADGROUP ... >`` with ``COUNT`` = room left in the batch,
  so memory is bounded by one batch (no prefetch).
* An entry is one field ``tick`` holding a JSON object, or the tick's fields
  themselves (``XADD s * symbol AAPL ts ... price ...``).
* ``trim=True`` deletes entries every group of the stream has acknowledged
  (``XTRIM MINID`` below the oldest pending or undelivered entry of any group).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import redis

from warehouse.errors import WarehouseError
from warehouse.stream_sink import Batch

FIELD = b"tick"


class RedisSource:
    """A :class:`warehouse.stream_sink.Source` over one stream of a consumer group."""

    def __init__(self, url: str, stream: str, group: str, consumer: str, *, claim_idle_ms: int = 60_000,
                 trim: bool = False, log: Callable[[str], None] = print) -> None:
        self.name = f"redis:{stream}"
        self.stream, self.group, self.consumer = stream, group, consumer
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
        self.pending_from: str | None = "0-0"  # reading our own pending list; None: reading new entries
        self.idle = False
        self.last_claim = 0.0
        self._claim()

    def read(self, batch: Batch, max_messages: int, timeout: float) -> None:
        """Append up to ``max_messages`` entries: own pending ones first, then new ones."""
        if max_messages <= 0:
            return
        if self.pending_from is None and self.idle and time.monotonic() - self.last_claim > self.claim_idle_ms / 1000:
            if self._claim():
                self.pending_from = "0-0"
        if self.pending_from is not None:
            entries = self._xreadgroup(self.pending_from, max_messages, None)
            if not entries:
                self.pending_from = None
                return
            self.pending_from = entries[-1][0].decode()
            batch.replay = True
        else:
            entries = self._xreadgroup(">", max_messages, max(1, int(timeout * 1000)))
            self.idle = not entries
        gone = []
        for entry_id, fields in entries:
            if fields is None:  # deleted from the stream while pending: nothing left to write
                gone.append(entry_id)
                continue
            payload = fields.get(FIELD)
            if payload is None:  # the tick's fields as stream fields
                payload = json.dumps({k.decode(errors="replace"): v.decode(errors="replace")
                                      for k, v in fields.items()}).encode()
            batch.add(payload, f"{self.stream}/{entry_id.decode()}")
        if gone:
            self.redis.xack(self.stream, self.group, *gone)

    def commit(self, batch: Batch) -> None:
        """``XACK`` every entry of ``batch``; then trim if asked."""
        prefix = len(self.stream) + 1
        ids = [position[prefix:] for position in batch.positions]
        with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(ids), 10_000):
                pipe.xack(self.stream, self.group, *ids[start:start + 10_000])
            pipe.execute()
        if self.trim:
            self._trim()

    def drained(self) -> bool:
        """No own pending entries left and the last read of new entries came back empty."""
        return self.pending_from is None and self.idle

    def lag(self) -> str:
        """The group's pending count (delivered, not acknowledged) and lag (not yet delivered)."""
        try:
            info = next(g for g in self.redis.xinfo_groups(self.stream) if g["name"].decode() == self.group)
        except (redis.RedisError, StopIteration):
            return "pending ?, lag ?"
        lag = info.get("lag")
        return f"pending {info['pending']:,}, lag {lag:,}" if lag is not None else f"pending {info['pending']:,}"

    def close(self) -> None:
        """Close the connection pool."""
        self.redis.close()

    def _xreadgroup(self, start: str, count: int, block_ms: int | None) -> list:
        reply = self.redis.xreadgroup(self.group, self.consumer, {self.stream: start}, count=count, block=block_ms)
        return reply[0][1] if reply else []

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


def _id_key(entry_id: str) -> tuple[int, int]:
    """Sort key of a stream id.

    >>> _id_key("1700000000000-3") < _id_key("1700000000001-0")
    True
    """
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
