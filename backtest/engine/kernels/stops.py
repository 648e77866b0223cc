"""Stops: which stop a bar's open, high and low trigger, and at what price.

``inline="always"`` pieces of the bar loop (:mod:`backtest.engine.kernels.loop`).
Loss-side stops (stop-loss, trailing) are checked before the take-profit, so a
bar that touches both exits at the loss-side level (the pessimistic reading of
an OHLC bar); a gap through a level fills at the open.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from backtest.engine.kernels.fills import Order, fill_order
from backtest.engine.kernels.records import (
    ENTRY_PRICE, EXTREME, POS, REASON_STOP_LOSS, REASON_TAKE_PROFIT, REASON_TRAILING_STOP, Book, Prices, Rules)


@njit(inline="always")
def check_stops(t: int, prices: Prices, state: np.ndarray, cash: float, book: Book,
                rules: Rules) -> tuple[float, Book]:
    """Fill every stop bar ``t`` triggers; columns still held move their trailing extreme to this bar's."""
    for j in range(state.shape[1]):
        if state[POS, j] == 0.0 or np.isnan(prices.close[t, j]):
            continue
        level, reason = stop_exit(t, j, prices, state, rules)
        if reason >= 0:
            cash, book = fill_order(Order(t, j, -state[POS, j], level, reason), state, cash, book, rules)
        elif state[POS, j] > 0.0:
            state[EXTREME, j] = max(state[EXTREME, j], prices.high[t, j])
        else:
            state[EXTREME, j] = min(state[EXTREME, j], prices.low[t, j])
    return cash, book


@njit(inline="always")
def stop_exit(t: int, j: int, prices: Prices, state: np.ndarray, rules: Rules) -> tuple[float, int]:
    """``(fill price, reason)`` of the first stop bar ``t`` triggers for column ``j``'s position, or ``(nan, -1)``."""
    sign = 1.0 if state[POS, j] > 0.0 else -1.0
    open_, high, low = prices.open[t, j], prices.high[t, j], prices.low[t, j]
    level, reason = loss_side_level(sign, state[ENTRY_PRICE, j], state[EXTREME, j], rules)
    if reason >= 0:
        price = _touch(level, -sign, open_, high, low)
        if not np.isnan(price):
            return price, reason
    if not np.isnan(rules.take_profit):
        price = _touch(state[ENTRY_PRICE, j] * (1.0 + sign * rules.take_profit), sign, open_, high, low)
        if not np.isnan(price):
            return price, REASON_TAKE_PROFIT
    return np.nan, -1


@njit(inline="always")
def loss_side_level(sign: float, entry: float, extreme: float, rules: Rules) -> tuple[float, int]:
    """The tighter of the stop-loss and trailing levels and its reason, or ``(nan, -1)`` with neither set."""
    level = np.nan
    reason = -1
    if not np.isnan(rules.stop_loss):
        level = entry * (1.0 - sign * rules.stop_loss)
        reason = REASON_STOP_LOSS
    if not np.isnan(rules.trailing_stop):
        trail_level = extreme * (1.0 - sign * rules.trailing_stop)
        if np.isnan(level) or sign * (trail_level - level) > 0.0:
            level = trail_level
            reason = REASON_TRAILING_STOP
    return level, reason


@njit(inline="always")
def _touch(level: float, towards: float, open_: float, high: float, low: float) -> float:
    """The fill price of a level the bar reaches moving ``towards`` it (+1 up, -1 down), or NaN.

    A bar that opens beyond the level fills at its open.
    """
    if towards * (open_ - level) >= 0.0:
        return open_
    if (towards > 0.0 and high >= level) or (towards < 0.0 and low <= level):
        return level
    return np.nan
