"""Zerodha Kite's full-mode ticks into the Redis stream: the publishing side of the Kite adapter.

``kiteconnect.KiteTicker`` hands ``on_ticks(ws, ticks)`` a list of dicts per WebSocket message:
``instrument_token``, ``mode``, ``last_price``, ``last_traded_quantity``, ``average_traded_price``,
``volume_traded``, ``total_buy_quantity``, ``total_sell_quantity``, ``ohlc``, ``last_trade_time``,
``oi``, ``oi_day_high``, ``oi_day_low``, ``exchange_timestamp`` and ``depth`` (``buy`` / ``sell``:
5 levels of ``price``, ``quantity``, ``orders``). Its times are naive datetimes in the local
time of the machine running it (``datetime.fromtimestamp``): :func:`kite_payload` turns them back
into the exact epoch seconds, so nothing depends on that machine's zone later.

:class:`KiteRedisPublisher` is an ``on_ticks`` callback that XADDs each tick as one JSON
message (field ``tick``) to a stream capped with ``MAXLEN ~`` (the reference pipeline's
``ticks:stream`` pattern); ``python -m warehouse ingest redis --format kite`` writes them into
``ticks``, ``quotes`` (5 levels, totals, OI) and ``rejects`` (:mod:`warehouse.stream.kite_decode`).

>>> from datetime import datetime
>>> tick = {"instrument_token": 738561, "mode": "full", "last_price": 2400.5,
...         "exchange_timestamp": datetime.fromtimestamp(1704167100)}
>>> kite_payload(tick)
b'{"instrument_token":738561,"mode":"full","last_price":2400.5,"exchange_timestamp":1704167100,"kind":"kite"}'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from warehouse.errors import WarehouseError

KIND = "kite"
DEFAULT_MAXLEN = 1_000_000  # entries the stream keeps (approximately: XADD MAXLEN ~)


def kite_payload(tick: Mapping[str, Any]) -> bytes:
    """One KiteTicker tick as a JSON message: datetimes as epoch seconds, ``"kind": "kite"`` added."""
    return json.dumps({**tick, "kind": KIND}, default=_epoch, separators=(",", ":")).encode()


def _epoch(value: object) -> int | float:
    if isinstance(value, datetime):  # naive = local time of the ticker's machine, as KiteTicker made it
        seconds = value.timestamp()
        return int(seconds) if seconds == int(seconds) else seconds
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class KiteRedisPublisher:
    """``ticker.on_ticks = KiteRedisPublisher(url).on_ticks``: every tick into a Redis stream.

    ``send(payloads, keys)`` (tests, other transports) replaces Redis: it gets the messages of one call and
    their instrument tokens.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", stream: str = "ticks:stream", *,
                 maxlen: int | None = DEFAULT_MAXLEN,
                 send: Callable[[list[bytes], list[bytes]], None] | None = None) -> None:
        if maxlen is not None and maxlen < 1:
            raise WarehouseError(f"maxlen: {maxlen!r} is not an integer >= 1")
        if send is None:
            from warehouse.stream.produce import redis_sender

            send = redis_sender(url, stream, maxlen)
        self.send = send
        self.published = 0

    def on_ticks(self, _ws: object, ticks: Sequence[Mapping[str, Any]]) -> None:
        """The KiteTicker callback."""
        if not ticks:
            return
        payloads = [kite_payload(tick) for tick in ticks]
        self.send(payloads, [str(tick.get("instrument_token", "")).encode() for tick in ticks])
        self.published += len(payloads)
