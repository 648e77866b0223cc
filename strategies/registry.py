"""Finding a strategy class: a built-in short name, an entry point, ``module:Class`` or ``file.py:Class``.

* built-ins by short name (``sma_cross``; :data:`BUILTINS`);
* installed packages' strategies: the entry-point group ``tickhouse.strategies``
  (``[project.entry-points."tickhouse.strategies"] ema_cross = "mypkg.signals:EmaCross"``);
* any importable class: ``mypkg.signals:EmaCross`` (or ``mypkg.signals.EmaCross``);
* a file: ``path/to/my_strategies.py:EmaCross``, or ``my_strategies.py`` when the file
  defines exactly one strategy class (a relative path is read from the working directory).

>>> find("sma_cross").__name__
'SmaCross'
>>> find("strategies.rsi_reversion:RsiReversion").name
'rsi_reversion'
>>> find("nope")
Traceback (most recent call last):
strategies.errors.StrategyError: strategy: 'nope' is not a strategy (available: bollinger_breakout, book_imbalance, donchian_breakout, rsi_reversion, sma_cross, vwap_reversion; or a class as module:Class or file.py:Class)
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from strategies.base import Strategy
from strategies.errors import StrategyError

GROUP = "tickhouse.strategies"
BUILTINS = {
    "book_imbalance": "strategies.book_imbalance:BookImbalance",
    "bollinger_breakout": "strategies.bollinger_breakout:BollingerBreakout",
    "donchian_breakout": "strategies.donchian_breakout:DonchianBreakout",
    "rsi_reversion": "strategies.rsi_reversion:RsiReversion",
    "sma_cross": "strategies.sma_cross:SmaCross",
    "vwap_reversion": "strategies.vwap_reversion:VwapReversion",
}


def _installed() -> dict[str, str]:
    """Entry points of the ``tickhouse.strategies`` group: name -> ``module:Class``."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def available() -> list[str]:
    """Short names: the built-ins and every installed package's strategies, sorted."""
    return sorted({**_installed(), **BUILTINS})


def find(spec: str | type) -> type[Strategy]:
    """The strategy class ``spec`` names (see the module text); a class is checked and returned."""
    if isinstance(spec, type):
        return _checked(spec, spec.__name__)
    if not isinstance(spec, str) or not spec.strip():
        raise StrategyError(f"strategy: {spec!r} is not a strategy name, module:Class or file.py:Class")
    target = BUILTINS.get(spec) or _installed().get(spec) or spec
    if ":" in target:
        location, attribute = target.rsplit(":", 1)
    elif target.endswith(".py"):
        location, attribute = target, ""
    elif "." in target:
        location, attribute = target.rsplit(".", 1)
    else:
        raise StrategyError(f"strategy: {spec!r} is not a strategy (available: {', '.join(available())}; "
                            "or a class as module:Class or file.py:Class)")
    if location.endswith(".py"):
        return _from_module(_load_file(location, spec), attribute, spec)
    try:
        module = importlib.import_module(location)
    except ImportError as exc:
        raise StrategyError(f"strategy: {spec!r}: cannot import {location!r} ({exc})") from None
    return _from_module(module, attribute, spec)


def _load_file(path: str, spec: str) -> ModuleType:
    """The module of a ``.py`` file, loaded once per absolute path."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise StrategyError(f"strategy: {spec!r}: no file {str(file)!r}")
    name = f"tickhouse_strategy_{file.stem}_{hashlib.sha1(str(file).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    loader = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(loader)
    sys.modules[name] = module  # the module's classes pickle by this name (sweep workers)
    try:
        loader.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return module


def _from_module(module: ModuleType, attribute: str, spec: str) -> type[Strategy]:
    """``module.attribute``, or the one strategy class ``module`` defines when no attribute is named."""
    if attribute:
        if not hasattr(module, attribute):
            raise StrategyError(f"strategy: {spec!r}: {module.__name__} has no {attribute!r}")
        return _checked(getattr(module, attribute), spec)
    found = [c for _, c in inspect.getmembers(module, inspect.isclass)
             if issubclass(c, Strategy) and c is not Strategy and c.__module__ == module.__name__]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise StrategyError(f"strategy: {spec!r} defines {len(found)} strategy classes ({names}); "
                            "name one as file.py:Class")
    return found[0]


def _checked(cls: object, spec: str) -> type[Strategy]:
    """``cls`` if it is a Strategy subclass, else a one-line error."""
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyError(f"strategy: {spec!r} is not a subclass of strategies.Strategy")
    return cls
