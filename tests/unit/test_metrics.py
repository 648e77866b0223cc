"""backtest.metrics: agrees with backtest.stats where both define a figure, gives reasons, not bare NaN,
and flags annualised figures from short runs."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from backtest.curves import drawdown_periods
from backtest.engine.simulate import EngineConfig, run
from backtest.errors import BacktestError
from backtest.metrics import ANNUALISED, METRIC_NAMES, small_sample, tear_sheet
from backtest.stats import summarize

DAYS = np.arange("2024-01-01", "2024-12-31", dtype="datetime64[D]").astype("datetime64[us]")


def _simulation():
    rng = np.random.default_rng(11)
    close = 100 * np.cumprod(1 + rng.normal(0.0005, 0.015, len(DAYS)))
    signal = np.where(np.arange(len(DAYS)) % 20 == 0, np.where(np.arange(len(DAYS)) % 40 == 0, 1.0, -1.0), np.nan)
    return run(close, close, close, close, signal, EngineConfig(init_cash=1000.0, fees_bps=5)), close


def test_what_backtest_stats_also_computes_is_the_same_number():
    sim, _ = _simulation()
    closed = sim.trades.filter(~sim.trades["is_open"])
    pnl = closed["pnl"].to_numpy()
    stats = summarize(sim.equity, 1000.0, pnl, closed["return"].to_numpy(), sim.exposure_bars, DAYS)
    sheet = tear_sheet(sim.equity, DAYS, init_cash=1000.0, trade_pnl=pnl, exposure_bars=sim.exposure_bars)
    same = {"total_return": "total_return", "cagr": "cagr", "volatility": "volatility", "sharpe": "sharpe",
            "sortino": "sortino", "calmar": "calmar", "max_drawdown": "max_drawdown", "win_rate": "win_rate",
            "profit_factor": "profit_factor", "expectancy": "expectancy", "time_in_market": "exposure"}
    assert stats["trades"] > 5
    for ours, theirs in same.items():
        assert sheet[ours].value == pytest.approx(stats[theirs], rel=1e-9), ours
    assert sheet["max_drawdown_duration"].value == stats["max_drawdown_duration"]
    assert sheet.periods_per_year == stats["periods_per_year"]


def test_worst_drawdowns_are_the_deepest_periods_and_give_the_max_drawdown():
    sim, _ = _simulation()
    sheet = tear_sheet(sim.equity, DAYS, init_cash=1000.0)
    periods = drawdown_periods(sim.equity, DAYS, 1000.0)
    assert sheet.drawdowns.columns == ["start", "valley", "recovery", "depth", "length"]
    assert sheet.drawdowns["depth"].to_list() == sorted(periods["depth"].to_list()) and periods.height > 5
    assert sheet.drawdowns["depth"][0] == sheet["max_drawdown"].value
    assert (sheet.drawdowns["start"] <= sheet.drawdowns["valley"]).all()


def test_one_bar_gives_reasons_not_nan():
    sheet = tear_sheet(np.array([1010.0]), DAYS[:1], init_cash=1000.0)
    assert sheet["total_return"].value == pytest.approx(0.01) and sheet["total_return"].reason == ""
    for name in ("cagr", "annual_return", "volatility", "sharpe", "sortino", "skew", "var_95", "alpha"):
        metric = sheet[name]
        assert math.isnan(metric.value) and metric.reason, name
    assert "at least 2 bars" in sheet["sharpe"].reason and "no benchmark" in sheet["alpha"].reason
    assert sheet.caveat == "annualised from 1 bar: nothing to annualise"


def test_flat_equity_and_no_trades_say_why():
    sheet = tear_sheet(np.full(50, 1000.0), DAYS[:50], init_cash=1000.0, trade_pnl=np.array([]), exposure_bars=0,
                       benchmark=np.full(50, 7.0))
    assert sheet["volatility"].value == 0.0 and sheet["sharpe"].reason == "zero volatility: the returns do not vary"
    assert sheet["calmar"].reason == "no drawdown" and sheet["win_rate"].reason == "no closed trades"
    assert "do not vary" in sheet["beta"].reason and sheet["time_in_market"].value == 0.0
    assert "5% quantile" in sheet["tail_ratio"].reason
    undefined = [name for name in METRIC_NAMES
                 if isinstance(sheet[name].value, float) and math.isnan(sheet[name].value)]
    assert undefined and all(sheet[name].reason for name in undefined)


def test_trades_without_losses():
    sheet = tear_sheet(np.array([1000.0, 1010.0]), DAYS[:2], init_cash=1000.0, trade_pnl=np.array([10.0]))
    assert sheet["profit_factor"].value == math.inf and sheet["payoff_ratio"].reason == "no losing trade"


def test_a_three_day_run_carries_the_caveat_and_three_months_do_not():
    assert small_sample(DAYS[:3]) == "annualised from 3 days of data (3 bars)"
    assert small_sample(DAYS[:29]).startswith("annualised from 4 weeks")
    assert small_sample(DAYS[:95]) == ""
    minutes = np.arange("2024-01-02T14:30", "2024-01-02T21:00", dtype="datetime64[m]")
    assert small_sample(minutes) == "annualised from 7 hours of data (390 bars)"
    assert {"cagr", "sharpe", "alpha"} <= ANNUALISED and "max_drawdown" not in ANNUALISED


def test_frame_rows_and_bad_input():
    sheet = tear_sheet(np.array([1000.0, 990.0, 1005.0]), DAYS[:3], init_cash=1000.0)
    frame = sheet.frame()
    assert frame.height == len(METRIC_NAMES) and "max_drawdown_duration_days" in frame["metric"].to_list()
    assert frame.filter(frame["annualised"])["metric"].to_list() == [n for n in METRIC_NAMES if n in ANNUALISED]
    assert sheet["max_drawdown_duration"].value == timedelta(days=2)
    with pytest.raises(BacktestError, match="equity: 3 values for 2 bar times"):
        tear_sheet(np.ones(3), DAYS[:2], init_cash=1.0)
    with pytest.raises(BacktestError, match=r"benchmark: needs one value per bar \(3\), got 2"):
        tear_sheet(np.ones(3), DAYS[:3], init_cash=1.0, benchmark=np.array([1.0, 2.0]))
    spread = tear_sheet(np.ones(3), DAYS[:3], init_cash=1.0, benchmark=np.array([1.0, -0.5, np.nan]))
    assert spread["beta"].reason == "the benchmark has 2 missing or non-positive values"
