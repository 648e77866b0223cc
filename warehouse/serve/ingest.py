"""A stream consumer inside ``serve`` (``--ingest redis|kafka``): same loop as ``python -m warehouse ingest``.

It writes through the served warehouse's own client while the HTTP API answers, and feeds
the hot path (``on_ticks``). :meth:`Ingest.status` is what ``/api/ingest`` and the
dashboard show: messages, ticks and rejects so far, the recent rate, and for Redis the
group's pending entries and lag (read on a connection of its own).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from clickhouse_connect.driver.client import Client

from warehouse.stream.cli import open_source
from warehouse.stream.extras import require
from warehouse.stream.runner import run
from warehouse.stream.sink import RunOptions, SinkStats, StreamSink, first_line, log_line


class Ingest:
    """The consumer ``args`` describe (see ``warehouse.stream.cli.add_consumer_options``), run on a thread."""

    def __init__(self, args: argparse.Namespace, client: Client, *,
                 on_ticks: Callable[[pa.Table], None] | None = None) -> None:
        require(args.broker, f"serve --ingest {args.broker}")
        self.args = args
        self.options = RunOptions(batch=args.batch, linger=args.linger, status_every=args.status_every)
        self.source = open_source(args, self.options, log_line)
        self.sink = StreamSink(client, self.source.name, on_ticks=on_ticks)
        self.stop_event = threading.Event()
        self.stats: SinkStats = self.sink.stats
        self.error: str | None = None
        self.started = time.monotonic()
        self._sample = (self.started, 0)
        self._rate = 0.0
        self._thread = threading.Thread(target=self._run, name=f"ingest {self.source.name}", daemon=True)

    def start(self) -> None:
        """Start consuming."""
        self._thread.start()

    def stop(self) -> None:
        """Write and acknowledge the current batch, then stop (as SIGTERM does to ``ingest``)."""
        self.stop_event.set()
        self._thread.join(timeout=120)
        self.source.close()

    def status(self) -> dict[str, Any]:
        """Counts so far, the rate since the previous call (at least a second apart) and the stream's backlog."""
        now = time.monotonic()
        since, messages = self._sample
        if now - since >= 1.0:
            self._rate = (self.stats.messages - messages) / (now - since)
            self._sample = (now, self.stats.messages)
        return {"source": self.source.name, "running": self._thread.is_alive(), "error": self.error,
                "messages": self.stats.messages, "ticks": self.stats.ticks, "rejects": self.stats.rejects,
                "batches": self.stats.batches, "retries": self.stats.retries,
                "rate_per_s": round(self._rate, 1), "uptime_s": round(now - self.started, 1), **self._backlog()}

    def _run(self) -> None:
        try:
            run(self.source, self.sink, self.options, self.stop_event, log_line)
        except Exception as exc:  # the API reports it; serve itself keeps answering
            self.error = first_line(exc)
            log_line(f"ingest stopped: {self.error}")

    def _backlog(self) -> dict[str, int | None]:
        if self.args.broker != "redis":
            return {"pending": None, "lag": None}
        import redis

        try:
            with redis.Redis.from_url(self.args.url, socket_timeout=2) as connection:
                groups = connection.xinfo_groups(self.args.stream)
        except redis.RedisError:
            return {"pending": None, "lag": None}
        group = next((g for g in groups if g["name"].decode() == self.args.group), None)
        if group is None:
            return {"pending": None, "lag": None}
        return {"pending": group["pending"], "lag": group.get("lag")}
