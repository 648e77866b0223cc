"""Numba kernels of the feed: bars given as columns in any order, put into the engine's arrays.

numpy arrays in, numpy arrays out; the Python side is :func:`backtest.feed.frames.scatter_bars`.

>>> import numpy as np
>>> rows, cols = np.array([1, 0, 1]), np.array([0, 0, 1])
>>> one = np.array([1.0, 2.0, 3.0])
>>> o, h, l, c, v = place_bars_nb(rows, cols, one, one, one, one, one, 2, 2)
>>> c.tolist(), v.tolist()
([[2.0, nan], [1.0, 3.0]], [[2.0, 0.0], [1.0, 3.0]])
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def place_bars_nb(rows, cols, opens, highs, lows, closes, volumes, n_rows, n_cols):
    """``(open, high, low, close, volume)`` arrays of shape ``(n_rows, n_cols)`` with bar ``i`` at
    ``(rows[i], cols[i])`` and the missing-bar rule applied: a cell without a bar carries its
    column's previous close as open/high/low/close (NaN before the column's first bar), volume 0.

    Each cell may hold one bar at most; a second one returns empty arrays (the caller says so).
    """
    shape = (n_rows, n_cols)
    o, h, l, c = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape)
    v = np.zeros(shape)
    present = np.zeros(shape, np.bool_)
    for i in range(rows.size):
        r, k = rows[i], cols[i]
        if present[r, k]:
            empty = np.empty((0, 0))
            return empty, empty, empty, empty, empty
        present[r, k] = True
        o[r, k], h[r, k], l[r, k], c[r, k], v[r, k] = opens[i], highs[i], lows[i], closes[i], volumes[i]
    last = np.full(n_cols, np.nan)
    for r in range(n_rows):
        for k in range(n_cols):
            if present[r, k]:
                last[k] = c[r, k]
            else:
                o[r, k] = h[r, k] = l[r, k] = c[r, k] = last[k]
    return o, h, l, c, v


@njit(cache=True, nogil=True)
def slot_rows_nb(seconds, first, resolution, n_slots):
    """The distinct bar times (epoch seconds, sorted) and each bar's row among them, in O(n + n_slots).

    Bar times are multiples of ``resolution`` seconds from ``first``; ``n_slots`` covers the last.
    """
    taken = np.zeros(n_slots, np.bool_)
    slots = np.empty(seconds.size, np.int64)
    for i in range(seconds.size):
        slots[i] = (seconds[i] - first) // resolution
        taken[slots[i]] = True
    row_of = np.empty(n_slots, np.int64)
    count = 0
    for s in range(n_slots):
        row_of[s] = count
        count += taken[s]
    times = np.empty(count, np.int64)
    rows = np.empty(seconds.size, np.int64)
    for s in range(n_slots):
        if taken[s]:
            times[row_of[s]] = first + s * resolution
    for i in range(seconds.size):
        rows[i] = row_of[slots[i]]
    return times, rows
