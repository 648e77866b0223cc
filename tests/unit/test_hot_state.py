"""HotState (the hot path's in-memory state) against a brute-force recomputation over random streams.

The reference replays the same ticks one by one in plain Python with the rules of
warehouse.serve.hot_state (stream clock, late trades, first version of a trade id counts, newest
book wins) and recomputes every window by scanning all kept trades.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from warehouse.errors import WarehouseError
from warehouse.serve.hot_state import WRITE_CHUNK, HotState

T0 = 1_704_205_800  # 2024-01-02 14:30:00 UTC
SYMBOLS = ("AAPL", "MSFT", "NVDA", "SPY")


class Reference:
    """The rules, one tick at a time, with unbounded memory."""

    def __init__(self, window_s: int) -> None:
        self.window_s = window_s
        self.clock: int | None = None
        self.seen: dict[tuple[str, int], int] = {}
        self.kept: list[tuple[str, int, float, float, int]] = []  # symbol, ts_ns, price, size, side
        self.skipped: dict[str, dict[str, int]] = {}
        self.books: dict[str, tuple[int, np.ndarray]] = {}

    def trades(self, symbols, ts, price, size, side, trade_id, version) -> None:
        for i, s in enumerate(symbols):
            skipped = self.skipped.setdefault(s, {"redeliveries": 0, "corrections": 0, "late": 0, "stale_quotes": 0})
            second = int(ts[i]) // 10**9
            self.clock = second if self.clock is None else max(self.clock, second)
            if second <= self.clock - self.window_s:
                skipped["late"] += 1
                continue
            key = (s, int(trade_id[i]))
            if key in self.seen:
                if version[i] > self.seen[key]:
                    self.seen[key] = int(version[i])
                    skipped["corrections"] += 1
                else:
                    skipped["redeliveries"] += 1
                continue
            self.seen[key] = int(version[i])
            self.kept.append((s, int(ts[i]), float(price[i]), float(size[i]), int(side[i])))

    def window(self, symbol: str, seconds: int) -> tuple:
        rows = [r for r in self.kept if r[0] == symbol and self.clock - seconds + 1 <= r[1] // 10**9 <= self.clock]
        if not rows:
            return None, None, 0.0, 0
        return max(r[2] for r in rows), min(r[2] for r in rows), sum(r[3] for r in rows), len(rows)

    def last(self, symbol: str) -> tuple:
        best = None
        for r in self.kept:
            if r[0] == symbol and (best is None or r[1] >= best[1]):
                best = r
        return best


def random_stream(rng: np.random.Generator, n: int, *, jump_every: int = 0) -> dict[str, np.ndarray]:
    """Trades of several symbols, mostly in time order, with redeliveries, corrections, reordering,
    very late trades and (``jump_every``) gaps longer than any window."""
    step = rng.exponential(0.05, n)  # seconds between trades
    if jump_every:
        step[rng.random(n) < 1 / jump_every] += rng.uniform(150, 400)
    ts = ((T0 + np.cumsum(step)) * 1e9).astype(np.int64)
    jitter = rng.random(n) < 0.05  # a little out of order, within the window
    ts[jitter] -= (rng.uniform(0, 20, jitter.sum()) * 1e9).astype(np.int64)
    late = rng.random(n) < 0.01  # far older than any window
    ts[late] -= (rng.uniform(200, 10_000, late.sum()) * 1e9).astype(np.int64)
    symbols = np.array(SYMBOLS, object)[rng.integers(0, len(SYMBOLS), n)]
    trade_id = np.arange(1, n + 1, dtype=np.uint64)
    version = np.zeros(n, np.int64)
    price = np.round(100 + rng.normal(0, 2, n), 2)
    size = rng.integers(1, 500, n).astype(np.float64)  # whole numbers: sums are exact in any order
    repeat = np.flatnonzero(rng.random(n) < 0.08)
    repeat = repeat[repeat > 10]
    source = repeat - rng.integers(1, 10, repeat.size)  # an earlier message again
    for column in (symbols, trade_id, version, price, size):
        column[repeat] = column[source]
    ts[repeat] = ts[source]
    corrected = repeat[rng.random(repeat.size) < 0.3]
    version[corrected] += 1
    price[corrected] += 0.05
    side = rng.choice(np.array([-1, 0, 1], np.int8), n)
    return {"symbols": symbols, "ts": ts, "price": price, "size": size, "side": side, "trade_id": trade_id,
            "version": version}


def feed(hot: HotState, ref: Reference, stream: dict[str, np.ndarray], cuts: list[int]) -> None:
    edges = [0, *cuts, len(stream["ts"])]
    for a, b in zip(edges, edges[1:]):
        part = {k: v[a:b] for k, v in stream.items()}
        hot.on_trades(part["symbols"], part["ts"], part["price"], part["size"], side=part["side"],
                      trade_id=part["trade_id"], version=part["version"])
        ref.trades(part["symbols"], part["ts"], part["price"], part["size"], part["side"], part["trade_id"],
                   part["version"])


def assert_matches(hot: HotState, ref: Reference, windows: tuple[int, ...]) -> None:
    assert hot.symbols() == sorted({r[0] for r in ref.kept} | set(ref.skipped))
    assert hot.clock_ns() == ref.clock * 10**9
    for symbol in hot.symbols():
        for seconds in windows:
            state = hot.state(symbol, window_s=seconds)
            w = state["window"]
            assert (w["high"], w["low"], w["volume"], w["trades"]) == ref.window(symbol, seconds), (symbol, seconds)
        last = ref.last(symbol)
        got = state["last_trade"]
        assert (None if got is None else (got["ts_ns"], got["price"], got["size"], got["side"])) == (
            None if last is None else (last[1], last[2], last[3], {1: "buy", -1: "sell", 0: None}[last[4]]))
        assert state["trades"] == sum(r[0] == symbol for r in ref.kept)
        assert state["skipped"] == ref.skipped[symbol]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_windows_last_trades_and_skips_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    stream = random_stream(rng, 6_000, jump_every=1_500)
    hot, ref = HotState(window_s=120), Reference(120)
    cuts = sorted(rng.choice(np.arange(1, 6_000), 12, replace=False).tolist())
    feed(hot, ref, stream, cuts)
    skipped = {k: sum(s[k] for s in ref.skipped.values()) for k in ("redeliveries", "corrections", "late")}
    assert min(skipped.values()) > 0  # the stream exercised every rule
    assert_matches(hot, ref, (1, 7, 60, 119, 120))


def test_the_two_copies_readers_alternate_between_hold_the_same_state():
    rng = np.random.default_rng(4)
    hot, ref = HotState(window_s=60), Reference(60)
    feed(hot, ref, random_stream(rng, 5_000, jump_every=1_000), [100, 2_000])
    names = ["AAPL", *(f"Q{k}" for k in range(20))]  # 25 symbols: room for 16 grows
    hot.on_quotes(names, [T0 * 10**9] * 21, *[np.ones((21, 5))] * 6, oi=np.r_[1.0, np.full(20, np.nan)])
    first, second = hot._copies
    assert len(first) == len(second) == 5 and first[0].shape[0] > 16
    for a, b in zip(first, second):
        assert a is not b and np.array_equal(a, b, equal_nan=True)


def test_checked_after_every_batch_including_batches_longer_than_a_write_chunk():
    rng = np.random.default_rng(11)
    stream = random_stream(rng, 3 * WRITE_CHUNK + 17)
    hot, ref = HotState(window_s=30), Reference(30)
    edges = [0, 5, WRITE_CHUNK + 300, 3 * WRITE_CHUNK + 17]
    for a, b in zip(edges, edges[1:]):
        feed(hot, ref, {k: v[a:b] for k, v in stream.items()}, [])
        assert_matches(hot, ref, (1, 10, 30))


def test_a_window_wraps_the_ring_and_a_gap_longer_than_the_ring_empties_it():
    hot = HotState(window_s=10)
    ns = (T0 + np.array([0, 5, 9, 12, 14])) * 10**9  # ring positions wrap at second 10
    hot.on_trades(["A"] * 5, ns, np.array([5.0, 9.0, 1.0, 3.0, 4.0]), np.ones(5),
                  trade_id=np.arange(5, dtype=np.uint64))
    w = hot.state("A", window_s=10)["window"]
    assert (w["high"], w["low"], w["trades"]) == (9.0, 1.0, 4)  # seconds 5..14
    assert hot.state("A", window_s=3)["window"]["trades"] == 2
    hot.on_trades(["B"], np.array([(T0 + 100) * 10**9]), np.array([2.0]), np.array([1.0]))
    gone = hot.state("A", window_s=10)
    assert gone["window"]["trades"] == 0 and gone["window"]["high"] is None  # A is silent in B's clock
    assert gone["last_trade"]["price"] == 4.0 and gone["trades"] == 5
    hot.on_trades(["A"], np.array([(T0 + 101) * 10**9]), np.array([7.0]), np.array([2.0]))
    w = hot.state("A", window_s=10)["window"]
    assert (w["high"], w["low"], w["volume"], w["trades"]) == (7.0, 7.0, 2.0, 1)


def test_seen_ids_are_bounded_oldest_forgotten_first():
    hot = HotState(seen_ids=4)
    ns = np.arange(1, 6) * 10**9 + T0 * 10**9
    ids = np.arange(1, 6, dtype=np.uint64)
    hot.on_trades(["A"] * 5, ns, np.full(5, 10.0), np.ones(5), trade_id=ids)
    hot.on_trades(["A"], ns[4:], np.array([10.0]), np.ones(1), trade_id=ids[4:])  # remembered: skipped
    hot.on_trades(["A"], ns[:1], np.array([10.0]), np.ones(1), trade_id=ids[:1])  # forgotten: counts again
    state = hot.state("A", window_s=3600)
    assert state["skipped"]["redeliveries"] == 1 and state["trades"] == 6
    hot.on_trades(["B"], ns[:1], np.array([1.0]), np.ones(1), trade_id=ids[3:4])  # same id, other symbol
    assert hot.state("B")["trades"] == 1
    high = np.array([2**64 - 1, 2**63, 2**64 - 1], np.uint64)  # every bit of a uint64 id counts
    hot.on_trades(["C"] * 3, ns[:3], np.ones(3), np.ones(3), trade_id=high, version=np.array([0, 0, 1]))
    assert (hot.state("C")["trades"], hot.state("C")["skipped"]["corrections"]) == (2, 1)


def test_many_ids_through_a_small_table_match_an_lru_of_the_same_size():
    rng = np.random.default_rng(5)
    n, capacity = 20_000, 64
    ids = rng.integers(0, 200, n).astype(np.uint64)  # many repeats, many evictions
    symbols = np.array(["A", "B"], object)[rng.integers(0, 2, n)]
    hot = HotState(seen_ids=capacity)
    hot.on_trades(symbols, np.full(n, T0 * 10**9), np.ones(n), np.ones(n), trade_id=ids)
    fifo: list[tuple[str, int]] = []
    kept = 0
    for s, i in zip(symbols, ids.tolist()):
        if (s, i) in fifo:
            continue
        kept += 1
        fifo.append((s, i))
        if len(fifo) > capacity:
            fifo.pop(0)
    assert hot.state("A")["trades"] + hot.state("B")["trades"] == kept


def test_book_is_the_newest_quote_per_symbol():
    rng = np.random.default_rng(3)
    n = 500
    symbols = np.array(SYMBOLS, object)[rng.integers(0, len(SYMBOLS), n)]
    ts = (T0 * 10**9 + rng.integers(0, 10**12, n)).astype(np.int64)  # not in order: older quotes are stale
    bid = np.sort(rng.uniform(90, 100, (n, 5)), axis=1)[:, ::-1].round(2)
    ask = np.sort(rng.uniform(100, 110, (n, 5)), axis=1).round(2)
    bid_qty, ask_qty = rng.integers(1, 50, (2, n, 5)).astype(float) * 100
    bid_orders, ask_orders = rng.integers(1, 9, (2, n, 5))
    bid[:, 4] = 0.0  # an empty level
    bid_qty[:, 4] = 0.0
    oi = np.where(rng.random(n) < 0.5, np.nan, rng.integers(1, 10**6, n).astype(float))
    hot = HotState()
    for a in range(0, n, 97):
        b = a + 97
        hot.on_quotes(symbols[a:b], ts[a:b], bid[a:b], bid_qty[a:b], bid_orders[a:b], ask[a:b], ask_qty[a:b],
                      ask_orders[a:b], oi=oi[a:b])
    for symbol in SYMBOLS:
        rows = np.flatnonzero(symbols == symbol)
        newest = rows[np.argmax(ts[rows])]
        last_oi = None
        best_ts = None
        for r in rows:  # the open interest of the newest quote that had one, among those applied
            if (best_ts is None or ts[r] >= best_ts) and not np.isnan(oi[r]):
                last_oi = oi[r]
            best_ts = ts[r] if best_ts is None else max(best_ts, ts[r])
        book = hot.book(symbol)
        assert book["ts_ns"] == ts[newest]
        assert book["bids"] == [{"price": bid[newest, k], "qty": bid_qty[newest, k],
                                 "orders": int(bid_orders[newest, k])} for k in range(4)]
        assert [level["price"] for level in book["asks"]] == ask[newest].tolist()
        assert book["oi"] == last_oi
        top = hot.state(symbol)["book"]
        assert (top["bid"], top["ask"], top["ask_qty"]) == (bid[newest, 0], ask[newest, 0], ask_qty[newest, 0])
        applied = sum(1 for i, r in enumerate(rows) if ts[r] >= ts[rows[:i]].max(initial=0))
        assert book["quotes"] == applied
        assert hot.state(symbol)["skipped"]["stale_quotes"] == rows.size - applied
        assert hot.state(symbol)["last_trade"] is None


def test_readers_never_see_a_half_applied_chunk():
    """One writer, two readers: every trade has size 1 in one second, so a consistent read has volume ==
    trades in the window == trades counted (the trees catch up at the end of each chunk), and a reader's
    counts never go down. (Without the seqlock about 1% of these reads are torn.)"""
    warm = HotState()  # compile the kernels first: the readers must not spend the run compiling
    warm.on_trades(["A"], [T0 * 10**9], [1.0], [1.0], trade_id=[1])
    warm.state("A")
    hot = HotState(window_s=60)
    n = 200_000
    stop = threading.Event()
    reads: list[int] = []
    problems: list[str] = []

    def read() -> None:
        seen = count = 0
        while not stop.is_set():
            state = hot.state("A", window_s=60)
            if state is None:
                continue
            count += 1
            w = state["window"]
            if w["volume"] != w["trades"] or w["trades"] < seen or state["trades"] != w["trades"]:
                problems.append(repr(state))
            seen = w["trades"]
        reads.append(count)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    ns = np.full(n, T0 * 10**9)
    for a in range(0, n, 10_000):
        hot.on_trades(["A"] * 10_000, ns[a:a + 10_000], np.full(10_000, 5.0), np.ones(10_000),
                      trade_id=np.arange(a, a + 10_000, dtype=np.uint64))
    stop.set()
    for r in readers:
        r.join()
    assert not problems, f"{len(problems)} torn reads of {sum(reads)}, e.g. {problems[0]}"
    assert min(reads) > 100
    assert hot.state("A")["window"]["trades"] == n


def test_on_table_reads_a_decoded_tick_batch():
    import pyarrow as pa

    from warehouse.ingest.validate import TICKS_SCHEMA

    table = pa.table({"symbol": ["A", "B", "A"], "ts": pa.array([T0 * 10**6, T0 * 10**6 + 1, T0 * 10**6 + 2],
                                                                  pa.timestamp("us", "UTC")),
                      "price": [1.0, 2.0, 3.0], "size": [1.0, 2.0, 3.0], "side": pa.array([1, -1, 0], pa.int8()),
                      "trade_id": pa.array([1, 1, 1], pa.uint64()), "version": pa.array([0, 0, 1], pa.uint32())},
                     schema=TICKS_SCHEMA)
    hot = HotState()
    hot.on_table(table)
    hot.on_table(TICKS_SCHEMA.empty_table())
    a, b = hot.state("A"), hot.state("B")
    assert (a["trades"], a["skipped"]["corrections"], a["last_trade"]["ts_ns"]) == (1, 1, T0 * 10**9)
    last = b["last_trade"]
    assert (last["price"], last["side"], last["ts_ns"]) == (2.0, "sell", T0 * 10**9 + 1000)


@pytest.mark.parametrize(("call", "message"), [
    (lambda h: h.on_trades(["A", "B"], [1, 2], [1.0], [1.0, 1.0]), "price: 1 values for 2 symbols"),
    (lambda h: h.on_trades(["A"], [1], [float("nan")], [1.0]), "price: nan (row 0) is not a positive finite number"),
    (lambda h: h.on_trades(["A"], [1], [1.0], [-2.0]), "size: -2.0 (row 0) is not a finite number >= 0"),
    (lambda h: h.on_trades(["A"], [1], [1.0], [1.0], side=[2]), "side: 2 (row 0) is not one of -1, 0, 1"),
    (lambda h: h.on_trades(["A", None], [1, 2], [1.0, 1.0], [1.0, 1.0]), "symbols: null at row 1"),
    (lambda h: h.on_trades([""], [1], [1.0], [1.0]), "symbols: '' is not a symbol name"),
    (lambda h: h.on_trades(["A"], [1.5], [1.0], [1.0]), "ts_ns: 1.5 (row 0) is not an integer"),
    (lambda h: h.on_trades(["A"], ["x"], [1.0], [1.0]), "ts_ns: values of type <U1 are not numbers"),
    (lambda h: h.on_quotes(["A"], [1], *[np.ones((1, 6))] * 6),
     "bid_price: shape (1, 6) is not (1, k) with 1 <= k <= 5"),
    (lambda h: h.on_quotes(["A"], [1], *[np.ones((1, 5))] * 5, np.ones((1, 4))),
     "levels: the six level arrays have different depths (5, 5, 5, 5, 5, 4)"),
    (lambda h: h.on_quotes(["A"], [1], [[1.0, float("nan")]], *[np.ones((1, 2))] * 5),
     "bid_price: nan (row 0, level 2) is not a finite number >= 0"),
    (lambda h: h.on_quotes(["A"], [1], *[np.ones((1, 1))] * 4, [[-5.0]], [[1.0]]),
     "ask_qty: -5.0 (row 0, level 1) is not a finite number >= 0"),
    (lambda h: h.state("A", window_s=0), "window_s: 0 is not an integer in [1, 3600]"),
    (lambda h: h.state("A", window_s=3601), "window_s: 3601 is not an integer in [1, 3600]"),
    (lambda h: HotState(seen_ids=0), "seen_ids: 0 is not an integer in [1, 1073741824]"),
])
def test_bad_input_is_one_line_naming_the_field_and_value(call, message):
    hot = HotState()
    with pytest.raises(WarehouseError) as info:
        call(hot)
    assert str(info.value) == message
    assert hot.symbols() == []  # a refused batch adds nothing


def test_unknown_symbols_and_empty_state():
    hot = HotState()
    assert hot.state("A") is None and hot.book("A") is None and hot.symbols() == [] and hot.clock_ns() is None
    assert hot.last_trades() == []
    hot.on_quotes(["A"], [T0 * 10**9], [[1.0]], [[1.0]], [[1]], [[2.0]], [[1.0]], [[1]])
    state = hot.state("A")
    assert state["last_trade"] is None and state["window"]["trades"] == 0 and state["clock"] is None
    assert hot.book("A")["bids"] == [{"price": 1.0, "qty": 1.0, "orders": 1}]
    assert hot.last_trades() == [{"symbol": "A", "last_trade": None, "trades": 0}]
