"""The engine's modes as enums; each member's value is the code the kernels read.

Member names are the words of the config (``engine.fill=close``, YAML
``fill: next_open``), so Hydra/OmegaConf parse them by name, and ``str()`` of a
member is that word. The kernels (:mod:`backtest.engine.kernels`) take the
values, plain ints, from :class:`~backtest.engine.kernels.records.Rules`.

>>> Fill["close"], str(Fill.close), Fill.close.value
(<Fill.close: 1>, 'close', 1)
>>> [str(reason) for reason in Reason]
['signal', 'stop_loss', 'take_profit', 'trailing_stop', 'end']
"""

from __future__ import annotations

from enum import Enum


class Mode(Enum):
    """An engine mode: its name is the config word, its value the kernel code."""

    def __str__(self) -> str:
        return self.name

    @classmethod
    def choices(cls) -> str:
        """The config words, comma separated (for messages).

        >>> Direction.choices()
        'long_only, short_only, both'
        """
        return ", ".join(cls.__members__)


class Fill(Mode):
    """When a signal read at bar t's close fills."""

    next_open = 0  # at bar t+1's open
    close = 1  # at bar t's close


class Signals(Mode):
    """How a signal value reads."""

    direction = 0  # +1 long, -1 short, 0 flat, NaN hold
    target = 1  # signed fraction of equity to hold, NaN hold


class Direction(Mode):
    """Which sides may be held (a forbidden side reads as flat)."""

    long_only = 0
    short_only = 1
    both = 2


class SizeType(Mode):
    """What ``size`` means for direction signals."""

    equity_fraction = 0  # spend size x equity
    cash = 1  # spend size in cash
    units = 2  # buy size units


class Allocation(Mode):
    """How orders share the one cash pool (the rules: :mod:`backtest.engine.rules`, "Allocation")."""

    fixed_fraction = 0  # each direction entry spends size x equity (capped by buying power)
    equal = 1  # each direction entry spends size x equity / the number of symbols
    signal_weight = 2  # an entry spends size x equity x |its signal| / sum of |signals| at that fill time
    target_weights = 3  # the signals are target weights (signals=target; a strategy's weights(bars))


class Reason(Mode):
    """Why an order was filled (the ``reason`` / ``exit_reason`` columns)."""

    signal = 0
    stop_loss = 1
    take_profit = 2
    trailing_stop = 3
    end = 4


class Execution(Mode):
    """What fills the orders: the bars' prices, or the symbol's own trades and quotes."""

    bars = 0  # next open / close and bar high-low stops (backtest.engine.rules)
    ticks = 1  # the trade and quote sequence from the warehouse (backtest.engine.ticks)


class OrderType(Mode):
    """The order a signal sends in tick execution (bar execution sends market orders)."""

    market = 0  # at the book (or the first print) at or after the active time
    limit = 1  # rests at limit_offset_bps better than the decision price
    stop = 2  # a market order once a print reaches stop_offset_bps beyond the decision price
    stop_limit = 3  # a limit at the stop level (plus limit_offset_bps) once the stop triggers


class Queue(Mode):
    """Whether a resting limit fills on a print at exactly its price."""

    conservative = 0  # only a print through the limit fills it
    optimistic = 1  # a print at the limit fills it too


class StopFill(Mode):
    """Where a triggered stop-loss or trailing stop fills when it must take the market."""

    print = 0  # the triggering print (or the bid/ask with quotes): what a stop-market order gets
    level = 1  # the stop level, unless the bar's first print is already beyond it (the bar rule)
