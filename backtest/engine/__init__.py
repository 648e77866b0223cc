"""The backtest engine: rules in, one compiled simulation, equity, orders and trades out.

* :mod:`backtest.engine.rules` -- :class:`EngineConfig`, the rules as one frozen,
  documented record (also the Hydra schema of the ``engine`` group);
* :mod:`backtest.engine.modes` -- the modes as enums (fill, signals, direction, sizing);
* :mod:`backtest.engine.simulate` -- :func:`run`: checks the inputs, makes one kernel
  call, wraps the result as a :class:`SimulationResult`;
* :mod:`backtest.engine.kernels` -- the numba kernels (bar loop, fills, stops,
  marking, statistics) over numpy arrays and number records only.

>>> import numpy as np
>>> close = np.array([10.0, 11.0, 12.0])
>>> run(close, close, close, close, np.array([1.0, np.nan, np.nan]), EngineConfig(fill="close")).equity[-1]
np.float64(12000.0)
"""

from backtest.engine.rules import EngineConfig
from backtest.engine.simulate import SimulationResult, run

__all__ = ["EngineConfig", "SimulationResult", "run"]
