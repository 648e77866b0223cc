"""The hot path's in-memory market state: last trade, 5-level book, OI and rolling windows per symbol.

One writer thread (the stream consumer, through :meth:`HotState.on_table` or :meth:`HotState.on_trades` /
:meth:`HotState.on_quotes`) and any number of reader threads (the HTTP handlers of
:mod:`warehouse.serve.hot_routes`). The per-tick work is a numba kernel
(:mod:`warehouse.serve.hot_kernels`) run on chunks of at most :data:`WRITE_CHUNK` ticks, applied to two
copies of the state in turn; a read copies one symbol's numbers from a copy not being written (a
seqlock: it never blocks on a lock or waits for the writer, never releases the GIL) and formats them.

What counts, and when:

* **The stream clock** is the latest second of any trade seen (not the wall clock: a replayed
  stream has its own time). A window of N seconds covers the seconds ``[clock - N + 1, clock]``.
* **Trades** count once per ``(symbol, trade_id)``, at the first version seen: a repeat of a
  version is a redelivery, a higher version a correction; both are counted apart and change
  nothing else (the warehouse's ``ticks_dedup`` / ``bars_1m`` hold the corrected values). The
  last ``seen_ids`` ids (all symbols together) are remembered; an id older than that counts again.
  Batches without trade ids are not deduplicated.
* **Late trades** (a second at least ``window_s`` seconds before the clock) are counted and ignored.
  A trade older than a symbol's last one but within the window goes into its window and count,
  not into ``last_trade``.
* **Quotes** replace the symbol's book when not older than it (older ones are counted as stale).
* **Windows**: per symbol a ring of ``window_s`` one-second buckets with segment trees for high,
  low, volume and trade count: a window of any length up to ``window_s`` is an O(log window_s)
  query. Memory: about ``128 * window_s`` bytes a symbol (two copies; 460 KB at 3600), plus 64 to
  112 bytes an id of ``seen_ids``.

>>> import numpy as np
>>> hot = HotState(window_s=600)
>>> ns = np.array([0, 30, 61], np.int64) * 10**9 + 1_704_205_800 * 10**9
>>> hot.on_trades(["AAPL", "AAPL", "AAPL"], ns, np.array([185.0, 186.5, 185.5]), np.array([100.0, 50, 10]),
...               side=np.array([1, -1, 1], np.int8), trade_id=np.array([1, 2, 3], np.uint64))
>>> s = hot.state("AAPL", window_s=60)
>>> s["last_trade"]["price"], s["last_trade"]["side"], s["last_trade"]["ts"]
(185.5, 'buy', '2024-01-02T14:31:01.000000Z')
>>> s["window"]["high"], s["window"]["low"], s["window"]["volume"], s["window"]["trades"], s["trades"]
(186.5, 185.5, 60.0, 2, 3)
>>> hot.state("MSFT") is None, hot.symbols()
(True, ['AAPL'])
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.errors import WarehouseError
from warehouse.serve.hot_kernels import (EMPTY_INTS, F_LAST_PRICE, F_LAST_SIZE, F_OI, I_BOOK_TS, I_CORRECTED,
                                         I_LAST_SIDE, I_LAST_TS, I_LATE, I_QUOTES, I_REDELIVERED, I_STALE_QUOTES,
                                         I_TRADES, N_FLOATS, N_INTS, NO_SECOND, new_seen_nb, quotes_nb,
                                         reset_tree_nb, snapshot_nb, trades_nb)

LEVELS = 5
"""Book depth kept per side."""
WRITE_CHUNK = 512
"""Ticks applied per kernel call: bounds how long a read can be retried (~0.15 ms)."""
_SIDES = {1: "buy", -1: "sell", 0: None}
_BOOK_FIELDS = ("bid_price", "bid_qty", "bid_orders", "ask_price", "ask_qty", "ask_orders")


class HotState:
    """Current state per symbol, fed from the stream, read by many threads; see the module docstring.

    ``window_s`` is the longest window a read may ask for (seconds, 1..86400); ``seen_ids`` how many
    trade ids are remembered to skip redeliveries.

    >>> HotState(window_s=0)
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: window_s: 0 is not an integer in [1, 86400]
    """

    def __init__(self, *, window_s: int = 3600, seen_ids: int = 500_000) -> None:
        _check_int("window_s", window_s, 1, 86_400)
        _check_int("seen_ids", seen_ids, 1, 1 << 30)
        self.window_s = window_s
        self._writing = threading.Lock()  # one writer at a time (and symbols added by one)
        self._codes: dict[str, int] = {}
        self._names: list[str] = []
        # two copies of (ints, floats, tree, book, clock), replaced together when more symbols need room
        empty = (np.empty((0, N_INTS), np.int64), np.empty((0, N_FLOATS)), np.empty((0, 4, 2 * window_s)),
                 np.zeros((0, 6, LEVELS)), np.array([NO_SECOND], np.int64))
        self._copies = (empty, tuple(a.copy() for a in empty))
        self._seq = np.zeros(2, np.int64)  # per copy: odd while a write kernel runs on it
        self._seen = new_seen_nb(seen_ids)
        self._grow(16)

    # ---- writing (one thread) ----

    def on_trades(self, symbols: Sequence[str] | np.ndarray | pa.Array | pa.ChunkedArray, ts_ns: np.ndarray,
                  price: np.ndarray, size: np.ndarray, *, side: np.ndarray | None = None,
                  trade_id: np.ndarray | None = None, version: np.ndarray | None = None) -> None:
        """Apply a batch of trades: ``ts_ns`` epoch nanoseconds UTC, ``side`` +1 buy / -1 sell / 0 unknown,
        ``trade_id`` (uint64) for deduplication, ``version`` (higher = a correction; default 0).

        >>> HotState().on_trades(["A"], np.array([0]), np.array([-1.0]), np.array([1.0]))
        Traceback (most recent call last):
        warehouse.errors.WarehouseError: price: -1.0 (row 0) is not a positive finite number
        """
        n = len(symbols)
        ts = _column("ts_ns", ts_ns, np.int64, n)
        px = _column("price", price, np.float64, n)
        qty = _column("size", size, np.float64, n)
        _require("price", px, np.isfinite(px) & (px > 0), "a positive finite number")
        _require("size", qty, np.isfinite(qty) & (qty >= 0), "a finite number >= 0")
        sides = np.zeros(n, np.int8) if side is None else _column("side", side, np.int8, n)
        _require("side", sides, np.abs(sides) <= 1, "one of -1, 0, 1")
        ids = np.zeros(n, np.uint64) if trade_id is None else _column("trade_id", trade_id, np.uint64, n)
        versions = np.zeros(n, np.int64) if version is None else _column("version", version, np.int64, n)
        codes = self._encode(symbols)  # after the checks: a refused batch adds no symbol
        bits, fate = ids.view(np.int64), np.empty(n, np.int8)
        with self._writing:
            for a in range(0, n, WRITE_CHUNK):
                b = a + WRITE_CHUNK
                for which, (ints, floats, tree, _, clock) in enumerate(self._copies):
                    trades_nb(codes[a:b], ts[a:b], px[a:b], qty[a:b], sides[a:b], bits[a:b], versions[a:b],
                              trade_id is not None, which == 0, fate[a:b], ints, floats, tree, clock, self._seq,
                              which, *self._seen)

    def on_quotes(self, symbols: Sequence[str] | np.ndarray | pa.Array | pa.ChunkedArray, ts_ns: np.ndarray,
                  bid_price: np.ndarray, bid_qty: np.ndarray, bid_orders: np.ndarray, ask_price: np.ndarray,
                  ask_qty: np.ndarray, ask_orders: np.ndarray, *, oi: np.ndarray | None = None) -> None:
        """Apply a batch of book snapshots: each level array is (n, k) with k <= 5 levels, best first
        (missing levels become 0); ``oi`` open interest (NaN: unchanged).

        >>> hot = HotState()
        >>> px = np.array([[10.0, 9.9, 9.8, 9.7, 9.6]]); qty = np.full((1, 5), 100.0); orders = np.ones((1, 5))
        >>> hot.on_quotes(["A"], np.array([5 * 10**9]), px, qty, orders, px + 0.5, qty, orders, oi=np.array([7.0]))
        >>> b = hot.book("A")
        >>> b["bids"][0], b["asks"][-1]["price"], b["oi"], b["ts"]
        ({'price': 10.0, 'qty': 100.0, 'orders': 1}, 10.1, 7.0, '1970-01-01T00:00:05.000000Z')
        """
        n = len(symbols)
        ts = _column("ts_ns", ts_ns, np.int64, n)
        blocks = []
        for name, values in zip(_BOOK_FIELDS, (bid_price, bid_qty, bid_orders, ask_price, ask_qty, ask_orders)):
            block = np.asarray(values, np.float64)
            if block.ndim == 1:
                block = block[:, None]
            if block.ndim != 2 or block.shape[0] != n or not 1 <= block.shape[1] <= LEVELS:
                raise WarehouseError(f"{name}: shape {block.shape} is not ({n}, k) with 1 <= k <= {LEVELS}")
            bad = ~(np.isfinite(block) & (block >= 0))
            if bad.any():
                row, level = (int(i) for i in np.argwhere(bad)[0])
                raise WarehouseError(f"{name}: {block[row, level].item()!r} (row {row}, level {level + 1}) "
                                     f"is not a finite number >= 0")
            blocks.append(block)
        if len({block.shape[1] for block in blocks}) != 1:
            raise WarehouseError(f"levels: the six level arrays have different depths "
                                 f"({', '.join(str(b.shape[1]) for b in blocks)})")
        levels = np.stack(blocks, axis=1)
        interest = np.zeros(n) if oi is None else _column("oi", oi, np.float64, n)
        codes = self._encode(symbols)  # after the checks: a refused batch adds no symbol
        with self._writing:
            for a in range(0, n, WRITE_CHUNK):
                b = a + WRITE_CHUNK
                for which, (ints, floats, _, book, _) in enumerate(self._copies):
                    quotes_nb(codes[a:b], ts[a:b], levels[a:b], interest[a:b], oi is not None, ints, floats, book,
                              self._seq, which)

    def on_table(self, table: pa.Table) -> None:
        """Feed the trades of a decoded tick batch (the columns of
        :data:`warehouse.ingest.validate.TICKS_SCHEMA`, as :class:`warehouse.stream.sink.StreamSink`
        passes them to ``on_ticks``).

        >>> from datetime import datetime, timezone
        >>> hot = HotState()
        >>> hot.on_table(pa.table({"symbol": ["A", "A"], "ts": [datetime(2024, 1, 2, tzinfo=timezone.utc)] * 2,
        ...                        "price": [1.5, 1.5], "size": [3.0, 3.0], "side": pa.array([1, 1], pa.int8()),
        ...                        "trade_id": pa.array([9, 9], pa.uint64()),
        ...                        "version": pa.array([0, 0], pa.uint32())}))
        >>> hot.state("A")["trades"], hot.state("A")["skipped"]["redeliveries"]
        (1, 1)
        """
        if not table.num_rows:
            return
        ts = table["ts"]
        if pa.types.is_timestamp(ts.type):
            ts = pc.cast(ts, pa.timestamp("ns", ts.type.tz))
        names = set(table.column_names)
        self.on_trades(table["symbol"], _numpy(ts.cast(pa.int64())), _numpy(table["price"]), _numpy(table["size"]),
                       side=_numpy(table["side"]) if "side" in names else None,
                       trade_id=_numpy(table["trade_id"]) if "trade_id" in names else None,
                       version=_numpy(table["version"]) if "version" in names else None)

    # ---- reading (any thread) ----

    def symbols(self) -> list[str]:
        """The symbols seen so far (trades or quotes), sorted."""
        return sorted(self._codes)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._codes

    def clock_ns(self) -> int | None:
        """The stream clock: the start of the latest second of any trade, in epoch nanoseconds (None: no trade)."""
        second = int(self._copies[0][4][0])  # one int64: read whole
        return None if second == NO_SECOND else second * 1_000_000_000

    def book(self, symbol: str) -> dict[str, Any] | None:
        """The symbol's latest book, or None (unknown symbol, or no quote yet)::

            {"symbol": "AAPL", "ts": "2024-01-02T14:30:00.250000Z", "ts_ns": 1704205800250000000,
             "bids": [{"price": 185.1, "qty": 300.0, "orders": 2}, ...],   # best first, empty levels left out
             "asks": [{"price": 185.12, "qty": 200.0, "orders": 1}, ...],
             "oi": null, "quotes": 1234}                                    # oi: last open interest given
        """
        code = self._codes.get(symbol)
        if code is None:
            return None
        _, ints, floats, levels = self._snapshot(code, 1)
        if ints[I_BOOK_TS] == NO_SECOND:
            return None
        oi = floats[F_OI]
        sides = [[{"price": p, "qty": q, "orders": int(o)} for p, q, o in zip(*levels[f:f + 3]) if p > 0 or q > 0]
                 for f in (0, 3)]
        return {"symbol": symbol, "ts": iso_utc(ints[I_BOOK_TS]), "ts_ns": ints[I_BOOK_TS], "bids": sides[0],
                "asks": sides[1], "oi": None if oi != oi else oi, "quotes": ints[I_QUOTES]}

    def state(self, symbol: str, *, window_s: int = 60) -> dict[str, Any] | None:
        """The symbol's last trade, its window of the last ``window_s`` seconds and top of book, or None
        (unknown symbol). ``window_s`` is an integer in [1, ``self.window_s``]::

            {"symbol": "AAPL", "clock": "2024-01-02T14:31:01.000000Z",    # the stream clock (see module)
             "last_trade": {"ts": "...Z", "ts_ns": 1704205861000000000, "price": 185.5, "size": 10.0,
                            "side": "buy"},                                # null before any trade; side may be null
             "trades": 3,                                                  # trades counted since start
             "window": {"seconds": 60, "start": "...Z", "end": "...Z",    # [start, end)
                        "high": 186.5, "low": 185.5, "volume": 60.0, "trades": 2},  # high/low null if no trade
             "book": {"ts": "...Z", "bid": 185.4, "bid_qty": 300.0, "ask": 185.6, "ask_qty": 100.0,
                      "spread": 0.2},                                      # null before any quote
             "oi": null,
             "skipped": {"redeliveries": 0, "corrections": 0, "late": 0, "stale_quotes": 0}}

        >>> HotState(window_s=60).state("A", window_s=61)
        Traceback (most recent call last):
        warehouse.errors.WarehouseError: window_s: 61 is not an integer in [1, 60]
        """
        _check_int("window_s", window_s, 1, self.window_s)
        code = self._codes.get(symbol)
        if code is None:
            return None
        now, ints, floats, levels = self._snapshot(code, window_s)
        high, low, volume, count = floats[N_FLOATS:]
        top = [side[0] for side in levels]
        book = None
        if ints[I_BOOK_TS] != NO_SECOND:
            book = {"ts": iso_utc(ints[I_BOOK_TS]), "bid": top[0], "bid_qty": top[1], "ask": top[3], "ask_qty": top[4],
                    "spread": round(top[3] - top[0], 10)}
        start = (now - window_s + 1) * 1_000_000_000
        window = {"seconds": window_s, "start": iso_utc(start) if now != NO_SECOND else None,
                  "end": iso_utc(start + window_s * 1_000_000_000) if now != NO_SECOND else None,
                  "high": None if count == 0 else high, "low": None if count == 0 else low,
                  "volume": volume, "trades": int(count)}
        oi = floats[F_OI]
        return {"symbol": symbol, "clock": iso_utc(now * 1_000_000_000) if now != NO_SECOND else None,
                "last_trade": _last_trade(ints, floats), "trades": ints[I_TRADES], "window": window, "book": book,
                "oi": None if oi != oi else oi,
                "skipped": {"redeliveries": ints[I_REDELIVERED], "corrections": ints[I_CORRECTED],
                            "late": ints[I_LATE], "stale_quotes": ints[I_STALE_QUOTES]}}

    def last_trades(self) -> list[dict[str, Any]]:
        """Every symbol with its last trade (null before any) and trade count, sorted by symbol::

            [{"symbol": "AAPL", "last_trade": {"ts": ..., "ts_ns": ..., "price": ..., "size": ..., "side": ...},
              "trades": 3}, ...]
        """
        rows = []
        for name in sorted(self._codes):
            _, ints, floats, _ = self._snapshot(self._codes[name], 1)
            rows.append({"symbol": name, "last_trade": _last_trade(ints, floats), "trades": ints[I_TRADES]})
        return rows

    def _snapshot(self, code: int, window_s: int) -> tuple[int, list[int], list[float], list[list[float]]]:
        """(clock, the symbol's ints, its floats + window high/low/volume/trades, its book), consistent."""
        copies = self._copies  # read after self._codes: arrays at least as new as the code
        out_ints, out_floats, out_book = np.empty(N_INTS, np.int64), np.empty(N_FLOATS + 4), np.empty((6, LEVELS))
        while True:
            for which, (ints, floats, tree, book, clock) in enumerate(copies):
                ok, now = snapshot_nb(self._seq, which, tree, ints, floats, book, clock, code, window_s, out_ints,
                                      out_floats, out_book)
                if ok:
                    return int(now), out_ints.tolist(), out_floats.tolist(), out_book.tolist()

    # ---- internals ----

    def _encode(self, symbols: Sequence[str] | np.ndarray | pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Symbol codes (int64) of a batch's symbols; new symbols get state (under the lock)."""
        if isinstance(symbols, pa.ChunkedArray):
            symbols = symbols.combine_chunks()
        array = symbols if isinstance(symbols, pa.Array) else pa.array(np.asarray(symbols, object), pa.string())
        if array.null_count:
            raise WarehouseError(f"symbols: null at row {pc.index(pc.is_null(array), True).as_py()}")
        encoded = array if pa.types.is_dictionary(array.type) else array.dictionary_encode()
        names = encoded.dictionary.to_pylist()
        missing = [name for name in names if name not in self._codes]
        if missing:
            for name in missing:
                if not isinstance(name, str) or not name:
                    raise WarehouseError(f"symbols: {name!r} is not a symbol name")
            with self._writing:  # room first, then the codes: a reader that finds a code finds its row
                if len(self._names) + len(missing) > self._copies[0][0].shape[0]:
                    self._grow(2 * (len(self._names) + len(missing)))
                for name in missing:
                    self._codes[name] = len(self._names)
                    self._names.append(name)
        lookup = np.array([self._codes[name] for name in names], np.int64)
        return lookup[_numpy(encoded.indices).astype(np.int64, copy=False)]

    def _grow(self, capacity: int) -> None:
        """Room for ``capacity`` symbols in both copies (by the writer, or from __init__): copies, then one swap."""
        copies = []
        for old_ints, old_floats, old_tree, old_book, clock in self._copies:
            old = old_ints.shape[0]
            ints = np.empty((capacity, N_INTS), np.int64)
            ints[:old], ints[old:] = old_ints, EMPTY_INTS
            floats = np.full((capacity, N_FLOATS), np.nan)
            floats[:old] = old_floats
            tree = np.empty((capacity, 4, old_tree.shape[2]))
            tree[:old] = old_tree
            for s in range(old, capacity):
                reset_tree_nb(tree, s)
            book = np.zeros((capacity, 6, LEVELS))
            book[:old] = old_book
            copies.append((ints, floats, tree, book, clock))
        self._copies = tuple(copies)


def _last_trade(ints: list[int], floats: list[float]) -> dict[str, Any] | None:
    if ints[I_LAST_TS] == NO_SECOND:
        return None
    return {"ts": iso_utc(ints[I_LAST_TS]), "ts_ns": ints[I_LAST_TS], "price": floats[F_LAST_PRICE],
            "size": floats[F_LAST_SIZE], "side": _SIDES[ints[I_LAST_SIDE]]}


def _check_int(field: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise WarehouseError(f"{field}: {value!r} is not an integer in [{low}, {high}]")


def _numpy(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False) if isinstance(values, (pa.Array, pa.ChunkedArray)) else values


def _column(field: str, values: object, dtype: type, n: int) -> np.ndarray:
    """``values`` as a contiguous 1-d array of ``dtype`` and length ``n``, or a one-line error naming ``field``."""
    array = _numpy(values) if isinstance(values, (pa.Array, pa.ChunkedArray)) else np.asarray(values)
    if array.ndim != 1 or array.shape[0] != n:
        raise WarehouseError(f"{field}: {array.shape[0] if array.ndim == 1 else array.shape} values for {n} symbols")
    if np.issubdtype(array.dtype, np.datetime64):
        array = array.astype("datetime64[ns]").view(np.int64)
    if array.dtype.kind not in "iuf":
        raise WarehouseError(f"{field}: values of type {array.dtype} are not numbers")
    if np.dtype(dtype).kind in "iu" and array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise WarehouseError(f"{field}: {array[row].item()!r} (row {row}) is not an integer")
    return np.ascontiguousarray(array, dtype)


def _require(field: str, values: np.ndarray, ok: np.ndarray, what: str) -> None:
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        raise WarehouseError(f"{field}: {values[row].item()!r} (row {row}) is not {what}")


def iso_utc(ns: int) -> str:
    """Epoch nanoseconds -> ISO-8601 UTC with microseconds.

    >>> iso_utc(1_704_205_800_250_000_001)
    '2024-01-02T14:30:00.250000Z'
    """
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1000:06d}Z"
