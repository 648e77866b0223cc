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

    with pytest.raises(BacktestError, match=r"engine.allocation: 'greedy' is not one of fixed_fraction, equal, "
                                            r"signal_weight, target_weights"):
        EngineConfig(allocation="greedy")
    with pytest.raises(BacktestError, match=r"engine.rebalance_threshold: -0.1"):
        EngineConfig(rebalance_threshold=-0.1)


SW = dict(init_cash=1000, fill="close", allocation="signal_weight", close_at_end=False)


def test_signal_weight_shares_a_fill_times_budget_by_signal_strength():
    close = np.tile([10.0, 20.0, 40.0], (4, 1))
    signal = np.array([[1.0, 0.5, -0.5],   # one fill time: S = 2, so 250 / 125 / 125 of size 0.5 x 1000
                       [1.0, 0.0, NAN],    # symbol 0 signals its side again (no resize); symbol 1 exits
                       [0.5, 1.0, NAN],    # symbol 1 enters beside symbol 0's 0.5: S = 1.5, 1 / 1.5 of 500
                       [NAN, NAN, NAN]])
    result = run(close, close, close, close, signal, EngineConfig(size=0.5, **SW))
    orders = result.orders.select("bar", "column", "size").rows()
    assert orders[:3] == [(0, 0, 25.0), (0, 1, 6.25), (0, 2, -3.125)]
    assert orders[3] == (1, 1, -6.25)
    bar, column, units = orders[4]
    assert (bar, column) == (2, 1) and units == pytest.approx(500 / 1.5 / 20, rel=1e-12)
    assert len(orders) == 5 and result.equity[-1] == pytest.approx(1000.0)
    # fees come out of each entry's budget, as with every allocation
    fees = run(close, close, close, close, signal, EngineConfig(size=0.5, fees_bps=10, **SW))
    assert fees.orders["size"][:3].to_list() == pytest.approx([250 / 10.01, 125 / 20.02, -125 / 40.04], rel=1e-12)


def test_signal_weight_with_unit_signals_is_equal_among_the_symbols_signalling():
    rng = np.random.default_rng(9)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (50, 4)), axis=0))
    signal = np.full((50, 4), NAN)
    signal[0] = [1.0, -1.0, 1.0, 1.0]  # all four enter at once: size x equity / 4 each, as "equal" gives
    signal[30] = 0.0
    weighted = run(close, close, close, close, signal, EngineConfig(size=0.8, **SW))
    equal = run(close, close, close, close, signal, EngineConfig(size=0.8, **{**SW, "allocation": "equal"}))
    np.testing.assert_allclose(weighted.equity, equal.equity, rtol=1e-12)
    assert weighted.orders.height == 8


def test_signal_weight_results_do_not_depend_on_the_symbol_order():
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (400, 5)), axis=0))
    side = rng.choice([1.0, -1.0, 0.0, NAN], size=(400, 5), p=[0.05, 0.05, 0.03, 0.87])
    signal = side * rng.choice([0.25, 0.5, 1.0, 2.0], size=(400, 5))  # strengths
    rules = EngineConfig(size=0.2, fees_bps=10, **{**SW, "init_cash": 10_000})
    base = run(close, close, close, close, signal, rules)
    assert base.orders.height > 60
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(5)
        other = run(*(close[:, order],) * 4, signal[:, order], rules)
        np.testing.assert_allclose(other.equity, base.equity, rtol=1e-12)
        mine = other.orders.with_columns(column=order[other.orders["column"].to_numpy()])
        mine, theirs = (o.sort("bar", "column", maintain_order=True) for o in (mine, base.orders))  # reversals: 2 rows
        np.testing.assert_allclose(mine["size"].to_numpy(), theirs["size"].to_numpy(), rtol=1e-9)


def test_allocation_names_are_the_config_words():
    from backtest.engine.modes import Allocation

    assert Allocation.choices() == "fixed_fraction, equal, signal_weight, target_weights"
    assert EngineConfig(allocation="signal_weight").allocation is Allocation.signal_weight
