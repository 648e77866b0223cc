"""Indicator kernels shared by strategies: ``(n_bars, n_columns)`` float64 in and out, NaN-aware.

A value at bar t uses bars up to and including t only. Kernels release the
GIL (``nogil``) so a sweep computes several sets' signals at once. Strategies call them
through an :class:`IndicatorCache` so that a sweep computes each distinct
indicator (kernel + input + arguments) once, however many parameter sets use it.

* :mod:`~strategies.indicators.windows`: moving averages and rolling windows
  (``sma_nb``, ``rolling_std_nb``, ``rolling_max_nb``/``rolling_min_nb``, ``rsi_nb``);
* :mod:`~strategies.indicators.session`: per-session VWAP (``session_vwap_nb``, ``utc_days``);
* :mod:`~strategies.indicators.crossings`: where two series cross, dense or as events,
  and SMA crossings in one pass (``sma_crossings``);
* :mod:`~strategies.indicators.events`: dense signals to events (``events_nb``);
* :mod:`~strategies.indicators.cache`: the :class:`IndicatorCache`.

>>> import numpy as np
>>> sma_nb(np.arange(1.0, 6.0)[:, None], 3)[:, 0].tolist()
[nan, nan, 2.0, 3.0, 4.0]
>>> a, b = np.array([[1.0], [2.0], [3.0], [2.0]]), np.full((4, 1), 2.5)
>>> crossover_signal_nb(a, b)[:, 0].tolist()
[nan, nan, 1.0, -1.0]
>>> crossover_events_nb(a, b)[0].tolist()
[2, 3]
>>> rolling_max_nb(np.array([[1.0], [3.0], [2.0], [1.0]]), 2)[:, 0].tolist()
[nan, 3.0, 3.0, 2.0]
>>> rsi_nb(np.array([[1.0], [2.0], [3.0], [2.0]]), 2)[:, 0].round(2).tolist()
[nan, nan, 100.0, 50.0]
"""

from strategies.indicators.cache import IndicatorCache
from strategies.indicators.crossings import (crossover_events_nb, crossover_signal_nb, sma_crossings,
                                             sma_crossover_events_nb)
from strategies.indicators.events import events_nb
from strategies.indicators.session import session_vwap_nb, utc_days
from strategies.indicators.windows import (RESTART_EVERY, rolling_max_nb, rolling_min_nb, rolling_std_nb, rsi_nb,
                                           sma_nb)

__all__ = ["RESTART_EVERY", "IndicatorCache", "crossover_events_nb", "crossover_signal_nb", "events_nb",
           "rolling_max_nb", "rolling_min_nb", "rolling_std_nb", "rsi_nb", "session_vwap_nb", "sma_crossings",
           "sma_crossover_events_nb", "sma_nb", "utc_days"]
