"""The tick replay: one portfolio with one cash pool over the merged trade and quote sequence.

Decisions sit on the bar grid: when the sequence reaches ``bar_end[b]`` the bar is over, its
equity is marked (cash plus positions at their last prints) and its signals become pending orders
(:func:`~backtest.engine.kernels.tick_orders.decide`), active after their latency. Events are then
taken in groups of one timestamp (quotes of a timestamp before its prints):

1. every quote of the group updates its column's book in force, and each column's first print of
   the group becomes its price;
2. market orders active by then fill, all columns' reducing parts before any adding part, sized
   on one equity figure as at a bar's open (so columns never depend on their order, and ticks made
   from bars replay the bar engine's fills exactly);
3. each column's quotes, then each print in order, work the resting orders (stop triggers,
   limits) and the position's stops (:mod:`~backtest.engine.kernels.tick_stops`).

The replay is resumable: everything it needs between calls is in the arrays it is given (the
``cursor`` says where it stands), so a year streams through in windows and memory follows the
window. A call returns 1, with ``cursor[NEED]`` the record capacity it wants, when the order
buffers could overflow; the caller grows them and calls again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from backtest.engine.kernels.cache_stamp import STAMP
from backtest.engine.kernels.fills import equity, open_trade_exit, write_trade
from backtest.engine.kernels.marking import holding
from backtest.engine.kernels.numba_options import NO_REFCOUNTS
from backtest.engine.kernels.records import MARK, POS, REASON_END, SIGNALS_DIRECTION, Book, Rules
from backtest.engine.kernels.tick_fills import ASK_PX, BID_PX, Decision, fill
from backtest.engine.kernels.tick_orders import decide, live, size_part, take_market, takes_market, work_order
from backtest.engine.kernels.tick_records import (
    AT_BAR, AT_QUOTE, AT_SIGNAL, AT_TRADE, BOOK_USED, EXPOSURE, FIRST_TRADE, LAST_BAR, N_ALL_TRADES, N_ORDERS,
    N_TRADES, NEED, NO_TIME, PRE_MARK, QUOTED, TOUCHED, Grid, QuoteStream, TickRules, TradeStream)
from backtest.engine.kernels.tick_stops import check_position_stops


def _compile(stamp: int):
    """The replay, cached under ``stamp`` (see :mod:`backtest.engine.kernels.cache_stamp`)."""

    @njit(cache=True, **NO_REFCOUNTS)
    def replay_nb(trades: TradeStream, quotes: QuoteStream, grid: Grid, rules: Rules, book_rules: Rules,
                  trules: TickRules, final: bool, equity_out: np.ndarray, orders: np.ndarray, trade_rows: np.ndarray,
                  fills: np.ndarray, fill_times: np.ndarray, state: np.ndarray, tick: np.ndarray,
                  clock: np.ndarray, books: np.ndarray, scratch: np.ndarray, cash_box: np.ndarray,
                  cursor: np.ndarray) -> int:
        """Replay one window of ``trades`` and ``quotes`` from ``cursor``; with ``final``, end every bar left.

        Returns 0 when the window is done, 1 when the record buffers must grow first.
        Events at or after the last bar's end are not replayed.
        """
        stamp  # noqa: B018 -- ties this cache entry to the kernel sources
        n_bars = grid.bar_end.shape[0]
        last_end = grid.bar_end[n_bars - 1]
        n_prints, n_quotes = trades.ts.shape[0], quotes.ts.shape[0]
        k = state.shape[1]
        capacity = orders.shape[1]
        ti, qi, b, e = cursor[AT_TRADE], cursor[AT_QUOTE], cursor[AT_BAR], cursor[AT_SIGNAL]
        cash = cash_box[0]
        book = Book(orders, trade_rows, cursor[N_ORDERS], cursor[N_TRADES])
        status = 0
        use_stops = not (np.isnan(rules.stop_loss) and np.isnan(rules.take_profit) and np.isnan(rules.trailing_stop))
        while True:
            ts = min(trades.ts[ti] if ti < n_prints else NO_TIME, quotes.ts[qi] if qi < n_quotes else NO_TIME)
            if ts >= last_end:
                if not final:
                    break
                ts = NO_TIME
            while b < n_bars and grid.bar_end[b] <= ts:  # bars that are over: mark, close at the end, decide
                if book.n_orders + k + 1 > capacity:
                    cursor[NEED] = capacity + 4 * k + 4
                    status = 1
                    break
                if rules.close_at_end and b == n_bars - 1:
                    cash, book = _close_all(b, grid.bar_end[b], state, books, cash, book, rules, fills, fill_times)
                equity_out[b] = equity(cash, state)
                if holding(state):
                    cursor[EXPOSURE] += 1
                if e < grid.bars.shape[0] and grid.bars[e] == b:
                    for j in range(k):
                        if not np.isnan(grid.rows[e, j]):
                            decide(j, grid.rows[e, j], grid.bar_end[b], grid.latency[e, j], state, tick, clock, books,
                                   cash, rules, trules)
                    e += 1
                b += 1
            if status or ts == NO_TIME:
                break
            t1, q1 = ti, qi
            while t1 < n_prints and trades.ts[t1] == ts:
                t1 += 1
            while q1 < n_quotes and quotes.ts[q1] == ts:
                q1 += 1
            need = book.n_orders + 3 * (k + (t1 - ti) + (q1 - qi)) + 3
            if need > capacity:
                cursor[NEED] = need
                status = 1
                break
            cash, book = _group(ts, b, ti, t1, qi, q1, trades, quotes, state, tick, clock, books, scratch, cash,
                                book, rules, book_rules, trules, use_stops, fills, fill_times)
            ti, qi = t1, q1
        if final and status == 0:  # trades still open are reported marked to the last price
            n_all = book.n_trades
            for j in range(k):
                if state[POS, j] != 0.0:
                    write_trade(trade_rows, n_all, state, j, open_trade_exit(n_bars - 1, j, state))
                    n_all += 1
            cursor[N_ALL_TRADES] = n_all
        cursor[AT_TRADE], cursor[AT_QUOTE], cursor[AT_BAR], cursor[AT_SIGNAL] = ti, qi, b, e
        cursor[N_ORDERS], cursor[N_TRADES] = book.n_orders, book.n_trades
        cash_box[0] = cash
        return status

    return replay_nb


@njit(inline="always")  # as a call per event group (~20 records by value) the replay ran 8x slower (issue H)
def _group(ts: int, b: int, ti: int, t1: int, qi: int, q1: int, trades: TradeStream, quotes: QuoteStream,
           state: np.ndarray, tick: np.ndarray, clock: np.ndarray, books: np.ndarray, scratch: np.ndarray,
           cash: float, book: Book, rules: Rules, book_rules: Rules, trules: TickRules, use_stops: bool,
           fills: np.ndarray, fill_times: np.ndarray) -> tuple[float, Book]:
    """Replay the events of one timestamp: prices and books in force, market fills, then event by event."""
    n_touched = 0
    for q in range(qi, q1):  # the books in force at ts
        j = quotes.column[q]
        for level in range(books.shape[2]):
            books[0, j, level] = quotes.bid_px[q, level]
            books[1, j, level] = quotes.bid_qty[q, level]
            books[2, j, level] = quotes.ask_px[q, level]
            books[3, j, level] = quotes.ask_qty[q, level]
        tick[BOOK_USED, j] = 0.0
        if np.isnan(state[MARK, j]):  # a column marks on prints; quotes only until its first
            state[MARK, j] = 0.5 * (books[BID_PX, j, 0] + books[ASK_PX, j, 0])
        if scratch[QUOTED, j] == 0 and scratch[FIRST_TRADE, j] < 0:
            scratch[TOUCHED, n_touched] = j
            n_touched += 1
        scratch[QUOTED, j] = 1
    for i in range(ti, t1):  # each column's first print of ts is its price for the market fills
        j = trades.column[i]
        if scratch[FIRST_TRADE, j] < 0:
            if scratch[QUOTED, j] == 0:
                scratch[TOUCHED, n_touched] = j
                n_touched += 1
            scratch[FIRST_TRADE, j] = i
            tick[PRE_MARK, j] = state[MARK, j]
            state[MARK, j] = trades.price[i]
    value = equity(cash, state)
    for phase in range(2):  # market orders: every column's reducing part before any adding part
        if phase == 1 and rules.signals == SIGNALS_DIRECTION:
            value = equity(cash, state)
        for n in range(n_touched):
            j = scratch[TOUCHED, n]
            if live(j, ts, tick, clock) and takes_market(j, tick):
                size_part(phase, j, state, tick, books, cash, value, rules)
                cash, book = take_market(j, ts, b, scratch[QUOTED, j] > 0, scratch[FIRST_TRADE, j] >= 0, state,
                                         tick, clock, books, cash, book, rules, book_rules, fills, fill_times)
    for n in range(n_touched):  # the quotes of ts, column by column
        j = scratch[TOUCHED, n]
        if scratch[QUOTED, j] > 0:
            cash, book = _event(j, ts, b, np.nan, np.nan, True, state, tick, clock, books, cash, book, rules,
                                book_rules, trules, use_stops, fills, fill_times)
    for i in range(ti, t1):  # then the prints, in order
        j = trades.column[i]
        if i != scratch[FIRST_TRADE, j]:
            tick[PRE_MARK, j] = state[MARK, j]
            state[MARK, j] = trades.price[i]
        cash, book = _event(j, ts, b, trades.price[i], trades.size[i], False, state, tick, clock, books, cash, book,
                            rules, book_rules, trules, use_stops, fills, fill_times)
        tick[LAST_BAR, j] = b
    for n in range(n_touched):
        j = scratch[TOUCHED, n]
        scratch[FIRST_TRADE, j] = -1
        scratch[QUOTED, j] = 0
    return cash, book


@njit(inline="always")  # called per event: inlined like _group
def _event(j: int, ts: int, b: int, price: float, size: float, quoted: bool, state: np.ndarray, tick: np.ndarray,
           clock: np.ndarray, books: np.ndarray, cash: float, book: Book, rules: Rules, book_rules: Rules,
           trules: TickRules, use_stops: bool, fills: np.ndarray, fill_times: np.ndarray) -> tuple[float, Book]:
    """One event of column ``j``: its resting order, then its position's stops."""
    if live(j, ts, tick, clock) and not takes_market(j, tick):
        cash, book = work_order(j, ts, b, price, size, quoted, state, tick, clock, books, cash, book, rules,
                                book_rules, trules, fills, fill_times)
    if use_stops and state[POS, j] != 0.0:
        cash, book = check_position_stops(j, ts, b, price, tick[LAST_BAR, j] < b, state, tick, clock, books, cash,
                                          book, rules, book_rules, trules, fills, fill_times)
    return cash, book


@njit
def _close_all(b: int, ts: int, state: np.ndarray, books: np.ndarray, cash: float, book: Book, rules: Rules,
               fills: np.ndarray, fill_times: np.ndarray) -> tuple[float, Book]:
    """Close every position at its last print when the last bar ends (``close_at_end``)."""
    for j in range(state.shape[1]):
        if state[POS, j] != 0.0 and not np.isnan(state[MARK, j]):
            decision = Decision(state[MARK, j], np.nan, np.nan, ts, ts)
            cash, book = fill(j, -state[POS, j], state[MARK, j], REASON_END, b, ts, 0, 0.0, True, decision, state,
                              cash, book, rules, rules, fills, fill_times)
    return cash, book


replay_nb = _compile(STAMP)
