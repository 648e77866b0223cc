"""The tear-sheet metrics of one run: return, risk, tails, trades and the benchmark, each with a reason when undefined.

:mod:`backtest.stats` keeps the statistics sweeps rank on (one kernel row per set); this module adds the
fuller set one run's report shows, on the same returns and the same calendar. Formulas (risk-free rate 0):

* Returns ``r_t = equity_t / equity_{t-1} - 1`` with ``equity_{-1}`` the initial cash (``n`` returns for
  ``n`` bars, as in :mod:`backtest.stats`); ``periods_per_year`` (ppy) and ``years`` from
  :func:`backtest.stats.calendar`, i.e. from the real spacing of the bars.
* ``total_return`` = final / initial - 1. ``annual_return`` = (final / initial) ** (ppy / n) - 1: the mean
  bar's growth over a year of bars (QuantStats ``cagr``, empyrical ``annual_return``, vectorbt
  ``annualized_return``). ``cagr`` = (final / initial) ** (1 / years) - 1: the growth over the calendar span
  of the bars (``backtest.stats``, backtesting.py ``CAGR``). The two differ by one bar's spacing out of
  ``n``, visibly only on short runs.
* ``volatility`` = std(r, ddof=1) * sqrt(ppy); ``sharpe`` = mean(r) / std(r, ddof=1) * sqrt(ppy);
  ``sortino`` = mean(r) / sqrt(sum(min(r, 0)^2) / n) * sqrt(ppy); ``calmar`` = cagr / |max_drawdown|;
  ``omega`` = sum of the gains / sum of the losses (threshold 0).
* ``max_drawdown`` and ``max_drawdown_duration``: the deepest and the longest of
  :func:`backtest.curves.drawdown_periods` (peaks counted from the initial cash);
  ``ulcer_index`` = sqrt(sum(dd_t^2) / (n - 1)) over the per-bar drawdown (QuantStats' ``n - 1``).
* Over one bar, historical: ``var_95`` = the 5% quantile of r (linear interpolation), ``cvar_95`` = the
  mean of the r at or below it; ``tail_ratio`` = |95% quantile / 5% quantile|; ``skew`` and ``kurtosis``
  (excess) are the sample-adjusted estimates pandas prints; ``best_bar`` / ``worst_bar`` = max / min r.
* Closed trades, by pnl: ``win_rate`` = share with pnl > 0 (a trade at zero counts as not won),
  ``profit_factor`` = gross wins / gross losses (inf without losses), ``expectancy`` = mean pnl,
  ``payoff_ratio`` = mean winning pnl / |mean losing pnl|.
* Benchmark (an equity per bar, e.g. :func:`backtest.curves.buy_and_hold`), returns ``b`` measured from
  its first value (``b_0 = 0``): ``beta`` = cov(r, b) / var(b) (ddof 1), ``alpha`` = (mean(r) - beta *
  mean(b)) * ppy, ``benchmark_return`` = its total return.
* ``time_in_market`` = bars ending with a position / bars (the engine's count).

A metric that cannot be computed has value NaN and a ``reason`` (never a bare NaN). Annualised figures from
fewer than :data:`MIN_PERIODS` bars or less than :data:`MIN_SPAN` of data carry :attr:`TearSheet.caveat`.

>>> index = np.arange("2024-01-01", "2024-01-04", dtype="datetime64[D]")
>>> sheet = tear_sheet(np.array([100.0, 102.0, 101.0]), index, init_cash=100.0)
>>> round(sheet["total_return"].value, 4), sheet["win_rate"]
(0.01, Metric(value=nan, reason='no closed trades'))
>>> sheet.caveat
'annualised from 3 days of data (3 bars)'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import polars as pl

from backtest.curves import buy_and_hold, drawdown, drawdown_periods
from backtest.errors import BacktestError
from backtest.stats import calendar

if TYPE_CHECKING:
    from backtest.runner import RunResult

__all__ = ["ANNUALISED", "METRIC_NAMES", "MIN_PERIODS", "MIN_SPAN", "Metric", "TearSheet", "run_benchmark",
           "run_tear_sheet",
           "small_sample", "tear_sheet"]

METRIC_NAMES: tuple[str, ...] = (
    "total_return", "annual_return", "cagr", "volatility", "sharpe", "sortino", "calmar", "omega",
    "max_drawdown", "max_drawdown_duration", "ulcer_index", "var_95", "cvar_95", "tail_ratio", "skew",
    "kurtosis", "best_bar", "worst_bar", "win_rate", "profit_factor", "expectancy", "payoff_ratio",
    "benchmark_return", "alpha", "beta", "time_in_market",
)
"""Every metric of a :class:`TearSheet`, in the order reports show them."""

ANNUALISED = frozenset({"annual_return", "cagr", "volatility", "sharpe", "sortino", "calmar", "alpha"})
"""The metrics that extrapolate the run to a year (they carry the small-sample caveat)."""

MIN_PERIODS = 30
MIN_SPAN = np.timedelta64(91, "D")  # about three months


class Metric(NamedTuple):
    """One figure: ``value`` (a ``timedelta`` for durations), or NaN with the ``reason`` it is undefined.

    >>> Metric(1.5), Metric(float("nan"), "no closed trades").reason
    (Metric(value=1.5, reason=''), 'no closed trades')
    """

    value: float | timedelta
    reason: str = ""


@dataclass(frozen=True)
class TearSheet:
    """The metrics of one run by name, its worst drawdowns, the small-sample caveat and the calendar used.

    ``drawdowns`` holds every period of :func:`backtest.curves.drawdown_periods`,
    deepest first; ``caveat`` is empty when the run is long enough to annualise.
    """

    metrics: dict[str, Metric]
    drawdowns: pl.DataFrame
    caveat: str
    periods_per_year: float
    years: float

    def __getitem__(self, name: str) -> Metric:
        return self.metrics[name]

    def frame(self) -> pl.DataFrame:
        """One row per metric: ``metric``, ``value`` (durations in days, named ``*_days``), ``reason``, ``annualised``.

        >>> days = np.arange("2024-01-01", "2024-01-04", dtype="datetime64[D]")
        >>> tear_sheet(np.array([100.0, 90.0, 95.0]), days, init_cash=100.0).frame().row(9)
        ('max_drawdown_duration_days', 2.0, '', False)
        """
        rows = []
        for name, (value, reason) in self.metrics.items():
            if isinstance(value, timedelta):
                name, value = f"{name}_days", value / timedelta(days=1)
            rows.append((name, float(value), reason, name in ANNUALISED))
        return pl.DataFrame(rows, schema={"metric": pl.String, "value": pl.Float64, "reason": pl.String,
                                          "annualised": pl.Boolean}, orient="row")


def tear_sheet(equity: np.ndarray, index: np.ndarray, *, init_cash: float, trade_pnl: np.ndarray | None = None,
               exposure_bars: int | None = None, benchmark: np.ndarray | None = None) -> TearSheet:
    """Every metric of :data:`METRIC_NAMES` for one run's per-bar ``equity`` at bar times ``index``.

    ``trade_pnl``: the closed trades' pnl; ``exposure_bars``: bars ending with a
    position; ``benchmark``: an equity per bar. Left out, their metrics say so.

    >>> days = np.arange("2024-01-01", "2024-01-05", dtype="datetime64[D]")
    >>> sheet = tear_sheet(np.array([100.0, 110.0, 99.0, 104.0]), days, init_cash=100.0,
    ...                    trade_pnl=np.array([10.0, -6.0]), benchmark=np.array([50.0, 52.0, 51.0, 53.0]))
    >>> [round(sheet[k].value, 4) for k in ("max_drawdown", "profit_factor", "payoff_ratio", "beta")]
    [-0.1, 1.6667, 1.6667, 2.74]
    >>> sheet["time_in_market"], sheet["sortino"].value > 0
    (Metric(value=nan, reason='positions not given'), True)
    """
    equity = np.asarray(equity, dtype=np.float64)
    index = np.asarray(index).astype("datetime64[us]")
    if not len(equity) or len(equity) != len(index):
        raise BacktestError(f"equity: {len(equity)} values for {len(index)} bar times (one per bar, at least one)")
    ppy, years = calendar(index)
    previous = np.concatenate([[float(init_cash)], equity[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.where(previous != 0.0, equity / previous - 1.0, 0.0)
    growth = equity[-1] / init_cash
    periods = drawdown_periods(equity, index, init_cash)
    worst = periods["depth"].min() if periods.height else 0.0
    base = _return_metrics(returns, growth, ppy, years)
    metrics = {
        **base,
        **_risk_metrics(returns, base["cagr"], worst),
        "max_drawdown": _value(worst),
        "max_drawdown_duration": Metric(periods["length"].max() if periods.height else timedelta(0)),
        "ulcer_index": _ulcer(equity, init_cash),
        **_tail_metrics(returns),
        **_trade_metrics(np.asarray(trade_pnl if trade_pnl is not None else [], dtype=np.float64)),
        **_benchmark_metrics(returns, benchmark, ppy),
        "time_in_market": (_value(exposure_bars / len(equity)) if exposure_bars is not None
                           else Metric(np.nan, "positions not given")),
    }
    return TearSheet({name: metrics[name] for name in METRIC_NAMES},
                     periods.sort("depth", maintain_order=True), small_sample(index), ppy, years)


def run_tear_sheet(result: RunResult) -> TearSheet:
    """:func:`tear_sheet` of a run: its closed trades, its exposure, and its benchmark (:func:`run_benchmark`)."""
    sim = result.simulation
    closed = sim.trades.filter(~sim.trades["is_open"])
    return tear_sheet(sim.equity, result.bars.index, init_cash=sim.init_cash, trade_pnl=closed["pnl"].to_numpy(),
                      exposure_bars=sim.exposure_bars, benchmark=run_benchmark(result)[1])


def run_benchmark(result: RunResult) -> tuple[str, np.ndarray]:
    """A run's benchmark and its equity per bar: buy and hold of the chosen symbol (``data.benchmark``), else
    of the run's symbols (:func:`backtest.curves.buy_and_hold`: an equal share of the initial cash in each at
    its first close).

    >>> from backtest.engine.simulate import EngineConfig, run
    >>> from backtest.feed import BarArrays
    >>> from backtest.runner import Benchmark, RunResult
    >>> close = np.array([[10.0], [11.0], [12.0]])
    >>> bars = BarArrays(np.array(["2024-01-02", "2024-01-03", "2024-01-04"], dtype="datetime64[us]"), ("X",),
    ...                  close, close, close, close, close)
    >>> sim = run(close, close, close, close, np.array([[1.0], [np.nan], [np.nan]]), EngineConfig(fill="close"))
    >>> result = RunResult("s", {}, None, EngineConfig(), bars, sim, {}, (), "", Benchmark("SPY", close[:, 0] * 2))
    >>> name, equity = run_benchmark(result)
    >>> name, equity.round(2).tolist()
    ('SPY', [10000.0, 11000.0, 12000.0])
    """
    init = result.simulation.init_cash
    if result.benchmark is not None:
        return result.benchmark.symbol, buy_and_hold(result.benchmark.close[:, None], init)
    return "buy and hold of " + ", ".join(result.bars.symbols), buy_and_hold(result.bars.close, init)


def small_sample(index: np.ndarray) -> str:
    """The caveat for annualising bars ``index``: empty from :data:`MIN_PERIODS` bars over :data:`MIN_SPAN`.

    The data covers the first to the last bar plus one bar's (median) spacing.

    >>> week = np.arange("2024-01-01", "2024-02-12", dtype="datetime64[D]")
    >>> small_sample(week), small_sample(week[:1])
    ('annualised from 6 weeks of data (42 bars)', 'annualised from 1 bar: nothing to annualise')
    >>> small_sample(np.arange("2024-01-01", "2024-06-01", dtype="datetime64[D]"))
    ''
    """
    index = np.asarray(index).astype("datetime64[us]")
    bars = len(index)
    if bars < 2:
        return f"annualised from {bars} bar: nothing to annualise"
    covered = index[-1] - index[0] + np.median(np.diff(index).astype(np.int64)).astype("timedelta64[us]")
    if bars >= MIN_PERIODS and covered >= MIN_SPAN:
        return ""
    return f"annualised from {_span_text(covered)} of data ({bars:,} bars)"


def _span_text(span: np.timedelta64) -> str:
    """A duration in the largest unit that still reads as at least two of it (minutes to months)."""
    seconds = span / np.timedelta64(1, "s")
    unit, size = next((unit, size) for unit, size, below in (
        ("minute", 60, 7200), ("hour", 3600, 2 * 86400), ("day", 86400, 14 * 86400),
        ("week", 7 * 86400, 61 * 86400), ("month", 30.44 * 86400, np.inf)) if seconds < below)
    count = max(int(seconds / size + 0.5), 1)
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _value(value: float) -> Metric:
    """A computed metric as a Python float."""
    return Metric(float(value))


def _return_metrics(r: np.ndarray, growth: float, ppy: float, years: float) -> dict[str, Metric]:
    """Total and annualised return, CAGR, volatility, Sharpe and Sortino."""
    n = len(r)
    short = f"needs at least 2 bars at different times (this run has {n})"
    timed = n >= 2 and np.isfinite(ppy)
    lost = "equity fell to zero or below"
    out = {"total_return": _value(growth - 1.0)}
    out["annual_return"] = (_value(growth ** (ppy / n) - 1.0) if timed and growth > 0 else
                            Metric(np.nan, short if not timed else lost))
    out["cagr"] = (_value(growth ** (1.0 / years) - 1.0) if years > 0 and growth > 0 else
                   Metric(np.nan, short if years <= 0 else lost))
    if not timed:
        return out | {name: Metric(np.nan, short) for name in ("volatility", "sharpe", "sortino")}
    std = np.std(r, ddof=1)
    downside = np.sqrt(np.sum(np.minimum(r, 0.0) ** 2) / n)
    out["volatility"] = _value(std * np.sqrt(ppy))
    out["sharpe"] = (_value(np.mean(r) / std * np.sqrt(ppy)) if np.ptp(r) > 0 else
                     Metric(np.nan, "zero volatility: the returns do not vary"))
    out["sortino"] = (_value(np.mean(r) / downside * np.sqrt(ppy)) if downside > 0 else
                      Metric(np.nan, "zero downside deviation: no losing bar"))
    return out


def _risk_metrics(r: np.ndarray, cagr: Metric, worst: float) -> dict[str, Metric]:
    """Calmar (CAGR over the max drawdown) and Omega (gains over losses)."""
    losses = -np.sum(r[r < 0])
    if worst >= 0:
        calmar = Metric(np.nan, "no drawdown")
    else:
        calmar = _value(cagr.value / -worst) if not cagr.reason else Metric(np.nan, f"no CAGR: {cagr.reason}")
    omega = (_value(np.sum(r[r > 0]) / losses) if len(r) >= 2 and losses > 0 else
             Metric(np.nan, "no losing bar" if len(r) >= 2 else "needs at least 2 bars"))
    return {"calmar": calmar, "omega": omega}


def _ulcer(equity: np.ndarray, init_cash: float) -> Metric:
    """Root of the summed squared drawdowns over ``n - 1`` (QuantStats' ``ulcer_index``)."""
    if len(equity) < 2:
        return Metric(np.nan, "needs at least 2 bars")
    dd = drawdown(np.concatenate([[float(init_cash)], equity]))[1:]
    return _value(np.sqrt(np.sum(dd**2) / (len(dd) - 1)))


def _tail_metrics(r: np.ndarray) -> dict[str, Metric]:
    """Historical VaR and CVaR at 95%, tail ratio, skew, excess kurtosis, best and worst bar."""
    n = len(r)
    out = {"best_bar": _value(r.max()), "worst_bar": _value(r.min())}
    if n < 2:
        return out | {k: Metric(np.nan, "needs at least 2 bars") for k in ("var_95", "cvar_95", "tail_ratio",
                                                                             "skew", "kurtosis")}
    low, high = np.quantile(r, [0.05, 0.95])
    out["var_95"] = _value(low)
    out["cvar_95"] = _value(r[r <= low].mean())
    out["tail_ratio"] = (_value(abs(high / low)) if low != 0 else
                         Metric(np.nan, "the 5% quantile of the returns is 0: mostly flat bars"))
    d = r - r.mean()
    m2, m3, m4 = (np.sum(d**k) for k in (2, 3, 4))
    flat = "the returns do not vary"
    out["skew"] = (_value(n * np.sqrt(n - 1) / (n - 2) * m3 / m2**1.5) if n >= 3 and np.ptp(r) > 0 else
                   Metric(np.nan, flat if n >= 3 else "needs at least 3 bars"))
    out["kurtosis"] = (_value(n * (n + 1) * (n - 1) * m4 / ((n - 2) * (n - 3) * m2**2)
                              - 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))) if n >= 4 and np.ptp(r) > 0 else
                       Metric(np.nan, flat if n >= 4 else "needs at least 4 bars"))
    return out


def _trade_metrics(pnl: np.ndarray) -> dict[str, Metric]:
    """Win rate, profit factor, expectancy and payoff ratio of the closed trades' pnl."""
    names = ("win_rate", "profit_factor", "expectancy", "payoff_ratio")
    if not len(pnl):
        return {name: Metric(np.nan, "no closed trades") for name in names}
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gains, lost = wins.sum(), -losses.sum()
    if lost > 0:
        factor = _value(gains / lost)
    else:
        factor = _value(np.inf) if gains > 0 else Metric(np.nan, "every closed trade made zero")
    if len(wins) and len(losses):
        payoff = _value(wins.mean() / -losses.mean())
    else:
        payoff = Metric(np.nan, "no losing trade" if len(wins) else "no winning trade")
    return {"win_rate": _value(len(wins) / len(pnl)), "profit_factor": factor, "expectancy": _value(pnl.mean()),
            "payoff_ratio": payoff}


def _benchmark_metrics(r: np.ndarray, benchmark: np.ndarray | None, ppy: float) -> dict[str, Metric]:
    """Benchmark total return, and alpha (annualised) and beta of the run's returns against it."""
    names = ("benchmark_return", "alpha", "beta")
    if benchmark is None:
        return {name: Metric(np.nan, "no benchmark given") for name in names}
    bench = np.asarray(benchmark, dtype=np.float64)
    if len(bench) != len(r):
        raise BacktestError(f"benchmark: needs one value per bar ({len(r)}), got {len(bench)}")
    bad = int((~(bench > 0)).sum())  # NaN counts too
    if bad:
        return {name: Metric(np.nan, f"the benchmark has {bad:,} missing or non-positive values") for name in names}
    b = np.concatenate([[0.0], bench[1:] / bench[:-1] - 1.0])
    out = {"benchmark_return": _value(bench[-1] / bench[0] - 1.0)}
    if len(r) < 2 or not np.isfinite(ppy) or np.ptp(b) == 0:
        reason = "the benchmark's returns do not vary" if len(r) >= 2 and np.isfinite(ppy) else \
            "needs at least 2 bars at different times"
        return out | {name: Metric(np.nan, reason) for name in ("alpha", "beta")}
    cov = np.cov(r, b)
    beta = cov[0, 1] / cov[1, 1]
    return out | {"alpha": _value((r.mean() - beta * b.mean()) * ppy), "beta": _value(beta)}
