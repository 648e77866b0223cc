"""Fills on ticks: what a print or the book in force gives an order, and the fill record of each fill.

``inline="always"`` pieces of the replay (:mod:`backtest.engine.kernels.tick_loop`).
A fill on a print pays the rules' slippage (it is the only price there is); a fill
on the book pays what walking the book costs and no extra slippage. ``books`` is
``(4, n_columns, levels)``: the bid prices, bid quantities, ask prices and ask
quantities in force per column (level 0 the top).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from backtest.engine.kernels.fills import Order, fill_order
from backtest.engine.kernels.records import ORDER_PRICE, Book, Rules
from backtest.engine.kernels.tick_records import (
    ACTIVE, DECIDED, DECISION_ASK, DECISION_BID, DECISION_PX, FILL_ACTIVE, FILL_BAR, FILL_BEYOND, FILL_COL,
    FILL_DECIDED, FILL_DECISION_ASK, FILL_DECISION_BID, FILL_DECISION_PX, FILL_LEVELS, FILL_PRICE, FILL_REASON,
    FILL_SLIP_DECISION, FILL_SLIP_MID, FILL_TS, FILL_UNITS)

BID_PX, BID_QTY, ASK_PX, ASK_QTY = range(4)


class Decision(NamedTuple):
    """What a fill is measured against: the decision price and quote, and when the order was decided and active."""

    price: float
    bid: float
    ask: float
    decided: int
    active: int


@njit(inline="always")
def pending_decision(j: int, tick: np.ndarray, clock: np.ndarray) -> Decision:
    """The decision of column ``j``'s pending order."""
    return Decision(tick[DECISION_PX, j], tick[DECISION_BID, j], tick[DECISION_ASK, j], clock[DECIDED, j],
                    clock[ACTIVE, j])


@njit(inline="always")
def top(books: np.ndarray, j: int, row: int) -> float:
    """Column ``j``'s top-of-book price on ``row`` (:data:`BID_PX` or :data:`ASK_PX`); NaN without quotes."""
    return books[row, j, 0] if books.shape[2] > 0 else np.nan


@njit(inline="always")
def has_book(books: np.ndarray, j: int) -> bool:
    """Whether column ``j`` has a two-sided top of book in force."""
    return books.shape[2] > 0 and not (np.isnan(books[BID_PX, j, 0]) or np.isnan(books[ASK_PX, j, 0]))


@njit(inline="always")
def mid(books: np.ndarray, j: int) -> float:
    """The mid of column ``j``'s top of book (NaN without one)."""
    if not has_book(books, j):
        return np.nan
    return 0.5 * (books[BID_PX, j, 0] + books[ASK_PX, j, 0])


@njit
def walk_book(books: np.ndarray, j: int, units: float, limit: float) -> tuple[float, float, int]:
    """Take up to ``|units|`` from column ``j``'s book (asks for a buy, bids for a sell), no level beyond ``limit``.

    Returns ``(units filled, their volume-weighted price, levels walked)``; ``limit`` NaN means
    any price. What the visible levels cannot give stays unfilled (it is never invented).
    """
    px_row = ASK_PX if units > 0.0 else BID_PX
    left = abs(units)
    value = 0.0
    taken = 0.0
    levels = 0
    for level in range(books.shape[2]):
        price = books[px_row, j, level]
        qty = books[px_row + 1, j, level]
        if left <= 0.0 or np.isnan(price) or np.isnan(qty) or qty <= 0.0:
            break
        if not np.isnan(limit) and ((units > 0.0 and price > limit) or (units < 0.0 and price < limit)):
            break
        take = min(left, qty)
        value += take * price
        taken += take
        left -= take
        levels += 1
    if taken == 0.0:
        return 0.0, np.nan, 0
    return np.sign(units) * taken, value / taken, levels


@njit
def fill(j: int, units: float, price: float, reason: int, bar: int, ts: int, levels: int, beyond: float,
         on_print: bool, decision: Decision, state: np.ndarray, cash: float, book: Book, rules: Rules,
         book_rules: Rules, fills: np.ndarray, fill_times: np.ndarray) -> tuple[float, Book]:
    """Fill ``units`` of column ``j`` at ``price`` and write its fill record beside the order record.

    ``on_print`` fills pay the rules' slippage (``rules``), book fills do not (``book_rules``);
    the record measures the fill against ``decision``.
    """
    cash, book = fill_order(Order(bar, j, units, price, reason), state, cash, book, rules if on_print else book_rules)
    row = book.n_orders - 1
    filled_at = book.orders[ORDER_PRICE, row]
    side = 1.0 if units > 0.0 else -1.0
    decision_mid = 0.5 * (decision.bid + decision.ask)
    fills[FILL_COL, row] = j
    fills[FILL_BAR, row] = bar
    fills[FILL_UNITS, row] = units
    fills[FILL_PRICE, row] = filled_at
    fills[FILL_REASON, row] = reason
    fills[FILL_DECISION_PX, row] = decision.price
    fills[FILL_DECISION_BID, row] = decision.bid
    fills[FILL_DECISION_ASK, row] = decision.ask
    fills[FILL_LEVELS, row] = levels
    fills[FILL_BEYOND, row] = beyond
    fills[FILL_SLIP_DECISION, row] = side * (filled_at - decision.price) / decision.price
    fills[FILL_SLIP_MID, row] = side * (filled_at - decision_mid) / decision_mid
    fill_times[FILL_DECIDED, row] = decision.decided
    fill_times[FILL_ACTIVE, row] = decision.active
    fill_times[FILL_TS, row] = ts
    return cash, book
