"""backtest.metrics against QuantStats on the same returns: every metric both define the same way, within 1e-9.

QuantStats gets the run's per-bar returns (from the initial cash), ``rf=0`` and ``periods`` = our
``periods_per_year`` (from the bars' real spacing), except where its definition needs another flag:

* ``cagr`` and ``calmar``: QuantStats counts years as ``returns / periods``; our CAGR counts the calendar span
  of the bars, so those two get ``periods = n / years`` (the same span). ``annual_return`` is QuantStats'
  ``cagr`` with ``periods = periods_per_year`` as it stands.
* Trade metrics (``win_rate``, ``profit_factor``, ``payoff_ratio``): QuantStats computes them over a return
  series; it gets the closed trades' pnl as that series (no trade at exactly zero: QuantStats drops zero
  periods from the win rate's count, we count such a trade as not won).
* ``var_95``: QuantStats' ``value_at_risk`` is parametric (normal); ours is historical, compared with the
  quantile its historical ``cvar`` averages below (pandas ``quantile``, linear).

Left out, defined differently: ``expectancy`` (mean pnl; QuantStats has none, checked against
``backtest.stats`` in tests/unit/test_metrics.py), ``time_in_market`` (QuantStats' ``exposure`` counts
non-zero-return bars rounded up to a whole percent; ours counts bars that end holding a position, from the
engine) and ``max_drawdown_duration`` (QuantStats' ``drawdown_details`` counts calendar days of the
under-water bars; ours runs from the peak to the recovery): the worst-drawdowns table is checked against
``drawdown_details`` on depth and valley instead. QuantStats' ``greeks`` turns an undefined beta into 0; we
give a reason instead, so alpha/beta are compared where both are defined.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from backtest.metrics import tear_sheet

qs = pytest.importorskip("quantstats")

TOL = {"rel": 1e-9, "abs": 1e-12}
INIT = 10_000.0


def _daily(n: int = 600, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Business days, fat-tailed returns, a benchmark the strategy partly follows."""
    rng = np.random.default_rng(seed)
    index = np.busday_offset("2021-01-04", np.arange(n), roll="forward").astype("datetime64[us]")
    bench = rng.standard_t(4, n) * 0.01 + 0.0003
    strategy = 0.6 * bench + rng.standard_t(5, n) * 0.006
    return index, INIT * np.cumprod(1 + strategy), INIT * np.cumprod(1 + bench)


def _minutes(days: int = 8, seed: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exchange-hours minute bars (390 a day, nights and the weekend missing), flat for a third of the bars."""
    rng = np.random.default_rng(seed)
    dates = np.busday_offset("2024-03-04", np.arange(days), roll="forward").astype("datetime64[m]")
    index = (dates[:, None] + np.timedelta64(14 * 60 + 30, "m") + np.arange(390)).ravel().astype("datetime64[us]")
    bench = rng.normal(0.00002, 0.0008, len(index))
    strategy = np.where(rng.random(len(index)) < 0.33, 0.0, -0.8 * bench + rng.normal(0, 0.0004, len(index)))
    return index, INIT * np.cumprod(1 + strategy), INIT * np.cumprod(1 + bench)


def _hourly_losing(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """24/7 hourly bars of a losing run that starts below the initial cash (fees on the first bar)."""
    rng = np.random.default_rng(seed)
    index = np.arange("2023-06-01T00", "2023-08-01T00", dtype="datetime64[h]").astype("datetime64[us]")
    strategy = rng.normal(-0.0002, 0.004, len(index))
    strategy[0] = -0.001
    bench = rng.normal(0.0001, 0.005, len(index))
    return index, INIT * np.cumprod(1 + strategy), INIT * np.cumprod(1 + bench)


SERIES = {"daily": _daily, "minutes": _minutes, "hourly_losing": _hourly_losing}


def _pnl(seed: int) -> np.ndarray:
    pnl = np.random.default_rng(seed).normal(15.0, 120.0, 57)
    return pnl[pnl != 0]


@pytest.fixture(params=sorted(SERIES))
def case(request):
    index, equity, bench = SERIES[request.param]()
    pnl = _pnl(len(index))
    sheet = tear_sheet(equity, index, init_cash=INIT, trade_pnl=pnl, benchmark=bench)
    times = pd.DatetimeIndex(index)
    returns = pd.Series(equity, index=times).pct_change()
    returns.iloc[0] = equity[0] / INIT - 1
    bench_returns = pd.Series(bench, index=times).pct_change().fillna(0.0)
    return sheet, returns, bench_returns, pd.Series(pnl)


def quantstats_values(sheet, returns, bench, pnl) -> dict[str, float]:
    """What QuantStats says for each metric we compare, with the flags that match our definitions."""
    ppy, n, stats = sheet.periods_per_year, len(returns), qs.stats
    calendar_periods = n / sheet.years
    greeks = stats.greeks(returns, bench, periods=ppy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # QuantStats warns about things like intraday frequencies
        return {
            "total_return": stats.comp(returns),
            "annual_return": stats.cagr(returns, rf=0.0, compounded=True, periods=ppy),
            "cagr": stats.cagr(returns, rf=0.0, compounded=True, periods=calendar_periods),
            "volatility": stats.volatility(returns, periods=ppy, annualize=True),
            "sharpe": stats.sharpe(returns, rf=0.0, periods=ppy),
            "sortino": stats.sortino(returns, rf=0.0, periods=ppy),
            "calmar": stats.calmar(returns, compounded=True, periods=calendar_periods),
            "omega": stats.omega(returns, rf=0.0, required_return=0.0, periods=ppy),
            "max_drawdown": stats.max_drawdown(returns),
            "ulcer_index": stats.ulcer_index(returns),
            "var_95": returns.quantile(0.05),
            "cvar_95": stats.cvar(returns, confidence=0.95, method="historical"),
            "tail_ratio": stats.tail_ratio(returns, cutoff=0.95),
            "skew": stats.skew(returns),
            "kurtosis": stats.kurtosis(returns),
            "best_bar": stats.best(returns),
            "worst_bar": stats.worst(returns),
            "win_rate": stats.win_rate(pnl),
            "profit_factor": stats.profit_factor(pnl),
            "payoff_ratio": stats.payoff_ratio(pnl),
            "benchmark_return": stats.comp(bench),
            "alpha": greeks["alpha"],
            "beta": greeks["beta"],
        }


def test_every_shared_metric_equals_quantstats(case):
    sheet, returns, bench, pnl = case
    expected = quantstats_values(sheet, returns, bench, pnl)
    for name, value in expected.items():
        ours = sheet[name]
        assert ours.reason == "", f"{name}: {ours.reason}"
        assert ours.value == pytest.approx(float(value), **TOL), name


def test_the_comparison_covers_every_metric_but_the_documented_ones(case):
    sheet, returns, bench, pnl = case
    left_out = {"expectancy", "time_in_market", "max_drawdown_duration"}
    assert set(quantstats_values(sheet, returns, bench, pnl)) == set(sheet.metrics) - left_out


def test_the_series_differ_where_it_matters(case):
    """The cases exercise what the metrics branch on: real spacing, flat bars, a start below the cash."""
    sheet, returns, _, _ = case
    assert 250 < sheet.periods_per_year < 200_000 and sheet["max_drawdown"].value < 0
    assert (returns == 0).mean() > 0.3 or returns.iloc[0] < 0 or sheet.years > 2


def test_worst_drawdowns_match_quantstats_drawdown_details():
    index, equity, bench = _daily()
    sheet = tear_sheet(equity, index, init_cash=INIT, benchmark=bench)
    returns = pd.Series(equity, index=pd.DatetimeIndex(index)).pct_change()
    returns.iloc[0] = equity[0] / INIT - 1
    details = qs.stats.drawdown_details(qs.stats.to_drawdown_series(returns)).sort_values("max drawdown").head(5)
    ours = sheet.drawdowns.head(5)
    assert (ours["depth"].to_numpy() * 100) == pytest.approx(details["max drawdown"].to_numpy(), **TOL)
    assert [t.strftime("%Y-%m-%d") for t in ours["valley"]] == details["valley"].tolist()
    for start, recovery, qs_start, qs_end in zip(ours["start"], ours["recovery"], details["start"], details["end"]):
        position = np.searchsorted(index, np.datetime64(start, "us"))  # QuantStats starts at the first bar under water
        assert str(index[position + 1])[:10] == qs_start
        if recovery is not None:  # ... and ends at the last bar under water, the one before the recovery
            assert str(index[np.searchsorted(index, np.datetime64(recovery, "us")) - 1])[:10] == qs_end
