"""Run statistics: one pure function over an equity curve and the closed trades.

Formulas (per-bar simple returns ``r_t = equity_t / equity_{t-1} - 1``, with
``equity_{-1}`` the initial cash; risk-free rate 0):

* ``years`` = time from the first to the last bar / 365.25 days;
  ``periods_per_year`` = (bars - 1) / years. Annualising from the calendar the
  data actually covers works the same for 24/7 crypto, exchange hours and
  daily bars (GOOG daily gives about 252, 1m exchange-hours bars about 98,000).
* ``cagr`` = (final / initial) ** (1 / years) - 1.
* ``volatility`` = std(r, ddof=1) * sqrt(periods_per_year);
  ``sharpe`` = mean(r) / std(r, ddof=1) * sqrt(periods_per_year);
  ``sortino`` = mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(periods_per_year);
  ``calmar`` = cagr / |max_drawdown|.
* ``max_drawdown``: worst equity / running peak - 1 (negative);
  ``max_drawdown_bars`` and ``max_drawdown_duration``: the longest time from a
  peak to the bar that regained it (or to the end when never regained).
* Trade stats use closed trades: ``win_rate`` (pnl > 0), ``profit_factor``
  (gross wins / gross losses), ``expectancy`` (mean pnl), ``avg/best/worst
  _trade_return`` (pnl over entry value), ``sqn`` = sqrt(n) * mean(pnl) /
  std(pnl, ddof=1). ``exposure`` is the fraction of bars ending with a position.

>>> import numpy as np
>>> index = np.array(["2024-01-01", "2024-07-01", "2025-01-01"], dtype="datetime64[us]")
>>> stats = summarize(np.array([100.0, 90.0, 121.0]), 100.0, np.array([21.0]), np.array([0.21]), 3, index)
>>> round(stats["total_return"], 4), round(stats["max_drawdown"], 4), stats["trades"]
(0.21, -0.1, 1)
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from backtest.engine.kernels import stats_nb
from backtest.engine.kernels.records import STAT_NAMES

__all__ = ["STAT_NAMES", "calendar", "longest_drawdown", "summarize"]
_YEAR = np.timedelta64(int(365.25 * 86400 * 1_000_000), "us")


def calendar(index: np.ndarray) -> tuple[float, float]:
    """``(periods_per_year, years)`` for bar times ``index`` (``datetime64``).

    >>> calendar(np.array(["2024-01-01", "2024-01-02", "2024-01-03"], dtype="datetime64[D]"))
    (365.25, 0.0054757015742642025)
    """
    if len(index) < 2:
        return float("nan"), 0.0
    years = float((index[-1] - index[0]).astype("timedelta64[us]") / _YEAR)
    return ((len(index) - 1) / years if years > 0 else float("nan")), years


def summarize(equity: np.ndarray, init_cash: float, trade_pnl: np.ndarray, trade_return: np.ndarray,
              exposure_bars: int, index: np.ndarray) -> dict[str, float]:
    """Every statistic of :data:`STAT_NAMES` plus ``max_drawdown_duration`` (a ``timedelta``).

    ``STAT_NAMES`` is defined once, beside the kernel that fills a row of them
    (:mod:`backtest.engine.kernels.records`).
    """
    periods_per_year, years = calendar(index)
    values = stats_nb(np.ascontiguousarray(equity, dtype=np.float64), float(init_cash),
                      np.ascontiguousarray(trade_pnl, dtype=np.float64),
                      np.ascontiguousarray(trade_return, dtype=np.float64), int(exposure_bars),
                      periods_per_year, years)
    stats: dict[str, float] = dict(zip(STAT_NAMES, values.tolist()))
    stats["trades"] = int(stats["trades"])
    stats["max_drawdown_bars"] = int(stats["max_drawdown_bars"])
    stats["periods_per_year"] = periods_per_year
    stats["max_drawdown_duration"] = longest_drawdown(equity, index)
    return stats


def longest_drawdown(equity: np.ndarray, index: np.ndarray) -> timedelta:
    """The longest time between a new equity high and the next (or the last bar).

    >>> days = np.array(["2024-01-01", "2024-01-02", "2024-01-05", "2024-01-06"], dtype="datetime64[D]")
    >>> longest_drawdown(np.array([1.0, 0.9, 1.1, 1.0]), days)
    datetime.timedelta(days=4)
    """
    if len(equity) < 2:
        return timedelta(0)
    highs = np.flatnonzero(equity >= np.maximum.accumulate(equity))
    if highs[-1] != len(equity) - 1:
        highs = np.append(highs, len(equity) - 1)
    if len(highs) < 2:
        return timedelta(0)
    return np.diff(index[highs]).max().astype("timedelta64[s]").item()
