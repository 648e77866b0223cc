"""A seeded NSE-like market: instruments (a Kite instruments CSV), its sessions as arrays, and Kite's full-mode ticks.

Three instruments on the NSE's calendar (exchange-calendars' XBOM: 09:15-15:30 IST, i.e. 03:45-10:00
UTC; weekends and NSE holidays have no session): two equities and a stock future with open interest
that trades up to its expiry and follows its underlying (spot plus a cost-of-carry basis that shrinks
to expiry). :func:`nse_market` is the model: per session, each instrument's state every ``step``
seconds from the open as arrays (:class:`Session`): a random walk on the exchange's tick size, a
5-level book around it with the tick's trade (about two ticks in three) at the bid (a sell) or the
ask (a buy), ``volume`` growing by the trade's quantity, OI moving with the future's trades.

Two views of one model: :func:`tick_dicts` gives a session as the dicts ``kiteconnect.KiteTicker``
gives ``on_ticks`` in full mode (times as the naive local datetimes KiteTicker makes), which
``python -m warehouse produce redis --kite`` publishes (:func:`kite_ticks`); the demo loads the same
sessions as trades and quotes through the bulk loaders (:mod:`warehouse.demo.nse`).
``load-instruments --demo-nse`` loads the instruments (:func:`write_instruments_csv`).

>>> batches = list(kite_ticks(seconds=3, start="2024-01-02"))
>>> len(batches), len(batches[0]), sorted(batches[0][0])[:4]
(3, 3, ['average_traded_price', 'change', 'depth', 'exchange_timestamp'])
>>> batches[0][0]["depth"]["buy"][0]["price"] < batches[0][0]["depth"]["sell"][0]["price"]
True
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from warehouse.ingest.instruments import KITE_COLUMNS
from warehouse.schema.quotes_ddl import LEVELS
from warehouse.sessions import day_table, venue_of

INSTRUMENTS = (  # token, exchange token, trading symbol, name, price, expiry, tick size, lot, type, segment, exchange
    (738561, 2885, "RELIANCE", "RELIANCE INDUSTRIES", 2580.0, "", 0.05, 1, "EQ", "NSE", "NSE"),
    (408065, 1594, "INFY", "INFOSYS", 1490.0, "", 0.05, 1, "EQ", "NSE", "NSE"),
    (13368834, 52222, "RELIANCE24JANFUT", "RELIANCE", 2590.0, "2024-01-25", 0.05, 250, "FUT", "NFO-FUT", "NFO"),
)
SYMBOLS = tuple(row[2] for row in INSTRUMENTS)
TRADE_SHARE = 0.65  # share of ticks that carry a trade
_CARRY = 0.07  # a future's basis: spot x 7% a year x the time to expiry
_OPEN_OI = 1_250_000


def write_instruments_csv(path: str | Path) -> Path:
    """The demo instruments as Kite's instruments CSV at ``path`` (for ``load-instruments``).

    >>> import tempfile
    >>> write_instruments_csv(Path(tempfile.mkdtemp()) / "i.csv").read_text().splitlines()[2]
    '408065,1594,INFY,INFOSYS,1490.0,,0,0.05,1,EQ,NSE,NSE'
    """
    out = Path(path)
    lines = [",".join(KITE_COLUMNS)]
    for token, exchange_token, symbol, name, price, expiry, tick, lot, kind, segment, exchange in INSTRUMENTS:
        lines.append(f"{token},{exchange_token},{symbol},{name},{price},{expiry},0,{tick},{lot},{kind},{segment},"
                     f"{exchange}")
    out.write_text("\n".join(lines) + "\n")
    return out


def xbom_sessions(first: date, last: date) -> list[tuple[date, int, int]]:
    """The XBOM (NSE) sessions from ``first`` to ``last`` (both included): (IST date, open, close in epoch seconds).

    >>> [(day.isoformat(), (close - opened) / 3600) for day, opened, close in
    ...  xbom_sessions(date(2024, 1, 25), date(2024, 1, 29))]
    [('2024-01-25', 6.25), ('2024-01-29', 6.25)]
    """
    start = datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
    days = day_table(venue_of("NSE"), start, start + timedelta(days=(last - first).days))
    return [(day, opened, close) for day, opened, close in zip(days.days, days.opens, days.closes)
            if opened and first <= day <= last]


class Session(NamedTuple):
    """One session of :func:`nse_market`: ``T`` steps (rows) by the ``n`` instruments of :data:`INSTRUMENTS`
    (columns); prices in paise (1/100 rupee). ``live``: the instruments that trade this session (a future
    up to its expiry); the others' columns are drawn but not part of the market."""

    day: date
    ts: np.ndarray  # (T,) epoch seconds of each step
    live: np.ndarray  # (n,) bool
    price: np.ndarray  # (T, n) the level: the trade's price on a step with a trade
    traded: np.ndarray  # (T, n) bool: the step carries a trade of ``qty``
    last: np.ndarray  # (T, n) the latest trade's price (before any: the reference price)
    qty: np.ndarray  # (T, n) the latest trade's quantity (0 before any)
    last_trade: np.ndarray  # (T, n) the latest trade's time, epoch seconds (-1 before any)
    volume: np.ndarray  # (T, n) quantity traded so far (every session since the first)
    value: np.ndarray  # (T, n) rupees traded so far
    bid: np.ndarray  # (T, n, 5) bid prices, best first
    ask: np.ndarray  # (T, n, 5)
    bid_qty: np.ndarray  # (T, n, 5)
    ask_qty: np.ndarray  # (T, n, 5)
    bid_orders: np.ndarray  # (T, n, 5)
    ask_orders: np.ndarray  # (T, n, 5)
    oi: np.ndarray  # (T, n) open interest (0 for equities)
    oi_high: np.ndarray  # (T, n) the session's highest OI so far
    oi_low: np.ndarray  # (T, n)
    open: np.ndarray  # (n,) the latest trade's price at the first step
    close: np.ndarray  # (n,) the previous session's last price
    high: np.ndarray  # (T, n) the session's highest price so far
    low: np.ndarray  # (T, n)


def nse_market(*, start: str = "2024-01-02", last: date | None = None, step: int = 1,
               seed: int = 7) -> Iterator[Session]:
    """The market's sessions from ``start`` to ``last`` (None: on and on), a tick of every instrument each ``step``
    seconds from the open; seeded: the same arguments give the same sessions.

    >>> first, second = itertools.islice(nse_market(start="2024-01-25", step=60), 2)
    >>> first.day.isoformat(), second.day.isoformat(), first.price.shape, second.live.tolist()
    ('2024-01-25', '2024-01-29', (375, 3), [True, True, False])
    >>> bool((first.bid[:, :, 0] < first.ask[:, :, 0]).all() and (first.oi[:, 2] > 0).all())
    True
    """
    rng = np.random.default_rng(seed)
    ref = np.array([round(row[4] * 100) for row in INSTRUMENTS], np.int64)
    state = {"level": ref.copy(), "last": ref.copy(), "qty": np.zeros(len(ref), np.int64),
             "last_trade": np.full(len(ref), -1, np.int64), "volume": np.zeros(len(ref), np.int64),
             "value": np.zeros(len(ref)), "oi": np.where(_futures(), _OPEN_OI, 0).astype(np.int64)}
    day = date.fromisoformat(start)
    while last is None or day <= last:
        window = day + timedelta(days=63) if last is None else min(last, day + timedelta(days=366))
        for session_day, opened, close in xbom_sessions(day, window):
            yield _session(rng, state, session_day, np.arange(opened, close, step, dtype=np.int64), step)
        day = window + timedelta(days=1)


def _futures() -> np.ndarray:
    return np.array([row[8] == "FUT" for row in INSTRUMENTS])


def _session(rng: np.random.Generator, state: dict[str, np.ndarray], day: date, ts: np.ndarray,
             step: int) -> Session:
    """One session's steps from ``state`` (the instruments at the previous close), which it advances."""
    steps, n = ts.size, len(INSTRUMENTS)
    tick = np.array([round(row[6] * 100) for row in INSTRUMENTS], np.int64)
    lot = np.array([row[7] for row in INSTRUMENTS], np.int64)
    future = _futures()
    expiry = [date.fromisoformat(row[5]) if row[5] else None for row in INSTRUMENTS]
    live = np.array([end is None or day <= end for end in expiry])
    moves = np.rint(rng.standard_normal((steps, n)) * np.sqrt(2.0 * step)).astype(np.int64) * tick
    price = state["level"] + np.cumsum(moves, axis=0)
    for i in np.flatnonzero(future):  # the future: its underlying plus the carry to expiry, a tick or two off
        spot = SYMBOLS.index(INSTRUMENTS[i][3])
        years = max((expiry[i] - day).days, 0) / 365 if expiry[i] else 0.0
        basis = np.rint(price[:, spot] * _CARRY * years / tick[i]).astype(np.int64) * tick[i]
        price[:, i] = price[:, spot] + basis + np.sign(moves[:, i]) * tick[i]
    spread = rng.integers(1, 3, (steps, n)) * tick
    buy = rng.random((steps, n)) < 0.5
    traded = (rng.random((steps, n)) < TRADE_SHARE) & live
    size = rng.integers(1, 40, (steps, n)) * lot * traded
    oi_moves = rng.integers(-3, 4, (steps, n)) * lot * traded * future
    depth_qty = rng.integers(1, 50, (steps, n, 2, LEVELS)) * lot[:, None, None]
    orders = rng.integers(1, 9, (steps, n, 2, LEVELS))
    top_bid = price - np.where(buy, spread, 0)
    away = np.arange(LEVELS) * tick[:, None]
    at = np.maximum.accumulate(np.where(traded, np.arange(steps)[:, None], -1), axis=0)
    taken = np.maximum(at, 0)

    def carried(values: np.ndarray, before: np.ndarray) -> np.ndarray:
        return np.where(at >= 0, np.take_along_axis(values, taken, axis=0), before)

    last = carried(price, state["last"])
    high, low = np.maximum.accumulate(last, axis=0), np.minimum.accumulate(last, axis=0)
    oi = state["oi"] + np.cumsum(oi_moves, axis=0)
    out = Session(day, ts, live, price, traded, last, carried(size, state["qty"]),
                  carried(np.broadcast_to(ts[:, None], (steps, n)), state["last_trade"]),
                  state["volume"] + np.cumsum(size, axis=0), state["value"] + np.cumsum(size * price / 100, axis=0),
                  top_bid[:, :, None] - away, (top_bid + spread)[:, :, None] + away,
                  depth_qty[:, :, 0], depth_qty[:, :, 1], orders[:, :, 0], orders[:, :, 1], oi,
                  np.maximum(np.maximum.accumulate(oi, axis=0), state["oi"]),
                  np.minimum(np.minimum.accumulate(oi, axis=0), state["oi"]),
                  last[0].copy(), state["last"].copy(), high, low)
    state.update(level=price[-1].copy(), last=last[-1].copy(), qty=out.qty[-1].copy(),
                 last_trade=out.last_trade[-1].copy(), volume=out.volume[-1].copy(), value=out.value[-1].copy(),
                 oi=oi[-1].copy())
    return out


def book_totals(session: Session) -> tuple[np.ndarray, np.ndarray]:
    """(total buy quantity, total sell quantity) of each step (T, n): the whole book, 20 times its top 5 levels.

    >>> [total.shape for total in book_totals(next(nse_market(step=3600)))]  # 7 hourly steps, 3 instruments
    [(7, 3), (7, 3)]
    """
    return session.bid_qty.sum(axis=2) * 20, session.ask_qty.sum(axis=2) * 20


def tick_dicts(session: Session) -> Iterator[list[dict[str, Any]]]:
    """The session as KiteTicker's full-mode ticks: one list (a tick of each live instrument) per step.

    >>> session = next(nse_market(step=600))
    >>> ticks = list(tick_dicts(session))
    >>> len(ticks), [tick["instrument_token"] for tick in ticks[0]], ticks[0][2]["oi"] > 0
    (38, [738561, 408065, 13368834], True)
    """
    live = np.flatnonzero(session.live).tolist()
    totals = book_totals(session)
    opens, closes = (session.open / 100).tolist(), (session.close / 100).tolist()
    for first in range(0, session.ts.size, _BLOCK):  # a block at a time: a few ticks cost a few ticks' work
        block = slice(first, first + _BLOCK)
        columns = {name: getattr(session, name)[block].tolist() for name in _TICK_FIELDS}
        columns["buy_total"], columns["sell_total"] = (total[block].tolist() for total in totals)
        for t, now in enumerate(session.ts[block].tolist()):
            yield [_tick(i, {name: values[t][i] for name, values in columns.items()}, now, opens[i], closes[i])
                   for i in live]


_BLOCK = 256
_TICK_FIELDS = ("last", "qty", "last_trade", "volume", "value", "bid", "ask", "bid_qty", "ask_qty", "bid_orders",
                "ask_orders", "oi", "oi_high", "oi_low", "high", "low")


def _tick(i: int, c: dict[str, Any], now: int, opened: float, close: float) -> dict[str, Any]:
    """Instrument ``i``'s tick at ``now`` from its values ``c`` (:data:`_TICK_FIELDS`, book totals) at that step."""
    depth = {side: [{"quantity": c[f"{key}_qty"][k], "price": c[key][k] / 100, "orders": c[f"{key}_orders"][k]}
                    for k in range(LEVELS)] for side, key in (("buy", "bid"), ("sell", "ask"))}
    volume = c["volume"]
    return {"tradable": True, "mode": "full", "instrument_token": INSTRUMENTS[i][0],
            "last_price": c["last"] / 100, "last_traded_quantity": c["qty"],
            "average_traded_price": round(c["value"] / volume, 2) if volume else 0.0, "volume_traded": volume,
            "total_buy_quantity": c["buy_total"], "total_sell_quantity": c["sell_total"],
            "ohlc": {"open": opened, "high": c["high"] / 100, "low": c["low"] / 100, "close": close},
            "change": (c["last"] / 100 - close) * 100 / close,
            "last_trade_time": _local(c["last_trade"]) if c["last_trade"] >= 0 else None,
            "oi": c["oi"], "oi_day_high": c["oi_high"], "oi_day_low": c["oi_low"],
            "exchange_timestamp": _local(now), "depth": depth}


def kite_ticks(*, seconds: int, start: str = "2024-01-02", seed: int = 7) -> Iterator[list[dict[str, Any]]]:
    """One list of ticks (one per live instrument) per second of the NSE sessions from ``start`` on, ``seconds``
    lists in all (:func:`tick_dicts` of :func:`nse_market` at a tick a second)."""
    sessions = nse_market(start=start, seed=seed)
    return itertools.islice(itertools.chain.from_iterable(map(tick_dicts, sessions)), seconds)


def _local(epoch: int) -> datetime:
    """An epoch second as the naive local datetime KiteTicker builds (``datetime.fromtimestamp``)."""
    return datetime.fromtimestamp(epoch)
