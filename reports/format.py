"""Text for numbers in reports: which statistics are fractions shown as percent, and how values print.

>>> stat_text("total_return", -0.0415), stat_text("sharpe", 1.2345), stat_text("trades", 454)
('-4.15%', '1.23', '454')
>>> stat_text("profit_factor", float("nan")), stat_text("final_equity", 9584.957)
('n/a', '9,584.96')
"""

from __future__ import annotations

import math
from datetime import timedelta

PERCENT_STATS = frozenset({
    "total_return", "cagr", "volatility", "max_drawdown", "win_rate", "avg_trade_return", "best_trade_return",
    "worst_trade_return", "exposure", "return",
    # backtest.metrics (the Risk and return card)
    "annual_return", "ulcer_index", "var_95", "cvar_95", "best_bar", "worst_bar", "benchmark_return", "alpha",
    "time_in_market",
})


def number(value: object, digits: int = 2) -> str:
    """Thousands separators and ``digits`` decimals for floats; ints as ints; NaN/inf/None as ``n/a``/``inf``.

    >>> number(1234.5), number(7), number(None), number(float("inf"))
    ('1,234.50', '7', 'n/a', 'inf')
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:,.{digits}f}"
    return str(value)


def percent(value: float, digits: int = 2) -> str:
    """A fraction as percent (``0.0123`` -> ``1.23%``); NaN as ``n/a``.

    >>> percent(0.0123), percent(float("nan"))
    ('1.23%', 'n/a')
    """
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}%}"


def stat_text(name: str, value: object) -> str:
    """How statistic ``name`` prints: percent for fractions, durations as given, numbers otherwise."""
    if isinstance(value, timedelta):
        return str(value)
    if name in PERCENT_STATS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return percent(float(value))
    return number(value)
