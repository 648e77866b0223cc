"""Numba kernels of the tick writer (``warehouse.ingest.writer``): numpy arrays in, numpy arrays out.

The writer hands ClickHouse each batch already in the ``ticks_dedup`` key order
``(symbol, ts, trade_id)``: both tables then skip their sort on insert (a
MergeTree writer checks whether a block is sorted before sorting it), and rows
of one trade identity sit next to each other, so repeats are found by comparing
neighbours instead of hashing. Symbols arrive as codes whose order is the order
of the symbol strings.

>>> import numpy as np
>>> codes, ts, ids = np.array([1, 0, 1, 0]), np.array([5, 5, 6, 7]), np.zeros(4, np.uint64)
>>> order = grouped_order_nb(codes, ts, ids, 2)
>>> order.tolist()
[1, 3, 0, 2]
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def grouped_order_nb(codes, ts, trade_ids, n_codes):
    """The stable order sorting rows by ``(code, ts, trade_id)``, in O(n), when each code's
    rows already come in ``(ts, trade_id)`` order (a time-ordered feed); else an empty array.

    ``codes`` are in ``[0, n_codes)``. Rows of one symbol keep their input order.

    >>> import numpy as np
    >>> grouped_order_nb(np.array([0, 0]), np.array([2, 1]), np.zeros(2, np.uint64), 1).size
    0
    """
    n = codes.size
    starts = np.zeros(n_codes + 1, np.int64)
    last_ts = np.empty(n_codes, np.int64)
    last_id = np.empty(n_codes, np.uint64)
    seen = np.zeros(n_codes, np.bool_)
    for i in range(n):
        code = codes[i]
        if seen[code] and (ts[i] < last_ts[code] or (ts[i] == last_ts[code] and trade_ids[i] < last_id[code])):
            return np.empty(0, np.int64)
        seen[code] = True
        last_ts[code] = ts[i]
        last_id[code] = trade_ids[i]
        starts[code + 1] += 1
    for code in range(n_codes):
        starts[code + 1] += starts[code]
    order = np.empty(n, np.int64)
    for i in range(n):
        code = codes[i]
        order[starts[code]] = i
        starts[code] += 1
    return order


@njit(cache=True, nogil=True)
def _before(code_a, ts_a, id_a, code_b, ts_b, id_b):
    """Identity ``a`` sorts before identity ``b``."""
    if code_a != code_b:
        return code_a < code_b
    if ts_a != ts_b:
        return ts_a < ts_b
    return id_a < id_b


@njit(cache=True, nogil=True)
def _distinct(values, lo, hi):
    """How many distinct values ``values[lo:hi]`` holds (a trade's few repeats: pairwise)."""
    count = 0
    for i in range(lo, hi):
        fresh = True
        for j in range(lo, i):
            if values[j] == values[i]:
                fresh = False
                break
        count += fresh
    return count


@njit(cache=True, nogil=True)
def _first_of_its_kind(versions, prices, sizes, lo, i):
    """Row ``i`` has a (version, price, size) no row of ``[lo, i)`` has."""
    for j in range(lo, i):
        if versions[j] == versions[i] and prices[j] == prices[i] and sizes[j] == sizes[i]:
            return False
    return True


@njit(cache=True, nogil=True)
def classify_nb(codes, ts, trade_ids, versions, prices, sizes,
                stored_codes, stored_ts, stored_ids, stored_versions, stored_prices, stored_sizes):
    """What a batch does to the warehouse, by one merge walk of the batch and the stored trades.

    Both sides are sorted by identity ``(code, ts, trade_id)`` (the batch stably, so a trade's
    rows keep their input order; the stored side holds one row per identity). Per trade the
    kept row is ``ReplacingMergeTree(version)``'s: highest version, the last on ties.

    Returns ``(first_seen, changed_rows, corrections, redeliveries)``: per row 1 on the kept row
    of a trade never stored (the only rows the bars' view counts); the kept rows that change a
    stored trade (newer version, or same version with another price or size: its bar must be
    rebuilt); the newer versions seen (extra versions of a trade in the batch, plus changes of
    stored trades); rows equal (version, price, size) to an earlier row of their trade or to
    the stored one.

    >>> import numpy as np
    >>> z = np.zeros(3, np.int64)
    >>> first, changed, corrections, redeliveries = classify_nb(
    ...     z, np.array([1, 1, 2]), np.array([7, 7, 8], np.uint64), np.array([0, 1, 0], np.uint32),
    ...     np.array([10.0, 11.0, 5.0]), np.ones(3), z[:1], np.array([2]), np.array([8], np.uint64),
    ...     np.zeros(1, np.uint32), np.array([5.0]), np.ones(1))
    >>> first.tolist(), changed.tolist(), corrections, redeliveries
    ([0, 1, 0], [], 1, 1)
    """
    n = codes.size
    first_seen = np.zeros(n, np.uint8)
    changed = np.empty(n, np.int64)
    n_changed = 0
    corrections = 0
    redeliveries = 0
    s = 0
    lo = 0
    while lo < n:
        hi = lo + 1
        while hi < n and codes[hi] == codes[lo] and ts[hi] == ts[lo] and trade_ids[hi] == trade_ids[lo]:
            hi += 1
        kept = lo
        for i in range(lo + 1, hi):
            if versions[i] >= versions[kept]:
                kept = i
        if hi - lo > 1:
            corrections += _distinct(versions, lo, hi) - 1
            for i in range(lo + 1, hi):
                redeliveries += not _first_of_its_kind(versions, prices, sizes, lo, i)
        while s < stored_codes.size and _before(stored_codes[s], stored_ts[s], stored_ids[s],
                                                  codes[lo], ts[lo], trade_ids[lo]):
            s += 1
        if (s < stored_codes.size and stored_codes[s] == codes[lo] and stored_ts[s] == ts[lo]
                and stored_ids[s] == trade_ids[lo]):
            for i in range(lo, hi):  # each distinct (version, price, size) equal to the stored row
                if (versions[i] == stored_versions[s] and prices[i] == stored_prices[s]
                        and sizes[i] == stored_sizes[s]):
                    redeliveries += _first_of_its_kind(versions, prices, sizes, lo, i)
            if versions[kept] > stored_versions[s] or (
                    versions[kept] == stored_versions[s]
                    and (prices[kept] != stored_prices[s] or sizes[kept] != stored_sizes[s])):
                changed[n_changed] = kept
                n_changed += 1
                corrections += 1
        else:
            first_seen[kept] = 1
        lo = hi
    return first_seen, changed[:n_changed], corrections, redeliveries
