"""The engine's rules, each on a few bars whose outcome is worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.engine.simulate import EngineConfig, run
from backtest.errors import BacktestError
from backtest.stats import summarize

NAN = np.nan


def bars(opens, highs=None, lows=None, closes=None):
    """Columns of prices; missing highs/lows/closes default to the opens."""
    o = np.array(opens, dtype=float)
    o = o[:, None] if o.ndim == 1 else o
    h = o if highs is None else np.array(highs, dtype=float).reshape(o.shape)
    lo = o if lows is None else np.array(lows, dtype=float).reshape(o.shape)
    c = o if closes is None else np.array(closes, dtype=float).reshape(o.shape)
    return o, h, lo, c


def signal(*values):
    return np.array(values, dtype=float)[:, None]


def test_signal_fills_at_next_open_with_fees_on_entry_and_exit():
    o, h, lo, c = bars([100, 101, 102, 103], closes=[100.5, 101.5, 102.5, 103.5])
    result = run(o, h, lo, c, signal(1, NAN, 0, NAN), EngineConfig(init_cash=1000, fees_bps=10))
    units = 1000 / (101 * 1.001)
    entry_fee = units * 101 * 0.001
    exit_fee = units * 103 * 0.001
    orders = result.orders
    assert orders["bar"].to_list() == [1, 3]
    assert orders["price"].to_list() == [101.0, 103.0]
    assert orders["size"][0] == pytest.approx(units, rel=1e-12)
    trade = result.trades.row(0, named=True)
    assert trade["pnl"] == pytest.approx(units * 2 - entry_fee - exit_fee, rel=1e-12)
    assert trade["fees"] == pytest.approx(entry_fee + exit_fee, rel=1e-12)
    assert result.equity[-1] == pytest.approx(1000 + trade["pnl"], rel=1e-12)
    assert result.equity[1] == pytest.approx(1000 - entry_fee + units * 0.5, rel=1e-12)


def test_close_fills_and_slippage_move_the_price_against_the_trader():
    o, h, lo, c = bars([10, 10, 10], closes=[10, 11, 12])
    result = run(o, h, lo, c, signal(1, NAN, 0), EngineConfig(init_cash=1000, fill="close", slippage_bps=100))
    assert result.orders["price"].to_list() == pytest.approx([10.1, 12 * 0.99])
    units = 1000 / 10.1
    assert result.equity[-1] == pytest.approx(1000 + units * (12 * 0.99 - 10.1), rel=1e-12)


def test_reversal_closes_then_opens_the_other_side_and_long_only_goes_flat_instead():
    o, h, lo, c = bars([10, 10, 12, 11, 11])
    both = run(o, h, lo, c, signal(1, NAN, -1, NAN, NAN), EngineConfig(init_cash=100, close_at_end=True))
    assert both.trades["direction"].to_list() == ["long", "short"]
    assert both.trades["pnl"].to_list() == pytest.approx([10 * (11 - 10), 0.0])  # exit and re-entry at bar 3's open
    long_only = run(o, h, lo, c, signal(1, NAN, -1, NAN, NAN), EngineConfig(init_cash=100, direction="long_only"))
    assert long_only.trades["direction"].to_list() == ["long"]
    assert long_only.positions[-1, 0] == 0.0
    short_only = run(o, h, lo, c, signal(1, NAN, -1, NAN, NAN), EngineConfig(init_cash=100, direction="short_only"))
    assert short_only.trades["direction"].to_list() == ["short"]


def test_whole_units_round_down_and_cash_or_unit_sizing():
    o, h, lo, c = bars([30, 30, 30])
    whole = run(o, h, lo, c, signal(1, NAN, NAN), EngineConfig(init_cash=100, whole_units=True, close_at_end=False))
    assert whole.orders["size"].to_list() == [3.0]
    cash = run(o, h, lo, c, signal(1, NAN, NAN), EngineConfig(init_cash=100, size_type="cash", size=45, close_at_end=False))
    assert cash.orders["size"].to_list() == pytest.approx([1.5])
    units = run(o, h, lo, c, signal(1, NAN, NAN), EngineConfig(init_cash=100, size_type="units", size=2, close_at_end=False))
    assert units.orders["size"].to_list() == [2.0]
    capped = run(o, h, lo, c, signal(1, NAN, NAN), EngineConfig(init_cash=100, size_type="units", size=10, close_at_end=False))
    assert capped.orders["size"].to_list() == pytest.approx([100 / 30])


def test_stop_loss_fills_at_its_level_and_a_gap_fills_at_the_open():
    o, h, lo, c = bars([100, 100, 99, 90], highs=[100, 101, 99, 90], lows=[100, 99, 97, 89])
    result = run(o, h, lo, c, signal(1, NAN, NAN, NAN), EngineConfig(init_cash=1000, stop_loss=0.02))
    assert result.orders["reason"].to_list() == ["signal", "stop_loss"]
    assert result.orders["bar"].to_list() == [1, 2]
    assert result.orders["price"][1] == pytest.approx(98.0)
    gap = run(*bars([100, 100, 95], highs=[100, 100, 96], lows=[100, 100, 94]), signal(1, NAN, NAN),
              EngineConfig(init_cash=1000, stop_loss=0.02))
    assert gap.orders["price"][1] == 95.0 and gap.orders["reason"][1] == "stop_loss"


def test_a_bar_touching_stop_and_target_exits_at_the_stop():
    o, h, lo, c = bars([100, 100, 100], highs=[100, 100, 110], lows=[100, 100, 90])
    result = run(o, h, lo, c, signal(1, NAN, NAN),
                 EngineConfig(init_cash=1000, stop_loss=0.05, take_profit=0.05))
    assert result.trades["exit_reason"].to_list() == ["stop_loss"]
    assert result.trades["exit_price"][0] == pytest.approx(95.0)
    target_only = run(o, h, lo, c, signal(1, NAN, NAN), EngineConfig(init_cash=1000, take_profit=0.05))
    assert target_only.trades["exit_reason"].to_list() == ["take_profit"]
    assert target_only.trades["exit_price"][0] == pytest.approx(105.0)


def test_short_stops_mirror_long_ones():
    o, h, lo, c = bars([100, 100, 100], highs=[100, 101, 104], lows=[100, 99, 100])
    result = run(o, h, lo, c, signal(-1, NAN, NAN), EngineConfig(init_cash=1000, stop_loss=0.03))
    assert result.trades["direction"].to_list() == ["short"]
    assert result.trades["exit_price"][0] == pytest.approx(103.0)
    assert result.trades["pnl"][0] == pytest.approx(-10 * 3.0)


def test_trailing_stop_follows_completed_bars_only():
    # entry at 100 (bar 1 open); bar 1 makes a high of 120 then trades down to 105: the trail level
    # during bar 1 is still 90 (from the entry), so no exit in bar 1; bar 2's trail is 120 * 0.9 = 108.
    o, h, lo, c = bars([100, 100, 115], highs=[100, 120, 116], lows=[100, 105, 107],
                       closes=[100, 110, 112])
    result = run(o, h, lo, c, signal(1, NAN, NAN), EngineConfig(init_cash=1000, trailing_stop=0.1))
    assert result.trades["exit_reason"].to_list() == ["trailing_stop"]
    assert result.trades["exit_bar"].to_list() == [2]
    assert result.trades["exit_price"][0] == pytest.approx(108.0)


def test_one_cash_pool_reductions_fill_before_additions():
    # column 0 holds everything; at bar 2 it exits and column 1 enters at the same open: the freed cash buys column 1
    o, h, lo, c = bars([[10, 20], [10, 20], [12, 20], [12, 20]])
    sig = np.array([[1, NAN], [0, 1], [NAN, NAN], [NAN, NAN]], dtype=float)
    result = run(o, h, lo, c, sig, EngineConfig(init_cash=100, close_at_end=False))
    assert result.orders["column"].to_list() == [0, 0, 1]
    assert result.orders["size"].to_list() == pytest.approx([10.0, -10.0, 6.0])
    assert result.equity[-1] == pytest.approx(120.0)
    half = run(o, h, lo, c, np.array([[1, 1], [NAN, NAN], [NAN, NAN], [NAN, NAN]], dtype=float),
               EngineConfig(init_cash=100, size=0.5, close_at_end=False))
    assert half.orders["size"].to_list() == pytest.approx([5.0, 2.5])


def test_open_trades_at_the_end_are_listed_open_unless_closed():
    o, h, lo, c = bars([10, 10, 15])
    left = run(o, h, lo, c, signal(1, NAN, NAN), EngineConfig(init_cash=100, close_at_end=False))
    assert left.trades["is_open"].to_list() == [True]
    assert left.trades["pnl"][0] == pytest.approx(50.0)
    assert left.trades["exit_reason"].to_list() == [None]
    closed = run(o, h, lo, c, signal(1, NAN, NAN), EngineConfig(init_cash=100, close_at_end=True, fees_bps=10))
    assert closed.trades["is_open"].to_list() == [False]
    assert closed.trades["exit_reason"].to_list() == ["end"]
    assert closed.orders["bar"].to_list() == [1, 2]


def test_target_signals_rebalance_to_a_fraction_of_equity():
    o, h, lo, c = bars([10, 10, 20, 20])
    result = run(o, h, lo, c, signal(0.5, NAN, 0.5, NAN),
                 EngineConfig(init_cash=100, signals="target", close_at_end=False))
    # bar 1: buy 50 / 10 = 5 units; bar 3: equity 150 at 20 -> target 3.75 units -> sell 1.25
    assert result.orders["size"].to_list() == pytest.approx([5.0, -1.25])
    assert result.positions[-1, 0] == pytest.approx(3.75)
    assert result.equity[-1] == pytest.approx(150.0)


def test_a_missing_open_defers_the_fill_to_the_next_bar_with_prices():
    o, h, lo, c = bars([10, NAN, 11, 12])
    result = run(o, h, lo, c, signal(1, NAN, NAN, NAN), EngineConfig(init_cash=110, close_at_end=False))
    assert result.orders["bar"].to_list() == [2]
    assert result.orders["price"].to_list() == [11.0]


def test_stats_match_direct_numpy_formulas():
    rng = np.random.default_rng(7)
    equity = 1000 * np.cumprod(1 + rng.normal(0.001, 0.01, 500))
    index = np.datetime64("2024-01-01") + np.arange(500).astype("timedelta64[D]")
    pnl = np.array([10.0, -5.0, 20.0, -2.0])
    stats = summarize(equity, 1000.0, pnl, pnl / 1000, 400, index)
    returns = np.diff(np.concatenate([[1000.0], equity])) / np.concatenate([[1000.0], equity[:-1]])
    years = 499 / 365.25
    ppy = 499 / years
    assert stats["periods_per_year"] == pytest.approx(365.25)
    assert stats["sharpe"] == pytest.approx(returns.mean() / returns.std(ddof=1) * np.sqrt(ppy), rel=1e-9)
    downside = np.sqrt(np.mean(np.minimum(returns, 0) ** 2))
    assert stats["sortino"] == pytest.approx(returns.mean() / downside * np.sqrt(ppy), rel=1e-9)
    assert stats["cagr"] == pytest.approx((equity[-1] / 1000) ** (1 / years) - 1, rel=1e-9)
    drawdown = equity / np.maximum.accumulate(np.maximum(equity, 1000)) - 1
    assert stats["max_drawdown"] == pytest.approx(drawdown.min(), rel=1e-9)
    assert stats["win_rate"] == 0.5 and stats["profit_factor"] == pytest.approx(30 / 7)
    assert stats["sqn"] == pytest.approx(2 * pnl.mean() / pnl.std(ddof=1))
    assert stats["exposure"] == pytest.approx(0.8)


@pytest.mark.parametrize("settings, message", [
    ({"fees_bps": -1}, "engine.fees_bps: -1 must be >= 0"),
    ({"direction": "sideways"}, "engine.direction: 'sideways' is not one of long_only, short_only, both"),
    ({"size": 1.5}, "engine.size: 1.5 is above 1"),
    ({"stop_loss": 0}, "engine.stop_loss: 0 must be > 0"),
    ({"init_cash": float("nan")}, "engine.init_cash: nan is not a finite number"),
])
def test_bad_engine_settings_name_the_field(settings, message):
    with pytest.raises(BacktestError, match=message.replace(".", r"\.").replace("(", r"\(")):
        EngineConfig(**settings)


def test_mismatched_shapes_are_refused():
    o, h, lo, c = bars([1, 2, 3])
    with pytest.raises(BacktestError, match="signal: shape"):
        run(o, h, lo, c, np.zeros((2, 1)), EngineConfig())


def _random_walk(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Opens and closes of ``k`` random-walk columns over ``n`` bars (each open is the previous close)."""
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, k)), axis=0))
    return np.vstack([close[:1], close[:-1]]), close


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_cash_and_positions_from_the_orders_add_up_to_the_equity_on_every_bar(fill):
    rng = np.random.default_rng(3)
    n, k = 3000, 3
    open_, close = _random_walk(rng, n, k)
    high, low = np.maximum(open_, close) * 1.004, np.minimum(open_, close) * 0.996
    signals = np.where(rng.random((n, k)) < 0.03, rng.choice([-1.0, 0.0, 1.0], (n, k)), NAN)
    config = EngineConfig(fill=fill, fees_bps=5, size=0.3, stop_loss=0.02, trailing_stop=0.03)
    result = run(open_, high, low, close, signals, config)
    assert result.orders.height > 100 and set(result.orders["reason"].to_list()) >= {"signal", "stop_loss"}
    marked = result.cash + (result.positions * close).sum(axis=1)
    np.testing.assert_allclose(marked, result.equity, rtol=1e-12)
    held = result.positions != 0
    assert result.exposure_bars == int(held.any(axis=1).sum())
    # each order's position and cash are the running totals of the fills before it
    sizes = result.orders["size"].to_numpy()
    flows = sizes * result.orders["price"].to_numpy() + result.orders["fees"].to_numpy()
    np.testing.assert_allclose(result.orders["cash"].to_numpy(), 10_000 - np.cumsum(flows), rtol=1e-9, atol=1e-6)
    for j in range(k):
        mine = result.orders["column"].to_numpy() == j
        np.testing.assert_allclose(result.orders["position"].to_numpy()[mine], np.cumsum(sizes[mine]), atol=1e-9)


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_held_columns_with_missing_bars_are_marked_at_their_last_price(fill):
    rng = np.random.default_rng(8)
    n, k = 4000, 3
    open_, close = _random_walk(rng, n, k)
    missing = rng.random((n, k)) < 0.02  # whole bars missing, in every column, held or not
    missing[0] = False
    close[missing] = np.nan
    open_[missing] = np.nan
    signals = np.where(rng.random((n, k)) < 0.01, rng.choice([-1.0, 1.0], (n, k)), NAN)
    result = run(open_, open_, open_, close, signals, EngineConfig(fill=fill, size=0.3))
    last = np.where(missing, 0, np.arange(n)[:, None])
    latest = close[np.maximum.accumulate(last, axis=0), np.arange(k)]  # each column's last close so far
    held = result.positions != 0
    assert (held & missing).sum() > 50 and (held.sum(axis=1) > 1).sum() > 1000
    np.testing.assert_allclose(result.equity, result.cash + (result.positions * latest).sum(axis=1), rtol=1e-12)
