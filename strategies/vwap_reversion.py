"""VWAP reversion on intraday bars: fade moves away from the session's VWAP, exit when price is back.

The session VWAP is the volume-weighted typical price ``(high + low + close) /
3`` since the session began; sessions are UTC calendar days (right for
markets whose trading day does not cross midnight UTC, like US equities at
14:30-21:00 UTC). With ``d = close / vwap - 1``: a long is entered when
``d < -threshold`` and exited when the close is back at or above the VWAP;
a short is entered when ``d > threshold`` and exited at or below it; an
entry on the other side reverses. On the last ``flat_bars`` bars of every
session the signal is 0 (flat, no entries): with the default next-open fills,
``flat_bars=2`` signals flat on the second-to-last bar, which fills at the
last bar's open, so nothing is held overnight (use 1 with ``engine.fill=close``,
0 to hold across sessions). The kernel tracks the position its own signals
imply, so an exit is only signalled for a position it entered.

>>> import numpy as np
>>> from types import SimpleNamespace
>>> close = np.array([100.0, 99, 100.2, 102, 101, 100, 100])[:, None]
>>> index = np.array(["2024-01-02T20:55", "2024-01-02T20:56", "2024-01-02T20:57", "2024-01-02T20:58",
...                   "2024-01-02T20:59", "2024-01-03T14:30", "2024-01-03T14:31"], dtype="datetime64[us]")
>>> bars = SimpleNamespace(index=index, high=close, low=close, close=close, volume=np.ones_like(close))
>>> VwapReversion(threshold=0.005, flat_bars=1).signals(bars)[:, 0].tolist()
[nan, 1.0, 0.0, -1.0, 0.0, nan, nan]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from strategies import checks
from strategies.base import Strategy, param


@njit(cache=True, nogil=True)
def vwap_reversion_signal_nb(close: np.ndarray, vwap: np.ndarray, session: np.ndarray, threshold: float,
                             flat_bars: int) -> np.ndarray:
    """+1 / -1 entries, 0 exits (back at the VWAP, or the session's last ``flat_bars`` bars), NaN elsewhere."""
    n, k = close.shape
    left = np.empty(n, dtype=np.int64)  # bars after this one in the same session
    for t in range(n - 1, -1, -1):
        left[t] = left[t + 1] + 1 if t + 1 < n and session[t + 1] == session[t] else 0
    out = np.full((n, k), np.nan)
    for j in range(k):
        position = 0
        for t in range(n):
            c = close[t, j]
            v = vwap[t, j]
            if left[t] < flat_bars:
                if position != 0:
                    position = 0
                    out[t, j] = 0.0
                continue
            if np.isnan(c) or np.isnan(v):
                continue
            deviation = c / v - 1.0
            if deviation < -threshold and position != 1:
                position = 1
                out[t, j] = 1.0
            elif deviation > threshold and position != -1:
                position = -1
                out[t, j] = -1.0
            elif (position == 1 and c >= v) or (position == -1 and c <= v):
                position = 0
                out[t, j] = 0.0
    return out


class VwapReversion(Strategy):
    """Entry ``threshold`` as a fraction of the VWAP (0.002 = 0.2%); ``flat_bars`` flat bars per session end."""

    name = "vwap_reversion"
    threshold = param(0.002, min=0)
    flat_bars = param(2, min=0)

    def check(self) -> None:
        checks.positive("threshold", self.threshold)

    def signals(self, bars: Any) -> np.ndarray:
        """Entries away from the session VWAP, exits back at it or at the session's end."""
        session = self.ind.sessions(bars.index)
        return vwap_reversion_signal_nb(bars.close, self.ind.vwap(bars), session, self.threshold, self.flat_bars)
