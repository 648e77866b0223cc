"""Where two series cross: as a dense signal, as events, and SMA crossings in one pass over the closes.

The crossing test is backtesting.py's ``crossover``: strictly on one side at
the bar before, strictly on the other now.

>>> import numpy as np
>>> a, b = np.array([[1.0], [2.0], [3.0], [2.0]]), np.full((4, 1), 2.5)
>>> crossover_signal_nb(a, b)[:, 0].tolist()
[nan, nan, 1.0, -1.0]
>>> crossover_events_nb(a, b)[0].tolist()
[2, 3]
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from strategies.indicators.windows import RESTART_EVERY, _fresh_sum, _window_sum


@njit(cache=True, nogil=True, inline="always")
def _crosses(fast_before: float, slow_before: float, fast_now: float, slow_now: float) -> bool:
    """Whether fast and slow cross: strictly on one side before and strictly on the other now.

    The same test as backtesting.py's ``crossover``. Evaluated without branches
    (``&``, ``|``), so the counting loop of :func:`crossover_events_nb` vectorizes.
    """
    up = (fast_before < slow_before) & (fast_now > slow_now)
    down = (fast_before > slow_before) & (fast_now < slow_now)
    return up | down


@njit(cache=True, nogil=True, inline="always")
def _crossing(fast_before: float, slow_before: float, fast_now: float, slow_now: float) -> float:
    """+1 if fast crossed above slow, -1 if below, else NaN."""
    if not _crosses(fast_before, slow_before, fast_now, slow_now):
        return np.nan
    return 1.0 if fast_now > slow_now else -1.0


@njit(cache=True, nogil=True)
def crossover_signal_nb(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """+1 where ``fast`` crosses above ``slow`` (was below, now above), -1 where it crosses below, else NaN."""
    n, k = fast.shape
    out = np.full((n, k), np.nan)
    for j in range(k):
        for t in range(1, n):
            out[t, j] = _crossing(fast[t - 1, j], slow[t - 1, j], fast[t, j], slow[t, j])
    return out


@njit(cache=True, nogil=True)
def crossover_events_nb(fast: np.ndarray, slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``crossover_signal_nb`` as events: ``(bars, rows)`` of the bars where any column crosses.

    Never builds the dense array: a branch-free pass per column marks the
    crossing bars (one byte per bar), then only the marked bars are filled in.

    >>> a, b = np.array([[1.0], [2.0], [3.0], [2.0]]), np.full((4, 1), 2.5)
    >>> bars, rows = crossover_events_nb(a, b)
    >>> bars.tolist(), rows[:, 0].tolist()
    ([2, 3], [1.0, -1.0])
    """
    n, k = fast.shape
    crossed = np.zeros(n, dtype=np.bool_)
    for j in range(k):
        for t in range(1, n):
            crossed[t] |= _crosses(fast[t - 1, j], slow[t - 1, j], fast[t, j], slow[t, j])
    bars = np.flatnonzero(crossed)
    rows = np.empty((bars.shape[0], k))
    for i in range(bars.shape[0]):
        t = bars[i]
        for j in range(k):
            rows[i, j] = _crossing(fast[t - 1, j], slow[t - 1, j], fast[t, j], slow[t, j])
    return bars, rows


@njit(cache=True, nogil=True)
def sma_crossover_events_nb(values: np.ndarray, fast: int, slow: int, first: int,
                            stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``crossover_events_nb(sma_nb(values, fast), sma_nb(values, slow))`` of bars ``(first, stop)``, in one pass.

    Both averages advance bar by bar (the same ``_window_sum`` and restarts as
    ``sma_nb``, so the same sums; ``_mean_order`` compares them as the rounded
    means compare) and only the crossings are kept: the closes are read once
    and two bytes per bar are allocated instead of two arrays of floats.

    ``first`` is 0 or a multiple of :data:`RESTART_EVERY` (the sums there do not
    depend on earlier bars); bar ``first`` itself is never reported, since
    whether it crosses depends on the bar before it. Returns ``(bars, rows,
    edges)``; ``edges[0]`` / ``edges[1]`` are each column's order of the
    averages (+1 fast above, -1 below, 0 equal or undefined) at bars ``first``
    and ``stop - 1``, which decide the crossings where parts meet
    (:func:`sma_crossings`).

    >>> close = np.array([5.0, 4, 3, 2, 3, 4, 5, 6, 5, 4, 3])[:, None]
    >>> bars, rows, edges = sma_crossover_events_nb(close, 2, 3, 0, 11)
    >>> bars.tolist(), rows[:, 0].tolist(), edges[:, 0].tolist()
    ([5, 9], [1.0, -1.0], [0, -1])
    """
    k = values.shape[1]
    side = np.zeros((stop - first, k), dtype=np.int8)  # +1 / -1 where the column crosses up / down
    crossed = np.zeros(stop - first, dtype=np.bool_)
    edges = np.zeros((2, k), dtype=np.int8)
    longest = max(fast, slow)
    for j in range(k):
        fast_total, fast_error, slow_total, slow_error, valid = 0.0, 0.0, 0.0, 0.0, 0
        before = 0  # order of the averages at the previous bar
        for t in range(max(first - longest, 0), stop):  # bars before first: to count the valid ones
            x = values[t, j]
            if np.isnan(x):
                fast_total, fast_error, slow_total, slow_error, valid, before = 0.0, 0.0, 0.0, 0.0, 0, 0
                continue
            if t % RESTART_EVERY == 0:
                fast_total, fast_error = _fresh_sum(values, j, t, fast, valid)
                slow_total, slow_error = _fresh_sum(values, j, t, slow, valid)
            valid += 1
            fast_total, fast_error = _window_sum(x, values[t - fast, j] if valid > fast else 0.0, fast_total,
                                                 fast_error)
            slow_total, slow_error = _window_sum(x, values[t - slow, j] if valid > slow else 0.0, slow_total,
                                                 slow_error)
            now = 0
            if valid >= longest:
                now = _mean_order(fast_total + fast_error, fast, slow_total + slow_error, slow)
            if before * now == -1 and t > first:
                side[t - first, j] = now
                crossed[t - first] = True
            before = now
            if t == first:
                edges[0, j] = now
        edges[1, j] = before
    marked = np.flatnonzero(crossed)
    rows = np.full((marked.shape[0], k), np.nan)
    for i in range(marked.shape[0]):
        for j in range(k):
            if side[marked[i], j] != 0:
                rows[i, j] = side[marked[i], j]
    return marked + first, rows, edges


def sma_crossings(values: np.ndarray, fast: int, slow: int, parts: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(bars, rows)`` of :func:`sma_crossover_events_nb` over all bars, split into up to ``parts`` on threads.

    The parts meet at multiples of :data:`RESTART_EVERY`, where every sum starts
    afresh, so the result is the same for any number of parts.

    >>> close = np.array([5.0, 4, 3, 2, 3, 4, 5, 6, 5, 4, 3])[:, None]
    >>> bars, rows = sma_crossings(close, 2, 3, parts=2)
    >>> bars.tolist(), rows[:, 0].tolist()
    ([5, 9], [1.0, -1.0])
    """
    n = values.shape[0]
    per_part = -(-n // max(parts, 1))
    step = max(-(-per_part // RESTART_EVERY), 1) * RESTART_EVERY  # whole restart periods
    spans = [(start, min(start + step, n)) for start in range(0, n, step)] or [(0, n)]
    if len(spans) == 1:
        bars, rows, _ = sma_crossover_events_nb(values, fast, slow, *spans[0])
        return bars, rows
    with ThreadPoolExecutor(max_workers=len(spans) - 1) as pool:
        later = [pool.submit(sma_crossover_events_nb, values, fast, slow, *span) for span in spans[1:]]
        pieces = [sma_crossover_events_nb(values, fast, slow, *spans[0])] + [f.result() for f in later]
    bars, rows = [pieces[0][0]], [pieces[0][1]]
    for (start, _), (_, _, left), (right_bars, right_rows, right) in zip(spans[1:], pieces, pieces[1:]):
        at_start = right[0].astype(np.float64)
        meets = left[1] * at_start == -1  # the part's first bar crosses: decided by the bar before it
        if meets.any():
            bars.append(np.array([start]))
            rows.append(np.where(meets, at_start, np.nan)[None, :])
        bars.append(right_bars)
        rows.append(right_rows)
    return np.concatenate(bars), np.concatenate(rows)


@njit(cache=True, nogil=True, inline="always")
def _mean_order(fast_sum: float, fast: int, slow_sum: float, slow: int) -> int:
    """The sign of ``fast_sum / fast - slow_sum / slow`` as ``sma_nb``'s rounded means compare.

    Compared cross-multiplied (no division) whenever the products are apart by
    far more than rounding can move them (1e-13 relative: both quotients are
    then ordered the same way); only near-ties divide, exactly as ``sma_nb`` does.
    """
    scaled_fast = fast_sum * slow
    scaled_slow = slow_sum * fast
    if abs(scaled_fast - scaled_slow) > 1e-13 * (abs(scaled_fast) + abs(scaled_slow)):
        return 1 if scaled_fast > scaled_slow else -1
    fast_mean = fast_sum / fast
    slow_mean = slow_sum / slow
    return 1 if fast_mean > slow_mean else (-1 if fast_mean < slow_mean else 0)
