"""Checks strategies run on their parameters; errors name ``strategy.<field>`` and the value."""

from __future__ import annotations

import math

from strategies.errors import StrategyError


def window(name: str, value: object, minimum: int = 1) -> None:
    """Raise unless ``value`` is an int >= ``minimum``.

    >>> window("fast", 0)
    Traceback (most recent call last):
    strategies.errors.StrategyError: strategy.fast: 0 must be an integer >= 1
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise StrategyError(f"strategy.{name}: {value!r} must be an integer >= {minimum}")


def number(name: str, value: object, low: float = -math.inf, high: float = math.inf) -> None:
    """Raise unless ``value`` is a finite number in ``[low, high]``.

    >>> number("threshold", 120, 0, 100)
    Traceback (most recent call last):
    strategies.errors.StrategyError: strategy.threshold: 120 must be a number in [0, 100]
    """
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or not low <= value <= high):
        raise StrategyError(f"strategy.{name}: {value!r} must be a number in [{low:g}, {high:g}]")


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
