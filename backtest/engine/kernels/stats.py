"""The statistics kernel: one row of :data:`~backtest.engine.kernels.records.STAT_NAMES` per run.

The formulas are documented in :mod:`backtest.stats`; the equity curve is read
in one pass (returns and drawdowns together), then the closed trades.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from backtest.engine.kernels.cache_stamp import STAMP
from backtest.engine.kernels.records import STAT, STAT_FIELDS


class Calendar(NamedTuple):
    """How the bars map to time: bars per year and the years they span (:func:`backtest.stats.calendar`)."""

    periods_per_year: float
    years: float


class _Curve(NamedTuple):
    """What one pass over an equity curve gathers."""

    total: float  # sum of per-bar returns
    total_sq: float  # sum of their squares
    downside_sq: float  # sum of squared losses
    worst_drawdown: float
    longest_drawdown: int  # bars


def _compile(stamp: int):
    """The statistics kernel, cached under ``stamp`` (see :mod:`backtest.engine.kernels.cache_stamp`)."""

    @njit(cache=True)
    def stats_nb(equity: np.ndarray, init_cash: float, trade_pnl: np.ndarray, trade_return: np.ndarray,
                 exposure_bars: int, periods_per_year: float, years: float) -> np.ndarray:
        """Summary statistics of one run (positions :data:`~backtest.engine.kernels.records.STAT`).

        Trades are the closed ones. Per-bar returns start from ``init_cash``;
        volatility, Sharpe and Sortino are annualised with ``sqrt(periods_per_year)``
        and a zero risk-free rate.

        >>> out = stats_nb(np.array([100.0, 110.0]), 100.0, np.array([10.0]), np.array([0.1]), 1, 252.0, 1.0)
        >>> [round(float(out[i]), 6) for i in (STAT.total_return, STAT.trades, STAT.win_rate)]
        [0.1, 1.0, 1.0]
        """
        stamp  # noqa: B018 -- ties this cache entry to the kernel sources
        out = np.full(STAT_FIELDS, np.nan)
        n = equity.shape[0]
        final = equity[n - 1] if n else init_cash
        out[STAT.final_equity] = final
        out[STAT.total_return] = final / init_cash - 1.0
        if years > 0.0 and final > 0.0:
            out[STAT.cagr] = (final / init_cash) ** (1.0 / years) - 1.0
        curve = _read_curve(equity, init_cash)
        out[STAT.max_drawdown] = curve.worst_drawdown
        out[STAT.max_drawdown_bars] = curve.longest_drawdown
        _return_stats(out, n, curve, periods_per_year)
        out[STAT.exposure] = exposure_bars / n if n else 0.0
        _trade_stats(out, trade_pnl, trade_return)
        return out

    return stats_nb


@njit(inline="always")
def _read_curve(equity: np.ndarray, init_cash: float) -> _Curve:
    """Return sums and the worst and longest drawdown of ``equity``, in one pass."""
    previous = init_cash
    total = 0.0
    total_sq = 0.0
    downside_sq = 0.0
    peak = init_cash
    trough = init_cash  # lowest value since the peak: only a new trough can deepen the drawdown
    worst_dd = 0.0
    dd_start = -1
    longest = 0
    n = equity.shape[0]
    for t in range(n):
        value = equity[t]
        r = value / previous - 1.0 if previous != 0.0 else 0.0
        total += r
        total_sq += r * r
        loss = min(r, 0.0)  # branch-free: gains add 0.0, which leaves the sum unchanged
        downside_sq += loss * loss
        previous = value
        if value >= peak:
            peak = value
            trough = value
            if dd_start >= 0:
                longest = max(longest, t - dd_start)
            dd_start = -1
        else:
            if dd_start < 0:
                dd_start = t - 1
            if value < trough:
                trough = value
                worst_dd = min(worst_dd, value / peak - 1.0)
    if dd_start >= 0:
        longest = max(longest, n - 1 - dd_start)
    return _Curve(total, total_sq, downside_sq, worst_dd, longest)


@njit(inline="always")
def _return_stats(out: np.ndarray, n: int, curve: _Curve, periods_per_year: float) -> None:
    """Volatility, Sharpe, Sortino and Calmar from the curve's return sums."""
    if n > 1:
        mean = curve.total / n
        var = (curve.total_sq - n * mean * mean) / (n - 1)
        std = np.sqrt(max(var, 0.0))
        out[STAT.volatility] = std * np.sqrt(periods_per_year)
        if std > 0.0:
            out[STAT.sharpe] = mean / std * np.sqrt(periods_per_year)
        downside = np.sqrt(curve.downside_sq / n)
        if downside > 0.0:
            out[STAT.sortino] = mean / downside * np.sqrt(periods_per_year)
    if curve.worst_drawdown < 0.0 and not np.isnan(out[STAT.cagr]):
        out[STAT.calmar] = out[STAT.cagr] / -curve.worst_drawdown


@njit(inline="always")
def _trade_stats(out: np.ndarray, trade_pnl: np.ndarray, trade_return: np.ndarray) -> None:
    """Win rate, profit factor, expectancy, trade returns and SQN of the closed trades."""
    m = trade_pnl.shape[0]
    out[STAT.trades] = m
    if m == 0:
        return
    wins = 0
    gains = 0.0
    losses = 0.0
    pnl_sum = 0.0
    pnl_sq = 0.0
    for i in range(m):
        p = trade_pnl[i]
        pnl_sum += p
        pnl_sq += p * p
        if p > 0.0:
            wins += 1
            gains += p
        else:
            losses -= p
    out[STAT.win_rate] = wins / m
    out[STAT.profit_factor] = gains / losses if losses > 0.0 else np.inf if gains > 0.0 else np.nan
    out[STAT.expectancy] = pnl_sum / m
    out[STAT.avg_trade_return] = trade_return.mean()
    out[STAT.best_trade_return] = trade_return.max()
    out[STAT.worst_trade_return] = trade_return.min()
    if m > 1:
        pnl_std = np.sqrt(max((pnl_sq - m * (pnl_sum / m) ** 2) / (m - 1), 0.0))
        if pnl_std > 0.0:
            out[STAT.sqn] = np.sqrt(m) * (pnl_sum / m) / pnl_std


stats_nb = _compile(STAMP)
