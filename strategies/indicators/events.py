"""Sparse signals: the bars where any column signals, and the signal rows at those bars.

Strategies signal rarely (a crossover every few dozen bars), so the engine
takes signals as :class:`SignalEvents` rather than a dense ``(bars, columns)``
array that is NaN almost everywhere. Indicators that find rare events
(``self.ind.cross``) return them directly; a dense array converts with
:meth:`SignalEvents.from_dense` (the kernel :func:`events_nb`), and
``np.asarray(events)`` gives the dense array back.

>>> events = SignalEvents.from_dense(np.array([[np.nan], [1.0], [np.nan], [-1.0]]))
>>> events.bars.tolist(), events.rows[:, 0].tolist(), events.n_bars
([1, 3], [1.0, -1.0], 4)
>>> np.asarray(events)[:, 0].tolist()
[nan, 1.0, nan, -1.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def events_nb(signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(bars, rows)``: the bars where any column of ``signal`` is not NaN, and those rows.

    >>> bars, rows = events_nb(np.array([[np.nan], [1.0], [np.nan], [-1.0]]))
    >>> bars.tolist(), rows[:, 0].tolist()
    ([1, 3], [1.0, -1.0])
    """
    n, k = signal.shape
    count = 0
    for t in range(n):
        for j in range(k):
            if not np.isnan(signal[t, j]):
                count += 1
                break
    bars = np.empty(count, dtype=np.int64)
    rows = np.empty((count, k))
    i = 0
    for t in range(n):
        for j in range(k):
            if not np.isnan(signal[t, j]):
                bars[i] = t
                rows[i] = signal[t]
                i += 1
                break
    return bars, rows


@dataclass(frozen=True)
class SignalEvents:
    """``bars`` (ascending int64 bar numbers) and ``rows`` (float64, one row of column signals per bar).

    A row may hold NaN for the columns that do not signal at that bar;
    ``n_bars`` is the length of the bar axis the events belong to.
    """

    bars: np.ndarray
    rows: np.ndarray
    n_bars: int

    @classmethod
    def from_dense(cls, signal: np.ndarray) -> SignalEvents:
        """The events of a dense ``(bars, columns)`` signal array (NaN = no signal)."""
        dense = np.ascontiguousarray(signal, dtype=np.float64)
        if dense.ndim != 2:
            raise ValueError(f"signal: expected 2 dimensions (bars, columns), got {dense.ndim}")
        bars, rows = events_nb(dense)
        return cls(bars, rows, dense.shape[0])

    @property
    def columns(self) -> int:
        """Number of columns each row holds."""
        return self.rows.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_bars, columns)``: the shape of the dense array."""
        return self.n_bars, self.columns

    def dense(self) -> np.ndarray:
        """The dense ``(n_bars, columns)`` array, NaN where nothing is signalled."""
        out = np.full(self.shape, np.nan)
        out[self.bars] = self.rows
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """``np.asarray(events)``: the dense array."""
        return self.dense() if dtype is None else self.dense().astype(dtype)
