"""Crossovers as vectorbt defines them: boolean arrays, and both directions as a sparse signal.

``a`` *crosses over* ``b`` at bar t when ``a[t] > b[t]``, the bar before was
not above (below or equal), and ``a`` was strictly below ``b`` at some bar
since the last NaN of either -- vectorbt's ``crossed_above`` (``wait=0``);
*crosses under* is the same with ``a`` and ``b`` swapped. (The built-in
``sma_cross`` keeps backtesting.py's stricter test, :mod:`.crossings`, for its
parity with that package; the two differ only where the series are exactly equal.)

>>> import numpy as np
>>> a = np.array([[1.0], [2.0], [2.0], [3.0], [1.0]])
>>> b = np.full((5, 1), 2.0)
>>> crossed_above_nb(a, b)[:, 0].tolist(), crossed_above_nb(b, a)[:, 0].tolist()
([False, False, False, True, False], [False, False, False, False, True])
>>> bars, rows = cross_events_nb(a, b)
>>> bars.tolist(), rows[:, 0].tolist()
([3, 4], [1.0, -1.0])
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def crossed_above_nb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True at the bars where ``a`` crosses above ``b`` (see the module text)."""
    n, k = a.shape
    out = np.zeros((n, k), dtype=np.bool_)
    for j in range(k):
        was_below = False
        above_before = False
        for t in range(n):
            x, y = a[t, j], b[t, j]
            if np.isnan(x) or np.isnan(y):
                was_below = False
                above_before = False
            elif x > y:
                out[t, j] = was_below and not above_before
                above_before = True
            else:
                was_below = was_below or x < y
                above_before = False
    return out


@njit(cache=True, nogil=True)
def cross_events_nb(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(bars, rows)``: the bars where any column crosses, +1 over / -1 under / NaN per column there."""
    over = crossed_above_nb(a, b)
    under = crossed_above_nb(b, a)
    n, k = a.shape
    marked = np.zeros(n, dtype=np.bool_)
    for t in range(n):
        for j in range(k):
            if over[t, j] or under[t, j]:
                marked[t] = True
                break
    bars = np.flatnonzero(marked)
    rows = np.full((bars.shape[0], k), np.nan)
    for i in range(bars.shape[0]):
        for j in range(k):
            if over[bars[i], j]:
                rows[i, j] = 1.0
            elif under[bars[i], j]:
                rows[i, j] = -1.0
    return bars, rows
