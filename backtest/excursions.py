"""How far each trade went for and against it while open: MAE, MFE, bars held and duration.

For every trade the prices it lived through are its entry and exit fills and the
high and low of the bars it was held over:

* the bars strictly between the entry bar and the exit bar, whole;
* the entry bar, whole, when the entry filled at its open (bar execution with
  ``fill=next_open``: the whole bar follows the fill);
* the exit bar, whole, when the exit filled at its close (``fill=close`` on a
  signal, ``end`` with ``close_at_end``, or a trade still open, marked at the last
  close). A stop fills inside its bar, where the order of high and low is unknown:
  only its fill price counts; under tick execution both end bars count by their
  fills only.

With ``hi`` / ``lo`` the highest / lowest of those prices and ``p`` the entry
price, a long trade has ``mfe = hi / p - 1`` and ``mae = lo / p - 1``; a short
one ``mfe = 1 - lo / p`` and ``mae = 1 - hi / p``. So ``mae <= 0 <= mfe``, both
fractions of the entry price, and a trade's own return on price lies between them.

>>> import numpy as np, polars as pl
>>> trades = pl.DataFrame({"column": [0], "direction": ["long"], "entry_bar": [1], "exit_bar": [3],
...                        "entry_price": [100.0], "exit_price": [104.0], "exit_reason": ["signal"],
...                        "is_open": [False]})
>>> high = np.array([[101.0], [106.0], [103.0], [105.0]]); low = np.array([[99.0], [97.0], [95.0], [104.0]])
>>> index = np.arange("2024-01-01", "2024-01-05", dtype="datetime64[D]")
>>> trade_excursions(trades, index=index, high=high, low=low).with_columns(pl.col("mae", "mfe").round(9)).rows()
[(2, datetime.timedelta(days=2), -0.05, 0.06)]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from backtest.engine.modes import Execution, Fill
from backtest.engine.rules import EngineConfig

if TYPE_CHECKING:
    from backtest.runner import RunResult

__all__ = ["EXCURSION_COLUMNS", "run_excursions", "trade_excursions"]

EXCURSION_COLUMNS = ("bars_held", "duration", "mae", "mfe")
"""The columns :func:`trade_excursions` returns, in order."""

_AT_CLOSE = ("end",)  # exit reasons that fill at the exit bar's close whatever the fill rule


def trade_excursions(trades: pl.DataFrame, *, index: np.ndarray, high: np.ndarray, low: np.ndarray,
                     engine: EngineConfig | None = None) -> pl.DataFrame:
    """Per row of ``trades`` (the engine's trade records): ``bars_held``, ``duration``, ``mae``, ``mfe``.

    ``index``, ``high``, ``low``: the run's bar times and ``(bars, columns)`` prices;
    ``engine``: the rules it ran under (default :class:`EngineConfig`), which say whether
    the entry and exit bars were held whole (module docstring). NaN prices are skipped.

    >>> import numpy as np, polars as pl
    >>> short = pl.DataFrame({"column": [0], "direction": ["short"], "entry_bar": [0], "exit_bar": [2],
    ...                       "entry_price": [50.0], "exit_price": [45.0], "exit_reason": ["signal"],
    ...                       "is_open": [False]})
    >>> hl = np.array([[52.0], [49.0], [60.0]]), np.array([[48.0], [40.0], [30.0]])
    >>> index = np.array([0, 60, 120], dtype="datetime64[s]")
    >>> moves = trade_excursions(short, index=index, high=hl[0], low=hl[1], engine=EngineConfig(fill="close"))
    >>> moves.with_columns(pl.col("mae", "mfe").round(9)).row(0)
    (2, datetime.timedelta(seconds=120), -0.2, 0.4)
    """
    engine = engine or EngineConfig()
    high = np.asarray(high, dtype=np.float64).reshape(len(high), -1)
    low = np.asarray(low, dtype=np.float64).reshape(len(low), -1)
    times = np.asarray(index).astype("datetime64[us]")
    on_bars = engine.execution is Execution.bars
    entry_whole = on_bars and engine.fill is Fill.next_open
    column, entry, exit_ = (trades[name].to_numpy() for name in ("column", "entry_bar", "exit_bar"))
    entry_price, exit_price = trades["entry_price"].to_numpy(), trades["exit_price"].to_numpy()
    reason = trades["exit_reason"].cast(pl.String).fill_null("open").to_numpy()
    exit_whole = (trades["is_open"].to_numpy() | np.isin(reason, _AT_CLOSE)
                  | (on_bars and engine.fill is Fill.close) & (reason == "signal"))
    first = entry + (0 if entry_whole else 1)
    last = exit_ + exit_whole.astype(np.int64)  # exclusive
    held_high, held_low = _window_extremes(high, low, column, first, last)
    hi = np.fmax(np.maximum(entry_price, exit_price), held_high)
    lo = np.fmin(np.minimum(entry_price, exit_price), held_low)
    long = trades["direction"].cast(pl.String).to_numpy() == "long"
    mfe = np.where(long, hi / entry_price - 1.0, 1.0 - lo / entry_price)
    mae = np.where(long, lo / entry_price - 1.0, 1.0 - hi / entry_price)
    duration = (times[exit_] - times[entry]) if trades.height else np.array([], dtype="timedelta64[us]")
    return pl.DataFrame({"bars_held": exit_ - entry, "duration": pl.Series(duration, dtype=pl.Duration("us")),
                         "mae": mae, "mfe": mfe}, schema={"bars_held": pl.Int64, "duration": pl.Duration("us"),
                                                          "mae": pl.Float64, "mfe": pl.Float64})


def run_excursions(result: RunResult) -> pl.DataFrame:
    """:func:`trade_excursions` of a run's trades, on its bars and under its rules."""
    bars = result.bars
    return trade_excursions(result.simulation.trades, index=bars.index, high=bars.high, low=bars.low,
                            engine=result.engine)


def _window_extremes(high: np.ndarray, low: np.ndarray, column: np.ndarray, first: np.ndarray,
                     last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Highest ``high`` and lowest ``low`` of column ``column[i]`` over bars ``[first[i], last[i])`` (NaN: none).

    One ``reduceat`` over the columns laid end to end, each followed by a NaN row, so
    every window is a slice ``[start, stop)`` of the flat array; windows may overlap.
    """
    rows = high.shape[0] + 1
    pad = np.full((1, high.shape[1]), np.nan)
    flat_high = np.concatenate([high, pad]).T.ravel()
    flat_low = np.concatenate([low, pad]).T.ravel()
    held = last > first
    start, stop = (column * rows + np.clip(edge, 0, rows - 1) for edge in (first, last))
    pairs = np.column_stack([start, np.where(held, stop, start)]).ravel()  # an empty window: dropped below
    if not len(pairs):
        return np.empty(0), np.empty(0)
    with np.errstate(invalid="ignore"):
        top, bottom = np.fmax.reduceat(flat_high, pairs)[::2], np.fmin.reduceat(flat_low, pairs)[::2]
    return np.where(held, top, np.nan), np.where(held, bottom, np.nan)
