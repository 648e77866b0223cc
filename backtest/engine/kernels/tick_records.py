"""What the tick-execution kernels read and write: the event streams, the tick rules, the row layouts.

The replay (:mod:`backtest.engine.kernels.tick_loop`) merges two streams of one
time window, each ordered by time across every symbol of the run:

* :class:`TradeStream` -- prints: ``ts`` (int64 ns UTC), ``column`` (the symbol's
  column), ``price``, ``size``;
* :class:`QuoteStream` -- book updates: ``ts``, ``column`` and ``(n, levels)``
  ``bid_px`` / ``bid_qty`` / ``ask_px`` / ``ask_qty`` (level 0 the top; NaN where a
  level is empty). A run without quotes passes ``levels = 0`` rows.

Decisions come from the bar grid (:class:`Grid`): a signal read at bar ``b`` is
decided at ``bar_end[b]`` and becomes active ``latency[e, j]`` nanoseconds later.
Times never go through float64 (ns since 1970 exceed its 53-bit mantissa): they
live in the int64 rows of ``clock`` (:data:`DECIDED` ...) and ``fill_times``.

>>> TickRules(0, 0, 0, False, 0.0, 0.0, -1).order_type
0
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from backtest.engine.modes import OrderType, Queue, StopFill


class TradeStream(NamedTuple):
    """Prints of one window, ordered by ``ts``: ``ts`` int64 ns, ``column`` (the symbol's index), ``price`` and
    ``size`` float64; C-contiguous. The feed fills it (``Feed.trade_arrays``, ``column`` int32); the replay
    takes ``column`` as int64 (copied once per window)."""

    ts: np.ndarray
    column: np.ndarray
    price: np.ndarray
    size: np.ndarray


class QuoteStream(NamedTuple):
    """Book updates of one window, ordered by ``ts``: ``ts``, ``column`` as in :class:`TradeStream`, and the four
    books ``(n, levels)`` float64 (level 0 the top; NaN where a level is empty). ``Feed.quote_arrays`` fills it."""

    ts: np.ndarray
    column: np.ndarray
    bid_px: np.ndarray
    bid_qty: np.ndarray
    ask_px: np.ndarray
    ask_qty: np.ndarray


class Grid(NamedTuple):
    """The decision grid: ``bar_end`` (int64 ns, one per bar), the sparse signals and their latencies.

    ``bars[e]`` is the bar of signal row ``rows[e]``; ``latency[e, j]`` (int64 ns) delays column
    ``j``'s order of that row.
    """

    bar_end: np.ndarray
    bars: np.ndarray
    rows: np.ndarray
    latency: np.ndarray


class TickRules(NamedTuple):
    """Tick-execution rules as numbers (see :mod:`backtest.engine.ticks` for their meaning).

    ``limit_offset`` / ``stop_offset`` are fractions of the decision price; ``expiry`` is int64
    ns after the active time (-1: good till the column's next signal).
    """

    order_type: int
    queue: int
    stop_fill: int
    has_quotes: bool
    limit_offset: float
    stop_offset: float
    expiry: int


# mode codes the kernels compare against
MARKET = OrderType.market.value
LIMIT = OrderType.limit.value
STOP = OrderType.stop.value
STOP_LIMIT = OrderType.stop_limit.value
QUEUE_OPTIMISTIC = Queue.optimistic.value
STOP_FILL_PRINT = StopFill.print.value

# rows of the per-column float64 tick state (beside the bar loop's state rows)
(WANT, KIND, SIDE, REASON, LIMIT_PX, STOP_PX, TRIGGERED, RESTING, SIZED, REDUCE_LEFT, ADD_LEFT, DECISION_PX,
 DECISION_BID, DECISION_ASK, LAST_BAR, BOOK_USED, PRE_MARK) = range(17)
TICK_FIELDS = 17  # PRE_MARK: the column's last print before the current one

# rows of the per-column int64 clock
DECIDED, ACTIVE, EXPIRES = range(3)
CLOCK_FIELDS = 3

# fill record rows (float64), one column per fill, in the order of the order book
(FILL_COL, FILL_BAR, FILL_UNITS, FILL_PRICE, FILL_REASON, FILL_DECISION_PX, FILL_DECISION_BID, FILL_DECISION_ASK,
 FILL_LEVELS, FILL_BEYOND, FILL_SLIP_DECISION, FILL_SLIP_MID) = range(12)
FILL_FIELDS = 12
# fill time rows (int64)
FILL_DECIDED, FILL_ACTIVE, FILL_TS = range(3)
FILL_TIME_FIELDS = 3

# cursor slots (int64): where a replay stands between windows, and its counters
(AT_TRADE, AT_QUOTE, AT_BAR, AT_SIGNAL, N_ORDERS, N_TRADES, N_ALL_TRADES, EXPOSURE, NEED) = range(9)
CURSOR_FIELDS = 9

# rows of the per-column int64 scratch of one group of events at one time
TOUCHED, FIRST_TRADE, QUOTED = range(3)
SCRATCH_FIELDS = 3
NO_TIME = np.iinfo(np.int64).max
