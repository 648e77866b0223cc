"""A seeded NSE-like market in Kite's shape: instruments (a Kite instruments CSV) and full-mode ticks.

Three instruments of the NSE's session (09:15-15:30 IST, i.e. 03:45-10:00 UTC): two equities
and a stock future with open interest. Each instrument ticks about once a second: a random
walk on the exchange's tick size, a 5-level book around it (the last trade at the bid or the
ask), ``volume_traded`` growing by the trade's quantity when the tick carries a trade (about
two ticks in three), OI moving for the future. Ticks are the dicts ``kiteconnect.KiteTicker``
gives ``on_ticks`` in full mode, times as naive local datetimes as KiteTicker makes them.
``python -m warehouse produce redis --kite`` publishes them; ``load-instruments --demo-nse``
loads the instruments the consumer enriches them with.

>>> batches = list(kite_ticks(seconds=3, start="2024-01-02"))
>>> len(batches), len(batches[0]), sorted(batches[0][0])[:4]
(3, 3, ['average_traded_price', 'change', 'depth', 'exchange_timestamp'])
>>> batches[0][0]["depth"]["buy"][0]["price"] < batches[0][0]["depth"]["sell"][0]["price"]
True
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from warehouse.ingest.instruments import KITE_COLUMNS

OPEN_UTC = timedelta(hours=3, minutes=45)  # 09:15 IST
SESSION_SECONDS = 6 * 3600 + 15 * 60  # to 15:30 IST
INSTRUMENTS = (  # token, exchange token, trading symbol, name, price, expiry, tick size, lot, type, segment, exchange
    (738561, 2885, "RELIANCE", "RELIANCE INDUSTRIES", 2580.0, "", 0.05, 1, "EQ", "NSE", "NSE"),
    (408065, 1594, "INFY", "INFOSYS", 1490.0, "", 0.05, 1, "EQ", "NSE", "NSE"),
    (13368834, 52222, "RELIANCE24JANFUT", "RELIANCE", 2590.0, "2024-01-25", 0.05, 250, "FUT", "NFO-FUT", "NFO"),
)


def write_instruments_csv(path: str | Path) -> Path:
    """The demo instruments as Kite's instruments CSV at ``path`` (for ``load-instruments``)."""
    out = Path(path)
    lines = [",".join(KITE_COLUMNS)]
    for token, exchange_token, symbol, name, price, expiry, tick, lot, kind, segment, exchange in INSTRUMENTS:
        lines.append(f"{token},{exchange_token},{symbol},{name},{price},{expiry},0,{tick},{lot},{kind},{segment},"
                     f"{exchange}")
    out.write_text("\n".join(lines) + "\n")
    return out


def kite_ticks(*, seconds: int, start: str = "2024-01-02", seed: int = 7) -> Iterator[list[dict[str, Any]]]:
    """One list of ticks (one per instrument) per second of the session, from ``start`` on (weekdays only)."""
    rng = np.random.default_rng(seed)
    n = len(INSTRUMENTS)
    cents = np.array([round(row[4] * 100) for row in INSTRUMENTS], np.int64)
    open_cents = cents.copy()
    high, low = cents.copy(), cents.copy()
    volume = np.zeros(n, np.int64)
    value = np.zeros(n)
    oi = np.array([0 if row[8] != "FUT" else 1_250_000 for row in INSTRUMENTS], np.int64)
    oi_high, oi_low = oi.copy(), oi.copy()
    last_qty = np.zeros(n, np.int64)
    last_trade = [None] * n
    day = date.fromisoformat(start)
    second = 0
    for _ in range(seconds):
        while day.weekday() >= 5:
            day += timedelta(days=1)
        now = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + OPEN_UTC + timedelta(seconds=second)
        ticks = []
        for i, row in enumerate(INSTRUMENTS):
            traded = rng.random() < 0.65
            cents[i] += 5 * int(rng.integers(-2, 3))
            high[i], low[i] = max(high[i], cents[i]), min(low[i], cents[i])
            spread = 5 * int(rng.integers(1, 3))
            buy_side = rng.random() < 0.5
            bid = cents[i] - (spread if buy_side else 0)
            ask = bid + spread
            if traded:
                last_qty[i] = int(rng.integers(1, 40)) * row[7]
                volume[i] += last_qty[i]
                value[i] += last_qty[i] * cents[i] / 100
                last_trade[i] = now
                if row[8] == "FUT":
                    oi[i] += int(rng.integers(-3, 4)) * row[7]
                    oi_high[i], oi_low[i] = max(oi_high[i], oi[i]), min(oi_low[i], oi[i])
            ticks.append(_tick(row, int(cents[i]), int(last_qty[i]), int(volume[i]), float(value[i]),
                               int(open_cents[i]), int(high[i]), int(low[i]), last_trade[i], now, int(oi[i]),
                               int(oi_high[i]), int(oi_low[i]), int(bid), int(ask), rng))
        yield ticks
        second += 1
        if second >= SESSION_SECONDS:
            second, day = 0, day + timedelta(days=1)
            open_cents, high, low = cents.copy(), cents.copy(), cents.copy()


def _tick(row: tuple, cents: int, last_qty: int, volume: int, value: float, open_cents: int, high: int, low: int,
          last_trade: datetime | None, now: datetime, oi: int, oi_high: int, oi_low: int, bid: int, ask: int,
          rng: np.random.Generator) -> dict[str, Any]:
    depth = {"buy": [{"quantity": int(rng.integers(1, 50)) * row[7], "price": float(bid - 5 * k) / 100,
                      "orders": int(rng.integers(1, 9))} for k in range(5)],
             "sell": [{"quantity": int(rng.integers(1, 50)) * row[7], "price": float(ask + 5 * k) / 100,
                       "orders": int(rng.integers(1, 9))} for k in range(5)]}
    close = open_cents / 100
    return {"tradable": True, "mode": "full", "instrument_token": row[0], "last_price": cents / 100,
            "last_traded_quantity": int(last_qty), "average_traded_price": round(value / volume, 2) if volume else 0.0,
            "volume_traded": int(volume), "total_buy_quantity": sum(d["quantity"] for d in depth["buy"]) * 20,
            "total_sell_quantity": sum(d["quantity"] for d in depth["sell"]) * 20,
            "ohlc": {"open": open_cents / 100, "high": high / 100, "low": low / 100, "close": close},
            "change": (cents / 100 - close) * 100 / close,
            "last_trade_time": _local(last_trade) if last_trade else None,
            "oi": int(oi), "oi_day_high": int(oi_high), "oi_day_low": int(oi_low),
            "exchange_timestamp": _local(now), "depth": depth}


def _local(moment: datetime) -> datetime:
    """A UTC moment as the naive local datetime KiteTicker builds (``datetime.fromtimestamp``)."""
    return datetime.fromtimestamp(moment.timestamp())
