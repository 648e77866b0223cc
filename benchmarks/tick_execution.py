"""Tick execution (issue H): events/s of our replay alone and end to end (warehouse -> fills), against hftbacktest.

Usage::

    python benchmarks/tick_execution.py                      # 1M, 10M and 50M events
    python benchmarks/tick_execution.py --sizes 1M,10M --runs 3

The peer, hftbacktest 2.4.4, cannot share our venv (it pins numpy<2.3), so it runs in its own,
``.venv-hftbacktest`` (``make bench-peers`` makes it:
``python3 -m venv .venv-hftbacktest && .venv-hftbacktest/bin/pip install hftbacktest==2.4.4``);
without it this prints that command and measures ours alone.

**Events.** One symbol, a seeded synthetic feed: strictly increasing microsecond times (the
warehouse keeps microseconds), mean gap ``--gap-ms`` (50 ms: 1.7M events a day, 50M in 29 days);
75% BBO updates, 25% trades at the bid or the ask. A BBO update changes one side: its top
quantity, or (30%) its price by one cent (spread 1-5 cents). Ours reads each update as a full
top-of-book row; hftbacktest, whose depth is a map of levels, reads a quantity change as one row
and a price move as two (the new level, then the old one deleted), so it gets somewhat more rows
for the same events. Events/s are counted on the same events for both: wall time is what differs.

**Strategy.** At every minute of event time: buy 1 unit with a market order, the next minute
sell it (buy / flat), latency 1.0005 ms (half a microsecond off the event grid, so an order
never arrives at the time of an event). Ours: signals 1/0 on 1-minute bars (decided at each
bar's end; ``size_type=units``, ``direction=long_only``). hftbacktest: a numba strategy woken on
every event (``wait_next_feed`` with the time to the next minute as its timeout, so it also wakes
at the minute), submitting a market order at each minute (constant latency, no partial fills).
Both fill every order at the top of the book (quantities are >= 1); fill counts are compared,
and fill prices are checked against each engine's rule: hftbacktest fills at the book in force
when the order arrives, ours at the book in force at the first event at or after the active
time (a quote at that event counts), so prices differ exactly where that first event is a
quote that moves the side taken.

**Measured** (each in its own process, one after the other):

* ours, replay alone: the events of each chunk (2^20 events) in memory as the kernel's arrays,
  ``backtest.engine.ticks.replay`` over them; warm (the kernel compiled, or loaded from numba's
  cache, on a small replay first; compile excluded); median of ``--runs``;
* ours, streamed: the same replay with each chunk read from its ``.npz`` file when the replay
  reaches it: peak RSS (memory follows the chunk, not the size);
* ours, end to end: the events loaded into a fresh embedded warehouse (trades with
  ``load_ticks``, quotes with ``load_quotes``; load not timed, shown apart), then
  ``TickSource.replay`` (one day of trades and quotes read per window through ``Feed``, the
  replay on them, fills out); median of ``--e2e-runs``; peak RSS;
* hftbacktest: the same events as its event rows, in memory, ``HashMapMarketDepthBacktest``
  built and run to the end; warm (the numba strategy compiled on a small run first); median of
  ``--runs``; then once from its own storage, the ``.npy`` files (loaded as it goes).

Ratios: hftbacktest's wall time over ours (above 1: ours is faster): in memory against our replay
alone, and from its files against our end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = ROOT / ".venv-hftbacktest" / "bin" / "python"
PEER_SETUP = "python3 -m venv .venv-hftbacktest && .venv-hftbacktest/bin/pip install hftbacktest==2.4.4"
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


def _count(text: str) -> int:
    """``1M``, ``100k`` or ``250000`` as an int."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def _label(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:g}k"


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- the events


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


def _signals(meta: dict) -> np.ndarray:
    """Buy at the end of bar 0, flat at the end of bar 1, ... for the ``n_orders`` first bars."""
    dense = np.full((meta["n_bars"], 1), np.nan)
    dense[:meta["n_orders"], 0] = (np.arange(meta["n_orders"]) % 2 == 0).astype(float)
    return dense


# ---------------------------------------------------------------- ours


def _engine():
    from backtest.engine.rules import EngineConfig

    return EngineConfig(execution="ticks", latency_ms=LATENCY_NS / 1e6, direction="long_only", size_type="units",
                        size=1.0, init_cash=INIT_CASH, close_at_end=False)


def _window(path: Path):
    from backtest.engine.kernels.tick_records import QuoteStream, TradeStream

    with np.load(path) as f:
        trades = TradeStream(f["t_ts"], np.zeros(f["t_ts"].shape[0], np.int64), f["t_price"], f["t_size"])
        quotes = QuoteStream(f["q_ts"], np.zeros(f["q_ts"].shape[0], np.int64),
                             *(np.ascontiguousarray(f[name][:, None]) for name in ("q_bid", "q_bid_qty", "q_ask",
                                                                                     "q_ask_qty")))
    return trades, quotes


def _warm_up() -> None:
    """Compile (or load from the cache) the replay on a few events of the same types."""
    from backtest.engine.kernels.tick_records import QuoteStream, TradeStream
    from backtest.engine.ticks import replay
    from strategies.indicators.events import SignalEvents

    ts = T0_NS + np.arange(1, 300, dtype=np.int64) * 10**9
    one = np.ones((ts.shape[0], 1))
    trades = TradeStream(ts + 1, np.zeros(ts.shape[0], np.int64), one[:, 0] * 100, one[:, 0])
    quotes = QuoteStream(ts, np.zeros(ts.shape[0], np.int64), one * 99.99, one, one * 100.01, one)
    signal = SignalEvents.from_dense(np.array([[1.0], [0.0], [1.0], [np.nan]]))
    replay(T0_NS + MINUTE_NS * np.arange(1, 5), signal, [(trades, quotes)], _engine(), symbols=(SYMBOL,))


def _fill_checks(result, windows) -> dict:
    """Each fill's price against the book in force just before its active time and at its fill time."""
    fills = result.fills
    active = fills["active"].cast(int).to_numpy()
    at = fills["ts"].cast(int).to_numpy()
    buy = fills["units"].to_numpy() > 0
    q_ts = np.concatenate([q.ts for _, q in windows])
    bid = np.concatenate([q.bid_px[:, 0] for _, q in windows])
    ask = np.concatenate([q.ask_px[:, 0] for _, q in windows])
    before = np.searchsorted(q_ts, active, "left") - 1  # the book when the order arrives
    in_force = np.searchsorted(q_ts, at, "right") - 1  # the book after the quotes of the fill's time
    book_before = np.where(buy, ask[before], bid[before])
    book_at_fill = np.where(buy, ask[in_force], bid[in_force])
    price = fills["price"].to_numpy()
    return {"ticks": np.round(price / TICK).astype(np.int64).tolist(),
            "before_ticks": np.round(book_before / TICK).astype(np.int64).tolist(),
            "ours_at_fill_book": int(np.count_nonzero(np.abs(price - book_at_fill) < 1e-9))}


def child_replay(directory: Path, runs: int) -> dict:
    """Ours, replay alone: every chunk in memory, the median of ``runs`` warm replays."""
    from backtest.engine.ticks import replay
    from strategies.indicators.events import SignalEvents

    meta = json.loads((directory / "meta.json").read_text())
    windows = [_window(path) for path in sorted(directory.glob("ours_*.npz"))]
    bar_end = T0_NS + MINUTE_NS * np.arange(1, meta["n_bars"] + 1)
    events = SignalEvents.from_dense(_signals(meta))
    _warm_up()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = replay(bar_end, events, windows, _engine(), symbols=(SYMBOL,))
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "times": times, "fills": result.fills.height,
            **_fill_checks(result, windows)}


def child_stream(directory: Path) -> dict:
    """Ours, streamed: each chunk read from its file when the replay reaches it; peak RSS."""
    from backtest.engine.ticks import replay
    from strategies.indicators.events import SignalEvents

    meta = json.loads((directory / "meta.json").read_text())
    bar_end = T0_NS + MINUTE_NS * np.arange(1, meta["n_bars"] + 1)
    _warm_up()
    start = time.perf_counter()
    result = replay(bar_end, SignalEvents.from_dense(_signals(meta)),
                    (_window(path) for path in sorted(directory.glob("ours_*.npz"))), _engine(), symbols=(SYMBOL,))
    return {"seconds": time.perf_counter() - start, "fills": result.fills.height, "rss_mib": _peak_rss_mib()}


def _tables(directory: Path, what: str):
    """The chunks as Arrow tables for the warehouse loaders: ticks or quotes (level 1 only)."""
    import pyarrow as pa

    first = 0
    for path in sorted(directory.glob("ours_*.npz")):
        with np.load(path) as f:
            if what == "ticks":
                n = f["t_ts"].shape[0]
                columns = {"ts": pa.array(f["t_ts"] // 1000, pa.int64()).cast(pa.timestamp("us", "UTC")),
                           "price": f["t_price"], "size": f["t_size"],
                           "trade_id": pa.array(np.arange(first, first + n, dtype=np.uint64))}
            else:
                n = f["q_ts"].shape[0]
                columns = {"ts": pa.array(f["q_ts"] // 1000, pa.int64()).cast(pa.timestamp("us", "UTC")),
                           "seq": pa.array(np.arange(first, first + n, dtype=np.uint64)),
                           "bid_px_1": f["q_bid"], "bid_qty_1": f["q_bid_qty"],
                           "ask_px_1": f["q_ask"], "ask_qty_1": f["q_ask_qty"]}
        first += n
        yield pa.table({"symbol": pa.array([SYMBOL] * n, pa.string()), **columns})


def child_load(directory: Path) -> dict:
    """Load the events into a fresh embedded warehouse under ``directory/wh`` (not part of the end to end)."""
    from warehouse.client import close_embedded, connect
    from warehouse.ingest.files import load_ticks
    from warehouse.ingest.quotes import load_quotes
    from warehouse.schema.migrate import migrate

    client = connect(f"chdb://{directory / 'wh'}")
    migrate(client)
    start = time.perf_counter()
    ticks = load_ticks(client, _tables(directory, "ticks"), name="bench-trades", progress=False)
    middle = time.perf_counter()
    quotes = load_quotes(client, _tables(directory, "quotes"), name="bench-quotes", progress=False)
    end = time.perf_counter()
    close_embedded()
    return {"ticks_s": middle - start, "quotes_s": end - middle, "ticks": ticks.loaded, "quotes": quotes.loaded,
            "rejected": ticks.rejected + quotes.rejected}


def child_e2e(directory: Path, runs: int) -> dict:
    """Ours, end to end: ``TickSource.replay`` reading a day of trades and quotes per window; peak RSS."""
    from backtest.feed import BarArrays, Feed
    from backtest.runner import TickSource
    from strategies.indicators.events import SignalEvents
    from warehouse.client import connect

    meta = json.loads((directory / "meta.json").read_text())
    feed = Feed(connect(f"chdb://{directory / 'wh'}"))
    n = meta["n_bars"]
    index = (np.datetime64(T0_NS, "ns") + np.arange(n) * np.timedelta64(1, "m")).astype("datetime64[us]")
    ones = np.ones((n, 1))
    bars = BarArrays(index, (SYMBOL,), ones, ones, ones, ones, ones)
    events = SignalEvents.from_dense(_signals(meta))
    _warm_up()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = TickSource(feed, 60).replay(bars, events, _engine())
        times.append(time.perf_counter() - start)
    price = result.fills["price"].to_numpy()
    return {"seconds": statistics.median(times), "times": times, "fills": result.fills.height,
            "ticks": np.round(price / TICK).astype(np.int64).tolist(), "rss_mib": _peak_rss_mib(),
            "quotes": hasattr(Feed, "quote_arrays")}


# ---------------------------------------------------------------- hftbacktest (its own venv)


def _peer_strategy():
    from hftbacktest import GTC, MARKET
    from numba import njit

    @njit
    def strategy(hbt, n_orders, fill_ticks):
        """Woken on every event (and at each minute): a market buy at odd minutes, a sell at even ones."""
        hbt.wait_next_feed(False, 0)  # starts the clock at the first event
        k = 0
        next_minute = T0_NS + MINUTE_NS
        while True:
            timeout = next_minute - hbt.current_timestamp if k < n_orders else 1 << 60
            if hbt.wait_next_feed(False, timeout) == 1:
                break
            if k < n_orders and hbt.current_timestamp >= next_minute:
                orders = hbt.orders(0)
                if k > 0:  # the previous order filled a minute ago
                    order = orders.get(k)
                    if order is not None:
                        fill_ticks[k - 1] = order.exec_price_tick
                hbt.clear_inactive_orders(0)
                depth = hbt.depth(0)
                if k % 2 == 0:
                    hbt.submit_buy_order(0, k + 1, depth.best_ask, 1.0, GTC, MARKET, False)
                else:
                    hbt.submit_sell_order(0, k + 1, depth.best_bid, 1.0, GTC, MARKET, False)
                k += 1
                next_minute += MINUTE_NS
        if k > 0:
            order = hbt.orders(0).get(k)
            if order is not None and order.exec_qty > 0:
                fill_ticks[k - 1] = order.exec_price_tick
        return hbt.state_values(0).num_trades

    return strategy


def _peer_run(strategy, data: list[np.ndarray] | list[str], n_orders: int) -> tuple[float, int, np.ndarray]:
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest

    fill_ticks = np.full(max(n_orders, 1), -1, np.int64)
    start = time.perf_counter()
    asset = (BacktestAsset().data(data).linear_asset(1.0).constant_latency(LATENCY_NS, 0)
             .risk_adverse_queue_model().no_partial_fill_exchange().trading_value_fee_model(0.0, 0.0)
             .tick_size(TICK).lot_size(1.0).last_trades_capacity(0))
    hbt = HashMapMarketDepthBacktest([asset])
    fills = strategy(hbt, n_orders, fill_ticks)
    hbt.close()
    return time.perf_counter() - start, int(fills), fill_ticks


def child_peer(directory: Path, runs: int) -> dict:
    """hftbacktest: every chunk's rows in memory, the median of ``runs`` warm runs."""
    import hftbacktest
    from hftbacktest import types

    assert types.event_dtype == HBT_EVENT and (types.EXCH_EVENT, types.LOCAL_EVENT) == (EXCH_EVENT, LOCAL_EVENT)
    assert (types.BUY_EVENT, types.SELL_EVENT, types.DEPTH_EVENT, types.TRADE_EVENT) == (
        BUY_EVENT, SELL_EVENT, DEPTH_EVENT, TRADE_EVENT)
    meta = json.loads((directory / "meta.json").read_text())
    data = [np.load(path) for path in sorted(directory.glob("hbt_*.npy"))]
    strategy = _peer_strategy()
    warm = data[0][:50_000].copy()
    _peer_run(strategy, [warm], int((warm["exch_ts"][-1] - T0_NS) // MINUTE_NS) - 1)
    times = []
    for _ in range(runs):
        seconds, fills, ticks = _peer_run(strategy, data, meta["n_orders"])
        times.append(seconds)
    del data
    files_s, files_fills, _ = _peer_run(strategy, [str(path) for path in sorted(directory.glob("hbt_*.npy"))],
                                       meta["n_orders"])  # its own storage: .npy files, loaded as it goes
    return {"seconds": statistics.median(times), "times": times, "fills": fills, "ticks": ticks.tolist(),
            "files_s": files_s, "files_fills": files_fills, "version": hftbacktest.__version__}


# ---------------------------------------------------------------- the run


def _child(role: str, directory: Path, runs: int, *, python: Path | str = sys.executable) -> dict:
    """Run ``role`` in a fresh process; its last stdout line is its JSON answer."""
    command = [str(python), str(Path(__file__).resolve()), "--child", role, "--dir", str(directory),
               "--runs", str(runs)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)} if role != "peer" else None)
    if done.returncode != 0:
        raise RuntimeError(f"{role} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compare(ours: dict, peer: dict) -> str:
    """Fill counts, and fill prices against each engine's rule."""
    if ours["fills"] != peer["fills"]:
        return f"fills differ: ours {ours['fills']}, hftbacktest {peer['fills']}"
    mine, theirs, before = (np.array(x) for x in (ours["ticks"], peer["ticks"], ours["before_ticks"]))
    same = int(np.count_nonzero(mine == theirs))
    peer_rule = int(np.count_nonzero(theirs == before))
    return (f"{ours['fills']:,} fills each; same price {same:,}; hftbacktest = book at arrival {peer_rule:,}/"
            f"{len(theirs):,}; ours = book at its fill event {ours['ours_at_fill_book']:,}/{len(mine):,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M,50M", help="event counts, comma separated (default 1M,10M,50M)")
    parser.add_argument("--runs", type=int, default=3, help="timed replays per size, ours and hftbacktest (median)")
    parser.add_argument("--e2e-runs", type=int, default=3, help="timed end-to-end replays per size (median)")
    parser.add_argument("--gap-ms", type=float, default=50.0, help="mean time between events (ms)")
    parser.add_argument("--no-e2e", action="store_true", help="skip the warehouse load and the end to end")
    parser.add_argument("--workdir", help="where the events and warehouses go (default: a temporary folder)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        directory = Path(args.dir)
        roles = {"replay": lambda: child_replay(directory, args.runs), "stream": lambda: child_stream(directory),
                 "load": lambda: child_load(directory), "e2e": lambda: child_e2e(directory, args.runs),
                 "peer": lambda: child_peer(directory, args.runs)}
        print(json.dumps(roles[args.child]()))
        return

    peer = PEER_PYTHON.exists()
    if not peer:
        print(f"hftbacktest: {PEER_PYTHON.relative_to(ROOT)} is missing; make it with `{PEER_SETUP}` "
              "(`make bench-peers`); measuring ours alone")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tick-bench-"))
    rows = []
    try:
        for n in (_count(s) for s in args.sizes.split(",")):
            directory = work / _label(n)
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
            started = time.perf_counter()
            meta = generate(directory, n, args.gap_ms)
            print(f"\n{_label(n)} events: {meta['quotes']:,} BBO updates + {meta['trades']:,} trades over "
                  f"{meta['n_bars'] / 1440:.1f} days, {meta['n_orders']:,} orders; hftbacktest rows "
                  f"{meta['hbt_rows']:,} (generated in {time.perf_counter() - started:.1f} s)", flush=True)
            ours = _child("replay", directory, args.runs)
            print(f"  ours replay: {ours['seconds']:.3f} s (runs {', '.join(f'{t:.3f}' for t in ours['times'])}), "
                  f"{n / ours['seconds'] / 1e6:.1f}M events/s", flush=True)
            stream = _child("stream", directory, 1)
            print(f"  ours streamed from files: {stream['seconds']:.2f} s, peak RSS {stream['rss_mib']:,.0f} MiB",
                  flush=True)
            row = {"n": n, "meta": meta, "ours": ours, "stream": stream}
            if peer:
                theirs = _child("peer", directory, args.runs, python=PEER_PYTHON)
                row["peer"] = theirs
                print(f"  hftbacktest {theirs['version']}: {theirs['seconds']:.3f} s (runs "
                      f"{', '.join(f'{t:.3f}' for t in theirs['times'])}), {n / theirs['seconds'] / 1e6:.1f}M "
                      f"events/s ({meta['hbt_rows'] / theirs['seconds'] / 1e6:.1f}M rows/s)", flush=True)
                print(f"  hftbacktest from its .npy files (loaded as it goes): {theirs['files_s']:.3f} s, "
                      f"{n / theirs['files_s'] / 1e6:.1f}M events/s, fills {theirs['files_fills']:,}", flush=True)
                print(f"  check: {_compare(ours, theirs)}", flush=True)
            if not args.no_e2e:
                load = _child("load", directory, 1)
                print(f"  warehouse load (not timed below): {load['ticks']:,} trades in {load['ticks_s']:.1f} s, "
                      f"{load['quotes']:,} quotes in {load['quotes_s']:.1f} s, rejected {load['rejected']}",
                      flush=True)
                e2e = _child("e2e", directory, args.e2e_runs)
                row["e2e"] = e2e
                same = e2e["ticks"] == ours["ticks"]
                print(f"  ours end to end ({'trades and quotes' if e2e['quotes'] else 'trades only'}): "
                      f"{e2e['seconds']:.2f} s, {n / e2e['seconds'] / 1e6:.2f}M events/s, peak RSS "
                      f"{e2e['rss_mib']:,.0f} MiB; fills {e2e['fills']:,}, "
                      f"{'same prices as the replay alone' if same else 'prices differ from the replay alone'}",
                      flush=True)
            shutil.rmtree(directory, ignore_errors=True)
            rows.append(row)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    _table(rows, peer)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end; replay alone and hftbacktest warm (compile excluded), "
          f"median of {args.runs}" + ("" if args.no_e2e else f"; end to end median of {args.e2e_runs}"))


def _table(rows: list[dict], peer: bool) -> None:
    """One line per size: replay alone (ours, hftbacktest in memory), end to end (ours from the warehouse,
    hftbacktest from its .npy files), peak RSS, fills. A ratio is hftbacktest's time over ours."""
    def rate(n: int, seconds: float | None) -> str:
        return f"{n / seconds / 1e6:.1f}" if seconds else "-"

    def ratio(theirs: float | None, ours: float | None) -> str:
        return f"{theirs / ours:.2f}x" if theirs and ours else "-"

    head = ["events", "ours replay s", "M ev/s", "hbt s", "M ev/s", "ratio", "ours e2e s", "M ev/s",
            "hbt files s", "ratio e2e", "RSS streamed", "RSS e2e", "fills ours/hbt"]
    lines = [head]
    for row in rows:
        n, ours, theirs, e2e = row["n"], row["ours"], row.get("peer", {}), row.get("e2e", {})
        mine_s, their_s, e2e_s, files_s = ours["seconds"], theirs.get("seconds"), e2e.get("seconds"), \
            theirs.get("files_s")
        lines.append([_label(n), f"{mine_s:.3f}", rate(n, mine_s), f"{their_s:.3f}" if their_s else "-",
                      rate(n, their_s), ratio(their_s, mine_s), f"{e2e_s:.2f}" if e2e_s else "-", rate(n, e2e_s),
                      f"{files_s:.2f}" if files_s else "-", ratio(files_s, e2e_s),
                      f"{row['stream']['rss_mib']:,.0f} MiB", f"{e2e['rss_mib']:,.0f} MiB" if e2e else "-",
                      f"{ours['fills']:,}/{theirs['fills']:,}" if theirs else f"{ours['fills']:,}/-"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    print()
    for line in lines:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths)))


if __name__ == "__main__":
    main()
