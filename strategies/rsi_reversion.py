"""RSI mean reversion: long while Wilder's RSI is below ``lower``, short (or flat) while above ``upper``.

Between the thresholds the signal is NaN, so a position is held until the RSI
reaches the other extreme; with ``engine.direction=long_only`` the upper
threshold is the exit.

>>> import numpy as np
>>> from types import SimpleNamespace
>>> close = np.array([10.0, 9, 8, 7, 8, 9, 10, 11, 10])[:, None]
>>> RsiReversion(window=2, lower=30, upper=70).signals(SimpleNamespace(close=close))[:, 0].tolist()
[nan, nan, 1.0, 1.0, nan, -1.0, -1.0, -1.0, nan]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from strategies import checks
from strategies.base import Strategy, param


@njit(cache=True, nogil=True)
def threshold_signal_nb(rsi: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """+1 where ``rsi < lower``, -1 where ``rsi > upper``, NaN elsewhere (and where the RSI is NaN)."""
    n, k = rsi.shape
    out = np.full((n, k), np.nan)
    for j in range(k):
        for t in range(n):
            if rsi[t, j] < lower:
                out[t, j] = 1.0
            elif rsi[t, j] > upper:
                out[t, j] = -1.0
    return out


class RsiReversion(Strategy):
    """RSI ``window`` in bars; ``lower`` < ``upper`` thresholds in [0, 100]."""

    name = "rsi_reversion"
    window = param(14, min=1)
    lower = param(30.0, min=0, max=100)
    upper = param(70.0, min=0, max=100)

    def check(self) -> None:
        checks.ordered("lower", self.lower, "upper", self.upper)

    def signals(self, bars: Any) -> np.ndarray:
        """+1 / -1 on the bars where the close's RSI is beyond a threshold, NaN elsewhere."""
        return threshold_signal_nb(self.ind.rsi(bars.close, self.window), self.lower, self.upper)
