"""Numba kernels of the engine: contiguous numpy arrays in, numpy arrays out.

Nothing here knows about configs, frames or files; :mod:`backtest.engine.simulate`
validates the inputs, makes one kernel call and wraps the result. The rules the
kernel implements are documented there.

Order and trade records are the columns of 2-D float64 arrays (one row per
field, ``ORDER_*`` / ``TRADE_*``, so each field is contiguous) sized once from
the number of signals, so memory follows the signals, not the bars. The bar loop
(:func:`simulate_into_nb`) allocates nothing and runs without reference
counting; per bar it keeps only equity (positions and cash change at orders
only, and every order records both).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# signal interpretation (EngineConfig.signals)
SIGNALS_DIRECTION = 0  # +1 long, -1 short, 0 flat, NaN hold
SIGNALS_TARGET = 1  # signed fraction of equity to hold, NaN hold

# direction
LONG_ONLY = 0
SHORT_ONLY = 1
BOTH = 2

# sizing
SIZE_EQUITY_FRACTION = 0
SIZE_CASH = 1
SIZE_UNITS = 2

# rows of the per-column state array of the bar loop
(POS, MARK, ENTRY_PRICE, ENTRY_BAR, PEAK_SIZE, REALIZED, FEES, EXIT_VALUE, EXIT_UNITS, EXTREME, PENDING,
 WANTED) = range(12)
STATE_FIELDS = 12

# why an order was filled
REASON_SIGNAL = 0
REASON_STOP_LOSS = 1
REASON_TAKE_PROFIT = 2
REASON_TRAILING_STOP = 3
REASON_END = 4

# order record columns; the position and cash after each order give the per-bar curves
ORDER_BAR, ORDER_COL, ORDER_SIZE, ORDER_PRICE, ORDER_FEES, ORDER_REASON, ORDER_POSITION, ORDER_CASH = range(8)
ORDER_FIELDS = 8

# trade record columns
(TRADE_COL, TRADE_DIRECTION, TRADE_ENTRY_BAR, TRADE_EXIT_BAR, TRADE_SIZE, TRADE_ENTRY_PRICE,
 TRADE_EXIT_PRICE, TRADE_FEES, TRADE_PNL, TRADE_RETURN, TRADE_EXIT_REASON, TRADE_IS_OPEN) = range(12)
TRADE_FIELDS = 12

# stats_nb output positions
(STAT_TOTAL_RETURN, STAT_CAGR, STAT_VOLATILITY, STAT_SHARPE, STAT_SORTINO, STAT_CALMAR,
 STAT_MAX_DRAWDOWN, STAT_MAX_DRAWDOWN_BARS, STAT_WIN_RATE, STAT_PROFIT_FACTOR, STAT_EXPECTANCY,
 STAT_AVG_TRADE_RETURN, STAT_BEST_TRADE_RETURN, STAT_WORST_TRADE_RETURN, STAT_EXPOSURE,
 STAT_TRADES, STAT_SQN, STAT_FINAL_EQUITY) = range(18)
STAT_FIELDS = 18

_EPS = 1e-12


@njit(cache=True, inline='always')
def _fill_price(price: float, units: float, slippage: float) -> float:
    """The price a market order of signed ``units`` gets after slippage."""
    return price * (1.0 + slippage) if units > 0 else price * (1.0 - slippage)


@njit(cache=True, inline='always')
def _units_for_budget(budget: float, price: float, fee_rate: float, fee_fixed: float, whole: bool) -> float:
    """How many units ``budget`` buys at ``price`` once fees are paid out of it."""
    units = (budget - fee_fixed) / (price * (1.0 + fee_rate))
    if whole:
        units = np.floor(units)
    return max(units, 0.0)


@njit(cache=True, nogil=True)
def signal_cells_nb(rows: np.ndarray) -> int:
    """How many non-NaN signals ``rows`` holds: each fills at most three orders and opens at most one trade.

    >>> signal_cells_nb(np.array([[1.0, np.nan], [np.nan, -1.0], [0.0, 1.0]]))
    4
    """
    cells = 0
    for i in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            if not np.isnan(rows[i, j]):
                cells += 1
    return cells


@njit(cache=True, nogil=True, _nrt=False, error_model="numpy")
def simulate_into_nb(open_, high, low, close, bars, rows, init_cash, fill_at_close, fee_rate, fee_fixed, slippage,
                     signals_mode, direction, size_type, size, whole_units, stop_loss, take_profit, trailing_stop,
                     close_at_end, equity, orders, trades, state):
    """Simulate one portfolio with one cash pool over ``(n_bars, n_cols)`` price arrays.

    Signals are sparse: ``rows[i]`` holds every column's signal at bar
    ``bars[i]`` (``events_nb``; NaN = no signal for that column).

    Writes equity per bar and the order and trade records (``ORDER_*`` /
    ``TRADE_*`` fields; each order records the position and cash after it,
    which give the per-bar position and cash curves; trades still open at the
    end are marked to the last price and flagged ``TRADE_IS_OPEN``) into
    buffers the caller owns, and returns ``(n_orders, n_closed, n_trades,
    exposure_bars)``: exposure is the number of bars that ended with any
    position open.

    ``equity`` has one slot per bar; ``orders`` is ``(ORDER_FIELDS, >= 3 * cells + k)``,
    or ``(ORDER_FIELDS, 0)`` to keep no order book (sweeps); ``trades`` is
    ``(TRADE_FIELDS, >= cells + k)`` (``signal_cells_nb``); ``state`` is
    ``(STATE_FIELDS, k)`` scratch. Trades ``[0, n_closed)`` are closed,
    ``[n_closed, n_trades)`` still open at the end.

    Stretches of bars where nothing can trade (no signal, nothing pending, no
    stop to watch) are marked to market in a tight loop. This function and its
    helpers are compiled without numba's reference counting (``_nrt=False``:
    they allocate nothing): every array passed to a helper would otherwise
    cost an atomic increment and decrement, which was most of a fill's time.
    Divisions skip Python's zero checks (``error_model="numpy"``): prices are
    positive, and the divisors are prices, sizes and equity.
    """
    n, k = close.shape
    n_orders = 0
    n_trades = 0
    exposure_bars = 0

    cash = init_cash
    for j in range(k):
        for field in range(STATE_FIELDS):
            state[field, j] = 0.0
        state[MARK, j] = np.nan
        state[PENDING, j] = np.nan
    use_stops = not (np.isnan(stop_loss) and np.isnan(take_profit) and np.isnan(trailing_stop))
    last = n - 1 if close_at_end else n
    n_events = bars.shape[0]
    e = 0  # next event
    n_pending = 0

    t = 0
    while t < n:
        # bars where nothing can trade: no signal, nothing pending, no stop to watch, not the closing bar
        if n_pending == 0 and not (use_stops and _holding(state)):
            stop = min(bars[e] if e < n_events else n, last)
            if stop > t:
                exposure_bars += _quiet_nb(t, stop, open_, close, fill_at_close, state, cash, equity)
                t = stop
                if t >= n:
                    break
        has_signal = e < n_events and bars[e] == t

        for stage in range(2):  # the bar's open, then its close
            prices = open_ if stage == 0 else close
            fills = False
            if stage == 0 and not fill_at_close:
                # 1. orders from the previous close fill at this bar's open
                fills = True
                for j in range(k):
                    if not np.isnan(open_[t, j]):
                        state[MARK, j] = open_[t, j]
                        state[WANTED, j] = state[PENDING, j]
                        if not np.isnan(state[PENDING, j]):
                            n_pending -= 1
                        state[PENDING, j] = np.nan
                    else:
                        state[WANTED, j] = np.nan
            elif stage == 1:
                # 3. this bar's close: mark, then read the signals (fill them now, or at the next open)
                for j in range(k):
                    if not np.isnan(close[t, j]):
                        state[MARK, j] = close[t, j]
                if has_signal:
                    fills = fill_at_close
                    for j in range(k):
                        s = rows[e, j]
                        if fill_at_close:
                            state[WANTED, j] = np.nan if np.isnan(close[t, j]) else _allowed(s, direction)
                        elif not np.isnan(s):
                            if np.isnan(state[PENDING, j]):
                                n_pending += 1
                            state[PENDING, j] = _allowed(s, direction)
                    e += 1
            if fills:
                for phase in range(2):  # reduce everywhere first, then add: freed cash is reusable
                    for j in range(k):
                        want = state[WANTED, j]
                        if np.isnan(want) or _idle(phase, state[POS, j], want, signals_mode, direction):
                            continue
                        units = _order_units(phase, j, want, prices[t, j], state, cash, fee_rate, fee_fixed,
                                             slippage, signals_mode, size_type, size, whole_units)
                        if units != 0.0:
                            n_orders, n_trades, cash = _trade(
                                t, j, units, prices[t, j], REASON_SIGNAL, state, cash, orders, n_orders, trades,
                                n_trades, fee_rate, fee_fixed, slippage)

            if stage == 0 and use_stops:
                # 2. stops inside this bar, on its high and low
                for j in range(k):
                    if state[POS, j] == 0.0 or np.isnan(close[t, j]):
                        continue
                    level, reason = _stop_hit(state[POS, j], state[ENTRY_PRICE, j], state[EXTREME, j],
                                              open_[t, j], high[t, j], low[t, j], stop_loss, take_profit,
                                              trailing_stop)
                    if reason >= 0:
                        n_orders, n_trades, cash = _trade(
                            t, j, -state[POS, j], level, reason, state, cash, orders, n_orders,
                            trades, n_trades, fee_rate, fee_fixed, slippage)
                    elif state[POS, j] > 0.0:
                        state[EXTREME, j] = max(state[EXTREME, j], high[t, j])
                    else:
                        state[EXTREME, j] = min(state[EXTREME, j], low[t, j])

        if close_at_end and t == n - 1:
            for j in range(k):
                if state[POS, j] != 0.0 and not np.isnan(state[MARK, j]):
                    n_orders, n_trades, cash = _trade(
                        t, j, -state[POS, j], state[MARK, j], REASON_END, state, cash, orders, n_orders,
                        trades, n_trades, fee_rate, fee_fixed, slippage)

        # 4. mark to market
        exposure_bars += _quiet_nb(t, t + 1, open_, close, True, state, cash, equity)
        t += 1

    # trades still open at the end are reported marked to the last price
    n_closed = n_trades
    for j in range(k):
        held = state[POS, j]
        if held != 0.0:
            price = state[MARK, j]
            last_exit = price if state[EXIT_UNITS, j] == 0.0 else (
                (state[EXIT_VALUE, j] + abs(held) * price) / (state[EXIT_UNITS, j] + abs(held)))
            gross = state[REALIZED, j] + held * (price - state[ENTRY_PRICE, j])
            _write_trade(trades, n_trades, state, j, held, n - 1, last_exit, gross, -1, True)
            n_trades += 1
    return n_orders, n_closed, n_trades, exposure_bars


@njit(cache=True, inline='always')
def _holding(state):
    """Whether any column holds a position."""
    for j in range(state.shape[1]):
        if state[POS, j] != 0.0:
            return True
    return False


@njit(cache=True, inline='always')
def _idle(phase, position, signal, signals_mode, direction):
    """Whether ``_order_units`` would give none: a reduce phase when flat, or an add phase that cannot add.

    Pure short-cuts; the add-phase one holds for direction signals, which
    never resize a position.
    """
    if phase == 0:
        return position == 0.0
    return signals_mode == SIGNALS_DIRECTION and (position != 0.0 or _allowed(signal, direction) == 0.0)


@njit(cache=True, inline='always')
def _quiet_nb(start, stop, open_, close, skip_open, state, cash, equity):
    """Mark bars ``[start, stop)`` to market when nothing trades in them; the number ending exposed.

    ``skip_open`` leaves the opens out (close fills, or a bar whose open was read already).
    Positions and cash are constant over the stretch, so equity is cash plus, column
    by column, each held position at its latest price (the sums in column order,
    as ``_equity`` adds them). The first held column is marked in the same pass that
    writes the cash, carrying no price while every bar has a close (the usual case):
    the stretch's equity is written once, which is what a long stretch costs.
    """
    k = close.shape[1]
    marked = False  # equity[start:stop] holds cash plus the columns so far
    for j in range(k):
        held = state[POS, j]
        if held == 0.0:
            state[MARK, j] = _last_price(start, stop, open_, close, skip_open, j, state[MARK, j])
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
        state[MARK, j] = _mark_with_gaps(start, stop, open_, close, skip_open, j, held, state[MARK, j], equity)
    if not marked:
        for t in range(start, stop):
            equity[t] = cash
    return stop - start if marked else 0


@njit(cache=True, inline='always')
def _mark_with_gaps(start, stop, open_, close, skip_open, j, held, mark, equity):
    """Add column ``j``'s position at its latest price to ``equity[start:stop]``; return the last price."""
    for t in range(start, stop):
        price = close[t, j]
        if not np.isnan(price):
            mark = price
        elif not skip_open and not np.isnan(open_[t, j]):
            mark = open_[t, j]
        equity[t] += held * mark
    return mark


@njit(cache=True, inline='always')
def _last_price(start, stop, open_, close, skip_open, j, mark):
    """Column ``j``'s latest price at the end of bars ``[start, stop)`` (``mark`` if none)."""
    for t in range(stop - 1, start - 1, -1):
        if not np.isnan(close[t, j]):
            return close[t, j]
        if not skip_open and not np.isnan(open_[t, j]):
            return open_[t, j]
    return mark


@njit(cache=True, inline='always')
def _allowed(s: float, direction: int) -> float:
    """The signal with the side the direction rule forbids turned into flat."""
    if direction == LONG_ONLY and s < 0.0:
        return 0.0
    if direction == SHORT_ONLY and s > 0.0:
        return 0.0
    return s


@njit(cache=True, inline='always')
def _stop_hit(position, entry, extreme, open_, high, low, stop_loss, take_profit, trailing_stop):
    """``(fill price, reason)`` of the first stop this bar triggers, or ``(nan, -1)``.

    Loss-side stops (stop-loss, trailing) are checked before the take-profit,
    so a bar that touches both exits at the loss-side level; a gap through a
    level fills at the open.
    """
    long_side = position > 0.0
    sign = 1.0 if long_side else -1.0
    stop_level = np.nan
    reason = -1
    if not np.isnan(stop_loss):
        stop_level = entry * (1.0 - sign * stop_loss)
        reason = REASON_STOP_LOSS
    if not np.isnan(trailing_stop):
        trail_level = extreme * (1.0 - sign * trailing_stop)
        if np.isnan(stop_level) or sign * (trail_level - stop_level) > 0.0:
            stop_level = trail_level
            reason = REASON_TRAILING_STOP
    if reason >= 0:
        if sign * (stop_level - open_) >= 0.0:
            return open_, reason
        if (long_side and low <= stop_level) or (not long_side and high >= stop_level):
            return stop_level, reason
    if not np.isnan(take_profit):
        target = entry * (1.0 + sign * take_profit)
        if sign * (open_ - target) >= 0.0:
            return open_, REASON_TAKE_PROFIT
        if (long_side and high >= target) or (not long_side and low <= target):
            return target, REASON_TAKE_PROFIT
    return np.nan, -1


@njit(cache=True, inline='always')
def _order_units(phase, j, want, price, state, cash, fee_rate, fee_fixed, slippage, signals_mode, size_type, size,
                 whole_units):
    """Signed units that move column ``j`` towards the wanted signal (0.0: none).

    Phase 0 only reduces, phase 1 only adds; the caller fills them with ``_trade``.
    """
    current = state[POS, j]
    if signals_mode == SIGNALS_DIRECTION:
        side = np.sign(want)
        if phase == 0:
            return -current if current != 0.0 and np.sign(current) != side else 0.0
        if side == 0.0 or current != 0.0:
            return 0.0
        fill = _fill_price(price, side, slippage)
        if size_type == SIZE_UNITS:
            units = min(size, _units_for_budget(_buying_power(cash, state), fill, fee_rate, fee_fixed,
                                                whole_units))
        else:
            budget = size * _equity(cash, state) if size_type == SIZE_EQUITY_FRACTION else size
            budget = min(budget, _buying_power(cash, state))
            units = _units_for_budget(budget, fill, fee_rate, fee_fixed, whole_units)
        return side * units if units > 0.0 else 0.0

    # target mode: hold ``want`` x equity worth of the column
    target_units = want * _equity(cash, state) / price
    if whole_units:
        target_units = np.trunc(target_units + np.sign(target_units) * 1e-9)
    delta = target_units - current
    if abs(delta) <= _EPS * max(1.0, abs(current)):
        return 0.0
    reducing = current != 0.0 and np.sign(delta) != np.sign(current)
    if phase == 0:
        if not reducing:
            return 0.0
        return max(delta, -current) if current > 0.0 else min(delta, -current)
    if reducing:  # phase 0 does the cutting
        return 0.0
    fill = _fill_price(price, delta, slippage)
    affordable = _units_for_budget(_buying_power(cash, state), fill, fee_rate, fee_fixed, whole_units)
    return np.sign(delta) * min(abs(delta), affordable)


@njit(cache=True, inline='always')
def _equity(cash, state):
    """Cash plus every position at its latest price."""
    value = cash
    for j in range(state.shape[1]):
        if state[POS, j] != 0.0:
            value += state[POS, j] * state[MARK, j]
    return value


@njit(cache=True, inline='always')
def _buying_power(cash, state):
    """Equity not tied up in open positions (1x gross exposure)."""
    used = 0.0
    for j in range(state.shape[1]):
        if state[POS, j] != 0.0:
            used += abs(state[POS, j]) * state[MARK, j]
    return max(_equity(cash, state) - used, 0.0)


@njit(cache=True, inline='always')
def _trade(t, j, units, price, reason, state, cash, orders, n_orders, trades, n_trades, fee_rate, fee_fixed,
           slippage):
    """Fill ``units`` (signed) of column ``j`` at ``price`` plus slippage; book the order and trade."""
    fill = _fill_price(price, units, slippage)
    fees = abs(units) * fill * fee_rate + fee_fixed
    cash -= units * fill + fees
    if orders.shape[1]:  # empty when not recording
        orders[ORDER_BAR, n_orders] = t
        orders[ORDER_COL, n_orders] = j
        orders[ORDER_SIZE, n_orders] = units
        orders[ORDER_PRICE, n_orders] = fill
        orders[ORDER_FEES, n_orders] = fees
        orders[ORDER_REASON, n_orders] = reason
        orders[ORDER_CASH, n_orders] = cash

    current = state[POS, j]
    if current == 0.0 or np.sign(units) == np.sign(current):  # open or add
        if current == 0.0:
            state[ENTRY_BAR, j] = t
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
        return _booked(orders, n_orders, state[POS, j]), n_trades, cash

    # reduce or close (callers never flip a position in one fill)
    closed = -units
    state[REALIZED, j] += closed * (fill - state[ENTRY_PRICE, j])
    state[FEES, j] += fees
    state[EXIT_VALUE, j] += abs(closed) * fill
    state[EXIT_UNITS, j] += abs(closed)
    remaining = current + units
    if abs(remaining) <= _EPS * abs(current):
        remaining = 0.0
    state[POS, j] = remaining
    if remaining == 0.0:
        # one exit fill reports its own price exactly; several report their size-weighted average
        exit_price = fill if state[EXIT_UNITS, j] == abs(closed) else state[EXIT_VALUE, j] / state[EXIT_UNITS, j]
        _write_trade(trades, n_trades, state, j, current, t, exit_price, state[REALIZED, j], reason, False)
        n_trades += 1
    return _booked(orders, n_orders, remaining), n_trades, cash


@njit(cache=True, inline='always')
def _booked(orders, n_orders, position):
    """Finish the order row being written (its position after the fill); the new order count."""
    if orders.shape[1] == 0:  # no order book kept
        return n_orders
    orders[ORDER_POSITION, n_orders] = position
    return n_orders + 1


@njit(cache=True, inline='always')
def _write_trade(trades, row, state, col, last_position, exit_bar, exit_price, gross, reason, is_open):
    """Store column ``col``'s trade; its return is net PnL over the entry value of its largest size."""
    entry = state[ENTRY_PRICE, col]
    peak = state[PEAK_SIZE, col]
    fees = state[FEES, col]
    pnl = gross - fees
    trades[TRADE_COL, row] = col
    trades[TRADE_DIRECTION, row] = 1.0 if last_position > 0.0 else -1.0
    trades[TRADE_ENTRY_BAR, row] = state[ENTRY_BAR, col]
    trades[TRADE_EXIT_BAR, row] = exit_bar
    trades[TRADE_SIZE, row] = peak
    trades[TRADE_ENTRY_PRICE, row] = entry
    trades[TRADE_EXIT_PRICE, row] = exit_price
    trades[TRADE_FEES, row] = fees
    trades[TRADE_PNL, row] = pnl
    trades[TRADE_RETURN, row] = pnl / (peak * entry)
    trades[TRADE_EXIT_REASON, row] = reason
    trades[TRADE_IS_OPEN, row] = 1.0 if is_open else 0.0


@njit(cache=True)
def stats_nb(equity: np.ndarray, init_cash: float, trade_pnl: np.ndarray, trade_return: np.ndarray,
             exposure_bars: int, periods_per_year: float, years: float) -> np.ndarray:
    """Summary statistics of one run (``STAT_*`` positions); trades are the closed ones.

    Per-bar returns start from ``init_cash``; volatility, Sharpe and Sortino
    are annualised with ``sqrt(periods_per_year)`` and a zero risk-free rate.
    """
    out = np.full(STAT_FIELDS, np.nan)
    n = equity.shape[0]
    final = equity[n - 1] if n else init_cash
    out[STAT_FINAL_EQUITY] = final
    out[STAT_TOTAL_RETURN] = final / init_cash - 1.0
    if years > 0.0 and final > 0.0:
        out[STAT_CAGR] = (final / init_cash) ** (1.0 / years) - 1.0

    previous = init_cash
    total = 0.0
    total_sq = 0.0
    downside_sq = 0.0
    peak = init_cash
    trough = init_cash  # lowest value since the peak: only a new trough can deepen the drawdown
    worst_dd = 0.0
    dd_start = -1
    longest = 0
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
    out[STAT_MAX_DRAWDOWN] = worst_dd
    out[STAT_MAX_DRAWDOWN_BARS] = longest
    if n > 1:
        mean = total / n
        var = (total_sq - n * mean * mean) / (n - 1)
        std = np.sqrt(max(var, 0.0))
        out[STAT_VOLATILITY] = std * np.sqrt(periods_per_year)
        if std > 0.0:
            out[STAT_SHARPE] = mean / std * np.sqrt(periods_per_year)
        downside = np.sqrt(downside_sq / n)
        if downside > 0.0:
            out[STAT_SORTINO] = mean / downside * np.sqrt(periods_per_year)
    if worst_dd < 0.0 and not np.isnan(out[STAT_CAGR]):
        out[STAT_CALMAR] = out[STAT_CAGR] / -worst_dd
    out[STAT_EXPOSURE] = exposure_bars / n if n else 0.0

    m = trade_pnl.shape[0]
    out[STAT_TRADES] = m
    if m:
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
        out[STAT_WIN_RATE] = wins / m
        out[STAT_PROFIT_FACTOR] = gains / losses if losses > 0.0 else np.inf if gains > 0.0 else np.nan
        out[STAT_EXPECTANCY] = pnl_sum / m
        out[STAT_AVG_TRADE_RETURN] = trade_return.mean()
        out[STAT_BEST_TRADE_RETURN] = trade_return.max()
        out[STAT_WORST_TRADE_RETURN] = trade_return.min()
        if m > 1:
            pnl_std = np.sqrt(max((pnl_sq - m * (pnl_sum / m) ** 2) / (m - 1), 0.0))
            if pnl_std > 0.0:
                out[STAT_SQN] = np.sqrt(m) * (pnl_sum / m) / pnl_std
    return out
