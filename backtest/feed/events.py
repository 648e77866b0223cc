"""Trades and quotes as numpy arrays for the tick engine: one time window, every requested symbol, in time order.

:meth:`backtest.feed.Feed.trade_arrays` and :meth:`~backtest.feed.Feed.quote_arrays` read a window with
:mod:`warehouse.feed_quotes` and wrap the Arrow result here without copying where Arrow allows it (one
chunk, no nulls): ``ts`` and ``column`` are the query's own buffers, and each side's 5 prices or quantities,
returned by the query as one fixed-length list per quote, are that list's flat values seen as ``(n, 5)``.
Arrays viewed on Arrow buffers are read-only (``flags.writeable`` False): copy one to change it.

>>> import pyarrow as pa
>>> table = pa.table({"ts": pa.array([5, 7], pa.int64()), "column": pa.array([1, 0], pa.int32()),
...                   "price": [10.0, 11.0], "size": [1.0, 2.0]})
>>> trades = trade_arrays(table)
>>> trades.ts.tolist(), trades.column.dtype, trades.price.flags.c_contiguous
([5, 7], dtype('int32'), True)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from backtest.engine.kernels.tick_records import QuoteStream, TradeStream

LEVELS = 5


# the tick engine's input records, filled here (one definition: backtest/engine/kernels/tick_records.py)
TradeArrays = TradeStream
QuoteArrays = QuoteStream


def _flat(column: pa.ChunkedArray) -> np.ndarray:
    """A column's values as numpy: the Arrow buffer itself when it is one chunk without nulls."""
    array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return array.to_numpy(zero_copy_only=False)


def _levels(column: pa.ChunkedArray) -> np.ndarray:
    """A list column of 5 values per row as ``(n, 5)`` float64, viewing the lists' flat values when it can."""
    array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if len(array) == 0:
        return np.empty((0, LEVELS))
    offsets = array.offsets.to_numpy()
    flat = array.values.to_numpy(zero_copy_only=False)[offsets[0]:offsets[-1]]
    return np.ascontiguousarray(flat.reshape(len(array), LEVELS))


def trade_arrays(table: pa.Table) -> TradeArrays:
    """:class:`TradeArrays` of a ``trade_columns`` result (``ts``, ``column``, ``price``, ``size``)."""
    return TradeArrays(*(np.ascontiguousarray(_flat(table.column(name)))
                         for name in ("ts", "column", "price", "size")))


def quote_arrays(table: pa.Table) -> QuoteArrays:
    """:class:`QuoteArrays` of a ``quote_columns`` result (``ts``, ``column`` and four list columns).

    >>> table = pa.table({"ts": pa.array([1], pa.int64()), "column": pa.array([0], pa.int32()),
    ...                   **{name: pa.array([[1.0, 2.0, 3.0, 4.0, float("nan")]]) for name in
    ...                      ("bid_px", "bid_qty", "ask_px", "ask_qty")}})
    >>> quotes = quote_arrays(table)
    >>> quotes.bid_px.shape, quotes.bid_px[0].tolist()
    ((1, 5), [1.0, 2.0, 3.0, 4.0, nan])
    """
    return QuoteArrays(np.ascontiguousarray(_flat(table.column("ts"))),
                       np.ascontiguousarray(_flat(table.column("column"))),
                       *(_levels(table.column(name)) for name in ("bid_px", "bid_qty", "ask_px", "ask_qty")))
