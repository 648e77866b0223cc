"""The engine's Python layer: check the config, make one kernel call, wrap the result.

Rules (all fields of :class:`EngineConfig`, Hydra group ``conf/engine/``):

* **Fill timing** -- ``fill="next_open"`` (default): a signal read at bar t's
  close fills at bar t+1's open; a column whose next open is missing fills at
  its next bar that has one. ``fill="close"``: it fills at bar t's close.
* **Costs** -- a fill at price p of u units pays ``|u| * p' * fees_bps / 1e4 +
  fee_fixed`` where ``p' = p * (1 +- slippage_bps / 1e4)`` (buys pay more,
  sells get less). Fees are charged on entries and exits.
* **Signals** -- ``signals="direction"``: per bar and column +1 go/stay long,
  -1 go/stay short, 0 go flat, NaN keep whatever is held; a position is never
  resized while the side is unchanged, and a reversal closes then reopens.
  ``signals="target"``: the signal is the signed fraction of equity to hold
  (rebalanced whenever it is not NaN). ``direction`` turns forbidden sides into
  flat (``long_only``, ``short_only``, ``both``).
* **Sizing** (direction signals) -- ``size_type="equity_fraction"``: spend
  ``size x equity``; ``"cash"``: spend ``size`` in cash; ``"units"``: buy
  ``size`` units. Fees come out of the budget, orders are capped by buying
  power (equity not already tied up in positions: no leverage), and
  ``whole_units`` rounds down to whole units. An order that affords nothing is
  skipped. Exits always fill in full, so a short that has lost more than the
  equity leaves cash and equity negative (there is no margin call).
* **Several columns, one cash pool** -- at each fill time every column's
  reductions fill before any column's additions, in column order.
* **Stops** -- ``stop_loss``, ``take_profit``, ``trailing_stop`` are fractions
  of the entry price (trailing: of the best high/low of completed bars since
  entry). They are checked on each bar's high and low, from the entry bar on
  for next-open fills and from the bar after the entry for close fills. A gap
  through a level fills at the open. When one bar touches a loss-side stop and
  the take-profit, the loss side wins (the pessimistic reading of an OHLC bar).
* **End** -- ``close_at_end=True`` closes what is open at the last close
  (reason ``end``); otherwise open trades are listed with ``is_open`` and
  marked to the last price, and the stats count only closed trades.

>>> import numpy as np
>>> close = np.array([[10.0], [11.0], [12.0], [11.0], [13.0]])
>>> signal = np.array([[1.0], [np.nan], [0.0], [np.nan], [np.nan]])
>>> result = run(close, close, close, close, signal, EngineConfig(init_cash=1000, fill="close"))
>>> result.equity.round(2).tolist()
[1000.0, 1100.0, 1200.0, 1200.0, 1200.0]
>>> result.trades.select("entry_price", "exit_price", "pnl", "exit_reason").row(0)
(10.0, 12.0, 200.0, 'signal')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from backtest.engine import kernels as nb
from backtest.errors import BacktestError
from strategies.signal_events import SignalEvents

_CHOICES = {
    "fill": ("next_open", "close"),
    "signals": ("direction", "target"),
    "direction": ("long_only", "short_only", "both"),
    "size_type": ("equity_fraction", "cash", "units"),
}
REASONS = ("signal", "stop_loss", "take_profit", "trailing_stop", "end")


@dataclass(frozen=True)
class EngineConfig:
    """Simulation rules; every field is checked on construction.

    >>> EngineConfig(fees_bps=-1)
    Traceback (most recent call last):
    backtest.errors.BacktestError: engine.fees_bps: -1 must be >= 0
    >>> EngineConfig(fill="open")
    Traceback (most recent call last):
    backtest.errors.BacktestError: engine.fill: 'open' is not one of next_open, close
    """

    init_cash: float = 10_000.0
    fill: str = "next_open"
    fees_bps: float = 0.0
    fee_fixed: float = 0.0
    slippage_bps: float = 0.0
    signals: str = "direction"
    direction: str = "both"
    size_type: str = "equity_fraction"
    size: float = 1.0
    whole_units: bool = False
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    close_at_end: bool = True

    def __post_init__(self) -> None:
        for name, options in _CHOICES.items():
            if getattr(self, name) not in options:
                raise BacktestError(f"engine.{name}: {getattr(self, name)!r} is not one of {', '.join(options)}")
        for name in ("whole_units", "close_at_end"):
            if not isinstance(getattr(self, name), bool):
                raise BacktestError(f"engine.{name}: {getattr(self, name)!r} is not true or false")
        _check_number("init_cash", self.init_cash, positive=True)
        _check_number("size", self.size, positive=True)
        for name in ("fees_bps", "fee_fixed", "slippage_bps"):
            _check_number(name, getattr(self, name))
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), positive=True)
        if self.stop_loss is not None and self.stop_loss >= 1:
            raise BacktestError(f"engine.stop_loss: {self.stop_loss} must be a fraction below 1 (0.02 = 2%)")
        if self.signals == "direction" and self.size_type == "equity_fraction" and self.size > 1:
            raise BacktestError(f"engine.size: {self.size} is above 1 (no leverage) for size_type equity_fraction")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> EngineConfig:
        """Build from a Hydra/dict node; unknown keys are an error naming them.

        >>> EngineConfig.from_mapping({"fees_bps": 2, "fill": "close"}).fees_bps
        2
        >>> EngineConfig.from_mapping({"fee": 2})
        Traceback (most recent call last):
        backtest.errors.BacktestError: engine.fee: unknown setting (known: init_cash, fill, fees_bps, fee_fixed, slippage_bps, signals, direction, size_type, size, whole_units, stop_loss, take_profit, trailing_stop, close_at_end)
        """
        known = [f.name for f in fields(cls)]
        for key in values:
            if key not in known:
                raise BacktestError(f"engine.{key}: unknown setting (known: {', '.join(known)})")
        return cls(**dict(values))


def _check_number(name: str, value: object, positive: bool = False) -> None:
    """Raise unless ``value`` is a finite number, >= 0 (or > 0 with ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BacktestError(f"engine.{name}: {value!r} is not a finite number")
    if positive and value <= 0:
        raise BacktestError(f"engine.{name}: {value!r} must be > 0")
    if value < 0:
        raise BacktestError(f"engine.{name}: {value!r} must be >= 0")


@dataclass(frozen=True)
class SimulationResult:
    """What one simulation produced; rows of ``orders``/``trades`` refer to bar and column numbers.

    ``cash`` and ``positions`` (per bar, and per bar and column) are derived
    from the orders on first use: each order row carries the cash and the
    column's position after it.

    >>> prices = [10.0, 8.0, 12.0]
    >>> result = run(prices, prices, prices, prices, [1.0, np.nan, 0.0], EngineConfig(init_cash=100.0))
    >>> result.positions[:, 0].tolist(), result.cash.tolist(), result.equity.tolist()
    ([0.0, 12.5, 0.0], [100.0, 0.0, 150.0], [100.0, 100.0, 150.0])
    """

    equity: np.ndarray
    orders: pl.DataFrame
    trades: pl.DataFrame
    exposure_bars: int
    init_cash: float
    columns: int

    @cached_property
    def cash(self) -> np.ndarray:
        """Cash at the end of every bar."""
        return self._after_orders(self.orders["bar"].to_numpy(), self.orders["cash"].to_numpy(), self.init_cash)

    @cached_property
    def positions(self) -> np.ndarray:
        """Units held at the end of every bar, one column per price column."""
        out = np.zeros((len(self.equity), self.columns))
        column, bar, position = (self.orders[name].to_numpy() for name in ("column", "bar", "position"))
        for j in range(self.columns):
            mine = column == j
            out[:, j] = self._after_orders(bar[mine], position[mine], 0.0)
        return out

    def _after_orders(self, order_bars: np.ndarray, values: np.ndarray, before: float) -> np.ndarray:
        """Per bar, the value of the last order at or before it (``order_bars`` ascending); ``before`` until one."""
        last = np.searchsorted(order_bars, np.arange(len(self.equity)), side="right")
        return np.concatenate([[before], values])[last]


def kernel_arguments(config: EngineConfig) -> tuple:
    """The rule arguments of :func:`backtest.engine.kernels.simulate_into_nb`, in order."""
    nan = float("nan")
    return (
        float(config.init_cash),
        config.fill == "close",
        config.fees_bps / 1e4,
        float(config.fee_fixed),
        config.slippage_bps / 1e4,
        _CHOICES["signals"].index(config.signals),
        (nb.LONG_ONLY, nb.SHORT_ONLY, nb.BOTH)[_CHOICES["direction"].index(config.direction)],
        _CHOICES["size_type"].index(config.size_type),
        float(config.size),
        config.whole_units,
        nan if config.stop_loss is None else float(config.stop_loss),
        nan if config.take_profit is None else float(config.take_profit),
        nan if config.trailing_stop is None else float(config.trailing_stop),
        config.close_at_end,
    )


def run(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
        signal: np.ndarray | SignalEvents, config: EngineConfig) -> SimulationResult:
    """Simulate ``signal`` over prices of shape ``(n_bars, n_columns)`` (1-D means one column).

    ``signal`` is a dense array shaped like the prices or its :class:`SignalEvents`.
    """
    prices = [_as_matrix(name, a) for name, a in (("open", open_), ("high", high), ("low", low), ("close", close))]
    shape = prices[3].shape
    if not isinstance(signal, SignalEvents):
        signal = SignalEvents.from_dense(_as_matrix("signal", signal))
    for name, found in zip(("open", "high", "low", "signal"),
                           [a.shape for a in prices[:3]] + [(signal.n_bars, signal.columns)]):
        if found != shape:
            raise BacktestError(f"{name}: shape {found} differs from close's {shape}")
    # numpy allocates the buffers: its large arrays are backed by huge pages where the OS allows,
    # which makes the first touch of a 1M-bar equity curve several times cheaper than numba's
    cells = nb.signal_cells_nb(signal.rows)
    equity = np.empty(shape[0])
    orders = np.empty((nb.ORDER_FIELDS, 3 * cells + shape[1]))
    trades = np.empty((nb.TRADE_FIELDS, cells + shape[1]))
    n_orders, _, n_trades, exposure = nb.simulate_into_nb(
        *prices, signal.bars, signal.rows, *kernel_arguments(config), equity, orders, trades,
        np.empty((nb.STATE_FIELDS, shape[1])))
    return SimulationResult(equity, _orders_frame(orders[:, :n_orders]), _trades_frame(trades[:, :n_trades]),
                            int(exposure), float(config.init_cash), shape[1])


def _as_matrix(name: str, values: np.ndarray) -> np.ndarray:
    """A C-contiguous float64 2-D view (a 1-D array becomes one column)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise BacktestError(f"{name}: expected 1 or 2 dimensions, got {array.ndim}")
    return np.ascontiguousarray(array)


_DIRECTIONS = pl.Series(["short", "long"], dtype=pl.Enum(["short", "long"]))
_REASON_NAMES = pl.Series([*REASONS, None], dtype=pl.Enum(REASONS))  # code -1 (still open) reads the null


def _reason_names(codes: np.ndarray) -> pl.Series:
    """Reason codes as an ``Enum`` of :data:`REASONS`; -1 (a trade still open) becomes null."""
    return _REASON_NAMES.gather(pl.Series(np.where(codes < 0, len(REASONS), codes).astype(np.uint32)))


def _orders_frame(orders: np.ndarray) -> pl.DataFrame:
    """Order rows as a typed frame."""
    return pl.DataFrame({
        "bar": orders[nb.ORDER_BAR].astype(np.int64),
        "column": orders[nb.ORDER_COL].astype(np.int64),
        "size": orders[nb.ORDER_SIZE],
        "price": orders[nb.ORDER_PRICE],
        "fees": orders[nb.ORDER_FEES],
        "reason": _reason_names(orders[nb.ORDER_REASON]),
        "position": orders[nb.ORDER_POSITION],
        "cash": orders[nb.ORDER_CASH],
    })


def _trades_frame(trades: np.ndarray) -> pl.DataFrame:
    """Trade rows as a typed frame; ``exit_reason`` is null for trades still open."""
    return pl.DataFrame({
        "column": trades[nb.TRADE_COL].astype(np.int64),
        "direction": _DIRECTIONS.gather(pl.Series((trades[nb.TRADE_DIRECTION] > 0).astype(np.uint32))),
        "entry_bar": trades[nb.TRADE_ENTRY_BAR].astype(np.int64),
        "exit_bar": trades[nb.TRADE_EXIT_BAR].astype(np.int64),
        "size": trades[nb.TRADE_SIZE],
        "entry_price": trades[nb.TRADE_ENTRY_PRICE],
        "exit_price": trades[nb.TRADE_EXIT_PRICE],
        "fees": trades[nb.TRADE_FEES],
        "pnl": trades[nb.TRADE_PNL],
        "return": trades[nb.TRADE_RETURN],
        "exit_reason": _reason_names(trades[nb.TRADE_EXIT_REASON]),
        "is_open": trades[nb.TRADE_IS_OPEN] > 0,
    })
