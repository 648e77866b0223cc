"""The tick benchmark's events: one seeded synthetic symbol written in chunks, in our arrays and hftbacktest's rows.

Shared by ``benchmarks/tick_execution.py`` (ours) and ``benchmarks/tick_execution_peer.py``
(hftbacktest, in its own venv): numpy and numba only. The event model is described in
``tick_execution.py``'s docstring.
"""

from __future__ import annotations

import json
import resource
from pathlib import Path

import numpy as np

SYMBOL = "BENCH"
T0_NS = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z
MINUTE_NS = 60 * 10**9
TICK = 0.01
LATENCY_NS = 1_000_500  # 1.0005 ms
CHUNK = 1 << 20  # events per chunk (file, replay window)
TRADE_SHARE, MOVE_SHARE, MAX_SPREAD = 0.25, 0.30, 5
INIT_CASH = 1e9

# hftbacktest's event row (hftbacktest.types.event_dtype) and flags, so its data is written without it
HBT_EVENT = np.dtype([("ev", "u8"), ("exch_ts", "i8"), ("local_ts", "i8"), ("px", "f8"), ("qty", "f8"),
                      ("order_id", "u8"), ("ival", "i8"), ("fval", "f8")], align=True)
DEPTH_EVENT, TRADE_EVENT = 1, 2
EXCH_EVENT, LOCAL_EVENT, BUY_EVENT, SELL_EVENT = 1 << 31, 1 << 30, 1 << 29, 1 << 28


def count_of(text: str) -> int:
    """``1M``, ``100k`` or ``250000`` as an int."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def label(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:g}k"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def _chunk_kernel():
    from numba import njit

    @njit
    def chunk_nb(gap_us, kind_u, side_u, move_u, qty, state, ts_out, is_trade, bid, bid_qty, ask, ask_qty, buyer,
                 t_size, hbt_ev, hbt_ts, hbt_px, hbt_qty):
        """Advance the feed by ``len(gap_us)`` events from ``state``; returns the hftbacktest rows written.

        ``state``: time (us), bid and ask (cents), their quantities, whether the book has started.
        """
        ts, b, a, bq, aq, started = state[0], state[1], state[2], float(state[3]), float(state[4]), state[5]
        depth = DEPTH_EVENT | EXCH_EVENT | LOCAL_EVENT
        h = 0
        for i in range(gap_us.shape[0]):
            ts += gap_us[i]
            t = ts * 1000
            ts_out[i] = t
            if started and kind_u[i] < TRADE_SHARE:
                is_trade[i] = True
                buyer[i] = side_u[i] < 0.5
                t_size[i] = 1.0 + qty[i] % 100
                hbt_ev[h] = TRADE_EVENT | EXCH_EVENT | LOCAL_EVENT | (BUY_EVENT if buyer[i] else SELL_EVENT)
                hbt_ts[h] = t
                hbt_px[h] = (a if buyer[i] else b) * TICK
                hbt_qty[h] = t_size[i]
                h += 1
            elif not started:  # the first event: the whole top of book
                started = 1
                bq, aq = float(qty[i]), float(qty[i] % 997 + 1)
                hbt_ev[h], hbt_ts[h], hbt_px[h], hbt_qty[h] = depth | BUY_EVENT, t, b * TICK, bq
                hbt_ev[h + 1], hbt_ts[h + 1], hbt_px[h + 1], hbt_qty[h + 1] = depth | SELL_EVENT, t, a * TICK, aq
                h += 2
            else:
                on_bid = side_u[i] < 0.5
                old = b if on_bid else a
                new = old
                if move_u[i] < MOVE_SHARE:
                    step = 1 if move_u[i] < MOVE_SHARE / 2 else -1
                    new = old + step
                    spread = a - new if on_bid else new - b
                    if spread < 1 or spread > MAX_SPREAD:
                        new = old - step  # reflect: the spread stays within 1..MAX_SPREAD cents
                q = float(qty[i])
                flag = depth | (BUY_EVENT if on_bid else SELL_EVENT)
                hbt_ev[h], hbt_ts[h], hbt_px[h], hbt_qty[h] = flag, t, new * TICK, q
                h += 1
                if new != old:  # the old level is gone
                    hbt_ev[h], hbt_ts[h], hbt_px[h], hbt_qty[h] = flag, t, old * TICK, 0.0
                    h += 1
                if on_bid:
                    b, bq = new, q
                else:
                    a, aq = new, q
            bid[i], bid_qty[i], ask[i], ask_qty[i] = b * TICK, bq, a * TICK, aq  # the book in force after it
        state[0], state[1], state[2], state[3], state[4], state[5] = ts, b, a, int(bq), int(aq), started
        return h

    return chunk_nb


def generate(directory: Path, n_events: int, gap_ms: float, seed: int = 42) -> dict:
    """Write the feed of ``n_events`` to ``directory``: per chunk, ours (``ours_*.npz``) and hftbacktest's
    rows (``hbt_*.npy``); returns (and writes to ``meta.json``) the counts and the order grid."""
    chunk_nb = _chunk_kernel()
    rng = np.random.default_rng(seed)
    state = np.array([T0_NS // 1000, 9_999, 10_001, 0, 0, 0], dtype=np.int64)  # ts us, bid, ask (cents), ...
    n_trades = n_rows = 0
    last_ts = 0
    for c, start in enumerate(range(0, n_events, CHUNK)):
        m = min(CHUNK, n_events - start)
        gap = 1 + rng.exponential(gap_ms * 1e3 - 1, m).astype(np.int64)
        kind_u, side_u, move_u = rng.random(m), rng.random(m), rng.random(m)
        qty = rng.integers(1, 1001, m)
        ts = np.empty(m, np.int64)
        is_trade = np.zeros(m, np.bool_)
        book = [np.empty(m) for _ in range(4)]
        buyer, size = np.zeros(m, np.bool_), np.zeros(m)
        ev, hts, hpx, hqty = np.empty(2 * m, np.uint64), np.empty(2 * m, np.int64), np.empty(2 * m), np.empty(2 * m)
        h = chunk_nb(gap, kind_u, side_u, move_u, qty, state, ts, is_trade, *book, buyer, size, ev, hts, hpx, hqty)
        quote = ~is_trade
        price = np.where(buyer, book[2], book[0])  # a buyer takes the ask, a seller hits the bid
        np.savez(directory / f"ours_{c:04d}.npz", t_ts=ts[is_trade], t_price=price[is_trade], t_size=size[is_trade],
                 t_buyer=buyer[is_trade], q_ts=ts[quote], q_bid=book[0][quote], q_bid_qty=book[1][quote],
                 q_ask=book[2][quote], q_ask_qty=book[3][quote])
        rows = np.zeros(h, HBT_EVENT)
        for name, values in (("ev", ev), ("exch_ts", hts), ("local_ts", hts), ("px", hpx), ("qty", hqty)):
            rows[name] = values[:h]  # no feed latency: seen locally at the exchange's time
        np.save(directory / f"hbt_{c:04d}.npy", rows)
        n_trades += int(is_trade.sum())
        n_rows += h
        last_ts = int(ts[-1])
    n_bars = (last_ts - T0_NS) // MINUTE_NS + 1  # the last bar ends after the last event: every event replays
    boundaries = T0_NS + MINUTE_NS * np.arange(1, n_bars)
    n_orders = int(np.count_nonzero(boundaries + LATENCY_NS < last_ts))  # each order has an event after it
    meta = {"events": n_events, "trades": n_trades, "quotes": n_events - n_trades, "hbt_rows": n_rows,
            "last_ts": last_ts, "n_bars": int(n_bars), "n_orders": n_orders, "chunks": c + 1, "gap_ms": gap_ms}
    (directory / "meta.json").write_text(json.dumps(meta))
    return meta


def bar_signals(meta: dict) -> np.ndarray:
    """Buy at the end of bar 0, flat at the end of bar 1, ... for the ``n_orders`` first bars."""
    dense = np.full((meta["n_bars"], 1), np.nan)
    dense[:meta["n_orders"], 0] = (np.arange(meta["n_orders"]) % 2 == 0).astype(float)
    return dense
