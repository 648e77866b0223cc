"""Series derived from an equity curve: drawdown, drawdown periods, monthly, yearly and per-bar returns, buy and hold,
rolling Sharpe and volatility, exposure, and a histogram of returns.

Formulas: ``drawdown_t = equity_t / max(equity_0..t) - 1`` (0 at a new high,
negative below it); a month's return is its last equity over the previous
month's last equity - 1, the first month measured from the initial cash.
A drawdown period runs from a peak to the first bar back at or above it
(:func:`drawdown_periods`); the buy-and-hold benchmark splits the initial cash
equally over the symbols (:func:`buy_and_hold`). Rolling figures use a window
scaled to the bars' spacing (:func:`rolling_window`) and annualise like
:mod:`backtest.metrics`; exposure is the market value of the positions over equity.

>>> import numpy as np
>>> drawdown(np.array([100.0, 120.0, 90.0, 130.0])).tolist()
[0.0, 0.0, -0.25, 0.0]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import polars as pl

from backtest.stats import calendar

# Rolling windows tried longest first: (label, length in days).
ROLLING_SPANS = (("6 months", 182.625), ("1 month", 30.4375), ("1 week", 7.0), ("1 day", 1.0), ("1 hour", 1 / 24))


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
    periods = _period_returns(index, equity, init_cash, "1mo")
    return pl.DataFrame({"year": periods["start"].dt.year(), "month": periods["start"].dt.month().cast(pl.Int32),
                         "return": periods["return"]})


def yearly_returns(index: np.ndarray, equity: np.ndarray, init_cash: float) -> pl.DataFrame:
    """One row per calendar year (UTC) with bars: ``year``, ``return`` (year-end equity over the previous one).

    >>> index = np.array(["2023-06-01", "2023-12-29", "2024-03-01"], dtype="datetime64[us]")
    >>> [(year, round(value, 4)) for year, value in yearly_returns(index, np.array([90.0, 120.0, 90.0]), 100.0).rows()]
    [(2023, 0.2), (2024, -0.25)]
    """
    periods = _period_returns(index, equity, init_cash, "1y")
    return pl.DataFrame({"year": periods["start"].dt.year(), "return": periods["return"]})


def _period_returns(index: np.ndarray, equity: np.ndarray, init_cash: float, every: str) -> pl.DataFrame:
    """Per calendar period ``every`` (a polars truncation) with bars: its ``start`` and its ``return``."""
    frame = pl.DataFrame({"ts": np.asarray(index).astype("datetime64[us]"),
                          "equity": np.asarray(equity, dtype=np.float64)})
    periods = (frame.group_by(pl.col("ts").dt.truncate(every).alias("start"), maintain_order=True)
               .agg(pl.col("equity").last())
               .sort("start"))
    previous = periods["equity"].shift(1, fill_value=float(init_cash))
    return pl.DataFrame({"start": periods["start"], "return": periods["equity"] / previous - 1.0})


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


def bar_returns(equity: np.ndarray, init_cash: float) -> np.ndarray:
    """Per-bar simple returns, the first from ``init_cash`` (the returns of :mod:`backtest.metrics`).

    >>> bar_returns(np.array([110.0, 99.0]), 100.0).round(6).tolist()
    [0.1, -0.1]
    """
    equity = np.asarray(equity, dtype=np.float64)
    previous = np.concatenate([[float(init_cash)], equity[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(previous != 0.0, equity / previous - 1.0, 0.0)


class RollingWindow(NamedTuple):
    """A rolling window: ``bars`` long, about ``label`` of the run's calendar (``"126 bars, about 6 months"``)."""

    bars: int
    label: str


def rolling_window(index: np.ndarray, *, min_bars: int = 20, windows: int = 4) -> RollingWindow:
    """The longest of :data:`ROLLING_SPANS` that fits ``windows`` times into the run and holds ``min_bars`` bars.

    Bars per span come from the run's own bar rate (:func:`backtest.stats.calendar`), so
    daily bars get 126 bars for 6 months and exchange-hours minute bars about a day's
    worth for a day. A run too short for any span gets a quarter of its bars.

    >>> days = np.arange("2004-01-01", "2012-01-01", dtype="datetime64[D]")
    >>> rolling_window(days[np.is_busday(days)])  # weekdays: about 261 bars a year
    RollingWindow(bars=130, label='130 bars, about 6 months')
    >>> rolling_window(np.arange(0, 3000, 60, dtype="int64").astype("datetime64[s]"))
    RollingWindow(bars=12, label='12 bars')
    """
    ppy, years = calendar(np.asarray(index))
    for label, days in ROLLING_SPANS:
        bars = int(round(ppy * days / 365.25)) if np.isfinite(ppy) else 0
        if bars >= min_bars and years * 365.25 >= windows * days:
            return RollingWindow(bars, f"{bars:,} bars, about {label}")
    bars = max(2, len(index) // windows)
    return RollingWindow(bars, f"{bars:,} bars")


def rolling_sharpe_volatility(returns: np.ndarray, window: int, periods_per_year: float
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Annualised Sharpe and volatility of the last ``window`` ``returns`` at every bar (NaN before a full window).

    ``sharpe = mean / std * sqrt(ppy)``, ``volatility = std * sqrt(ppy)`` (std with
    ddof 1, risk-free rate 0); a window of equal returns has no Sharpe (NaN).

    >>> sharpe, vol = rolling_sharpe_volatility(np.array([0.01, 0.03, 0.02, 0.02, 0.02]), 3, 4.0)
    >>> sharpe.round(4).tolist(), vol.round(4).tolist()
    ([nan, nan, 4.0, 8.0829, nan], [nan, nan, 0.02, 0.0115, 0.0])
    """
    series = pl.Series(np.asarray(returns, dtype=np.float64))
    mean = series.rolling_mean(window).to_numpy()
    std = series.rolling_std(window, ddof=1).to_numpy()
    scale = np.sqrt(periods_per_year)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(std > 1e-15, mean / std * scale, np.nan)
    return sharpe, std * scale


def exposure(positions: np.ndarray, close: np.ndarray, equity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gross and net exposure per bar: sum of |units x close| and of units x close over equity.

    1 is fully invested long, -1 fully short, above 1 leveraged; a symbol without a
    close yet (NaN) holds nothing.

    >>> gross, net = exposure(np.array([[1.0, -2.0], [0.0, 0.0]]), np.array([[50.0, 10.0], [np.nan, 10.0]]),
    ...                       np.array([100.0, 100.0]))
    >>> gross.tolist(), net.tolist()
    ([0.7, 0.0], [0.3, 0.0])
    """
    positions = np.asarray(positions, dtype=np.float64)
    value = np.where(positions != 0.0, positions * np.asarray(close, dtype=np.float64).reshape(positions.shape), 0.0)
    equity = np.asarray(equity, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(value).sum(axis=1) / equity, value.sum(axis=1) / equity


def histogram(values: np.ndarray, *, bins: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the finite ``values`` in ``bins`` equal bins: ``(edges, counts)``, ``len(edges) = bins + 1``.

    >>> edges, counts = histogram(np.array([0.0, 0.1, 0.1, np.nan, 0.4]), bins=4)
    >>> edges.round(2).tolist(), counts.tolist()
    ([0.0, 0.1, 0.2, 0.3, 0.4], [1, 2, 0, 1])
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    counts, edges = np.histogram(finite, bins=bins)
    return edges, counts
