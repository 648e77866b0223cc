"""Moving averages and rolling windows: ``(n_bars, n_columns)`` float64 in and out, NaN-aware.

A value at bar t uses bars up to and including t only; a NaN restarts the
window. The kernels release the GIL (``nogil``) so a sweep computes several
sets' indicators at once.

>>> import numpy as np
>>> sma_nb(np.arange(1.0, 6.0)[:, None], 3)[:, 0].tolist()
[nan, nan, 2.0, 3.0, 4.0]
>>> rolling_max_nb(np.array([[1.0], [3.0], [2.0], [1.0]]), 2)[:, 0].tolist()
[nan, 3.0, 3.0, 2.0]
>>> rsi_nb(np.array([[1.0], [2.0], [3.0], [2.0]]), 2)[:, 0].round(2).tolist()
[nan, nan, 100.0, 50.0]
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Window sums start afresh (from the window's values only) at every multiple of this many bars, so
# a sum depends on the bars since the last multiple, never on the whole history: a long series
# splits at those bars into parts that threads compute apart, with the very same sums.
RESTART_EVERY = 1 << 16


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


@njit(cache=True, nogil=True)
def rolling_std_nb(values: np.ndarray, window: int) -> np.ndarray:
    """Population standard deviation (ddof=0, as Bollinger, TA-Lib and vectorbt's ``MSTD`` use) over ``window`` bars.

    Each window is taken afresh in two passes (its mean, then the squared
    deviations from it), so the result is accurate to the last digits however
    small the deviations are next to the prices; NaN until the window is full,
    and after a NaN until it refills. O(bars x window).
    """
    n, k = values.shape
    out = np.full((n, k), np.nan)
    for j in range(k):
        valid = 0
        for t in range(n):
            if np.isnan(values[t, j]):
                valid = 0
                continue
            valid += 1
            if valid >= window:
                total = 0.0
                for u in range(t - window + 1, t + 1):
                    total += values[u, j]
                mean = total / window
                squares = 0.0
                for u in range(t - window + 1, t + 1):
                    squares += (values[u, j] - mean) ** 2
                out[t, j] = np.sqrt(squares / window)
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
