"""What a strategy returns, checked and made sparse: the engine's :class:`SignalEvents`.

``signals`` / ``weights`` may return a numpy array (1-D for one symbol), a
polars or pandas frame (one column per symbol) or :class:`SignalEvents`
(what ``self.ind.cross`` returns). Sparse events go to the engine as they
are; a dense array is reduced to the bars that signal, so authors never think
about it. Bad output is a one-line error naming the strategy, the field and
the value: a wrong shape, booleans, inf, a signal other than +1/-1/0/NaN (unless the run
weighs entries by signal strength: ``strengths=True``, the engine's ``allocation=signal_weight``).

>>> import numpy as np
>>> from strategies.base import Strategy
>>> class Flip(Strategy):
...     def signals(self, bars):
...         return np.where(bars.close > 2, 1.0, np.nan)
>>> from types import SimpleNamespace
>>> bars = SimpleNamespace(close=np.array([[1.0], [3.0], [2.0]]), symbols=("X",))
>>> signal_events(Flip(), bars).bars.tolist()
[1]
>>> class Bad(Strategy):
...     def signals(self, bars):
...         return bars.close * np.inf
>>> signal_events(Bad(), bars)
Traceback (most recent call last):
strategies.errors.StrategyError: strategy Bad: signals[0, 'X'] is inf; signals are +1, -1, 0 or NaN
"""

from __future__ import annotations

from typing import Any

import numpy as np

from strategies.base import Strategy
from strategies.errors import StrategyError
from strategies.indicators.api import Indicators
from strategies.indicators.events import SignalEvents


def signal_events(strategy: Strategy, bars: Any, indicators: Indicators | None = None, *,
                  strengths: bool = False) -> SignalEvents:
    """Run ``strategy`` on ``bars`` (indicators through ``indicators``) and return its checked events.

    ``strengths``: signals may be any finite number, the sign the side and the size a strength
    (what the engine's ``allocation=signal_weight`` weighs entries by); otherwise +1/-1/0/NaN.
    """
    if indicators is not None:
        strategy.bind(indicators)
    field = "weights" if strategy.uses_weights() else "signals"
    output = strategy.weights(bars) if field == "weights" else strategy.signals(bars)
    shape = bars.close.shape
    events = output if isinstance(output, SignalEvents) else SignalEvents.from_dense(_dense(strategy, field,
                                                                                              output, shape))
    if events.shape != shape:
        raise StrategyError(f"strategy {strategy.name}: {field} returned shape {events.shape}, "
                            f"bars are {shape} (bars, symbols)")
    _check_values(strategy.name, field, events, bars.symbols, strengths)
    return events


def _dense(strategy: Strategy, field: str, output: Any, shape: tuple[int, int]) -> np.ndarray:
    """``output`` as a float64 ``(bars, symbols)`` array; booleans and non-numbers are errors."""
    if hasattr(output, "to_numpy"):  # polars / pandas frames and series
        output = output.to_numpy()
    array = np.asarray(output)
    if array.dtype == np.bool_:
        raise StrategyError(f"strategy {strategy.name}: {field} returned booleans; return +1/-1/0/NaN, "
                            f"e.g. np.where(entries, 1.0, np.nan)")
    if not (np.issubdtype(array.dtype, np.number)):
        raise StrategyError(f"strategy {strategy.name}: {field} returned {array.dtype} values, not numbers")
    if array.ndim == 1 and shape[1] == 1:
        array = array[:, None]
    if array.shape != shape:
        raise StrategyError(f"strategy {strategy.name}: {field} returned shape {array.shape}, "
                            f"bars are {shape} (bars, symbols)")
    return np.ascontiguousarray(array, dtype=np.float64)


def _check_values(name: str, field: str, events: SignalEvents, symbols: Any, strengths: bool) -> None:
    """Every event value is finite (weights, signals with strengths) or one of +1, -1, 0; NaN is always allowed."""
    rows = events.rows
    if field == "weights" or strengths:
        bad = np.isinf(rows)
        rule = "weights are finite fractions of equity or NaN" if field == "weights" else "signals are finite or NaN"
    else:
        bad = ~(np.isnan(rows) | (rows == 1.0) | (rows == -1.0) | (rows == 0.0))
        rule = "signals are +1, -1, 0 or NaN"
    if bad.any():
        i, j = np.argwhere(bad)[0]
        value = rows[i, j]
        text = "inf" if np.isposinf(value) else "-inf" if np.isneginf(value) else repr(float(value))
        if np.isfinite(value):
            rule += " (signal strengths need engine.allocation=signal_weight)"
        raise StrategyError(f"strategy {name}: {field}[{int(events.bars[i])}, {symbols[j]!r}] is {text}; {rule}")
