"""Checks strategies run on their parameters; errors name ``strategy.<field>`` and the value."""

from __future__ import annotations

import math

from strategies.errors import StrategyError


def ordered(low_name: str, low: int | float, high_name: str, high: int | float) -> None:
    """Raise unless ``low < high``.

    >>> ordered("fast", 30, "slow", 10)
    Traceback (most recent call last):
    strategies.errors.StrategyError: strategy.fast: 30 must be < strategy.slow (10)
    """
    if not low < high:
        raise StrategyError(f"strategy.{low_name}: {low!r} must be < strategy.{high_name} ({high!r})")


def positive(name: str, value: object) -> None:
    """Raise unless ``value`` is a finite number > 0.

    >>> positive("k", 0)
    Traceback (most recent call last):
    strategies.errors.StrategyError: strategy.k: 0 must be a finite number > 0
    """
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value <= 0):
        raise StrategyError(f"strategy.{name}: {value!r} must be a finite number > 0")
