"""Orders on ticks: a decision becomes a pending order, which is sized, triggered and filled by events.

``inline="always"`` pieces of the replay (:mod:`backtest.engine.kernels.tick_loop`). A column holds
at most one pending order (``tick[WANT, j]`` not NaN): a new signal replaces it. The order is sized
at its first fill, like a bar fill (:func:`~backtest.engine.kernels.fills.order_units`): the part
that reduces the position first (``REDUCE_LEFT``), then the part that adds (``ADD_LEFT``), so what
depth or traded size leaves unfilled stays pending and fills later, never invented.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from backtest.engine.kernels.fills import EPS, allowed, equity, order_units
from backtest.engine.kernels.records import MARK, POS, REASON_SIGNAL, SIGNALS_DIRECTION, Book, Rules
from backtest.engine.kernels.tick_fills import ASK_PX, BID_PX, fill, has_book, mid, pending_decision, top, walk_book
from backtest.engine.kernels.tick_records import (
    ACTIVE, ADD_LEFT, BOOK_USED, DECIDED, DECISION_ASK, DECISION_BID, DECISION_PX, EXPIRES, KIND, LIMIT, LIMIT_PX,
    MARKET, NO_TIME, PRE_MARK, QUEUE_OPTIMISTIC, REASON, REDUCE_LEFT, RESTING, SIDE, SIZED, STOP, STOP_LIMIT, STOP_PX,
    TRIGGERED, WANT, TickRules)


@njit
def decide(j: int, signal: float, decided: int, latency: int, state: np.ndarray, tick: np.ndarray,
           clock: np.ndarray, books: np.ndarray, cash: float, rules: Rules, trules: TickRules) -> None:
    """Turn column ``j``'s signal, decided at ``decided`` (ns), into its pending order (or cancel the pending one).

    The side is read from the position now; limit and stop prices are offsets from the decision
    price (the mid with a book in force, else the last print). A signal the position already
    meets sends nothing.
    """
    want = allowed(signal, rules.direction)
    position = state[POS, j]
    decision = mid(books, j)
    if np.isnan(decision):
        decision = state[MARK, j]
    if rules.signals == SIGNALS_DIRECTION:
        side = np.sign(np.sign(want) - np.sign(position))
    elif np.isnan(decision):
        side = np.sign(want)
    else:
        delta = want * equity(cash, state) / decision - position
        side = 0.0 if abs(delta) <= EPS * max(1.0, abs(position)) else np.sign(delta)
    tick[WANT, j] = np.nan
    if side == 0.0 or (trules.order_type != MARKET and np.isnan(decision)):
        return
    tick[WANT, j] = want
    tick[KIND, j] = trules.order_type
    tick[SIDE, j] = side
    tick[REASON, j] = REASON_SIGNAL
    tick[TRIGGERED, j] = 0.0
    tick[RESTING, j] = 0.0
    tick[SIZED, j] = 0.0
    tick[REDUCE_LEFT, j] = 0.0
    tick[ADD_LEFT, j] = 0.0
    tick[DECISION_PX, j] = decision
    tick[DECISION_BID, j] = top(books, j, BID_PX)
    tick[DECISION_ASK, j] = top(books, j, ASK_PX)
    tick[STOP_PX, j] = decision * (1.0 + side * trules.stop_offset)
    if trules.order_type == STOP_LIMIT:
        tick[LIMIT_PX, j] = tick[STOP_PX, j] * (1.0 + side * trules.limit_offset)
    else:
        tick[LIMIT_PX, j] = decision * (1.0 - side * trules.limit_offset)
    clock[DECIDED, j] = decided
    clock[ACTIVE, j] = decided + latency
    clock[EXPIRES, j] = NO_TIME if trules.expiry < 0 else decided + latency + trules.expiry


@njit(inline="always")
def live(j: int, ts: int, tick: np.ndarray, clock: np.ndarray) -> bool:
    """Whether column ``j`` has an order active at ``ts``; an order past its expiry is cancelled here."""
    if np.isnan(tick[WANT, j]) or clock[ACTIVE, j] > ts:
        return False
    if ts >= clock[EXPIRES, j]:
        tick[WANT, j] = np.nan
        return False
    return True


@njit(inline="always")
def takes_market(j: int, tick: np.ndarray) -> bool:
    """Whether column ``j``'s live order takes the market: a market order, or a triggered stop."""
    kind = tick[KIND, j]
    return kind == MARKET or (kind == STOP and tick[TRIGGERED, j] > 0.0)


@njit
def size_part(phase: int, j: int, state: np.ndarray, tick: np.ndarray, books: np.ndarray, cash: float,
              value: float, rules: Rules) -> None:
    """Size column ``j``'s reducing part (phase 0) or, once that has filled, its adding part (phase 1).

    Sizing uses the mid with a book in force, else the last print, on ``value`` (the equity every
    order of this moment is sized on); an order left with nothing to do is finished.
    """
    price = mid(books, j)
    if np.isnan(price):
        price = state[MARK, j]
    if phase == 0 and tick[SIZED, j] == 0.0:
        tick[REDUCE_LEFT, j] = order_units(0, j, tick[WANT, j], price, state, cash, value, rules)
        tick[SIZED, j] = 1.0
    if phase == 1 and tick[SIZED, j] == 1.0 and tick[REDUCE_LEFT, j] == 0.0:
        tick[ADD_LEFT, j] = order_units(1, j, tick[WANT, j], price, state, cash, value, rules)
        tick[SIZED, j] = 2.0
    if tick[SIZED, j] == 2.0 and tick[ADD_LEFT, j] == 0.0:
        tick[WANT, j] = np.nan


@njit(inline="always")
def units_left(j: int, tick: np.ndarray) -> float:
    """The signed units column ``j``'s order still has to fill now (the reducing part first)."""
    if tick[SIZED, j] == 1.0:
        return tick[REDUCE_LEFT, j]
    if tick[SIZED, j] == 2.0:
        return tick[ADD_LEFT, j]
    return 0.0


@njit(inline="always")
def filled(j: int, units: float, tick: np.ndarray) -> None:
    """Count ``units`` as filled against column ``j``'s order; the order ends when both parts are done."""
    if tick[SIZED, j] == 1.0:
        tick[REDUCE_LEFT, j] = 0.0 if abs(tick[REDUCE_LEFT, j] - units) <= EPS * abs(units) else (
            tick[REDUCE_LEFT, j] - units)
    else:
        tick[ADD_LEFT, j] = 0.0 if abs(tick[ADD_LEFT, j] - units) <= EPS * abs(units) else tick[ADD_LEFT, j] - units
        if tick[ADD_LEFT, j] == 0.0:
            tick[WANT, j] = np.nan


@njit
def take_market(j: int, ts: int, bar: int, quoted: bool, traded: bool, state: np.ndarray, tick: np.ndarray,
                clock: np.ndarray, books: np.ndarray, cash: float, book: Book, rules: Rules, book_rules: Rules,
                fills: np.ndarray, fill_times: np.ndarray) -> tuple[float, Book]:
    """Fill what column ``j``'s market order still wants now: from the book in force, else at the print.

    A book is walked once per quote (``BOOK_USED``): what its five levels cannot give waits for
    the next quote, and the fill records how much was beyond them. Without any book in force
    the order fills whole at the print (``traded``) plus the rules' slippage.
    """
    units = units_left(j, tick)
    if units == 0.0:
        return cash, book
    if has_book(books, j):
        if tick[BOOK_USED, j] > 0.0 and not quoted:
            return cash, book
        got, price, levels = walk_book(books, j, units, np.nan)
        tick[BOOK_USED, j] = 1.0
        if got != 0.0:
            cash, book = fill(j, got, price, int(tick[REASON, j]), bar, ts, levels, abs(units) - abs(got), False,
                              pending_decision(j, tick, clock), state, cash, book, rules, book_rules, fills, fill_times)
            filled(j, got, tick)
    elif traded:
        cash, book = fill(j, units, state[MARK, j], int(tick[REASON, j]), bar, ts, 0, 0.0, True,
                          pending_decision(j, tick, clock), state, cash, book, rules, book_rules, fills, fill_times)
        filled(j, units, tick)
    return cash, book


@njit(inline="always")
def triggers(j: int, price: float, tick: np.ndarray) -> bool:
    """Whether ``price`` (a print, or the book's side the order would take) reaches column ``j``'s stop level."""
    return tick[SIDE, j] * (price - tick[STOP_PX, j]) >= 0.0


@njit
def work_limit(j: int, ts: int, bar: int, price: float, size: float, quoted: bool, state: np.ndarray,
               tick: np.ndarray, clock: np.ndarray, books: np.ndarray, cash: float, book: Book, rules: Rules,
               book_rules: Rules, trules: TickRules, fills: np.ndarray,
               fill_times: np.ndarray) -> tuple[float, Book]:
    """Give column ``j``'s live limit order what this event allows.

    On arrival (its first event) a limit that is marketable takes the book up to its price, or,
    with no book, this print when the print before it was at or through the limit; otherwise it
    rests at its price and fills there, for at most the traded size, when a print goes through
    it (or touches it with ``queue=optimistic``), or for the quantity of the opposite side that
    crosses it.
    ``price``/``size`` are the print's (NaN for a quote event).
    """
    limit = tick[LIMIT_PX, j]
    side = tick[SIDE, j]
    traded = size  # what the print leaves for the next part of the order
    book_free = True  # a book is taken once per event
    for phase in range(2):
        value = equity(cash, state)
        size_part(phase, j, state, tick, books, cash, value, rules)
        units = units_left(j, tick)
        if units == 0.0 or np.sign(units) != side:
            continue
        got = 0.0
        at = limit
        levels = 0
        on_print = False
        if tick[RESTING, j] == 0.0:  # arriving: marketable against the book, or the last print before this one
            if has_book(books, j) and book_free:
                got, at, levels = walk_book(books, j, units, limit)
                book_free = False
            elif (not np.isnan(price) and side * (limit - tick[PRE_MARK, j]) >= 0.0
                  and side * (limit - price) >= 0.0):
                got, at, on_print = units, price, True
            else:
                tick[RESTING, j] = 1.0
        if tick[RESTING, j] == 1.0 and not np.isnan(price):
            through = side * (limit - price)
            if through > 0.0 or (through == 0.0 and trules.queue == QUEUE_OPTIMISTIC):
                got = np.sign(units) * min(abs(units), traded)
                traded -= abs(got)
        elif tick[RESTING, j] == 1.0 and quoted and has_book(books, j) and book_free:
            got, _, levels = walk_book(books, j, units, limit)
            book_free = False
        if got != 0.0:
            cash, book = fill(j, got, at, int(tick[REASON, j]), bar, ts, levels, 0.0, on_print,
                              pending_decision(j, tick, clock), state, cash, book, rules, book_rules, fills, fill_times)
            filled(j, got, tick)
        if units_left(j, tick) != 0.0:
            break
    tick[RESTING, j] = 1.0
    return cash, book


@njit(inline="always")  # called per event while an order rests: inlined into the replay
def work_order(j: int, ts: int, bar: int, price: float, size: float, quoted: bool, state: np.ndarray,
               tick: np.ndarray, clock: np.ndarray, books: np.ndarray, cash: float, book: Book, rules: Rules,
               book_rules: Rules, trules: TickRules, fills: np.ndarray,
               fill_times: np.ndarray) -> tuple[float, Book]:
    """One event for column ``j``'s live resting order: trigger a stop, work a limit, refill a market remainder."""
    kind = tick[KIND, j]
    if (kind == STOP or kind == STOP_LIMIT) and tick[TRIGGERED, j] == 0.0:
        seen = price
        if np.isnan(seen) and has_book(books, j):
            seen = books[ASK_PX, j, 0] if tick[SIDE, j] > 0.0 else books[BID_PX, j, 0]
        if np.isnan(seen) or not triggers(j, seen, tick):
            return cash, book
        tick[TRIGGERED, j] = 1.0
    if kind == LIMIT or kind == STOP_LIMIT:
        return work_limit(j, ts, bar, price, size, quoted, state, tick, clock, books, cash, book, rules, book_rules,
                          trules, fills, fill_times)
    for phase in range(2):
        size_part(phase, j, state, tick, books, cash, equity(cash, state), rules)
        cash, book = take_market(j, ts, bar, quoted, not np.isnan(price), state, tick, clock, books, cash, book,
                                 rules, book_rules, fills, fill_times)
        if units_left(j, tick) != 0.0:
            break
    return cash, book
