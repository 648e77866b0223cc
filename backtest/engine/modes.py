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
    """How direction entries share the one cash pool (``size`` with ``size_type=equity_fraction``)."""

    fixed_fraction = 0  # each entry spends size x equity (capped by buying power)
    equal = 1  # each entry spends size x equity / the number of symbols


class Reason(Mode):
    """Why an order was filled (the ``reason`` / ``exit_reason`` columns)."""

    signal = 0
    stop_loss = 1
    take_profit = 2
    trailing_stop = 3
    end = 4
