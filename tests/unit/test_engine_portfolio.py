"""Portfolio rules of the engine: ``allocation`` of direction entries and the ``rebalance_threshold``
of target weights, on several symbols sharing one cash pool."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.engine.simulate import EngineConfig, run

NAN = np.nan


def test_equal_allocation_gives_each_symbol_its_share_whatever_the_symbol_order():
    rng = np.random.default_rng(4)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (300, 4)), axis=0))
    signal = rng.choice([1.0, -1.0, 0.0, NAN], size=(300, 4), p=[0.04, 0.04, 0.02, 0.90])
    rules = dict(init_cash=10_000, fill="close", fees_bps=10, close_at_end=False)
    equal = run(close, close, close, close, signal, EngineConfig(allocation="equal", **rules))
    quarter = run(close, close, close, close, signal, EngineConfig(size=0.25, **rules))
    np.testing.assert_allclose(equal.equity, quarter.equity, rtol=1e-12)  # equal = size / number of symbols
    greedy = run(close, close, close, close, signal, EngineConfig(**rules))  # the first entries take all the cash
    assert greedy.trades.height < equal.trades.height
    # with 80% spread over the symbols, buying power never runs out, so no column comes first
    shares = run(close, close, close, close, signal, EngineConfig(allocation="equal", size=0.8, **rules))
    order = [2, 0, 3, 1]
    permuted = run(*(close[:, order],) * 4, signal[:, order], EngineConfig(allocation="equal", size=0.8, **rules))
    np.testing.assert_allclose(permuted.equity, shares.equity, rtol=1e-12)
    assert permuted.trades.height == shares.trades.height > 30


def test_a_rebalance_threshold_skips_small_resizes_but_never_entries_or_exits():
    close = np.full((8, 2), 10.0)
    weights = np.array([[0.5, 0.4], [0.51, 0.4], [0.49, 0.4], [0.6, 0.4], [NAN, NAN], [0.0, 0.4], [0.01, 0.4],
                        [NAN, NAN]])
    rules = dict(init_cash=1000, fill="close", signals="target", close_at_end=False)
    every = run(close, close, close, close, weights, EngineConfig(**rules))
    some = run(close, close, close, close, weights, EngineConfig(rebalance_threshold=0.05, **rules))
    assert every.orders.filter(every.orders["column"] == 0)["bar"].to_list() == [0, 1, 2, 3, 5, 6]
    # 0.51 and 0.49 are within 5% of 0.5; 0.6 is not; 0 exits; 0.01 is an entry
    assert some.orders.filter(some.orders["column"] == 0)["bar"].to_list() == [0, 3, 5, 6]
    assert some.positions[3, 0] == pytest.approx(60.0) and some.positions[5, 0] == 0.0


def test_bad_portfolio_rules_are_one_line_errors():
    from backtest.errors import BacktestError

    with pytest.raises(BacktestError, match=r"engine.allocation: 'greedy' is not one of fixed_fraction, equal"):
        EngineConfig(allocation="greedy")
    with pytest.raises(BacktestError, match=r"engine.rebalance_threshold: -0.1"):
        EngineConfig(rebalance_threshold=-0.1)
