"""Shaping query results: one time index for several symbols (the missing-bar rule), time zones,
and the pivot into :class:`BarArrays` for the engine."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import polars as pl

from backtest.feed.kernels import place_bars_nb, slot_rows_nb
from backtest.feed.request import FeedError

PRICES = ("open", "high", "low", "close")
ARRAY_FIELDS = (*PRICES, "volume")


class BarArrays(NamedTuple):
    """Bars as contiguous float64 arrays of shape ``(n_bars, n_symbols)`` for the engine.

    ``index`` holds the bar times (``datetime64[us]``, UTC); missing values are NaN.
    """

    index: np.ndarray
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def bar_arrays(frame: pl.DataFrame) -> BarArrays:
    """Pivot a long bar frame (``ts``, ``symbol``, OHLCV) into :class:`BarArrays`.

    Symbols keep their order of first appearance; a (ts, symbol) pair absent
    from the frame is NaN.

    >>> import datetime as dt
    >>> t = [dt.datetime(2024, 1, 2, h, tzinfo=dt.timezone.utc) for h in (9, 9, 10)]
    >>> frame = pl.DataFrame({"ts": t, "symbol": ["A", "B", "A"], "open": [1.0, 2.0, 3.0],
    ...     "high": [1.0, 2.0, 3.0], "low": [1.0, 2.0, 3.0], "close": [1.0, 2.0, 3.0], "volume": [5.0, 6.0, 7.0]})
    >>> bar_arrays(frame).close
    array([[ 1.,  2.],
           [ 3., nan]])
    """
    absent = [name for name in ("ts", "symbol", *ARRAY_FIELDS) if name not in frame.columns]
    if absent:
        raise FeedError(f"frame: missing column {absent[0]!r}; pass a frame from Feed.bars or Feed.ohlcv")
    symbols = tuple(frame["symbol"].unique(maintain_order=True).to_list())
    micros = frame["ts"].dt.epoch("us").to_numpy()
    index = _distinct_sorted(micros)
    rows = np.searchsorted(index, micros)
    cols = frame["symbol"].cast(pl.Enum(symbols)).to_physical().to_numpy().astype(np.intp)
    _require_one_per_cell(rows, cols, len(index), len(symbols))
    arrays = {}
    for name in ARRAY_FIELDS:
        values = np.full((len(index), len(symbols)), np.nan)
        values[rows, cols] = frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        arrays[name] = values
    return BarArrays(index.view("datetime64[us]"), symbols, **arrays)


def scatter_bars(seconds: np.ndarray, symbol_index: np.ndarray, fields: dict[str, np.ndarray],
                 symbols: tuple[str, ...], *, resolution: int = 1) -> BarArrays:
    """:class:`BarArrays` from bars given as columns in any order, with the missing-bar rule applied.

    ``seconds`` labels each bar (epoch seconds, multiples of ``resolution``: 60 for minute bars),
    ``symbol_index`` is its column in ``symbols``, ``fields`` holds open/high/low/close/volume.
    The result equals ``bar_arrays(align(frame))`` of the same bars: one row per time any symbol
    has a bar; a symbol without a bar there carries its previous close as open/high/low/close with
    volume 0 (NaN prices before its first).

    >>> import numpy as np
    >>> one = np.array([1.0, 2.0, 3.0])
    >>> bars = scatter_bars(np.array([120, 60, 120]), np.array([0, 0, 1]), dict(open=one, high=one, low=one,
    ...                     close=one, volume=one), ("A", "B"), resolution=60)
    >>> bars.close.tolist(), bars.volume.tolist()
    ([[2.0, nan], [1.0, 3.0]], [[2.0, 0.0], [1.0, 3.0]])
    """
    seconds = seconds.astype(np.int64, copy=False)
    if seconds.size == 0:
        empty = np.empty((0, len(symbols)))
        return BarArrays(np.empty(0, "datetime64[us]"), symbols, *(empty.copy() for _ in ARRAY_FIELDS))
    first = int(seconds.min())
    n_slots = (int(seconds.max()) - first) // resolution + 1
    if n_slots <= 4 * seconds.size + 1024:  # times on a grid: distinct and sorted in O(n)
        times, rows = slot_rows_nb(seconds, first, resolution, n_slots)
    else:
        times = np.unique(seconds)
        rows = np.searchsorted(times, seconds)
    arrays = place_bars_nb(rows, symbol_index,
                           *(fields[name].astype(np.float64, copy=False) for name in ARRAY_FIELDS),
                           times.size, len(symbols))
    if arrays[0].shape != (times.size, len(symbols)):
        raise FeedError("frame: more than one row per (ts, symbol)")
    index = (times * 1_000_000).view("datetime64[us]")
    return BarArrays(index, symbols, *arrays)


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct ``values``, sorted (in O(n) when they already are)."""
    if values.size and np.all(values[1:] >= values[:-1]):
        return values[np.concatenate(([True], values[1:] != values[:-1]))]
    return np.unique(values)


def _require_one_per_cell(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> None:
    if rows.size and np.bincount(rows * n_cols + cols, minlength=n_rows * n_cols).max() > 1:
        raise FeedError("frame: more than one row per (ts, symbol)")


def align(frame: pl.DataFrame, symbols: list[str]) -> pl.DataFrame:
    """One row per (ts, symbol) on the union of bar times; apply the missing-bar rule.

    One symbol whose bars all have a close is already aligned (the queries return
    one row per ts, in ts order), so it is returned as it is.

    >>> import datetime as dt
    >>> t = [dt.datetime(2024, 1, 2, h) for h in (9, 10)]
    >>> frame = pl.DataFrame({"ts": t, "symbol": ["A", "B"], "open": [1.0, 2.0], "high": [1.0, 2.0],
    ...                       "low": [1.0, 2.0], "close": [1.0, 2.0], "volume": [5.0, 6.0]})
    >>> align(frame, ["A", "B"]).select("symbol", "close", "volume").rows()
    [('A', 1.0, 5.0), ('B', None, 0.0), ('A', 1.0, 0.0), ('B', 2.0, 6.0)]
    """
    if len(symbols) == 1 and frame["close"].null_count() == 0:
        return frame
    grid = frame.select(pl.col("ts").unique().sort()).join(pl.DataFrame({"symbol": symbols}), how="cross")
    aligned = grid.join(frame, on=["ts", "symbol"], how="left", maintain_order="left")
    missing = pl.col("close").is_null()
    carried = pl.col("close").forward_fill().over("symbol")
    fills = [pl.when(missing).then(carried).otherwise(pl.col(name)).alias(name) for name in PRICES]
    fills.append(pl.col("volume").fill_null(0.0))
    if "oi" in aligned.columns:  # imported bars: open interest stands until the next bar
        fills.append(pl.when(missing).then(pl.col("oi").forward_fill().over("symbol")).otherwise(pl.col("oi")))
    if "trades" in aligned.columns:
        fills.append(pl.col("trades").fill_null(0))
    return aligned.with_columns(fills)


def in_tz(frame: pl.DataFrame, tz: str | None) -> pl.DataFrame:
    """``frame`` with ``ts`` shown in time zone ``tz`` (None: left in UTC).

    >>> import datetime as dt
    >>> frame = pl.DataFrame({"ts": [dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.timezone.utc)]})
    >>> in_tz(frame, "America/New_York")["ts"][0].hour
    9
    """
    return frame if tz is None else frame.with_columns(pl.col("ts").dt.convert_time_zone(tz))
