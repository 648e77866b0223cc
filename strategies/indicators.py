"""Indicator kernels shared by strategies: ``(n_bars, n_columns)`` float64 in and out, NaN-aware.

A value at bar t uses bars up to and including t only. Kernels release the
GIL (``nogil``) so a sweep computes several sets' signals at once. Strategies call them
through an :class:`IndicatorCache` so that a sweep computes each distinct
indicator (kernel + input + arguments) once, however many parameter sets use it.

>>> import numpy as np
>>> sma_nb(np.arange(1.0, 6.0)[:, None], 3)[:, 0].tolist()
[nan, nan, 2.0, 3.0, 4.0]
>>> a, b = np.array([[1.0], [2.0], [3.0], [2.0]]), np.full((4, 1), 2.5)
>>> crossover_signal_nb(a, b)[:, 0].tolist()
[nan, nan, 1.0, -1.0]
>>> crossover_events_nb(a, b)[0].tolist()
[2, 3]
>>> rolling_max_nb(np.array([[1.0], [3.0], [2.0], [1.0]]), 2)[:, 0].tolist()
[nan, 3.0, 3.0, 2.0]
>>> rsi_nb(np.array([[1.0], [2.0], [3.0], [2.0]]), 2)[:, 0].round(2).tolist()
[nan, nan, 100.0, 50.0]
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit


class IndicatorCache:
    """Memo of indicator arrays keyed by kernel, input array identity and arguments.

    Array arguments (several inputs, e.g. high and low) are keyed by identity
    too; the cache holds on to its inputs so no identity is ever reused for
    different data while an entry refers to it.

    >>> cache = IndicatorCache()
    >>> close = np.arange(1.0, 6.0)[:, None]
    >>> cache(sma_nb, close, 3) is cache(sma_nb, close, 3), len(cache)
    (True, 1)
    """

    def __init__(self) -> None:
        self._arrays: dict[tuple, np.ndarray] = {}
        self._inputs: list[tuple] = []
        self._lock = threading.Lock()  # sweeps compute signals on several threads

    def __call__(self, kernel: Callable[..., np.ndarray], values: np.ndarray, *args: object) -> np.ndarray:
        """``kernel(values, *args)``, computed on the first call only."""
        key = (getattr(kernel, "__qualname__", repr(kernel)), id(values),
               tuple(("array", id(a)) if isinstance(a, np.ndarray) else a for a in args))
        with self._lock:
            if key not in self._arrays:
                self._arrays[key] = kernel(values, *args)
                self._inputs.append((values, args))  # keeps the ids in the keys from being reused
            return self._arrays[key]

    def __len__(self) -> int:
        return len(self._arrays)

    def __bool__(self) -> bool:
        """Always true, so ``cache or IndicatorCache()`` keeps a shared cache that is still empty."""
        return True

    @property
    def nbytes(self) -> int:
        """Memory held by the cached arrays."""
        return sum(a.nbytes for a in self._arrays.values())


@njit(cache=True, nogil=True, inline="always")
def _two_sum(a: float, b: float) -> tuple[float, float]:
    """``(a + b, error)``: the rounded sum and its exact rounding error (Knuth's TwoSum)."""
    s = a + b
    b_part = s - a
    return s, (a - (s - b_part)) + (b - b_part)


@njit(cache=True, nogil=True)
def sma_nb(values: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average over ``window`` bars; NaN until the window is full or holds a NaN.

    A running sum whose rounding errors are kept exactly (TwoSum) in a second
    sum: the mean is within an ulp or two of summing each window afresh (in
    tests, the correctly rounded mean), so crossovers agree with pandas'
    ``rolling().mean()``. The errors are computed beside the running sum, not
    in its chain, which keeps the loop at one dependent addition per bar.
    The sums start afresh every :data:`RESTART_EVERY` bars (:func:`_fresh_sum`).
    """
    n, k = values.shape
    out = np.full((n, k), np.nan)
    for j in range(k):
        total, error, valid = 0.0, 0.0, 0
        for t in range(n):
            x = values[t, j]
            if np.isnan(x):
                total, error, valid = 0.0, 0.0, 0
                continue
            if t % RESTART_EVERY == 0:
                total, error = _fresh_sum(values, j, t, window, valid)
            valid += 1
            total, error = _window_sum(x, values[t - window, j] if valid > window else 0.0, total, error)
            if valid >= window:
                out[t, j] = (total + error) / window
    return out


# Window sums start afresh (from the window's values only) at every multiple of this many bars, so
# a sum depends on the bars since the last multiple, never on the whole history: a long series
# splits at those bars into parts that threads compute apart, with the very same sums.
RESTART_EVERY = 1 << 16


@njit(cache=True, nogil=True, inline="always")
def _fresh_sum(values: np.ndarray, j: int, t: int, window: int, valid: int) -> tuple[float, float]:
    """``(total, error)`` of the last ``window`` bars before ``t`` (fewer: the ``valid`` ones), summed afresh."""
    total, error = 0.0, 0.0
    for u in range(t - min(valid, window), t):
        total, error = _window_sum(values[u, j], 0.0, total, error)
    return total, error


@njit(cache=True, nogil=True, inline="always")
def _window_sum(entering: float, leaving: float, total: float, error: float) -> tuple[float, float]:
    """The running window sum after ``entering`` joins and ``leaving`` (0.0 while filling) drops out.

    ``total + error`` is the sum; ``error`` collects every rounding error exactly (TwoSum).
    """
    change, change_error = _two_sum(entering, -leaving)
    total, total_error = _two_sum(total, change)
    return total, (error + change_error) + total_error


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


@njit(cache=True, nogil=True)
def rolling_std_nb(values: np.ndarray, window: int) -> np.ndarray:
    """Population standard deviation (ddof=0, as Bollinger and TA-Lib use) over ``window`` bars.

    Welford's update (one value in, one out) keeps it stable for prices far
    from zero; NaN until the window is full, and after a NaN until it refills.
    """
    n, k = values.shape
    out = np.full((n, k), np.nan)
    for j in range(k):
        mean = 0.0
        m2 = 0.0
        valid = 0
        for t in range(n):
            x = values[t, j]
            if np.isnan(x):
                mean, m2, valid = 0.0, 0.0, 0
                continue
            if valid < window:
                valid += 1
                delta = x - mean
                mean += delta / valid
                m2 += delta * (x - mean)
            else:
                old = values[t - window, j]
                new_mean = mean + (x - old) / window
                m2 += (x - old) * (x - new_mean + old - mean)
                mean = new_mean
            if valid == window:
                out[t, j] = np.sqrt(max(m2, 0.0) / window)
    return out


@njit(cache=True, nogil=True)
def _rolling_extreme(values: np.ndarray, window: int, sign: float) -> np.ndarray:
    """Rolling max (``sign=1``) or min (``sign=-1``) with a monotonic queue: O(bars) for any window."""
    n, k = values.shape
    out = np.full((n, k), np.nan)
    queue = np.empty(n, dtype=np.int64)  # bar numbers whose values decrease (times sign) from head to tail
    for j in range(k):
        head = 0
        tail = 0
        valid = 0
        for t in range(n):
            x = values[t, j]
            if np.isnan(x):
                head, tail, valid = 0, 0, 0
                continue
            valid += 1
            while tail > head and sign * values[queue[tail - 1], j] <= sign * x:
                tail -= 1
            queue[tail] = t
            tail += 1
            if queue[head] <= t - window:
                head += 1
            if valid >= window:
                out[t, j] = values[queue[head], j]
    return out


@njit(cache=True, nogil=True)
def rolling_max_nb(values: np.ndarray, window: int) -> np.ndarray:
    """Highest value of the last ``window`` bars (this one included); NaN until the window is full."""
    return _rolling_extreme(values, window, 1.0)


@njit(cache=True, nogil=True)
def rolling_min_nb(values: np.ndarray, window: int) -> np.ndarray:
    """Lowest value of the last ``window`` bars (this one included); NaN until the window is full."""
    return _rolling_extreme(values, window, -1.0)


@njit(cache=True, nogil=True)
def rsi_nb(values: np.ndarray, window: int) -> np.ndarray:
    """Wilder's RSI in [0, 100]: average gain and loss seeded by the mean of the first ``window``
    changes, then smoothed as ``avg = (avg * (window - 1) + change) / window``.

    RSI = 100 - 100 / (1 + avg_gain / avg_loss); 100 when there were no losses,
    50 when nothing moved. The first value is at bar ``window`` (it needs
    ``window`` changes); a NaN restarts the seeding.
    """
    n, k = values.shape
    out = np.full((n, k), np.nan)
    for j in range(k):
        gain = 0.0
        loss = 0.0
        changes = 0
        for t in range(n):
            x = values[t, j]
            if np.isnan(x) or t == 0 or np.isnan(values[t - 1, j]):
                gain, loss, changes = 0.0, 0.0, 0
                continue
            change = x - values[t - 1, j]
            up = change if change > 0.0 else 0.0
            down = -change if change < 0.0 else 0.0
            changes += 1
            if changes <= window:
                gain += up / window
                loss += down / window
            else:
                gain = (gain * (window - 1) + up) / window
                loss = (loss * (window - 1) + down) / window
            if changes >= window:
                if loss == 0.0:
                    out[t, j] = 50.0 if gain == 0.0 else 100.0
                else:
                    out[t, j] = 100.0 - 100.0 / (1.0 + gain / loss)
    return out


def utc_days(index: np.ndarray) -> np.ndarray:
    """Session numbers for bar times: days since 1970-01-01 UTC (``int64``), one per calendar day.

    >>> utc_days(np.array(["2024-01-02T14:30", "2024-01-02T20:59", "2024-01-03T14:30"], dtype="datetime64[us]"))
    array([19724, 19724, 19725])
    """
    return np.ascontiguousarray(index.astype("datetime64[D]").astype(np.int64))


@njit(cache=True, nogil=True)
def session_vwap_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                    session: np.ndarray) -> np.ndarray:
    """Volume-weighted average of the typical price ``(high + low + close) / 3`` since the session began.

    The sums restart whenever ``session`` (one number per bar) changes; bars
    with missing prices add nothing, and the VWAP is NaN until the session
    has traded some volume.
    """
    n, k = close.shape
    out = np.full((n, k), np.nan)
    for j in range(k):
        notional = 0.0
        traded = 0.0
        for t in range(n):
            if t > 0 and session[t] != session[t - 1]:
                notional, traded = 0.0, 0.0
            if not (np.isnan(close[t, j]) or np.isnan(volume[t, j])):
                notional += (high[t, j] + low[t, j] + close[t, j]) / 3.0 * volume[t, j]
                traded += volume[t, j]
            if traded > 0.0:
                out[t, j] = notional / traded
    return out
