"""The engine's rules: one frozen, documented record, :class:`EngineConfig` (Hydra group ``conf/engine/``).

* **Fill timing** (``fill``, :class:`~backtest.engine.modes.Fill`) -- ``next_open``
  (default): a signal read at bar t's close fills at bar t+1's open; a column
  whose next open is missing fills at its next bar that has one. ``close``: it
  fills at bar t's close.
* **Costs** -- a fill at price p of u units pays ``|u| * p' * fees_bps / 1e4 +
  fee_fixed`` where ``p' = p * (1 +- slippage_bps / 1e4)`` (buys pay more,
  sells get less). Fees are charged on entries and exits.
* **Signals** (``signals``, :class:`~backtest.engine.modes.Signals`) --
  ``direction``: per bar and column +1 go/stay long, -1 go/stay short, 0 go
  flat, NaN keep whatever is held; a position is never resized while the side
  is unchanged, and a reversal closes then reopens. ``target``: the signal is
  the signed fraction of equity to hold (rebalanced whenever it is not NaN).
  ``direction`` (:class:`~backtest.engine.modes.Direction`) turns forbidden
  sides into flat (``long_only``, ``short_only``, ``both``).
* **Sizing** (direction signals; ``size_type``, :class:`~backtest.engine.modes.SizeType`)
  -- ``equity_fraction``: spend ``size x equity``; ``cash``: spend ``size`` in
  cash; ``units``: buy ``size`` units. Fees come out of the budget, orders are
  capped by buying power (equity not already tied up in positions: no
  leverage), and ``whole_units`` rounds down to whole units. An order that
  affords nothing is skipped. Exits always fill in full, so a short that has
  lost more than the equity leaves cash and equity negative (there is no
  margin call).
* **Allocation** (``allocation``, :class:`~backtest.engine.modes.Allocation`) -- how
  orders share the one cash pool. Direction entries have a budget, ``size x equity``
  (``size`` in cash with ``size_type=cash``; ``units`` ignores the allocation):
  ``fixed_fraction`` (default): each entry spends the budget; ``equal``: the budget /
  number of symbols, so every symbol can hold its share at once; ``signal_weight``: the
  budget x ``|s| / S``, ``s`` the entry's signal and ``S`` the sum of ``|signal|`` over
  every column whose signal fills at that time (columns already holding that side count
  and are not resized: their share stays in cash), so that time's entries spend at most
  the budget between them, in proportion to their signals' strength. E.g. equity 1000,
  ``size=1``, signals +1, +0.5, -0.5 at one fill time: 500 long, 250 long, 250 short.
  With ``signal_weight`` a strategy's signals may be any finite number (the sign is the
  side); the other rules take only +1/-1/0/NaN from a strategy. ``target_weights``: the
  signals are target weights, each column rebalanced to its signed fraction of equity
  (``signals=target``, what a strategy's ``weights(bars)`` gets): the two names are one
  path and a strategy run sets both (:func:`backtest.runner.engine_for`, where a direction
  allocation with weights, or ``target_weights`` with direction signals, is a one-line
  error). Budgets are capped by buying power (below). **Rebalancing** (target signals) --
  ``rebalance_threshold``: a resize worth less than this fraction of equity is skipped
  (entries and exits fill).
* **Several columns, one cash pool** -- at each fill time every column's
  reductions fill before any column's additions, and every order is sized on
  one equity figure: target weights on the equity before any of that time's
  orders (vectorbt's ``targetpercent`` with ``cash_sharing`` and ``call_seq="auto"``),
  direction entries on the equity after the reductions. So the column order
  changes no number unless buying power runs out, which caps the additions
  in column order (size the entries, e.g. ``size=1/n``, to avoid it).
* **Stops** -- ``stop_loss``, ``take_profit``, ``trailing_stop`` are fractions
  of the entry price (trailing: of the best high/low of completed bars since
  entry). They are checked on each bar's high and low, from the entry bar on
  for next-open fills and from the bar after the entry for close fills. A gap
  through a level fills at the open. When one bar touches a loss-side stop and
  the take-profit, the loss side wins (the pessimistic reading of an OHLC bar).
* **Execution** (``execution``, :class:`~backtest.engine.modes.Execution`) -- ``bars``
  (default) fills as above; ``ticks`` fills on each symbol's own trades and quotes from the
  warehouse, after ``latency_ms`` (plus a seeded random ``latency_jitter_ms``), with
  ``order_type`` market/limit/stop/stop_limit, ``limit_offset_bps``, ``stop_offset_bps``,
  ``order_expiry_s``, ``queue`` and ``stop_fill`` (the rules: :mod:`backtest.engine.ticks`).
* **End** -- ``close_at_end=True`` closes what is open at the last close
  (reason ``end``); otherwise open trades are listed with ``is_open`` and
  marked to the last price, and the stats count only closed trades.

The modes are enums whose member names are the config words: ``engine.fill=close``
on the command line, ``fill: next_open`` in YAML and ``EngineConfig(fill="close")``
in Python all give :attr:`Fill.close <backtest.engine.modes.Fill.close>`.

>>> config = EngineConfig(fill="close", fees_bps=5)
>>> config.fill, str(config.fill)
(<Fill.close: 1>, 'close')
>>> kernel_rules(config).fee_rate
0.0005
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Optional

from backtest.engine.kernels.records import Rules
from backtest.engine.modes import (Allocation, Direction, Execution, Fill, Mode, OrderType, Queue, Signals, SizeType,
                                   StopFill)
from backtest.errors import BacktestError

__all__ = ["Allocation", "Direction", "EngineConfig", "Execution", "Fill", "OrderType", "Queue", "Signals", "SizeType",
           "StopFill", "kernel_rules"]


@dataclass(frozen=True)
class EngineConfig:
    """Simulation rules (see :mod:`backtest.engine.rules`); every field is checked on construction.

    Modes given as their names are stored as enum members.

    >>> EngineConfig(direction="long_only").direction
    <Direction.long_only: 0>
    >>> EngineConfig(fees_bps=-1)
    Traceback (most recent call last):
    backtest.errors.BacktestError: engine.fees_bps: -1 must be >= 0
    >>> EngineConfig(fill="open")
    Traceback (most recent call last):
    backtest.errors.BacktestError: engine.fill: 'open' is not one of next_open, close
    """

    init_cash: float = 10_000.0
    fill: Fill = Fill.next_open
    fees_bps: float = 0.0
    fee_fixed: float = 0.0
    slippage_bps: float = 0.0
    signals: Signals = Signals.direction
    direction: Direction = Direction.both
    size_type: SizeType = SizeType.equity_fraction
    size: float = 1.0
    allocation: Allocation = Allocation.fixed_fraction
    rebalance_threshold: float = 0.0
    whole_units: bool = False
    stop_loss: Optional[float] = None
    take_profit: Optional[float] = None
    trailing_stop: Optional[float] = None
    close_at_end: bool = True
    execution: Execution = Execution.bars
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    seed: int = 0
    order_type: OrderType = OrderType.market
    limit_offset_bps: float = 0.0
    stop_offset_bps: float = 0.0
    order_expiry_s: Optional[float] = None
    queue: Queue = Queue.conservative
    stop_fill: StopFill = StopFill.print

    def __post_init__(self) -> None:
        for name, mode in (("fill", Fill), ("signals", Signals), ("direction", Direction), ("size_type", SizeType),
                           ("allocation", Allocation), ("execution", Execution), ("order_type", OrderType),
                           ("queue", Queue), ("stop_fill", StopFill)):
            object.__setattr__(self, name, _as_mode(name, mode, getattr(self, name)))
        for name in ("whole_units", "close_at_end"):
            if not isinstance(getattr(self, name), bool):
                raise BacktestError(f"engine.{name}: {getattr(self, name)!r} is not true or false")
        _check_number("init_cash", self.init_cash, positive=True)
        _check_number("size", self.size, positive=True)
        for name in ("fees_bps", "fee_fixed", "slippage_bps", "rebalance_threshold"):
            _check_number(name, getattr(self, name))
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), positive=True)
        if self.stop_loss is not None and self.stop_loss >= 1:
            raise BacktestError(f"engine.stop_loss: {self.stop_loss} must be a fraction below 1 (0.02 = 2%)")
        if self.signals is Signals.direction and self.size_type is SizeType.equity_fraction and self.size > 1:
            raise BacktestError(f"engine.size: {self.size} is above 1 (no leverage) for size_type equity_fraction")
        self._check_tick_rules()

    def _check_tick_rules(self) -> None:
        """The tick-execution settings: numbers in range, and none of them set with bar execution."""
        for name in ("latency_ms", "latency_jitter_ms", "limit_offset_bps", "stop_offset_bps"):
            _check_number(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise BacktestError(f"engine.seed: {self.seed!r} is not a whole number")
        if self.order_expiry_s is not None:
            _check_number("order_expiry_s", self.order_expiry_s, positive=True)
        if self.limit_offset_bps >= 1e4:
            raise BacktestError(f"engine.limit_offset_bps: {self.limit_offset_bps} puts a buy limit at or below 0 "
                                "(it must be below 10000)")
        if self.execution is Execution.bars:
            for name, off in (("order_type", OrderType.market), ("latency_ms", 0.0), ("latency_jitter_ms", 0.0),
                              ("order_expiry_s", None)):
                if getattr(self, name) != off:
                    raise BacktestError(f"engine.{name}: {getattr(self, name)} needs engine.execution=ticks "
                                        "(bar execution fills market orders at bar prices)")
        elif self.allocation is Allocation.signal_weight:
            raise BacktestError("engine.allocation: signal_weight is not available with execution=ticks yet "
                                "(its shares are per bar fill time; use fixed_fraction or equal)")
        elif self.fill is Fill.close:
            raise BacktestError("engine.fill: close cannot be used with execution=ticks (orders fill on the ticks "
                                "after the decision at the bar's close)")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> EngineConfig:
        """Build from a Hydra/dict node; unknown keys are an error naming them.

        >>> EngineConfig.from_mapping({"fees_bps": 2, "fill": "close"}).fees_bps
        2
        >>> EngineConfig.from_mapping({"fee": 2})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        backtest.errors.BacktestError: engine.fee: unknown setting (known: init_cash, fill, fees_bps, ..., stop_fill)
        """
        known = [f.name for f in fields(cls)]
        for key in values:
            if key not in known:
                raise BacktestError(f"engine.{key}: unknown setting (known: {', '.join(known)})")
        return cls(**dict(values))


def kernel_rules(config: EngineConfig) -> Rules:
    """The rules as the kernels read them: numbers only, fractions divided out, unset stops NaN.

    >>> rules = kernel_rules(EngineConfig(direction="long_only", stop_loss=0.02))
    >>> rules.direction, rules.stop_loss, rules.take_profit
    (0, 0.02, nan)
    """
    if config.allocation is Allocation.target_weights and config.signals is Signals.direction:
        raise BacktestError("engine.allocation: target_weights reads the signals as target weights; set "
                            "engine.signals=target (a strategy with weights(bars) sets it itself)")
    nan = float("nan")
    return Rules(
        init_cash=float(config.init_cash),
        fill_at_close=config.fill is Fill.close,
        fee_rate=config.fees_bps / 1e4,
        fee_fixed=float(config.fee_fixed),
        slippage=config.slippage_bps / 1e4,
        signals=config.signals.value,
        direction=config.direction.value,
        size_type=config.size_type.value,
        size=float(config.size),
        allocation=config.allocation.value,
        rebalance_threshold=float(config.rebalance_threshold),
        whole_units=config.whole_units,
        stop_loss=nan if config.stop_loss is None else float(config.stop_loss),
        take_profit=nan if config.take_profit is None else float(config.take_profit),
        trailing_stop=nan if config.trailing_stop is None else float(config.trailing_stop),
        close_at_end=config.close_at_end,
    )


def _as_mode(name: str, mode: type[Mode], value: object) -> Mode:
    """``value`` as a member of ``mode``: a member, or its name; anything else is an error naming the choices."""
    if isinstance(value, mode):
        return value
    if isinstance(value, str) and value in mode.__members__:
        return mode[value]
    raise BacktestError(f"engine.{name}: {value!r} is not one of {mode.choices()}")


def _check_number(name: str, value: object, *, positive: bool = False) -> None:
    """Raise unless ``value`` is a finite number, >= 0 (or > 0 with ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BacktestError(f"engine.{name}: {value!r} is not a finite number")
    if positive and value <= 0:
        raise BacktestError(f"engine.{name}: {value!r} must be > 0")
    if value < 0:
        raise BacktestError(f"engine.{name}: {value!r} must be >= 0")
