"""Numba kernels of the engine: contiguous numpy arrays in, numpy arrays out.

Nothing here knows about configs, frames or files; :mod:`backtest.engine`
validates the inputs, makes one kernel call and wraps the result. The rules the
kernel implements are documented there.

Order and trade records are rows of 2-D float64 arrays (columns given by the
``ORDER_*`` / ``TRADE_*`` indices) that grow by doubling, so the kernel stays
simple and memory follows the number of fills, not the number of bars.
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

# why an order was filled
REASON_SIGNAL = 0
REASON_STOP_LOSS = 1
REASON_TAKE_PROFIT = 2
REASON_TRAILING_STOP = 3
REASON_END = 4

# order record columns
ORDER_BAR, ORDER_COL, ORDER_SIZE, ORDER_PRICE, ORDER_FEES, ORDER_REASON = range(6)
ORDER_FIELDS = 6

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


@njit(cache=True)
def _grow(records: np.ndarray, used: int) -> np.ndarray:
    """The same rows in an array twice as long when ``records`` is full."""
    if used < records.shape[0]:
        return records
    bigger = np.empty((records.shape[0] * 2, records.shape[1]))
    bigger[:used] = records[:used]
    return bigger


@njit(cache=True)
def _fill_price(price: float, units: float, slippage: float) -> float:
    """The price a market order of signed ``units`` gets after slippage."""
    return price * (1.0 + slippage) if units > 0 else price * (1.0 - slippage)


@njit(cache=True)
def _units_for_budget(budget: float, price: float, fee_rate: float, fee_fixed: float, whole: bool) -> float:
    """How many units ``budget`` buys at ``price`` once fees are paid out of it."""
    units = (budget - fee_fixed) / (price * (1.0 + fee_rate))
    if whole:
        units = np.floor(units)
    return max(units, 0.0)


@njit(cache=True)
def simulate_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    signal: np.ndarray,
    init_cash: float,
    fill_at_close: bool,
    fee_rate: float,
    fee_fixed: float,
    slippage: float,
    signals_mode: int,
    direction: int,
    size_type: int,
    size: float,
    whole_units: bool,
    stop_loss: float,
    take_profit: float,
    trailing_stop: float,
    close_at_end: bool,
):
    """Simulate one portfolio with one cash pool over ``(n_bars, n_cols)`` price arrays.

    Returns ``(equity, cash, positions, orders, trades, exposure_bars)``:
    equity and cash per bar, units held per bar and column, order and trade
    records (``ORDER_*`` / ``TRADE_*`` columns) and the number of bars that
    ended with any position open.
    """
    n, k = close.shape
    equity = np.empty(n)
    cash_curve = np.empty(n)
    positions = np.zeros((n, k))
    orders = np.empty((max(16, 2 * k), ORDER_FIELDS))
    trades = np.empty((max(16, k), TRADE_FIELDS))
    n_orders = 0
    n_trades = 0
    exposure_bars = 0

    cash = init_cash
    pos = np.zeros(k)
    mark = np.full(k, np.nan)  # latest known price per column
    entry_price = np.zeros(k)  # average entry price of the open trade
    entry_bar = np.zeros(k, dtype=np.int64)
    peak_size = np.zeros(k)  # largest absolute size the open trade reached
    trade_realized = np.zeros(k)  # gross PnL realised by partial exits
    trade_fees = np.zeros(k)
    exit_value = np.zeros(k)  # sum of exit price * units, for the average exit price
    exit_units = np.zeros(k)
    extreme = np.zeros(k)  # highest high (long) / lowest low (short) since entry
    pending = np.full(k, np.nan)
    wanted = np.full(k, np.nan)
    use_stops = not (np.isnan(stop_loss) and np.isnan(take_profit) and np.isnan(trailing_stop))

    for t in range(n):
        # 1. orders from the previous close fill at this bar's open
        if not fill_at_close:
            for j in range(k):
                if not np.isnan(open_[t, j]):
                    mark[j] = open_[t, j]
                    wanted[j] = pending[j]
                    pending[j] = np.nan
                else:
                    wanted[j] = np.nan
            for phase in range(2):  # reduce everywhere first, then add: freed cash is reusable
                for j in range(k):
                    if np.isnan(wanted[j]):
                        continue
                    n_orders, n_trades, orders, trades, cash = _execute(
                        phase, t, j, wanted[j], open_[t, j], pos, mark, cash, entry_price, entry_bar,
                        peak_size, trade_realized, trade_fees, exit_value, exit_units, extreme,
                        orders, n_orders, trades, n_trades, fee_rate, fee_fixed, slippage, signals_mode,
                        size_type, size, whole_units)

        # 2. stops inside this bar, on its high and low
        if use_stops:
            for j in range(k):
                if pos[j] == 0.0 or np.isnan(close[t, j]):
                    continue
                level, reason = _stop_hit(pos[j], entry_price[j], extreme[j], open_[t, j], high[t, j],
                                          low[t, j], stop_loss, take_profit, trailing_stop)
                if reason >= 0:
                    n_orders, n_trades, orders, trades, cash = _trade(
                        t, j, -pos[j], level, reason, pos, cash, entry_price, entry_bar, peak_size,
                        trade_realized, trade_fees, exit_value, exit_units, extreme, orders, n_orders,
                        trades, n_trades, fee_rate, fee_fixed, slippage)
                elif pos[j] > 0.0:
                    extreme[j] = max(extreme[j], high[t, j])
                else:
                    extreme[j] = min(extreme[j], low[t, j])

        # 3. this bar's close: mark, then read the signals
        for j in range(k):
            if not np.isnan(close[t, j]):
                mark[j] = close[t, j]
        if fill_at_close:
            for phase in range(2):
                for j in range(k):
                    s = signal[t, j]
                    if np.isnan(s) or np.isnan(close[t, j]):
                        continue
                    n_orders, n_trades, orders, trades, cash = _execute(
                        phase, t, j, _allowed(s, direction), close[t, j], pos, mark, cash, entry_price,
                        entry_bar, peak_size, trade_realized, trade_fees, exit_value, exit_units, extreme,
                        orders, n_orders, trades, n_trades, fee_rate, fee_fixed, slippage, signals_mode,
                        size_type, size, whole_units)
        else:
            for j in range(k):
                if not np.isnan(signal[t, j]):
                    pending[j] = _allowed(signal[t, j], direction)

        if close_at_end and t == n - 1:
            for j in range(k):
                if pos[j] != 0.0 and not np.isnan(mark[j]):
                    n_orders, n_trades, orders, trades, cash = _trade(
                        t, j, -pos[j], mark[j], REASON_END, pos, cash, entry_price, entry_bar, peak_size,
                        trade_realized, trade_fees, exit_value, exit_units, extreme, orders, n_orders,
                        trades, n_trades, fee_rate, fee_fixed, slippage)

        # 4. mark to market
        value = cash
        holding = False
        for j in range(k):
            positions[t, j] = pos[j]
            if pos[j] != 0.0:
                value += pos[j] * mark[j]
                holding = True
        equity[t] = value
        cash_curve[t] = cash
        if holding:
            exposure_bars += 1

    # trades still open at the end are reported marked to the last price
    for j in range(k):
        if pos[j] != 0.0:
            trades = _grow(trades, n_trades)
            last_exit = mark[j] if exit_units[j] == 0.0 else (
                (exit_value[j] + abs(pos[j]) * mark[j]) / (exit_units[j] + abs(pos[j])))
            _write_trade(trades, n_trades, j, pos[j], entry_bar[j], n - 1, peak_size[j], entry_price[j],
                         last_exit, trade_realized[j] + pos[j] * (mark[j] - entry_price[j]), trade_fees[j], -1,
                         True)
            n_trades += 1
    return equity, cash_curve, positions, orders[:n_orders].copy(), trades[:n_trades].copy(), exposure_bars


@njit(cache=True)
def _allowed(s: float, direction: int) -> float:
    """The signal with the side the direction rule forbids turned into flat."""
    if direction == LONG_ONLY and s < 0.0:
        return 0.0
    if direction == SHORT_ONLY and s > 0.0:
        return 0.0
    return s


@njit(cache=True)
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


@njit(cache=True)
def _execute(phase, t, j, want, price, pos, mark, cash, entry_price, entry_bar, peak_size, trade_realized,
             trade_fees, exit_value, exit_units, extreme, orders, n_orders, trades, n_trades, fee_rate,
             fee_fixed, slippage, signals_mode, size_type, size, whole_units):
    """Move column ``j`` towards the wanted signal: phase 0 only reduces, phase 1 only adds."""
    current = pos[j]
    if signals_mode == SIGNALS_DIRECTION:
        side = np.sign(want)
        if phase == 0:
            if current != 0.0 and np.sign(current) != side:
                return _trade(t, j, -current, price, REASON_SIGNAL, pos, cash, entry_price, entry_bar,
                              peak_size, trade_realized, trade_fees, exit_value, exit_units, extreme, orders,
                              n_orders, trades, n_trades, fee_rate, fee_fixed, slippage)
            return n_orders, n_trades, orders, trades, cash
        if side == 0.0 or current != 0.0:
            return n_orders, n_trades, orders, trades, cash
        fill = _fill_price(price, side, slippage)
        if size_type == SIZE_UNITS:
            units = min(size, _units_for_budget(_buying_power(cash, pos, mark), fill, fee_rate, fee_fixed,
                                                whole_units))
        else:
            budget = size * _equity(cash, pos, mark) if size_type == SIZE_EQUITY_FRACTION else size
            budget = min(budget, _buying_power(cash, pos, mark))
            units = _units_for_budget(budget, fill, fee_rate, fee_fixed, whole_units)
        if units <= 0.0:
            return n_orders, n_trades, orders, trades, cash
        return _trade(t, j, side * units, price, REASON_SIGNAL, pos, cash, entry_price, entry_bar, peak_size,
                      trade_realized, trade_fees, exit_value, exit_units, extreme, orders, n_orders, trades,
                      n_trades, fee_rate, fee_fixed, slippage)

    # target mode: hold ``want`` x equity worth of the column
    target_units = want * _equity(cash, pos, mark) / price
    if whole_units:
        target_units = np.trunc(target_units + np.sign(target_units) * 1e-9)
    delta = target_units - current
    if abs(delta) <= _EPS * max(1.0, abs(current)):
        return n_orders, n_trades, orders, trades, cash
    reducing = current != 0.0 and np.sign(delta) != np.sign(current)
    if phase == 0:
        if not reducing:
            return n_orders, n_trades, orders, trades, cash
        change = max(delta, -current) if current > 0.0 else min(delta, -current)
        return _trade(t, j, change, price, REASON_SIGNAL, pos, cash, entry_price, entry_bar, peak_size,
                      trade_realized, trade_fees, exit_value, exit_units, extreme, orders, n_orders, trades,
                      n_trades, fee_rate, fee_fixed, slippage)
    if reducing:  # phase 0 does the cutting
        return n_orders, n_trades, orders, trades, cash
    fill = _fill_price(price, delta, slippage)
    affordable = _units_for_budget(_buying_power(cash, pos, mark), fill, fee_rate, fee_fixed, whole_units)
    change = np.sign(delta) * min(abs(delta), affordable)
    if change == 0.0:
        return n_orders, n_trades, orders, trades, cash
    return _trade(t, j, change, price, REASON_SIGNAL, pos, cash, entry_price, entry_bar, peak_size,
                  trade_realized, trade_fees, exit_value, exit_units, extreme, orders, n_orders, trades,
                  n_trades, fee_rate, fee_fixed, slippage)


@njit(cache=True)
def _equity(cash, pos, mark):
    """Cash plus every position at its latest price."""
    value = cash
    for j in range(pos.shape[0]):
        if pos[j] != 0.0:
            value += pos[j] * mark[j]
    return value


@njit(cache=True)
def _buying_power(cash, pos, mark):
    """Equity not tied up in open positions (1x gross exposure)."""
    used = 0.0
    for j in range(pos.shape[0]):
        if pos[j] != 0.0:
            used += abs(pos[j]) * mark[j]
    return max(_equity(cash, pos, mark) - used, 0.0)


@njit(cache=True)
def _trade(t, j, units, price, reason, pos, cash, entry_price, entry_bar, peak_size, trade_realized, trade_fees,
           exit_value, exit_units, extreme, orders, n_orders, trades, n_trades, fee_rate, fee_fixed, slippage):
    """Fill ``units`` (signed) of column ``j`` at ``price`` plus slippage; book the order and trade."""
    fill = _fill_price(price, units, slippage)
    fees = abs(units) * fill * fee_rate + fee_fixed
    cash -= units * fill + fees
    orders = _grow(orders, n_orders)
    orders[n_orders, ORDER_BAR] = t
    orders[n_orders, ORDER_COL] = j
    orders[n_orders, ORDER_SIZE] = units
    orders[n_orders, ORDER_PRICE] = fill
    orders[n_orders, ORDER_FEES] = fees
    orders[n_orders, ORDER_REASON] = reason
    n_orders += 1

    current = pos[j]
    if current == 0.0 or np.sign(units) == np.sign(current):  # open or add
        if current == 0.0:
            entry_bar[j] = t
            entry_price[j] = fill
            trade_realized[j] = 0.0
            trade_fees[j] = 0.0
            exit_value[j] = 0.0
            exit_units[j] = 0.0
            extreme[j] = fill  # the trailing stop follows completed bars from here
        else:
            entry_price[j] = (entry_price[j] * abs(current) + fill * abs(units)) / abs(current + units)
        trade_fees[j] += fees
        pos[j] = current + units
        peak_size[j] = max(peak_size[j] if current != 0.0 else 0.0, abs(pos[j]))
        return n_orders, n_trades, orders, trades, cash

    # reduce or close (callers never flip a position in one fill)
    closed = -units
    trade_realized[j] += closed * (fill - entry_price[j])
    trade_fees[j] += fees
    exit_value[j] += abs(closed) * fill
    exit_units[j] += abs(closed)
    remaining = current + units
    if abs(remaining) <= _EPS * abs(current):
        remaining = 0.0
    pos[j] = remaining
    if remaining == 0.0:
        trades = _grow(trades, n_trades)
        # one exit fill reports its own price exactly; several report their size-weighted average
        exit_price = fill if exit_units[j] == abs(closed) else exit_value[j] / exit_units[j]
        _write_trade(trades, n_trades, j, current, entry_bar[j], t, peak_size[j], entry_price[j], exit_price,
                     trade_realized[j], trade_fees[j], reason, False)
        n_trades += 1
    return n_orders, n_trades, orders, trades, cash


@njit(cache=True)
def _write_trade(trades, row, col, last_position, entry_bar, exit_bar, peak, entry, exit_price, gross, fees,
                 reason, is_open):
    """Store one trade; its return is net PnL over the entry value of its largest size."""
    pnl = gross - fees
    trades[row, TRADE_COL] = col
    trades[row, TRADE_DIRECTION] = 1.0 if last_position > 0.0 else -1.0
    trades[row, TRADE_ENTRY_BAR] = entry_bar
    trades[row, TRADE_EXIT_BAR] = exit_bar
    trades[row, TRADE_SIZE] = peak
    trades[row, TRADE_ENTRY_PRICE] = entry
    trades[row, TRADE_EXIT_PRICE] = exit_price
    trades[row, TRADE_FEES] = fees
    trades[row, TRADE_PNL] = pnl
    trades[row, TRADE_RETURN] = pnl / (peak * entry)
    trades[row, TRADE_EXIT_REASON] = reason
    trades[row, TRADE_IS_OPEN] = 1.0 if is_open else 0.0


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
    worst_dd = 0.0
    dd_start = -1
    longest = 0
    for t in range(n):
        r = equity[t] / previous - 1.0 if previous != 0.0 else 0.0
        total += r
        total_sq += r * r
        if r < 0.0:
            downside_sq += r * r
        previous = equity[t]
        if equity[t] >= peak:
            peak = equity[t]
            if dd_start >= 0:
                longest = max(longest, t - dd_start)
            dd_start = -1
        else:
            if dd_start < 0:
                dd_start = t - 1
            worst_dd = min(worst_dd, equity[t] / peak - 1.0)
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
