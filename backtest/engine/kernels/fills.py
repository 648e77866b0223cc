"""Orders and fills: how many units an order wants, what it costs, how the book records it.

Every function here is an ``inline="always"`` piece of the bar loop
(:mod:`backtest.engine.kernels.loop`): it reads and writes the per-column
``state`` rows and the :class:`~backtest.engine.kernels.records.Book`, and
takes the rules as one :class:`~backtest.engine.kernels.records.Rules`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from backtest.engine.kernels.records import (
    ALLOCATION_EQUAL, ALLOCATION_SIGNAL_WEIGHT, ENTRY_BAR, ENTRY_PRICE, EXIT_UNITS, EXIT_VALUE, EXTREME, FEES,
    LONG_ONLY, MARK, ORDER_BAR, ORDER_CASH, ORDER_COL, ORDER_FEES, ORDER_POSITION, ORDER_PRICE, ORDER_REASON,
    ORDER_SIZE, PEAK_SIZE, POS, REALIZED, SHORT_ONLY, SIGNALS_DIRECTION, SIZE_EQUITY_FRACTION, SIZE_UNITS, TRADE_COL,
    TRADE_DIRECTION, TRADE_ENTRY_BAR, TRADE_ENTRY_PRICE, TRADE_EXIT_BAR, TRADE_EXIT_PRICE, TRADE_EXIT_REASON,
    TRADE_FEES, TRADE_IS_OPEN, TRADE_PNL, TRADE_RETURN, TRADE_SIZE, WANTED, Book, Rules)

EPS = 1e-12


class Order(NamedTuple):
    """A market order: ``units`` (signed) of ``column`` at ``price`` (before slippage) on ``bar``."""

    bar: int
    column: int
    units: float
    price: float
    reason: int


class Exit(NamedTuple):
    """How a trade ends: on ``bar`` at ``price`` (size-weighted over its exit fills), ``gross`` PnL before fees."""

    bar: int
    price: float
    gross: float
    reason: int  # -1: still open
    long_side: bool


@njit(inline="always")
def allowed(signal: float, direction: int) -> float:
    """The signal with the side the direction rule forbids turned into flat."""
    if direction == LONG_ONLY and signal < 0.0:
        return 0.0
    if direction == SHORT_ONLY and signal > 0.0:
        return 0.0
    return signal


@njit(inline="always")
def fill_price(price: float, units: float, slippage: float) -> float:
    """The price a market order of signed ``units`` gets after slippage."""
    return price * (1.0 + slippage) if units > 0 else price * (1.0 - slippage)


@njit(inline="always")
def units_for_budget(budget: float, price: float, rules: Rules) -> float:
    """How many units ``budget`` buys at ``price`` once fees are paid out of it."""
    units = (budget - rules.fee_fixed) / (price * (1.0 + rules.fee_rate))
    if rules.whole_units:
        units = np.floor(units)
    return max(units, 0.0)


@njit(inline="always")
def equity(cash: float, state: np.ndarray) -> float:
    """Cash plus every position at its latest price."""
    value = cash
    for j in range(state.shape[1]):
        if state[POS, j] != 0.0:
            value += state[POS, j] * state[MARK, j]
    return value


@njit(inline="always")
def buying_power(cash: float, state: np.ndarray) -> float:
    """Equity not tied up in open positions (1x gross exposure)."""
    used = 0.0
    for j in range(state.shape[1]):
        if state[POS, j] != 0.0:
            used += abs(state[POS, j]) * state[MARK, j]
    return max(equity(cash, state) - used, 0.0)


@njit(inline="always")
def idle(phase: int, position: float, want: float, rules: Rules) -> bool:
    """Whether :func:`order_units` would give none: a reduce phase when flat, or an add phase that cannot add.

    Pure short-cuts; the add-phase one holds for direction signals, which
    never resize a position.
    """
    if phase == 0:
        return position == 0.0
    return rules.signals == SIGNALS_DIRECTION and (position != 0.0 or allowed(want, rules.direction) == 0.0)


@njit(inline="always")
def order_units(phase: int, j: int, want: float, price: float, state: np.ndarray, cash: float, value: float,
                rules: Rules) -> float:
    """Signed units that move column ``j`` towards the wanted signal (0.0: none).

    Phase 0 only reduces, phase 1 only adds; the caller fills them with :func:`fill_order`.
    ``value`` is the equity every order of this fill time is sized on (target weights: before
    any of them; direction entries: after the reductions), so the fees of the other columns'
    orders at the same time never depend on column order.
    """
    if rules.signals == SIGNALS_DIRECTION:
        return _direction_units(phase, state[POS, j], want, price, state, cash, value, rules)
    return _target_units(phase, state[POS, j], want, price, state, cash, value, rules)


@njit(inline="always")
def _direction_units(phase: int, current: float, want: float, price: float, state: np.ndarray, cash: float,
                     value: float, rules: Rules) -> float:
    """Direction signals: close a position on the other side (phase 0), open a new one sized by the rules (1).

    The entry's budget (``size`` x ``value``, or ``size`` in cash) is divided by the number of
    columns (``equal``) or scaled by its share of the signal strengths (``signal_weight``:
    :func:`signal_share`), then capped by buying power.
    """
    side = np.sign(want)
    if phase == 0:
        return -current if current != 0.0 and np.sign(current) != side else 0.0
    if side == 0.0 or current != 0.0:
        return 0.0
    fill = fill_price(price, side, rules.slippage)
    if rules.size_type == SIZE_UNITS:
        units = min(rules.size, units_for_budget(buying_power(cash, state), fill, rules))
    else:
        budget = rules.size * value if rules.size_type == SIZE_EQUITY_FRACTION else rules.size
        if rules.allocation == ALLOCATION_EQUAL:
            budget /= state.shape[1]
        elif rules.allocation == ALLOCATION_SIGNAL_WEIGHT:
            budget *= signal_share(abs(want), state)
        budget = min(budget, buying_power(cash, state))
        units = units_for_budget(budget, fill, rules)
    return side * units if units > 0.0 else 0.0


@njit(inline="always")
def signal_share(j_strength: float, state: np.ndarray) -> float:
    """An entry's share of its fill time's budget: its |signal| over the sum of every column's |signal|.

    The sum runs over the signals wanted at this fill time (``state[WANTED]``, NaN = none, 0 =
    flat adds nothing), columns already holding their side included, and is the same for every
    column whatever their order. ``j_strength`` is the entering column's own |signal|.

    >>> from backtest.engine.kernels.records import STATE_FIELDS
    >>> state = np.zeros((STATE_FIELDS, 4))
    >>> state[WANTED] = [1.0, -0.5, np.nan, 0.0]
    >>> float(signal_share.py_func(0.5, state))
    0.3333333333333333
    """
    total = 0.0
    for k in range(state.shape[1]):
        wanted = state[WANTED, k]
        if not np.isnan(wanted):
            total += abs(wanted)
    return j_strength / total if total >= j_strength > 0.0 else 1.0


@njit(inline="always")
def _target_units(phase: int, current: float, want: float, price: float, state: np.ndarray, cash: float,
                  value: float, rules: Rules) -> float:
    """Target signals: the part of the move to ``want`` x ``value`` that reduces (phase 0) or adds (phase 1)."""
    target_units = want * value / price
    if rules.whole_units:
        target_units = np.trunc(target_units + np.sign(target_units) * 1e-9)
    delta = target_units - current
    if abs(delta) <= EPS * max(1.0, abs(current)):
        return 0.0
    if current != 0.0 and want != 0.0 and abs(delta) * price < rules.rebalance_threshold * value:
        return 0.0  # a resize smaller than the threshold (entries and exits always fill)
    reducing = current != 0.0 and np.sign(delta) != np.sign(current)
    if phase == 0:
        if not reducing:
            return 0.0
        return max(delta, -current) if current > 0.0 else min(delta, -current)
    if reducing:  # phase 0 does the cutting
        return 0.0
    fill = fill_price(price, delta, rules.slippage)
    affordable = units_for_budget(buying_power(cash, state), fill, rules)
    return np.sign(delta) * min(abs(delta), affordable)


@njit(inline="always")
def fill_order(order: Order, state: np.ndarray, cash: float, book: Book, rules: Rules) -> tuple[float, Book]:
    """Fill ``order`` plus slippage and fees; the cash after it and the book with its rows added."""
    fill = fill_price(order.price, order.units, rules.slippage)
    fees = abs(order.units) * fill * rules.fee_rate + rules.fee_fixed
    cash -= order.units * fill + fees
    current = state[POS, order.column]
    n_trades = book.n_trades
    if current == 0.0 or np.sign(order.units) == np.sign(current):
        _open_or_add(order, fill, fees, state)
    elif _reduce(order, fill, fees, state):  # callers never flip a position in one fill
        exit_price = _exit_price(order, fill, state)
        write_trade(book.trades, n_trades, state, order.column,
                     Exit(order.bar, exit_price, state[REALIZED, order.column], order.reason, current > 0.0))
        n_trades += 1
    n_orders = _write_order(book, order, fill, fees, cash, state[POS, order.column])
    return cash, Book(book.orders, book.trades, n_orders, n_trades)


@njit(inline="always")
def _open_or_add(order: Order, fill: float, fees: float, state: np.ndarray) -> None:
    """Open column ``order.column``'s position, or add to it at the size-weighted entry price."""
    j = order.column
    current = state[POS, j]
    units = order.units
    if current == 0.0:
        state[ENTRY_BAR, j] = order.bar
        state[ENTRY_PRICE, j] = fill
        state[REALIZED, j] = 0.0
        state[FEES, j] = 0.0
        state[EXIT_VALUE, j] = 0.0
        state[EXIT_UNITS, j] = 0.0
        state[EXTREME, j] = fill  # the trailing stop follows completed bars from here
    else:
        entry = state[ENTRY_PRICE, j]
        state[ENTRY_PRICE, j] = (entry * abs(current) + fill * abs(units)) / abs(current + units)
    state[FEES, j] += fees
    state[POS, j] = current + units
    state[PEAK_SIZE, j] = max(state[PEAK_SIZE, j] if current != 0.0 else 0.0, abs(state[POS, j]))


@njit(inline="always")
def _reduce(order: Order, fill: float, fees: float, state: np.ndarray) -> bool:
    """Reduce column ``order.column``'s position; whether that closed it."""
    j = order.column
    current = state[POS, j]
    closed = -order.units
    state[REALIZED, j] += closed * (fill - state[ENTRY_PRICE, j])
    state[FEES, j] += fees
    state[EXIT_VALUE, j] += abs(closed) * fill
    state[EXIT_UNITS, j] += abs(closed)
    remaining = current + order.units
    if abs(remaining) <= EPS * abs(current):
        remaining = 0.0
    state[POS, j] = remaining
    return remaining == 0.0


@njit(inline="always")
def _exit_price(order: Order, fill: float, state: np.ndarray) -> float:
    """One exit fill reports its own price exactly; several report their size-weighted average."""
    j = order.column
    if state[EXIT_UNITS, j] == abs(order.units):
        return fill
    return state[EXIT_VALUE, j] / state[EXIT_UNITS, j]


@njit(inline="always")
def _write_order(book: Book, order: Order, fill: float, fees: float, cash: float, position: float) -> int:
    """Record the order (unless the book keeps none); the new order count."""
    orders = book.orders
    row = book.n_orders
    if orders.shape[1] == 0:  # no order book kept
        return row
    orders[ORDER_BAR, row] = order.bar
    orders[ORDER_COL, row] = order.column
    orders[ORDER_SIZE, row] = order.units
    orders[ORDER_PRICE, row] = fill
    orders[ORDER_FEES, row] = fees
    orders[ORDER_REASON, row] = order.reason
    orders[ORDER_CASH, row] = cash
    orders[ORDER_POSITION, row] = position
    return row + 1


@njit(inline="always")
def open_trade_exit(bar: int, j: int, state: np.ndarray) -> Exit:
    """How column ``j``'s open trade would end if closed at its latest price on ``bar`` (reason -1)."""
    held = state[POS, j]
    price = state[MARK, j]
    last_exit = price if state[EXIT_UNITS, j] == 0.0 else (
        (state[EXIT_VALUE, j] + abs(held) * price) / (state[EXIT_UNITS, j] + abs(held)))
    gross = state[REALIZED, j] + held * (price - state[ENTRY_PRICE, j])
    return Exit(bar, last_exit, gross, -1, held > 0.0)


@njit(inline="always")
def write_trade(trades: np.ndarray, row: int, state: np.ndarray, col: int, end: Exit) -> None:
    """Store column ``col``'s trade ending as ``end``.

    Its return is net PnL over the entry value of its largest size.
    """
    entry = state[ENTRY_PRICE, col]
    peak = state[PEAK_SIZE, col]
    fees = state[FEES, col]
    pnl = end.gross - fees
    trades[TRADE_COL, row] = col
    trades[TRADE_DIRECTION, row] = 1.0 if end.long_side else -1.0
    trades[TRADE_ENTRY_BAR, row] = state[ENTRY_BAR, col]
    trades[TRADE_EXIT_BAR, row] = end.bar
    trades[TRADE_SIZE, row] = peak
    trades[TRADE_ENTRY_PRICE, row] = entry
    trades[TRADE_EXIT_PRICE, row] = end.price
    trades[TRADE_FEES, row] = fees
    trades[TRADE_PNL, row] = pnl
    trades[TRADE_RETURN, row] = pnl / (peak * entry)
    trades[TRADE_EXIT_REASON, row] = end.reason
    trades[TRADE_IS_OPEN, row] = 1.0 if end.reason < 0 else 0.0
