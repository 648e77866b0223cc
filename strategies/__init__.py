"""Strategies: the ``Strategy`` base class and ``param``, indicators, and the built-in strategies.

Pure computation on arrays: no I/O, and nothing of ``backtest``, ``warehouse`` or
``reports`` is imported here (the engine imports strategies, not the other way).

* :mod:`strategies.base`: :class:`Strategy` and :class:`param` (a strategy is a short class);
* :mod:`strategies.indicators`: numba kernels and ``self.ind``
  (:class:`~strategies.indicators.api.Indicators`), each indicator computed once per data set;
* :mod:`strategies.output`: what ``signals`` / ``weights`` return, checked and made sparse
  (:class:`~strategies.indicators.events.SignalEvents`, the engine's input);
* :mod:`strategies.registry`: finding a class by short name, entry point
  (``tickhouse.strategies``), ``module:Class`` or ``file.py:Class``;
* the built-ins, one file each: ``sma_cross``, ``rsi_reversion``, ``bollinger_breakout``,
  ``donchian_breakout``, ``vwap_reversion``; :mod:`strategies.checks` and :mod:`strategies.errors`.

>>> import numpy as np
>>> class EmaCross(Strategy):
...     fast = param(10, min=2)
...     slow = param(30, min=3)
...     def signals(self, bars):
...         return self.ind.cross(self.ind.ema(bars.close, self.fast), self.ind.ema(bars.close, self.slow))
>>> find("sma_cross")(fast=5, slow=20)
SmaCross(fast=5, slow=20)
>>> EmaCross(slow=2.5)
Traceback (most recent call last):
strategies.errors.StrategyError: strategy.slow: 2.5 must be an integer >= 3 (EmaCross)
"""

from __future__ import annotations

from strategies.base import Strategy, param
from strategies.errors import StrategyError
from strategies.indicators import Indicators, SignalEvents
from strategies.output import signal_events
from strategies.registry import available, find

__all__ = ["Indicators", "SignalEvents", "Strategy", "StrategyError", "available", "find", "param",
           "signal_events"]
