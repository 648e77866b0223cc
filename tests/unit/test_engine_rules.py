"""Engine rules that parity with backtesting.py and vectorbt made explicit, each on a few bars."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.engine.simulate import EngineConfig, run

NAN = np.nan


def test_a_trade_closed_in_one_fill_reports_that_fill_price_exactly():
    # 10.39 units bought at 100 and sold at 395.11: the average units * price / units is 395.10999999999996
    close = np.array([100.0, 395.11])
    assert (10.39 * 395.11) / 10.39 != 395.11
    result = run(close, close, close, close, np.array([1.0, 0.0]), EngineConfig(init_cash=1039, fill="close"))
    trade = result.trades.row(0, named=True)
    assert trade["size"] == 10.39 and trade["exit_price"] == 395.11


def test_several_exit_fills_report_their_size_weighted_average():
    close = np.array([100.0, 110.0, 120.0, 130.0])
    result = run(close, close, close, close, np.array([1.0, 0.5, NAN, 0.0]),
                 EngineConfig(init_cash=1000, fill="close", signals="target"))
    trade = result.trades.row(0, named=True)
    # 10 units, 5.4545 sold at 110 (target 0.5 of 1100 equity), the rest at 130
    first = 10 - 0.5 * 1100 / 110
    assert trade["exit_price"] == pytest.approx((first * 110 + (10 - first) * 130) / 10, rel=1e-12)


def test_a_short_that_loses_more_than_the_equity_is_covered_in_full():
    # shorting 100 at 100 then covering at 250 costs 25,000 from 20,000 of cash: equity goes negative
    # (vectorbt covers only what its cash buys; tests/parity/test_parity_vectorbt.py documents the difference)
    close = np.array([100.0, 250.0, 250.0])
    result = run(close, close, close, close, np.array([-1.0, 1.0, NAN]),
                 EngineConfig(init_cash=10_000, fill="close", close_at_end=False))
    assert result.positions[:, 0].tolist() == [-100.0, 0.0, 0.0]
    assert result.equity.tolist() == [10_000.0, -5_000.0, -5_000.0]
    assert result.trades.height == 1 and result.trades["pnl"][0] == -15_000.0
