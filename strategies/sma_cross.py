"""SMA crossover: long when the fast average crosses above the slow one, short (or flat) when below.

The crossing test is backtesting.py's (strictly below at the bar before,
strictly above now); ``self.ind.sma_cross`` finds the crossings in one pass
over the closes in a run and from cached averages in a sweep.

>>> import numpy as np
>>> from types import SimpleNamespace
>>> close = np.array([5.0, 4, 3, 2, 3, 4, 5, 6, 5, 4, 3])[:, None]
>>> np.asarray(SmaCross(fast=2, slow=3).signals(SimpleNamespace(close=close)))[:, 0].tolist()
[nan, nan, nan, nan, nan, 1.0, nan, nan, nan, -1.0, nan]
>>> SmaCross(fast=30, slow=10)
Traceback (most recent call last):
strategies.errors.StrategyError: strategy.fast: 30 must be < strategy.slow (10) (sma_cross)
"""

from __future__ import annotations

from typing import Any

from strategies import checks
from strategies.base import Strategy, param
from strategies.indicators.events import SignalEvents


class SmaCross(Strategy):
    """``fast`` and ``slow`` moving-average windows in bars (fast < slow)."""

    name = "sma_cross"
    fast = param(10, min=1)
    slow = param(30, min=1)

    def check(self) -> None:
        checks.ordered("fast", self.fast, "slow", self.slow)

    def signals(self, bars: Any) -> SignalEvents:
        """+1 / -1 at the bars where the fast SMA of the close crosses the slow one, NaN elsewhere."""
        return self.ind.sma_cross(bars.close, self.fast, self.slow)
