"""The Strategy base class and ``param``: parameters, data in, indicators, signals (or weights) out.

A strategy is a short class. Each ``param(default, min=..., max=...)`` is a
typed parameter (its type is the default's: int, float, bool or str) with
optional inclusive bounds; ``signals(bars)`` returns, per bar and symbol, +1
(long), -1 (short), 0 (flat) or NaN (keep what is held); a portfolio strategy
returns target ``weights(bars)`` instead (signed fractions of equity, NaN =
no rebalance). ``bars`` holds ``open``, ``high``, ``low``, ``close``,
``volume`` as ``(n_bars, n_symbols)`` float64 arrays, ``index`` (bar times)
and ``symbols``. ``self.ind`` computes indicators, each once per data set.

>>> import numpy as np
>>> class Momentum(Strategy):
...     window = param(20, min=1)
...     def signals(self, bars):
...         return np.sign(self.ind.returns(bars.close, self.window))
>>> Momentum(window=5)
Momentum(window=5)
>>> Momentum(window=0)
Traceback (most recent call last):
strategies.errors.StrategyError: strategy.window: 0 must be an integer >= 1 (Momentum)
>>> Momentum(windw=5)
Traceback (most recent call last):
strategies.errors.StrategyError: strategy.windw: unknown parameter of Momentum (known: window)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from strategies.errors import StrategyError
from strategies.indicators.api import Indicators

_TYPES = (bool, int, float, str)


class param:  # noqa: N801 -- lower case: it reads as a declaration, ``fast = param(10, min=2)``
    """A strategy parameter: a ``default`` (its type is the parameter's) and inclusive ``min`` / ``max``.

    >>> p = param(0.5, min=0, max=1)
    >>> p.type.__name__, p.describe()
    ('float', 'a number in [0, 1]')
    """

    def __init__(self, default: bool | int | float | str, *, min: float | None = None,  # noqa: A002
                 max: float | None = None, doc: str = "") -> None:  # noqa: A002
        if type(default) not in _TYPES:
            raise TypeError(f"param default {default!r} must be an int, float, bool or str")
        self.default = default
        self.type = type(default)
        self.min = min
        self.max = max
        self.doc = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Strategy | None, owner: type) -> Any:
        return self if instance is None else instance._values[self.name]

    def __set__(self, instance: Strategy, value: Any) -> None:
        raise AttributeError(f"strategy.{self.name}: parameters are fixed; make a new strategy with {self.name}=...")

    def describe(self) -> str:
        """What a value must be, for messages: ``an integer >= 2``, ``a number in [0, 100]``."""
        kind = {bool: "true or false", int: "an integer", float: "a number", str: "text"}[self.type]
        if self.min is not None and self.max is not None:
            return f"{kind} in [{self.min:g}, {self.max:g}]"
        if self.min is not None:
            return f"{kind} >= {self.min:g}"
        if self.max is not None:
            return f"{kind} <= {self.max:g}"
        return kind

    def check(self, value: Any, owner: str) -> bool | int | float | str:
        """``value`` as this parameter's type, or a one-line error naming ``strategy.<name>``, the value and owner."""
        checked = _convert(self.type, value)
        if checked is None or (self.type in (int, float) and (
                (self.min is not None and checked < self.min) or (self.max is not None and checked > self.max))):
            raise StrategyError(f"strategy.{self.name}: {value!r} must be {self.describe()} ({owner})")
        return checked


def _convert(kind: type, value: Any) -> Any:
    """``value`` as ``kind`` when it is one (ints as floats; whole floats as ints), else None."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value) if kind is bool else None
    if kind is int:
        if isinstance(value, (int, np.integer)):
            return int(value)
        return int(value) if isinstance(value, (float, np.floating)) and float(value).is_integer() else None
    if kind is float:
        ok = isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value)
        return float(value) if ok else None
    return value if isinstance(value, kind) else None


class Strategy:
    """Base of every strategy: declare ``param`` attributes and define ``signals`` (or ``weights``).

    ``name`` (a class attribute) is the short name runs and reports use; it
    defaults to the class name. Override :meth:`check` for rules across
    parameters (``fast < slow``); raise :class:`~strategies.errors.StrategyError`
    naming ``strategy.<field>``. Instances are immutable and compare by class and values.
    ``reads = "quotes"`` asks for the book in force at each bar's close beside the bars
    (``bars.bid``, ``bars.ask``, ``bars.imbalance`` ...: :class:`backtest.feed.quote_bars.QuoteBars`).
    """

    name: ClassVar[str] = ""
    reads: ClassVar[str] = "bars"  # "quotes": signals(bars) also get the book at each bar's close (QuoteBars)
    _params: ClassVar[dict[str, param]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, param] = {}
        for klass in reversed(cls.__mro__):
            found.update({k: v for k, v in vars(klass).items() if isinstance(v, param)})
        cls._params = found
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__

    def __init__(self, **values: Any) -> None:
        for key in values:
            if key not in self._params:
                known = ", ".join(self._params) or "none"
                raise StrategyError(f"strategy.{key}: unknown parameter of {self.name} (known: {known})")
        self._values = {key: p.check(values[key], self.name) if key in values else p.default
                        for key, p in self._params.items()}
        self._ind: Indicators | None = None
        try:
            self.check()
        except StrategyError as exc:
            raise StrategyError(f"{exc} ({self.name})") from None

    @classmethod
    def params(cls) -> Mapping[str, param]:
        """The declared parameters by name, in declaration order (base classes first)."""
        return dict(cls._params)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every parameter's default value."""
        return {key: p.default for key, p in cls._params.items()}

    @classmethod
    def uses_weights(cls) -> bool:
        """Whether the class returns target weights (it defines ``weights``) rather than signals."""
        return cls.weights is not Strategy.weights

    @property
    def values(self) -> dict[str, Any]:
        """This instance's parameter values."""
        return dict(self._values)

    @property
    def ind(self) -> Indicators:
        """The indicators of the data being run (a fresh, private set when called outside a run)."""
        if self._ind is None:
            self._ind = Indicators()
        return self._ind

    def bind(self, indicators: Indicators) -> None:
        """Compute ``self.ind`` through ``indicators`` (runs and sweeps share one per data set)."""
        self._ind = indicators

    def check(self) -> None:
        """Rules across parameters; the default has none."""

    def signals(self, bars: Any) -> Any:
        """+1 / -1 / 0 / NaN per bar and symbol, shaped like ``bars.close``."""
        raise StrategyError(f"strategy: {self.name} defines neither signals(bars) nor weights(bars)")

    def weights(self, bars: Any) -> Any:
        """Target weights per bar and symbol (signed fractions of equity, NaN = keep), shaped like ``bars.close``."""
        raise StrategyError(f"strategy: {self.name} defines neither signals(bars) nor weights(bars)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._values == self._values

    def __hash__(self) -> int:
        return hash((type(self), tuple(self._values.items())))

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its indicators (they belong to the data, not to the parameters)."""
        return {"_values": self._values, "_ind": None}
