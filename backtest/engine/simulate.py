"""The engine's Python layer: check the config, make one kernel call, wrap the result.

The rules are :class:`~backtest.engine.rules.EngineConfig` (documented in
:mod:`backtest.engine.rules`); the kernels are :mod:`backtest.engine.kernels`.

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

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

from backtest.engine import kernels as nb
from backtest.engine.kernels import records as rec
from backtest.engine.modes import Reason
from backtest.engine.rules import EngineConfig, kernel_rules
from backtest.errors import BacktestError
from strategies.indicators.events import SignalEvents

__all__ = ["EngineConfig", "SimulationResult", "run"]

REASONS = tuple(reason.name for reason in Reason)


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
    fills: pl.DataFrame | None = None  # tick execution: one row per order, with its times and slippage

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


def run(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
        signal: np.ndarray | SignalEvents, config: EngineConfig) -> SimulationResult:
    """Simulate ``signal`` over prices of shape ``(n_bars, n_columns)`` (1-D means one column).

    ``signal`` is a dense array shaped like the prices or its :class:`SignalEvents`;
    the prices and the rules are checked, then one kernel call
    (:func:`~backtest.engine.kernels.loop.simulate_into_nb`) does the work.

    >>> prices = [10.0, 11.0, 9.0]
    >>> result = run(prices, prices, prices, prices, [-1.0, np.nan, np.nan], EngineConfig(init_cash=100.0))
    >>> result.equity.round(2).tolist(), result.trades["exit_reason"].to_list()
    ([100.0, 100.0, 118.18], ['end'])
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
    orders = np.empty((rec.ORDER_FIELDS, 3 * cells + shape[1]))
    trades = np.empty((rec.TRADE_FIELDS, cells + shape[1]))
    n_orders, _, n_trades, exposure = nb.simulate_into_nb(
        nb.Prices(*prices), signal.bars, signal.rows, kernel_rules(config), equity, orders, trades,
        np.empty((rec.STATE_FIELDS, shape[1])))
    return SimulationResult(equity, orders_frame(orders[:, :n_orders]), trades_frame(trades[:, :n_trades]),
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


def reason_names(codes: np.ndarray) -> pl.Series:
    """Reason codes as an ``Enum`` of :data:`REASONS`; -1 (a trade still open) becomes null."""
    return _REASON_NAMES.gather(pl.Series(np.where(codes < 0, len(REASONS), codes).astype(np.uint32)))


def orders_frame(orders: np.ndarray) -> pl.DataFrame:
    """Order rows as a typed frame."""
    return pl.DataFrame({
        "bar": orders[rec.ORDER_BAR].astype(np.int64),
        "column": orders[rec.ORDER_COL].astype(np.int64),
        "size": orders[rec.ORDER_SIZE],
        "price": orders[rec.ORDER_PRICE],
        "fees": orders[rec.ORDER_FEES],
        "reason": reason_names(orders[rec.ORDER_REASON]),
        "position": orders[rec.ORDER_POSITION],
        "cash": orders[rec.ORDER_CASH],
    })


def trades_frame(trades: np.ndarray) -> pl.DataFrame:
    """Trade rows as a typed frame; ``exit_reason`` is null for trades still open."""
    return pl.DataFrame({
        "column": trades[rec.TRADE_COL].astype(np.int64),
        "direction": _DIRECTIONS.gather(pl.Series((trades[rec.TRADE_DIRECTION] > 0).astype(np.uint32))),
        "entry_bar": trades[rec.TRADE_ENTRY_BAR].astype(np.int64),
        "exit_bar": trades[rec.TRADE_EXIT_BAR].astype(np.int64),
        "size": trades[rec.TRADE_SIZE],
        "entry_price": trades[rec.TRADE_ENTRY_PRICE],
        "exit_price": trades[rec.TRADE_EXIT_PRICE],
        "fees": trades[rec.TRADE_FEES],
        "pnl": trades[rec.TRADE_PNL],
        "return": trades[rec.TRADE_RETURN],
        "exit_reason": reason_names(trades[rec.TRADE_EXIT_REASON]),
        "is_open": trades[rec.TRADE_IS_OPEN] > 0,
    })
