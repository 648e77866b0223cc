"""Weighted averages and price-change kernels: ``(n_bars, n_columns)`` float64 in and out, NaN warm-up.

* :func:`ema_nb`: the exponential moving average of pandas ``ewm(span=window,
  adjust=False, min_periods=window)`` -- what vectorbt's ``MA.run(..., ewm=True)``
  computes (seeded with the first value, NaN until ``window`` values were seen,
  NaNs skipped while the weights keep decaying);
* :func:`wma_nb`: the linearly weighted moving average (weights 1..window, the newest heaviest);
* :func:`true_range_nb`: the true range behind ATR (vectorbt's definition: the first bar is high - low);
* :func:`returns_nb`: simple returns over ``periods`` bars.

>>> import numpy as np
>>> ema_nb(np.array([[1.0], [2.0], [3.0], [4.0]]), 3)[:, 0].tolist()
[nan, nan, 2.25, 3.125]
>>> wma_nb(np.array([[1.0], [2.0], [3.0], [4.0]]), 2)[:, 0].round(4).tolist()
[nan, 1.6667, 2.6667, 3.6667]
>>> returns_nb(np.array([[10.0], [11.0], [9.9]]), 1)[:, 0].round(4).tolist()
[nan, 0.1, -0.1]
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def ema_nb(values: np.ndarray, window: int) -> np.ndarray:
    """Exponential moving average with ``alpha = 2 / (window + 1)``; NaN until ``window`` values were seen.

    The recurrence is pandas' ``ewma`` with ``adjust=False`` (the one vectorbt
    uses): ``avg = (w_old * avg + alpha * x) / (w_old + alpha)``, where ``w_old``
    is ``1 - alpha`` after an observation and decays by ``1 - alpha`` per NaN
    bar skipped, and a constant run keeps ``avg`` exactly.
    """
    n, k = values.shape
    out = np.full((n, k), np.nan)
    alpha = 2.0 / (window + 1.0)
    decay = 1.0 - alpha
    for j in range(k):
        average = np.nan
        seen = 0
        old_weight = 1.0
        for t in range(n):
            x = values[t, j]
            observed = not np.isnan(x)
            seen += observed
            if not np.isnan(average):
                old_weight *= decay
                if observed:
                    if average != x:
                        average = (old_weight * average + alpha * x) / (old_weight + alpha)
                    old_weight = 1.0
            elif observed:
                average = x
            if seen >= window:
                out[t, j] = average
    return out


@njit(cache=True, nogil=True)
def wma_nb(values: np.ndarray, window: int) -> np.ndarray:
    """Weighted moving average, weights ``1, 2, ..., window`` from the oldest bar to this one.

    Each window is summed afresh (exact for any length); NaN until the window
    is full and while it holds a NaN.
    """
    n, k = values.shape
    out = np.full((n, k), np.nan)
    total_weight = window * (window + 1) / 2.0
    for j in range(k):
        valid = 0
        for t in range(n):
            if np.isnan(values[t, j]):
                valid = 0
                continue
            valid += 1
            if valid >= window:
                total = 0.0
                for i in range(window):
                    total += (i + 1) * values[t - window + 1 + i, j]
                out[t, j] = total / total_weight
    return out


@njit(cache=True, nogil=True)
def true_range_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """``max(high - low, |high - previous close|, |low - previous close|)``; the first bar is ``high - low``.

    A missing previous close leaves ``high - low`` (as vectorbt); a missing high or low gives NaN.
    """
    n, k = close.shape
    out = np.empty((n, k))
    for j in range(k):
        for t in range(n):
            span = high[t, j] - low[t, j]
            if t > 0:  # a NaN previous close drops out (never wins a comparison); a NaN span stays NaN
                up = abs(high[t, j] - close[t - 1, j])
                down = abs(low[t, j] - close[t - 1, j])
                if up > span:
                    span = up
                if down > span:
                    span = down
            out[t, j] = span
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def returns_nb(values: np.ndarray, periods: int) -> np.ndarray:
    """``values[t] / values[t - periods] - 1``; NaN for the first ``periods`` bars and around NaNs."""
    n, k = values.shape
    out = np.full((n, k), np.nan)
    for j in range(k):
        for t in range(periods, n):
            out[t, j] = values[t, j] / values[t - periods, j] - 1.0
    return out
