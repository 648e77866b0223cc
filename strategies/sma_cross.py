"""SMA crossover: long when the fast average crosses above the slow one, short (or flat) when below.

>>> import numpy as np
>>> from backtest.feed import BarArrays
>>> close = np.array([5.0, 4, 3, 2, 3, 4, 5, 6, 5, 4, 3])[:, None]
>>> bars = BarArrays(np.arange(11).astype("datetime64[D]"), ("X",), close, close, close, close, close)
>>> signals(bars, Params(fast=2, slow=3))[:, 0].tolist()
[nan, nan, nan, nan, nan, 1.0, nan, nan, nan, -1.0, nan]
>>> events(bars, Params(fast=2, slow=3)).bars.tolist()
[5, 9]
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from strategies import checks
from strategies.signal_events import SignalEvents
from strategies.indicators import IndicatorCache, crossover_events_nb, crossover_signal_nb, sma_crossings, sma_nb


@dataclass(frozen=True)
class Params:
    """``fast`` and ``slow`` moving-average windows in bars (fast < slow)."""

    fast: int = 10
    slow: int = 30

    def __post_init__(self) -> None:
        checks.window("fast", self.fast)
        checks.window("slow", self.slow)
        checks.ordered("fast", self.fast, "slow", self.slow)


def signals(bars, params: Params, cache: IndicatorCache | None = None) -> np.ndarray:
    """+1 / -1 at the bars where the fast SMA of the close crosses the slow one, NaN elsewhere."""
    return crossover_signal_nb(*_averages(bars, params, cache))


def events(bars, params: Params, cache: IndicatorCache | None = None) -> SignalEvents:
    """The crossings of :func:`signals` as events, without the dense array (what runs and sweeps use).

    With a ``cache`` (sweeps) the averages come from it; without one (a single
    run) they are never stored: one pass over the closes keeps the crossings only,
    a long series split over numba's thread count (the same crossings either way).
    """
    if cache is None:
        bar_numbers, rows = sma_crossings(bars.close, params.fast, params.slow, parts=numba.get_num_threads())
    else:
        bar_numbers, rows = crossover_events_nb(*_averages(bars, params, cache))
    return SignalEvents(bar_numbers, rows, bars.close.shape[0])


def _averages(bars, params: Params, cache: IndicatorCache | None) -> tuple[np.ndarray, np.ndarray]:
    """The fast and slow SMAs of the close, through ``cache``."""
    cache = cache or IndicatorCache()
    return cache(sma_nb, bars.close, params.fast), cache(sma_nb, bars.close, params.slow)
