"""Numba kernels of the engine: numpy arrays and number records in, numpy arrays out.

Nothing here knows about configs, frames or files; :mod:`backtest.engine.simulate`
validates the inputs, makes one kernel call and wraps the result (the rules the
kernels implement are documented there). By job:

* :mod:`~backtest.engine.kernels.records` -- the :class:`Rules` and :class:`Prices`
  records, the order/trade/state row layouts and the statistic names;
* :mod:`~backtest.engine.kernels.loop` -- the bar loop (:func:`simulate_into_nb`);
* :mod:`~backtest.engine.kernels.fills` -- order sizes, fills, the order and trade book;
* :mod:`~backtest.engine.kernels.stops` -- stop-loss, take-profit, trailing stop;
* :mod:`~backtest.engine.kernels.marking` -- equity marked to market;
* :mod:`~backtest.engine.kernels.stats` -- the statistics of a run (:func:`stats_nb`);
* :mod:`~backtest.engine.kernels.numba_options` and
  :mod:`~backtest.engine.kernels.cache_stamp` -- how the kernels are compiled and cached.

Order and trade records are the columns of 2-D float64 arrays sized once from
the number of signals, so memory follows the signals, not the bars. The bar loop
allocates nothing; per bar it keeps only equity (positions and cash change at
orders only, and every order records both).
"""

from backtest.engine.kernels.loop import signal_cells_nb, simulate_into_nb
from backtest.engine.kernels.records import Prices, Rules
from backtest.engine.kernels.stats import Calendar, stats_nb

__all__ = ["Calendar", "Prices", "Rules", "signal_cells_nb", "simulate_into_nb", "stats_nb"]
