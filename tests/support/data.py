"""Test data made in one place: the ``backtesting`` package's bundled bars, seeded demo ticks, random walks,
and frames or columns wrapped as :class:`~backtest.feed.BarArrays`."""

from __future__ import annotations

from pathlib import Path

import backtesting
import numpy as np
import pandas as pd
import pyarrow as pa

from backtest.feed import BarArrays
from warehouse.demo.generate import SCHEMA, DemoSpec, generate
from warehouse.ingest.ohlcv import OhlcvReport, load_ohlcv

BACKTESTING_DATA = Path(backtesting.__file__).parent / "test"  # GOOG.csv (1d) and EURUSD.csv (1h)
GOOG_CSV = BACKTESTING_DATA / "GOOG.csv"


def load_goog(client) -> OhlcvReport:
    """GOOG daily bars (2,148 of them, 2004-08-19 to 2013-03-01) into ``client``'s ``ohlcv``."""
    return load_ohlcv(client, GOOG_CSV)


def demo_ticks(spec: DemoSpec) -> pa.Table:
    """The whole demo stream of ``spec`` as one table."""
    return pa.Table.from_batches(list(generate(spec)), schema=SCHEMA)


def geometric_walk(rng: np.random.Generator, shape: int | tuple[int, ...], sigma: float,
                   level: float = 100.0) -> np.ndarray:
    """Prices ``level * exp(cumsum(normal(0, sigma)))`` along the first axis, drawn from ``rng``."""
    return level * np.exp(np.cumsum(rng.normal(0, sigma, shape), axis=0))


def frame_bars(frame: pd.DataFrame, symbol: str) -> BarArrays:
    """A pandas frame of Open/High/Low/Close/Volume (``backtesting``'s layout) as one-symbol bars."""
    columns = [np.ascontiguousarray(frame[c].to_numpy(float))[:, None] for c in ("Open", "High", "Low", "Close", "Volume")]
    return BarArrays(frame.index.to_numpy().astype("datetime64[us]"), (symbol,), *columns)


def close_bars(close: np.ndarray, index: np.ndarray, symbol: str = "X") -> BarArrays:
    """One symbol whose open, high, low, close and volume are all ``close`` (for close-only comparisons)."""
    column = np.ascontiguousarray(close, dtype=np.float64)[:, None]
    return BarArrays(index.astype("datetime64[us]"), (symbol,), column, column, column, column, column)
