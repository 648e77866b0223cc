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
>>> order.tolist(), repeated_nb(codes, ts, ids, order).tolist()
([1, 3, 0, 2], [False, False, False, False])
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
def repeated_nb(codes, ts, trade_ids, order):
    """Per position of ``order`` (rows sorted by identity): True where the row's identity
    ``(code, ts, trade_id)`` occurs more than once in the batch.

    >>> import numpy as np
    >>> repeated_nb(np.zeros(3, np.int64), np.array([1, 1, 2]), np.zeros(3, np.uint64), np.arange(3)).tolist()
    [True, True, False]
    """
    n = order.size
    out = np.zeros(n, np.bool_)
    for k in range(1, n):
        a, b = order[k - 1], order[k]
        if codes[a] == codes[b] and ts[a] == ts[b] and trade_ids[a] == trade_ids[b]:
            out[k - 1] = True
            out[k] = True
    return out
