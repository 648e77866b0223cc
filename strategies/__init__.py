"""Strategies: one file each, a params dataclass plus numba-compatible signal logic.

Pure computation on arrays: no I/O, and nothing of ``backtest``, ``warehouse`` or
``reports`` is imported here (the engine imports strategies, not the other way).
Beside the strategies: :mod:`strategies.indicators` (numba kernels and the
indicator cache), :mod:`strategies.signal_events` (sparse signals),
:mod:`strategies.checks` and :mod:`strategies.errors`.

A strategy module ``strategies/<name>.py`` defines

* ``Params``: a frozen dataclass of its parameters with defaults; it checks
  them in ``__post_init__`` and raises :class:`strategies.errors.StrategyError`
  naming ``strategy.<field>`` and the value;
* ``signals(bars, params, cache=None) -> np.ndarray``: a float64 array shaped
  like ``bars.close`` (+1 long, -1 short, 0 flat, NaN keep; see
  :mod:`backtest.engine.simulate`), computed by ``@njit`` kernels over numpy arrays;
  every indicator goes through ``cache`` (a
  :class:`strategies.indicators.IndicatorCache`) so sweeps compute it once;
* optionally ``events(bars, params, cache=None) ->``
  :class:`strategies.signal_events.SignalEvents`: the same signals, sparse,
  without building the dense array (faster for runs and sweeps);
  :func:`signal_events` falls back to converting ``signals``.

and ``conf/strategy/<name>.yaml`` holds ``name: <name>`` and the defaults.
:func:`load` finds it by name; :func:`make_params` builds checked params.

>>> module = load("sma_cross")
>>> make_params(module, {"fast": 5, "slow": 20})
Params(fast=5, slow=20)
>>> make_params(module, {"fast": 5, "slo": 20})
Traceback (most recent call last):
strategies.errors.StrategyError: strategy.slo: unknown parameter of sma_cross (known: fast, slow)
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from strategies.errors import StrategyError
from strategies.signal_events import SignalEvents

_HELPERS = {"indicators", "checks", "errors", "signal_events"}


def available() -> list[str]:
    """Names of the strategy modules in this package, sorted."""
    here = str(Path(__file__).parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if m.name not in _HELPERS)


def load(name: str) -> ModuleType:
    """The strategy module called ``name``; an unknown name is a one-line error listing the known ones."""
    if name not in available():
        raise StrategyError(f"strategy: {name!r} is not a strategy (available: {', '.join(available())})")
    module = importlib.import_module(f"strategies.{name}")
    for attribute in ("Params", "signals"):
        if not hasattr(module, attribute):
            raise StrategyError(f"strategy: strategies/{name}.py defines no {attribute}")
    return module


def signal_events(module: ModuleType, bars: Any, params: Any, cache: Any = None) -> SignalEvents:
    """The strategy's signals over ``bars`` as events: its ``events`` if it has one, else its dense ``signals``.

    A result that does not fit the bars is a one-line error naming the strategy.

    >>> import numpy as np
    >>> from backtest.feed import BarArrays
    >>> close = np.array([5.0, 4, 3, 2, 3, 4, 5, 6, 5, 4, 3])[:, None]
    >>> bars = BarArrays(np.arange(11).astype("datetime64[D]"), ("X",), close, close, close, close, close)
    >>> signal_events(load("rsi_reversion"), bars, make_params(load("rsi_reversion"), {"window": 2})).bars.tolist()
    [2, 3, 5, 6, 7, 9, 10]
    """
    name = module.__name__.rsplit(".", 1)[-1]
    if not hasattr(module, "events"):
        signal = np.asarray(module.signals(bars, params, cache), dtype=np.float64)
        if signal.shape != bars.close.shape:
            raise StrategyError(f"strategy: {name}.signals returned shape {signal.shape}, "
                                f"bars are {bars.close.shape}")
        return SignalEvents.from_dense(signal)
    events = module.events(bars, params, cache)
    events.check_shape(bars.close.shape, f"{name}.events")
    return events


def make_params(module: ModuleType, values: Mapping[str, Any]) -> Any:
    """The module's ``Params`` from ``values`` (``name`` is ignored); unknown keys are errors."""
    known = [f.name for f in dataclasses.fields(module.Params)]
    given = {key: value for key, value in values.items() if key != "name"}
    for key in given:
        if key not in known:
            short = module.__name__.rsplit(".", 1)[-1]
            raise StrategyError(f"strategy.{key}: unknown parameter of {short} (known: {', '.join(known)})")
    return module.Params(**given)
