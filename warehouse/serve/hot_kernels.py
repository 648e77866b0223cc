"""Numba kernels of the hot path (:mod:`warehouse.serve.hot_state`): numpy arrays in, state updated in place.

State layout (the Python layer allocates it, these kernels read and write it). The readable state
(``ints, floats, tree, book, clock``) exists twice: the writer applies each chunk to copy 0, then to
copy 1, each under its own sequence number (odd while written), so a reader (:func:`snapshot_nb`)
always finds a copy not being written and never waits for the writer.

* ``ints[symbol, column]`` (int64) and ``floats[symbol, column]`` (float64): the per-symbol scalars,
  columns named by the ``I_*`` and ``F_*`` constants below;
* ``tree[symbol, field, node]`` (float64, ``field`` one of ``HIGH, LOW, VOLUME, COUNT``): one
  bottom-up segment tree per symbol and field over a ring of ``W = tree.shape[2] // 2``
  per-second buckets (leaf ``W + second % W``). The ring holds the seconds
  ``(ints[s, I_SECOND] - W, ints[s, I_SECOND]]``; seconds with no trade hold the identity
  (``-inf``, ``+inf``, 0, 0), so a window is one O(log W) range query (two if it wraps);
* ``book[symbol, side_field, level]``: bid price, quantity, orders, then ask price, quantity, orders;
* the seen trade ids (their uint64 bits as int64): an open-addressing table (linear probing,
  backward-shift deletion) of ``(symbol, trade_id) -> version`` whose keys also sit in a FIFO ring;
  when the ring is full the oldest id is forgotten, so memory is bounded by the ring's length.

>>> import numpy as np
>>> W = 4
>>> tree = np.zeros((1, 4, 2 * W)); reset_tree_nb(tree, 0)
>>> ints = np.zeros((1, N_INTS), np.int64); ints[0, :] = EMPTY_INTS; floats = np.zeros((1, N_FLOATS))
>>> seen = new_seen_nb(8)
>>> clock, seq = np.array([NO_SECOND], np.int64), np.zeros(1, np.int64)
>>> ns = np.array([10, 11, 11, 13], np.int64) * 10**9
>>> fate = np.empty(4, np.int8)
>>> trades_nb(np.zeros(4, np.int64), ns, np.array([5.0, 7.0, 6.0, 4.0]), np.ones(4), np.ones(4, np.int8),
...           np.array([1, 2, 2, 3], np.int64), np.zeros(4, np.int64), True, True, fate, ints, floats, tree, clock,
...           seq, 0, *seen)
>>> window_nb(tree, ints, 0, clock[0], 3)  # seconds 11..13: the repeat of trade 2 is not counted
(7.0, 4.0, 2.0, 2.0)
>>> int(ints[0, I_REDELIVERED]), int(ints[0, I_TRADES]), int(seq[0])  # seq: even again after the write
(1, 3, 2)
>>> fate.tolist() == [KEPT, KEPT, REDELIVERED, KEPT]
True
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from warehouse.stream.numba_options import INLINED, KERNEL

HIGH, LOW, VOLUME, COUNT = 0, 1, 2, 3
NO_SECOND = np.iinfo(np.int64).min // 2  # "no trade yet": far below any real second, no overflow on subtraction
# Per-symbol int64 columns.
I_LAST_TS, I_LAST_SIDE, I_TRADES, I_SECOND, I_PENDING = 0, 1, 2, 3, 4
I_REDELIVERED, I_CORRECTED, I_LATE, I_BOOK_TS, I_QUOTES, I_STALE_QUOTES = 5, 6, 7, 8, 9, 10
N_INTS = 11
EMPTY_INTS = np.array([NO_SECOND, 0, 0, NO_SECOND, -1, 0, 0, 0, NO_SECOND, 0, 0], np.int64)
# Per-symbol float64 columns.
F_LAST_PRICE, F_LAST_SIZE, F_OI = 0, 1, 2
N_FLOATS = 3
# A trade's fate.
KEPT, REDELIVERED, CORRECTED, LATE = 0, 1, 2, 3
# Global counters of the seen-id ring.
S_HEAD, S_LEN = 0, 1
_EMPTY = -1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@intrinsic
def _fence(typingctx):
    """A sequentially consistent memory fence (LLVM ``fence seq_cst``): no load or store crosses it."""
    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()
    return types.void(), codegen


def new_seen_nb(capacity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empty seen-id state remembering the last ``capacity`` ids: ``(table, ring, counters)``. ``table`` rows
    are ``(symbol, trade_id bits, version)`` (one cache line a probe; symbol -1: empty), a power of two
    >= 2 * capacity of them; ``ring`` holds the ``(symbol, trade_id bits)`` keys in arrival order."""
    slots = 1 << max(3, int(2 * capacity - 1).bit_length())
    table = np.zeros((slots, 3), np.int64)
    table[:, 0] = _EMPTY
    return table, np.zeros((capacity, 2), np.int64), np.zeros(2, np.int64)


@njit(**INLINED)
def _home(symbol, trade_id, mask):
    """The table slot a key hashes to (splitmix64 of the id's bits mixed with the symbol)."""
    z = np.uint64(trade_id) ^ (np.uint64(symbol) * _GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return np.int64((z ^ (z >> np.uint64(31))) & np.uint64(mask))


@njit(**INLINED)
def _find(table, symbol, trade_id):
    """Slot of the key, or -1."""
    mask = table.shape[0] - 1
    i = _home(symbol, trade_id, mask)
    while table[i, 0] != _EMPTY:
        if table[i, 0] == symbol and table[i, 1] == trade_id:
            return i
        i = (i + 1) & mask
    return -1


@njit(**INLINED)
def _delete(table, slot):
    """Remove the key at ``slot``, shifting later keys of its probe run back (no tombstones)."""
    mask = table.shape[0] - 1
    i = slot
    j = slot
    while True:
        j = (j + 1) & mask
        if table[j, 0] == _EMPTY:
            break
        k = _home(table[j, 0], table[j, 1], mask)
        if (i <= j and i < k <= j) or (i > j and (k > i or k <= j)):
            continue  # its home lies between the hole and it: it stays
        table[i, 0], table[i, 1], table[i, 2] = table[j, 0], table[j, 1], table[j, 2]
        i = j
    table[i, 0] = _EMPTY


@njit(**INLINED)
def _remember(table, ring, counters, symbol, trade_id, version):
    """KEPT for a new id (now remembered), REDELIVERED for a version seen, CORRECTED for a newer version."""
    slot = _find(table, symbol, trade_id)
    if slot >= 0:
        if version > table[slot, 2]:
            table[slot, 2] = version
            return CORRECTED
        return REDELIVERED
    capacity = ring.shape[0]
    if counters[S_LEN] == capacity:  # forget the oldest id
        head = counters[S_HEAD]
        _delete(table, _find(table, ring[head, 0], ring[head, 1]))
        counters[S_HEAD] = (head + 1) % capacity
        counters[S_LEN] -= 1
    tail = (counters[S_HEAD] + counters[S_LEN]) % capacity
    ring[tail, 0], ring[tail, 1] = symbol, trade_id
    counters[S_LEN] += 1
    mask = table.shape[0] - 1
    i = _home(symbol, trade_id, mask)
    while table[i, 0] != _EMPTY:
        i = (i + 1) & mask
    table[i, 0], table[i, 1], table[i, 2] = symbol, trade_id, version
    return KEPT


@njit(**INLINED)
def _pull_up(tree, s, leaf):
    """Recompute the ancestors of ``leaf`` (a ring position) in symbol ``s``'s four trees."""
    i = (leaf + tree.shape[2] // 2) >> 1
    while i >= 1:
        a, b = 2 * i, 2 * i + 1
        tree[s, HIGH, i] = max(tree[s, HIGH, a], tree[s, HIGH, b])
        tree[s, LOW, i] = min(tree[s, LOW, a], tree[s, LOW, b])
        tree[s, VOLUME, i] = tree[s, VOLUME, a] + tree[s, VOLUME, b]
        tree[s, COUNT, i] = tree[s, COUNT, a] + tree[s, COUNT, b]
        i >>= 1


@njit(**INLINED)
def _clear_leaf(tree, s, leaf):
    node = leaf + tree.shape[2] // 2
    tree[s, HIGH, node] = -np.inf
    tree[s, LOW, node] = np.inf
    tree[s, VOLUME, node] = 0.0
    tree[s, COUNT, node] = 0.0


@njit(**KERNEL)
def reset_tree_nb(tree, s):
    """Set all of symbol ``s``'s buckets (and nodes) to the identity: no trades."""
    tree[s, HIGH, :] = -np.inf
    tree[s, LOW, :] = np.inf
    tree[s, VOLUME, :] = 0.0
    tree[s, COUNT, :] = 0.0


@njit(**KERNEL)
def trades_nb(codes, ts_ns, price, size, side, trade_id, version, has_id, decide, fate, ints, floats, tree, clock,
              seq, which, table, ring, counters):
    """Apply one chunk of trades to one copy of the state. A trade is skipped and counted when its second
    lies ``W`` or more seconds before the stream clock (``late``; the clock is the latest second of any
    symbol, ``clock[0]``) or when its ``(symbol, trade_id)`` was seen (``redelivered``, or ``corrected``
    for a higher version). With ``decide`` each trade's fate (:data:`KEPT`, :data:`REDELIVERED`,
    :data:`CORRECTED`, :data:`LATE`) is decided (the seen ids updated) and written to ``fate``; without,
    ``fate`` is read (the second copy). Per trade O(1); each change of a symbol's bucket costs one
    O(log W) pull-up. ``seq[which]`` is odd while it writes (see :func:`snapshot_nb`)."""
    seq[which] += 1
    _fence()
    width = tree.shape[2] // 2
    for i in range(codes.shape[0]):
        s = codes[i]
        t = ts_ns[i]
        second = t // 1_000_000_000
        if second > clock[0]:
            clock[0] = second
        if decide:
            if second <= clock[0] - width:
                fate[i] = LATE
            elif has_id:
                fate[i] = _remember(table, ring, counters, np.int64(s), trade_id[i], version[i])
            else:
                fate[i] = KEPT
        if fate[i] != KEPT:
            ints[s, I_LATE if fate[i] == LATE else I_REDELIVERED if fate[i] == REDELIVERED else I_CORRECTED] += 1
            continue
        ints[s, I_TRADES] += 1
        if t >= ints[s, I_LAST_TS]:
            ints[s, I_LAST_TS] = t
            ints[s, I_LAST_SIDE] = side[i]
            floats[s, F_LAST_PRICE] = price[i]
            floats[s, F_LAST_SIZE] = size[i]
        current = ints[s, I_SECOND]
        if second > current:  # the ring moves forward: the seconds it passes start empty
            if ints[s, I_PENDING] >= 0:
                _pull_up(tree, s, ints[s, I_PENDING])
                ints[s, I_PENDING] = -1
            if second - current >= width:
                reset_tree_nb(tree, s)
            else:
                for passed in range(current + 1, second + 1):
                    _clear_leaf(tree, s, passed % width)
                    _pull_up(tree, s, passed % width)
            ints[s, I_SECOND] = second
        leaf = second % width
        if ints[s, I_PENDING] != leaf:
            if ints[s, I_PENDING] >= 0:
                _pull_up(tree, s, ints[s, I_PENDING])
            ints[s, I_PENDING] = leaf
        node = leaf + width
        tree[s, HIGH, node] = max(tree[s, HIGH, node], price[i])
        tree[s, LOW, node] = min(tree[s, LOW, node], price[i])
        tree[s, VOLUME, node] += size[i]
        tree[s, COUNT, node] += 1.0
    for s in range(ints.shape[0]):  # readers see whole trees between chunks
        if ints[s, I_PENDING] >= 0:
            _pull_up(tree, s, ints[s, I_PENDING])
            ints[s, I_PENDING] = -1
    _fence()
    seq[which] += 1


@njit(**INLINED)
def _range(tree, s, lo, hi, out):
    """Fold ring positions ``[lo, hi)`` of symbol ``s`` into ``out`` (high, low, volume, count)."""
    width = tree.shape[2] // 2
    lo += width
    hi += width
    while lo < hi:
        if lo & 1:
            out[0] = max(out[0], tree[s, HIGH, lo])
            out[1] = min(out[1], tree[s, LOW, lo])
            out[2] += tree[s, VOLUME, lo]
            out[3] += tree[s, COUNT, lo]
            lo += 1
        if hi & 1:
            hi -= 1
            out[0] = max(out[0], tree[s, HIGH, hi])
            out[1] = min(out[1], tree[s, LOW, hi])
            out[2] += tree[s, VOLUME, hi]
            out[3] += tree[s, COUNT, hi]
        lo >>= 1
        hi >>= 1


@njit(cache=True)  # reads keep the GIL: releasing it mid-request invites a switch to the writer thread
def window_nb(tree, ints, s, now, seconds):
    """(high, low, volume, trades) of symbol ``s`` over the seconds ``[now - seconds + 1, now]``;
    high is -inf and low +inf when no trade falls in it. O(log W)."""
    width = tree.shape[2] // 2
    out = np.array([-np.inf, np.inf, 0.0, 0.0])
    last = ints[s, I_SECOND]
    first = max(now - seconds + 1, last - width + 1)
    if last == NO_SECOND or first > last:
        return out[0], out[1], out[2], out[3]
    if last - first + 1 >= width:
        _range(tree, s, 0, width, out)
    else:
        a, b = first % width, last % width
        if a <= b:
            _range(tree, s, a, b + 1, out)
        else:
            _range(tree, s, a, width, out)
            _range(tree, s, 0, b + 1, out)
    return out[0], out[1], out[2], out[3]


@njit(cache=True)
def snapshot_nb(seq, which, tree, ints, floats, book, clock, s, seconds, out_ints, out_floats, out_book):
    """Copy symbol ``s``'s row of ``ints`` and ``floats`` (then its window of ``seconds``: high, low, volume,
    trades) and its ``book`` from copy ``which`` of the state into the ``out_*`` arrays: ``(ok, clock)``.
    A seqlock read: not ok if a write kernel ran on that copy meanwhile (``seq[which]`` odd or changed);
    the writer updates the two copies one after the other, so one of them is always readable."""
    first = seq[which]
    _fence()
    if first & 1:
        return False, 0
    now = clock[0]
    high, low, volume, count = window_nb(tree, ints, s, now, seconds)
    for k in range(ints.shape[1]):
        out_ints[k] = ints[s, k]
    n = floats.shape[1]
    for k in range(n):
        out_floats[k] = floats[s, k]
    out_floats[n], out_floats[n + 1], out_floats[n + 2], out_floats[n + 3] = high, low, volume, count
    for f in range(book.shape[1]):
        for k in range(book.shape[2]):
            out_book[f, k] = book[s, f, k]
    _fence()
    return seq[which] == first, now


@njit(**KERNEL)
def quotes_nb(codes, ts_ns, levels, oi, has_oi, ints, floats, book, seq, which):
    """Apply one chunk of quotes: ``levels[i]`` is quote ``i``'s (6, depth) block (bid price, quantity,
    orders, ask price, quantity, orders); a quote older than the symbol's book is skipped and counted
    (``stale_quotes``); a NaN ``oi`` keeps the last one. ``seq[which]`` is odd while it writes."""
    seq[which] += 1
    _fence()
    depth = min(levels.shape[2], book.shape[2])
    for i in range(codes.shape[0]):
        s = codes[i]
        if ts_ns[i] < ints[s, I_BOOK_TS]:
            ints[s, I_STALE_QUOTES] += 1
            continue
        ints[s, I_BOOK_TS] = ts_ns[i]
        ints[s, I_QUOTES] += 1
        for f in range(6):
            for k in range(depth):
                book[s, f, k] = levels[i, f, k]
            for k in range(depth, book.shape[2]):
                book[s, f, k] = 0.0
        if has_oi and not np.isnan(oi[i]):
            floats[s, F_OI] = oi[i]
    _fence()
    seq[which] += 1
