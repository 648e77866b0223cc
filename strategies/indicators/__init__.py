"""Indicators for strategies: numba kernels over ``(n_bars, n_columns)`` float64 arrays, and ``self.ind``.

A value at bar t uses bars up to and including t only; warm-up bars are NaN
(as vectorbt's). The kernels (``*_nb``, numpy arrays only, ``nogil`` so a sweep
computes several sets' indicators at once) live apart from the Python layer,
:class:`~strategies.indicators.api.Indicators` (a strategy's ``self.ind``), which
checks arguments and computes each distinct indicator once per data set
through an :class:`~strategies.indicators.cache.IndicatorCache`.

* :mod:`~strategies.indicators.windows`: SMA, rolling std, rolling max/min, Wilder's RSI;
* :mod:`~strategies.indicators.averages`: EMA, WMA, true range, returns;
* :mod:`~strategies.indicators.session`: per-session VWAP (``session_vwap_nb``, ``utc_days``);
* :mod:`~strategies.indicators.crosses`: crossover / crossunder as vectorbt defines them;
* :mod:`~strategies.indicators.crossings`: backtesting.py's strict crossings, dense, as events,
  and SMA crossings in one pass (``sma_crossings``, what ``sma_cross`` runs on);
* :mod:`~strategies.indicators.events`: dense signals to events (``events_nb``);
* :mod:`~strategies.indicators.api`: ``Indicators`` and its result tuples ``Bands``, ``Macd``, ``Channel``.

>>> import numpy as np
>>> ind = Indicators()
>>> close = np.arange(1.0, 6.0)[:, None]
>>> ind.sma(close, 3)[:, 0].tolist(), ind.ema(close, 3)[:, 0].tolist()
([nan, nan, 2.0, 3.0, 4.0], [nan, nan, 2.25, 3.125, 4.0625])
>>> ind.bbands(close, 3, 1.0).upper[:, 0].round(3).tolist()
[nan, nan, 2.816, 3.816, 4.816]
"""

from strategies.indicators.api import Bands, Channel, Indicators, Macd
from strategies.indicators.averages import ema_nb, returns_nb, true_range_nb, wma_nb
from strategies.indicators.cache import IndicatorCache
from strategies.indicators.crosses import cross_events_nb, crossed_above_nb
from strategies.indicators.crossings import (crossover_events_nb, crossover_signal_nb, sma_crossings,
                                             sma_crossover_events_nb)
from strategies.indicators.events import SignalEvents, events_nb
from strategies.indicators.session import session_vwap_nb, utc_days
from strategies.indicators.windows import (RESTART_EVERY, rolling_max_nb, rolling_min_nb, rolling_std_nb, rsi_nb,
                                           sma_nb)

__all__ = ["RESTART_EVERY", "Bands", "Channel", "IndicatorCache", "Indicators", "Macd", "SignalEvents", "cross_events_nb",
           "crossed_above_nb", "crossover_events_nb", "crossover_signal_nb", "ema_nb", "events_nb", "returns_nb",
           "rolling_max_nb", "rolling_min_nb", "rolling_std_nb", "rsi_nb", "session_vwap_nb", "sma_crossings",
           "sma_crossover_events_nb", "sma_nb", "true_range_nb", "utc_days", "wma_nb"]
