"""Session indicators: bars grouped by trading day, and the VWAP since each session began.

>>> import numpy as np
>>> one = np.ones((3, 1))
>>> session_vwap_nb(one * 2, one, one * 3, one, np.array([0, 0, 1]))[:, 0].tolist()
[2.0, 2.0, 2.0]
"""

from __future__ import annotations

import numpy as np
from numba import njit


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
