"""Backtests over warehouse data: the feed (requests -> arrays; the only part that reads the warehouse),
the engine (rules and numba execution kernels), sweeps (local, Dask, walk-forward), stats, and the
Python API and Hydra entry point.

* :func:`run` and :func:`sweep` (:mod:`backtest.api`): the Python API, on feed requests or frames;
* :mod:`backtest.feed`: ``Feed`` and ``bar_arrays``; :mod:`backtest.runner`: one run from names and
  values (``run_backtest``, what the CLI calls);
* :mod:`backtest.engine`: rules and simulation; :mod:`backtest.sweep`: many parameter sets at once;
* :mod:`backtest.stats` and :mod:`backtest.curves`: metrics and the series reports draw;
* ``python -m backtest`` (:mod:`backtest.cli`).
"""

from backtest.api import Result, run, sweep

__all__ = ["Result", "run", "sweep"]
