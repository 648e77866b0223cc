"""Strategies: one file each, a params dataclass plus numba-compatible signal logic.

A strategy module ``strategies/<name>.py`` defines

* ``Params``: a frozen dataclass of its parameters with defaults; it checks
  them in ``__post_init__`` and raises :class:`backtest.errors.BacktestError`
  naming ``strategy.<field>`` and the value;
* ``signals(bars, params, cache=None) -> np.ndarray``: a float64 array shaped
  like ``bars.close`` (+1 long, -1 short, 0 flat, NaN keep; see
  :mod:`backtest.engine`), computed by ``@njit`` kernels over numpy arrays;
  every indicator goes through ``cache`` (a
  :class:`strategies.indicators.IndicatorCache`) so sweeps compute it once.

and ``conf/strategy/<name>.yaml`` holds ``name: <name>`` and the defaults.
:func:`load` finds it by name; :func:`make_params` builds checked params.

>>> module = load("sma_cross")
>>> make_params(module, {"fast": 5, "slow": 20})
Params(fast=5, slow=20)
>>> make_params(module, {"fast": 5, "slo": 20})
Traceback (most recent call last):
backtest.errors.BacktestError: strategy.slo: unknown parameter of sma_cross (known: fast, slow)
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from backtest.errors import BacktestError

_HELPERS = {"indicators", "checks"}


def available() -> list[str]:
    """Names of the strategy modules in this package, sorted."""
    here = str(Path(__file__).parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if m.name not in _HELPERS)


def load(name: str) -> ModuleType:
    """The strategy module called ``name``; an unknown name is a one-line error listing the known ones."""
    if name not in available():
        raise BacktestError(f"strategy: {name!r} is not a strategy (available: {', '.join(available())})")
    module = importlib.import_module(f"strategies.{name}")
    for attribute in ("Params", "signals"):
        if not hasattr(module, attribute):
            raise BacktestError(f"strategy: strategies/{name}.py defines no {attribute}")
    return module


def make_params(module: ModuleType, values: Mapping[str, Any]) -> Any:
    """The module's ``Params`` from ``values`` (``name`` is ignored); unknown keys are errors."""
    known = [f.name for f in dataclasses.fields(module.Params)]
    given = {key: value for key, value in values.items() if key != "name"}
    for key in given:
        if key not in known:
            short = module.__name__.rsplit(".", 1)[-1]
            raise BacktestError(f"strategy.{key}: unknown parameter of {short} (known: {', '.join(known)})")
    return module.Params(**given)
