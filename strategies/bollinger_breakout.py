"""Bollinger breakout: long when the close breaks above SMA + k·std, short (or flat) below SMA - k·std.

The bands are the ``window``-bar SMA of the close plus and minus ``k``
population standard deviations (ddof=0, as in Bollinger's definition and
TA-Lib). Inside the bands the signal is NaN (hold); with
``engine.direction=long_only`` a break below the lower band is the exit.

>>> import numpy as np
>>> from backtest.feed import BarArrays
>>> close = np.array([10.0, 10, 10, 12, 11, 11, 8, 9])[:, None]
>>> bars = BarArrays(np.arange(8).astype("datetime64[D]"), ("X",), close, close, close, close, close)
>>> signals(bars, Params(window=3, k=1.0))[:, 0].tolist()
[nan, nan, nan, 1.0, nan, nan, -1.0, nan]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from strategies import checks
from strategies.indicators import IndicatorCache, rolling_std_nb, sma_nb


@dataclass(frozen=True)
class Params:
    """Band ``window`` in bars (>= 2) and width ``k`` in standard deviations (> 0)."""

    window: int = 20
    k: float = 2.0

    def __post_init__(self) -> None:
        checks.window("window", self.window, minimum=2)
        checks.positive("k", self.k)


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


def signals(bars, params: Params, cache: IndicatorCache | None = None) -> np.ndarray:
    """+1 / -1 on the bars whose close is outside the bands, NaN elsewhere."""
    cache = cache or IndicatorCache()
    return band_breakout_signal_nb(bars.close, cache(sma_nb, bars.close, params.window),
                                   cache(rolling_std_nb, bars.close, params.window), float(params.k))
