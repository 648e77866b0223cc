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

import numpy as np
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from warehouse.schema.quotes_ddl import LEVELS
from warehouse.serve.hot_state import HotState
from warehouse.stream.consumers import check_format, open_source, stream_sink
from warehouse.stream.extras import require
from warehouse.stream.runner import run
from warehouse.stream.sink import RunOptions, SinkStats, first_line, log_line


class Ingest:
    """The consumer ``args`` describe (see ``warehouse.stream.cli.add_consumer_options``), run on a thread."""

    def __init__(self, args: argparse.Namespace, client: Client, *,
                 on_ticks: Callable[[pa.Table], None] | None = None,
                 on_quotes: Callable[[pa.Table], None] | None = None) -> None:
        require(args.broker, f"serve --ingest {args.broker}")
        check_format(args)
        self.args = args
        self.options = RunOptions(batch=args.batch, linger=args.linger, status_every=args.status_every)
        self.source = open_source(args, self.options, log_line)
        self._backlog_client = self._redis_client() if args.broker == "redis" else None  # one pool for every status
        self.sink = stream_sink(args, client, self.source.name, on_ticks=on_ticks, on_quotes=on_quotes)
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
        if self._backlog_client is not None:
            self._backlog_client.close()

    def status(self) -> dict[str, Any]:
        """Counts so far, the rate since the previous call (at least a second apart) and the stream's backlog."""
        now = time.monotonic()
        since, messages = self._sample
        if now - since >= 1.0:
            self._rate = (self.stats.messages - messages) / (now - since)
            self._sample = (now, self.stats.messages)
        return {"source": self.source.name, "running": self._thread.is_alive(), "error": self.error,
                "messages": self.stats.messages, "ticks": self.stats.ticks, "quotes": self.stats.quotes,
                "rejects": self.stats.rejects,
                "batches": self.stats.batches, "retries": self.stats.retries,
                "rate_per_s": round(self._rate, 1), "uptime_s": round(now - self.started, 1), **self._backlog()}

    def _run(self) -> None:
        try:
            run(self.source, self.sink, self.options, self.stop_event, log_line)
        except Exception as exc:  # the API reports it; serve itself keeps answering
            self.error = first_line(exc)
            log_line(f"ingest stopped: {self.error}")

    def _redis_client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.args.url, socket_timeout=2)

    def _backlog(self) -> dict[str, int | None]:
        if self._backlog_client is None:
            return {"pending": None, "lag": None}
        import redis

        try:
            groups = self._backlog_client.xinfo_groups(self.args.stream)
        except redis.RedisError:
            return {"pending": None, "lag": None}
        group = next((g for g in groups if g["name"].decode() == self.args.group), None)
        if group is None:
            return {"pending": None, "lag": None}
        return {"pending": group["pending"], "lag": group.get("lag")}


def quotes_into(hot: HotState) -> Callable[[pa.Table], None]:
    """An ``on_quotes`` callback feeding the hot path's books from quote batches (``QUOTES_SCHEMA``).

    >>> from datetime import datetime, timezone
    >>> from warehouse.ingest.quote_check import QUOTES_SCHEMA
    >>> row = {name: [0.0] for name in QUOTES_SCHEMA.names}
    >>> row.update(symbol=["X"], ts=[datetime(2024, 1, 2, tzinfo=timezone.utc)], seq=[1], session=[""],
    ...            bid_px_1=[9.9], ask_px_1=[10.0], oi=[5.0])
    >>> row["exchange_ts"] = row["ts"]
    >>> hot = HotState(); quotes_into(hot)(pa.table(row).cast(QUOTES_SCHEMA))
    >>> hot.book("X")["bids"][0]["price"], hot.book("X")["oi"]
    (9.9, 5.0)
    """
    def feed(quotes: pa.Table) -> None:
        if not quotes.num_rows:
            return
        ts = quotes["ts"].cast(pa.int64()).to_numpy() * 1_000

        def block(side: str, field: str) -> np.ndarray:
            return np.column_stack([quotes[f"{side}_{field}_{k}"].to_numpy().astype(np.float64)
                                    for k in range(1, LEVELS + 1)])

        hot.on_quotes(quotes["symbol"], ts, block("bid", "px"), block("bid", "qty"), block("bid", "orders"),
                      block("ask", "px"), block("ask", "qty"), block("ask", "orders"),
                      oi=quotes["oi"].to_numpy())
    return feed
