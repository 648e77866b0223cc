"""Series derived from an equity curve for reports: drawdown per bar and returns per calendar month.

Formulas: ``drawdown_t = equity_t / max(equity_0..t) - 1`` (0 at a new high,
negative below it); a month's return is its last equity over the previous
month's last equity - 1, the first month measured from the initial cash.

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
