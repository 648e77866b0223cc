"""RSI mean reversion: long while Wilder's RSI is below ``lower``, short (or flat) while above ``upper``.

Between the thresholds the signal is NaN, so a position is held until the RSI
reaches the other extreme; with ``engine.direction=long_only`` the upper
threshold is the exit.

>>> import numpy as np
>>> from backtest.feed import BarArrays
>>> close = np.array([10.0, 9, 8, 7, 8, 9, 10, 11, 10])[:, None]
>>> bars = BarArrays(np.arange(9).astype("datetime64[D]"), ("X",), close, close, close, close, close)
>>> signals(bars, Params(window=2, lower=30, upper=70))[:, 0].tolist()
[nan, nan, 1.0, 1.0, nan, -1.0, -1.0, -1.0, nan]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from strategies import checks
from strategies.indicators import IndicatorCache, rsi_nb


@dataclass(frozen=True)
class Params:
    """RSI ``window`` in bars; ``lower`` < ``upper`` thresholds in [0, 100]."""

    window: int = 14
    lower: float = 30.0
    upper: float = 70.0

    def __post_init__(self) -> None:
        checks.window("window", self.window)
        checks.number("lower", self.lower, 0, 100)
        checks.number("upper", self.upper, 0, 100)
        checks.ordered("lower", self.lower, "upper", self.upper)


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


def signals(bars, params: Params, cache: IndicatorCache | None = None) -> np.ndarray:
    """+1 / -1 on the bars where the close's RSI is beyond a threshold, NaN elsewhere."""
    cache = cache or IndicatorCache()
    return threshold_signal_nb(cache(rsi_nb, bars.close, params.window), float(params.lower), float(params.upper))
