"""Dense signals to events: the bars where any column signals, and the signal rows there.

The kernel behind :meth:`strategies.signal_events.SignalEvents.from_dense`.

>>> import numpy as np
>>> bars, rows = events_nb(np.array([[np.nan], [1.0], [np.nan], [-1.0]]))
>>> bars.tolist(), rows[:, 0].tolist()
([1, 3], [1.0, -1.0])
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def events_nb(signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(bars, rows)``: the bars where any column of ``signal`` is not NaN, and those rows."""
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
