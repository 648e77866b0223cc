"""Stops on ticks: the stop-loss, take-profit and trailing stop of a position, triggered by the event sequence.

``inline="always"`` pieces of the replay (:mod:`backtest.engine.kernels.tick_loop`). Each event of a
column with a position is checked in time order, so whichever level the sequence reaches first
wins. A print is checked at its price; a quote at the side an exit would take (the bid for a long).

* **Loss side** (stop-loss, trailing: the tighter level) triggers when the price reaches the
  level. On a print it fills at that print (``stop_fill=print``: what a stop-market order gets) or
  at the level unless the print is the column's first of its bar (``stop_fill=level``: the bar
  rule, a gap fills at the open). On a quote it takes the book; what five levels cannot give
  stays as a market order for the next quotes.
* **Take-profit** rests as a limit at its level: a print through it (at it with
  ``queue=optimistic``) or a bid (ask, for a short) at or beyond it fills the position at the
  level; a column's first print of a bar beyond it fills at that print.
* **Trailing** follows the best price seen since entry, print by print (a bar trails on the
  extremes of completed bars only).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from backtest.engine.kernels.records import ENTRY_PRICE, EXTREME, POS, REASON_TAKE_PROFIT, Book, Rules
from backtest.engine.kernels.stops import loss_side_level
from backtest.engine.kernels.tick_fills import ASK_PX, BID_PX, Decision, fill, has_book, top, walk_book
from backtest.engine.kernels.tick_records import (
    ACTIVE, ADD_LEFT, BOOK_USED, DECIDED, DECISION_ASK, DECISION_BID, DECISION_PX, EXPIRES, KIND, MARKET, NO_TIME,
    QUEUE_OPTIMISTIC, REASON, REDUCE_LEFT, SIDE, SIZED, STOP_FILL_PRINT, WANT, TickRules)


@njit(inline="always")  # called per event of a held column: inlined into the replay
def check_position_stops(j: int, ts: int, bar: int, price: float, first_of_bar: bool, state: np.ndarray,
                         tick: np.ndarray, clock: np.ndarray, books: np.ndarray, cash: float, book: Book,
                         rules: Rules, book_rules: Rules, trules: TickRules, fills: np.ndarray,
                         fill_times: np.ndarray) -> tuple[float, Book]:
    """Fill the first stop this event triggers for column ``j``'s position; else move its trailing extreme.

    ``price`` is the print's (NaN for a quote event).
    """
    position = state[POS, j]
    sign = 1.0 if position > 0.0 else -1.0
    on_print = not np.isnan(price)
    seen = price
    if not on_print:
        if not has_book(books, j):
            return cash, book
        seen = books[BID_PX, j, 0] if sign > 0.0 else books[ASK_PX, j, 0]
    level, reason = loss_side_level(sign, state[ENTRY_PRICE, j], state[EXTREME, j], rules)
    if reason >= 0 and sign * (seen - level) <= 0.0:
        decision = Decision(level, top(books, j, BID_PX), top(books, j, ASK_PX), ts, ts)
        if on_print:
            at = price if trules.stop_fill == STOP_FILL_PRINT or first_of_bar else level
            return fill(j, -position, at, reason, bar, ts, 0, 0.0, True, decision, state, cash, book, rules,
                        book_rules, fills, fill_times)
        got, at, levels = walk_book(books, j, -position, np.nan)
        tick[BOOK_USED, j] = 1.0
        cash, book = fill(j, got, at, reason, bar, ts, levels, abs(position) - abs(got), False, decision, state,
                          cash, book, rules, book_rules, fills, fill_times)
        if abs(got) < abs(position):  # the rest waits for the next quotes, as a market order
            _exit_rest(j, position + got, reason, decision, tick, clock)
        return cash, book
    if not np.isnan(rules.take_profit):
        target = state[ENTRY_PRICE, j] * (1.0 + sign * rules.take_profit)
        beyond = sign * (seen - target)
        if beyond > 0.0 or (beyond == 0.0 and (trules.queue == QUEUE_OPTIMISTIC or not on_print)):
            at = price if on_print and first_of_bar else target
            decision = Decision(target, top(books, j, BID_PX), top(books, j, ASK_PX), ts, ts)
            return fill(j, -position, at, REASON_TAKE_PROFIT, bar, ts, 0, 0.0, on_print, decision, state, cash,
                        book, rules, book_rules, fills, fill_times)
    if sign > 0.0:
        state[EXTREME, j] = max(state[EXTREME, j], seen)
    else:
        state[EXTREME, j] = min(state[EXTREME, j], seen)
    return cash, book


@njit(inline="always")
def _exit_rest(j: int, rest: float, reason: int, decision: Decision, tick: np.ndarray, clock: np.ndarray) -> None:
    """Make the unfilled ``rest`` of a stop exit column ``j``'s pending market order (it replaces any other)."""
    tick[WANT, j] = 0.0
    tick[KIND, j] = MARKET
    tick[SIDE, j] = -np.sign(rest)
    tick[REASON, j] = reason
    tick[SIZED, j] = 1.0
    tick[REDUCE_LEFT, j] = -rest
    tick[ADD_LEFT, j] = 0.0
    tick[DECISION_PX, j] = decision.price
    tick[DECISION_BID, j] = decision.bid
    tick[DECISION_ASK, j] = decision.ask
    clock[DECIDED, j] = decision.decided
    clock[ACTIVE, j] = decision.active
    clock[EXPIRES, j] = NO_TIME
