"""Marking to market: equity per bar from cash and each held position at its latest price.

``inline="always"`` pieces of the bar loop (:mod:`backtest.engine.kernels.loop`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from backtest.engine.kernels.records import MARK, POS, Prices


@njit(inline="always")
def holding(state: np.ndarray) -> bool:
    """Whether any column holds a position."""
    for j in range(state.shape[1]):
        if state[POS, j] != 0.0:
            return True
    return False


@njit(inline="always")
def mark_quiet_bars(start: int, stop: int, prices: Prices, skip_open: bool, state: np.ndarray, cash: float,
                    equity: np.ndarray) -> int:
    """Mark bars ``[start, stop)`` to market when nothing trades in them; the number ending exposed.

    ``skip_open`` leaves the opens out (close fills, or a bar whose open was read already).
    Positions and cash are constant over the stretch, so equity is cash plus, column
    by column, each held position at its latest price (the sums in column order,
    as :func:`~backtest.engine.kernels.fills.equity` adds them). The first held column is
    marked in the same pass that writes the cash, carrying no price while every bar has a
    close (the usual case): the stretch's equity is written once, which is what a long
    stretch costs.
    """
    close = prices.close
    marked = False  # equity[start:stop] holds cash plus the columns so far
    for j in range(close.shape[1]):
        held = state[POS, j]
        if held == 0.0:
            state[MARK, j] = _last_price(start, stop, prices, skip_open, j, state[MARK, j])
            continue
        if not marked:
            marked = True
            gaps = False
            for t in range(start, stop):
                price = close[t, j]
                gaps |= np.isnan(price)
                equity[t] = cash + held * price
            if not gaps:
                if stop > start:
                    state[MARK, j] = close[stop - 1, j]
                continue
            for t in range(start, stop):  # a missing close: mark again, carrying the last price
                equity[t] = cash
        state[MARK, j] = _add_marked(start, stop, prices, skip_open, j, state, equity)
    if not marked:
        for t in range(start, stop):
            equity[t] = cash
    return stop - start if marked else 0


@njit(inline="always")
def _add_marked(start: int, stop: int, prices: Prices, skip_open: bool, j: int, state: np.ndarray,
                equity: np.ndarray) -> float:
    """Add column ``j``'s position at its latest price to ``equity[start:stop]``; return the last price."""
    held = state[POS, j]
    mark = state[MARK, j]
    for t in range(start, stop):
        price = prices.close[t, j]
        if not np.isnan(price):
            mark = price
        elif not skip_open and not np.isnan(prices.open[t, j]):
            mark = prices.open[t, j]
        equity[t] += held * mark
    return mark


@njit(inline="always")
def _last_price(start: int, stop: int, prices: Prices, skip_open: bool, j: int, mark: float) -> float:
    """Column ``j``'s latest price at the end of bars ``[start, stop)`` (``mark`` if none)."""
    for t in range(stop - 1, start - 1, -1):
        if not np.isnan(prices.close[t, j]):
            return prices.close[t, j]
        if not skip_open and not np.isnan(prices.open[t, j]):
            return prices.open[t, j]
    return mark
