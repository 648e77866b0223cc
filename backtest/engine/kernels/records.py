"""What the kernels read and write: the rules record, the prices record and the row layouts.

Everything here is numbers: :class:`Rules` is built from an
:class:`~backtest.engine.rules.EngineConfig` by
:func:`~backtest.engine.rules.kernel_rules`; the ``ORDER_*``, ``TRADE_*`` and
state rows index 2-D float64 arrays (one row per field, so each field is
contiguous); :data:`STAT` indexes the statistics row whose names
:data:`STAT_NAMES` lists once for the whole project.

>>> STAT.sharpe, STAT_NAMES[STAT.sharpe], STAT_FIELDS
(3, 'sharpe', 18)
"""

from __future__ import annotations

from collections import namedtuple
from typing import NamedTuple

import numpy as np

from backtest.engine.modes import Allocation, Direction, Reason, Signals, SizeType


class Rules(NamedTuple):
    """The engine rules as numbers, one record passed by name to every kernel.

    Fractions are already divided out (``fee_rate = fees_bps / 1e4``); a stop
    that is off is NaN; modes are the values of :mod:`backtest.engine.modes`.
    """

    init_cash: float
    fill_at_close: bool
    fee_rate: float
    fee_fixed: float
    slippage: float
    signals: int
    direction: int
    size_type: int
    size: float
    allocation: int
    rebalance_threshold: float
    whole_units: bool
    stop_loss: float
    take_profit: float
    trailing_stop: float
    close_at_end: bool


class Prices(NamedTuple):
    """The four ``(n_bars, n_columns)`` C-contiguous float64 price arrays of one simulation."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


# mode codes the kernels compare against (Rules.signals / direction / size_type)
SIGNALS_DIRECTION = Signals.direction.value
LONG_ONLY = Direction.long_only.value
SHORT_ONLY = Direction.short_only.value
SIZE_EQUITY_FRACTION = SizeType.equity_fraction.value
SIZE_UNITS = SizeType.units.value
ALLOCATION_EQUAL = Allocation.equal.value
ALLOCATION_SIGNAL_WEIGHT = Allocation.signal_weight.value

# why an order was filled
REASON_SIGNAL = Reason.signal.value
REASON_STOP_LOSS = Reason.stop_loss.value
REASON_TAKE_PROFIT = Reason.take_profit.value
REASON_TRAILING_STOP = Reason.trailing_stop.value
REASON_END = Reason.end.value

# rows of the per-column state array of the bar loop
(POS, MARK, ENTRY_PRICE, ENTRY_BAR, PEAK_SIZE, REALIZED, FEES, EXIT_VALUE, EXIT_UNITS, EXTREME, PENDING,
 WANTED) = range(12)
STATE_FIELDS = 12

# order record rows; the position and cash after each order give the per-bar curves
ORDER_BAR, ORDER_COL, ORDER_SIZE, ORDER_PRICE, ORDER_FEES, ORDER_REASON, ORDER_POSITION, ORDER_CASH = range(8)
ORDER_FIELDS = 8

# trade record rows
(TRADE_COL, TRADE_DIRECTION, TRADE_ENTRY_BAR, TRADE_EXIT_BAR, TRADE_SIZE, TRADE_ENTRY_PRICE,
 TRADE_EXIT_PRICE, TRADE_FEES, TRADE_PNL, TRADE_RETURN, TRADE_EXIT_REASON, TRADE_IS_OPEN) = range(12)
TRADE_FIELDS = 12

STAT_NAMES: tuple[str, ...] = (
    "total_return", "cagr", "volatility", "sharpe", "sortino", "calmar", "max_drawdown", "max_drawdown_bars",
    "win_rate", "profit_factor", "expectancy", "avg_trade_return", "best_trade_return", "worst_trade_return",
    "exposure", "trades", "sqn", "final_equity",
)
"""Every statistic of a run, in the order of a statistics row (the one list of stat names)."""

STAT = namedtuple("Stat", STAT_NAMES)(*range(len(STAT_NAMES)))
"""Position of each statistic in a row: ``STAT.sharpe`` (a constant inside kernels)."""

STAT_FIELDS = len(STAT_NAMES)


class Book(NamedTuple):
    """Where fills are written: the order and trade records and how many rows each holds.

    ``orders`` may have no columns (sweeps keep no order book).
    """

    orders: np.ndarray
    trades: np.ndarray
    n_orders: int
    n_trades: int
