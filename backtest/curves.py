"""Series derived from an equity curve: drawdown per bar, drawdown periods, returns per month, buy and hold.

Formulas: ``drawdown_t = equity_t / max(equity_0..t) - 1`` (0 at a new high,
negative below it); a month's return is its last equity over the previous
month's last equity - 1, the first month measured from the initial cash.
A drawdown period runs from a peak to the first bar back at or above it
(:func:`drawdown_periods`); the buy-and-hold benchmark splits the initial cash
equally over the symbols (:func:`buy_and_hold`).

>>> import numpy as np
>>> drawdown(np.array([100.0, 120.0, 90.0, 130.0])).tolist()
[0.0, 0.0, -0.25, 0.0]
"""

from __future__ import annotations

import numpy as np
import polars as pl


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Per bar: equity over its running peak, minus one (``<= 0``)."""
    equity = np.asarray(equity, dtype=np.float64)
    if not len(equity):
        return equity.copy()
    return equity / np.maximum.accumulate(equity) - 1.0


def monthly_returns(index: np.ndarray, equity: np.ndarray, init_cash: float) -> pl.DataFrame:
    """One row per calendar month (UTC) with bars: ``year``, ``month``, ``return``.

    >>> index = np.array(["2024-01-05", "2024-01-31", "2024-02-10", "2024-04-01"], dtype="datetime64[us]")
    >>> months = monthly_returns(index, np.array([100.0, 110.0, 99.0, 108.9]), 100.0)
    >>> [(year, month, round(value, 4)) for year, month, value in months.rows()]
    [(2024, 1, 0.1), (2024, 2, -0.1), (2024, 4, 0.1)]
    """
    frame = pl.DataFrame({"ts": np.asarray(index).astype("datetime64[us]"),
                          "equity": np.asarray(equity, dtype=np.float64)})
    months = (frame.group_by(pl.col("ts").dt.truncate("1mo").alias("month_start"), maintain_order=True)
              .agg(pl.col("equity").last())
              .sort("month_start"))
    previous = months["equity"].shift(1, fill_value=float(init_cash))
    return pl.DataFrame({
        "year": months["month_start"].dt.year(),
        "month": months["month_start"].dt.month().cast(pl.Int32),
        "return": months["equity"] / previous - 1.0,
    })


def drawdown_periods(equity: np.ndarray, index: np.ndarray, init_cash: float) -> pl.DataFrame:
    """Every drawdown of ``equity`` in time order, measured from ``init_cash`` before the first bar.

    Columns: ``start`` (the peak's bar; the first bar when the initial cash was
    the peak), ``valley`` (the lowest bar), ``recovery`` (the first bar at or above
    the peak; null while still under water), ``depth`` (valley over peak - 1),
    ``length`` (start to recovery, or to the last bar). The deepest ``depth`` is
    the run's max drawdown, the longest ``length`` its max drawdown duration.

    >>> days = np.array(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"], dtype="datetime64[us]")
    >>> periods = drawdown_periods(np.array([100.0, 90.0, 101.0, 95.0, 99.0]), days, 100.0)
    >>> [(str(s.date()), str(v.date()), r and str(r.date()), round(d, 4), n.days)
    ...  for s, v, r, d, n in periods.rows()]
    [('2024-01-01', '2024-01-02', '2024-01-03', -0.1, 2), ('2024-01-03', '2024-01-04', None, -0.0594, 2)]
    """
    curve = np.concatenate([[float(init_cash)], np.asarray(equity, dtype=np.float64)])
    times = np.concatenate([np.asarray(index[:1]), np.asarray(index)]).astype("datetime64[us]")
    depth = drawdown(curve)
    edges = np.diff(np.concatenate([[0], (depth < 0.0).astype(np.int8), [0]]))
    first, after = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # under water on [first, after)
    inside = np.flatnonzero(depth < 0.0)
    segment = np.searchsorted(first, inside, side="right") - 1
    order = np.lexsort((depth[inside], segment))  # per segment, the deepest bar first
    valley = inside[order][np.searchsorted(segment[order], np.arange(len(first)))]
    recovered = after < len(curve)
    end = np.where(recovered, after, len(curve) - 1)
    start = first - 1
    recovery = np.where(recovered, times[np.minimum(after, len(curve) - 1)], np.datetime64("NaT", "us"))
    return pl.DataFrame({"start": times[start], "valley": times[valley], "recovery": recovery,
                         "depth": depth[valley], "length": times[end] - times[start]})


def buy_and_hold(close: np.ndarray, init_cash: float) -> np.ndarray:
    """Equity of holding every symbol with an equal share of ``init_cash`` bought at its first close.

    A symbol's share stays cash until its first close and keeps its last close
    over missing bars (NaN); ``close`` is ``(n_bars, n_symbols)`` or 1-D.

    >>> buy_and_hold(np.array([[10.0, np.nan], [11.0, 20.0], [12.0, np.nan], [12.0, 30.0]]), 100.0).round(6).tolist()
    [100.0, 105.0, 110.0, 135.0]
    """
    close = np.asarray(close, dtype=np.float64).reshape(len(close), -1)
    seen = np.isfinite(close)
    last = np.maximum.accumulate(np.where(seen, np.arange(len(close))[:, None], -1), axis=0)
    filled = np.take_along_axis(close, np.maximum(last, 0), axis=0)
    first = np.take_along_axis(close, seen.argmax(axis=0)[None, :], axis=0)
    growth = np.where(last >= 0, filled / first, 1.0)
    return float(init_cash) * growth.mean(axis=1)
