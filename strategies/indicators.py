"""Indicator kernels shared by strategies: ``(n_bars, n_columns)`` float64 in and out, NaN-aware.

A value at bar t uses bars up to and including t only. Strategies call them
through an :class:`IndicatorCache` so that a sweep computes each distinct
indicator (kernel + input + arguments) once, however many parameter sets use it.

>>> import numpy as np
>>> sma_nb(np.arange(1.0, 6.0)[:, None], 3)[:, 0].tolist()
[nan, nan, 2.0, 3.0, 4.0]
>>> a, b = np.array([[1.0], [2.0], [3.0], [2.0]]), np.full((4, 1), 2.5)
>>> crossover_signal_nb(a, b)[:, 0].tolist()
[nan, nan, 1.0, -1.0]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit


class IndicatorCache:
    """Memo of indicator arrays keyed by kernel, input array identity and arguments.

    >>> cache = IndicatorCache()
    >>> close = np.arange(1.0, 6.0)[:, None]
    >>> cache(sma_nb, close, 3) is cache(sma_nb, close, 3), len(cache)
    (True, 1)
    """

    def __init__(self) -> None:
        self._arrays: dict[tuple, np.ndarray] = {}

    def __call__(self, kernel: Callable[..., np.ndarray], values: np.ndarray, *args: object) -> np.ndarray:
        """``kernel(values, *args)``, computed on the first call only."""
        key = (getattr(kernel, "__qualname__", repr(kernel)), id(values), args)
        if key not in self._arrays:
            self._arrays[key] = kernel(values, *args)
        return self._arrays[key]

    def __len__(self) -> int:
        return len(self._arrays)

    @property
    def nbytes(self) -> int:
        """Memory held by the cached arrays."""
        return sum(a.nbytes for a in self._arrays.values())


@njit(cache=True)
def sma_nb(values: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average over ``window`` bars; NaN until the window is full or holds a NaN.

    A compensated running sum keeps it within a few ulps of summing each
    window afresh, so crossovers agree with pandas' ``rolling().mean()``.
    """
    n, k = values.shape
    out = np.full((n, k), np.nan)
    for j in range(k):
        total = 0.0
        carry = 0.0
        valid = 0
        for t in range(n):
            x = values[t, j]
            if np.isnan(x):
                total, carry, valid = 0.0, 0.0, 0
                continue
            y = x - carry
            s = total + y
            carry = (s - total) - y
            total = s
            valid += 1
            if valid > window:
                y = -values[t - window, j] - carry
                s = total + y
                carry = (s - total) - y
                total = s
            if valid >= window:
                out[t, j] = total / window
    return out


@njit(cache=True)
def crossover_signal_nb(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """+1 where ``fast`` crosses above ``slow`` (was below, now above), -1 where it crosses below, else NaN.

    The same test as backtesting.py's ``crossover``: strictly below on the
    previous bar and strictly above on this one.
    """
    n, k = fast.shape
    out = np.full((n, k), np.nan)
    for j in range(k):
        for t in range(1, n):
            if fast[t - 1, j] < slow[t - 1, j] and fast[t, j] > slow[t, j]:
                out[t, j] = 1.0
            elif fast[t - 1, j] > slow[t - 1, j] and fast[t, j] < slow[t, j]:
                out[t, j] = -1.0
    return out
