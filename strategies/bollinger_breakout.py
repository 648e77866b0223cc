"""Bollinger breakout: long when the close breaks above SMA + k·std, short (or flat) below SMA - k·std.

The bands are the ``window``-bar SMA of the close plus and minus ``k``
population standard deviations (ddof=0, as in Bollinger's definition and
TA-Lib). Inside the bands the signal is NaN (hold); with
``engine.direction=long_only`` a break below the lower band is the exit.

>>> import numpy as np
>>> from types import SimpleNamespace
>>> close = np.array([10.0, 10, 10, 12, 11, 11, 8, 9])[:, None]
>>> BollingerBreakout(window=3, k=1.0).signals(SimpleNamespace(close=close))[:, 0].tolist()
[nan, nan, nan, 1.0, nan, nan, -1.0, nan]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from strategies import checks
from strategies.base import Strategy, param


@njit(cache=True, nogil=True)
def band_breakout_signal_nb(close: np.ndarray, middle: np.ndarray, std: np.ndarray, k: float) -> np.ndarray:
    """+1 where ``close > middle + k * std``, -1 where ``close < middle - k * std``, NaN elsewhere."""
    n, m = close.shape
    out = np.full((n, m), np.nan)
    for j in range(m):
        for t in range(n):
            if close[t, j] > middle[t, j] + k * std[t, j]:
                out[t, j] = 1.0
            elif close[t, j] < middle[t, j] - k * std[t, j]:
                out[t, j] = -1.0
    return out


class BollingerBreakout(Strategy):
    """Band ``window`` in bars (>= 2) and width ``k`` in standard deviations (> 0)."""

    name = "bollinger_breakout"
    window = param(20, min=2)
    k = param(2.0, min=0)

    def check(self) -> None:
        checks.positive("k", self.k)

    def signals(self, bars: Any) -> np.ndarray:
        """+1 / -1 on the bars whose close is outside the bands, NaN elsewhere."""
        return band_breakout_signal_nb(bars.close, self.ind.sma(bars.close, self.window),
                                       self.ind.std(bars.close, self.window), self.k)
