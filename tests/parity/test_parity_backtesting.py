"""Parity with backtesting.py: its SmaCross example (SMA 10/20, commission 0.2%, cash 10,000) on its
bundled GOOG daily and EURUSD hourly bars, run by backtesting.py itself in the test and by our engine
under the ``conf/engine/backtesting_py.yaml`` preset: same trades (bars, sizes, prices, PnL,
commissions), same number of trades and the same final equity.

Its rules, read from ``backtesting/backtesting.py`` (0.6): a market order placed in ``next()`` at
bar t fills at bar t+1's open; ``position.close(); buy()`` closes first, then sizes the new trade as
``int(margin_available * size // (price * (1 + commission)))`` with ``size = 1 - eps`` and
``margin_available`` = equity (no trades left); commission is charged on entry and on exit; the
trade still open after the last bar stays open (``finalize_trades=False``): ``# Trades`` counts
closed trades and ``Equity Final [$]`` marks the open one to the last close. Our engine does the same
with next-open fills, ``whole_units``, ``size=1`` of equity, reversals that close then reopen and
``close_at_end=false``. For reference (backtesting 0.6.x): GOOG 93 trades, 56,263.52;
EURUSD 262 trades, 3,526.92.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

pytest.importorskip("backtesting")
from backtesting import Backtest, Strategy  # noqa: E402
from backtesting.lib import crossover  # noqa: E402
from backtesting.test import EURUSD, GOOG, SMA  # noqa: E402

from backtest.engine.simulate import EngineConfig, SimulationResult, run  # noqa: E402
from backtest.feed import Feed  # noqa: E402
from backtest.runner import DataSpec, run_backtest  # noqa: E402
from strategies import signal_events, sma_cross  # noqa: E402
from support.data import frame_bars, load_goog  # noqa: E402

CONF = str(Path(__file__).resolve().parents[2] / "conf")
COMMISSION = 0.002


class SmaCross(Strategy):
    """backtesting.py's README example, verbatim."""

    n1 = 10
    n2 = 20

    def init(self):
        close = self.data.Close
        self.sma1 = self.I(SMA, close, self.n1)
        self.sma2 = self.I(SMA, close, self.n2)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


def theirs(data: pd.DataFrame, **options) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open", progress bars
        return Backtest(data, SmaCross, cash=10_000, commission=COMMISSION, **options).run()


def preset(*overrides: str) -> EngineConfig:
    """The ``backtesting_py`` engine preset as Hydra composes it, with the example's commission."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["engine=backtesting_py", "engine.fees_bps=20", *overrides])
    return EngineConfig.from_mapping(dict(cfg.engine))


def ours(data: pd.DataFrame, engine: EngineConfig) -> SimulationResult:
    bars = frame_bars(data, "X")
    signal = signal_events(sma_cross.SmaCross(fast=10, slow=20), bars)
    return run(bars.open, bars.high, bars.low, bars.close, signal, engine)


def assert_same_trades(result: SimulationResult, stats: pd.Series) -> None:
    """Every closed trade: bars, signed whole-unit size, prices exactly; PnL and commissions to 1e-9."""
    closed = result.trades.filter(~result.trades["is_open"])
    peer = stats["_trades"]
    assert closed.height == stats["# Trades"] == len(peer)
    sign = np.where(closed["direction"].to_numpy() == "long", 1, -1)
    np.testing.assert_array_equal(closed["entry_bar"].to_numpy(), peer["EntryBar"].to_numpy())
    np.testing.assert_array_equal(closed["exit_bar"].to_numpy(), peer["ExitBar"].to_numpy())
    np.testing.assert_array_equal(sign * closed["size"].to_numpy(), peer["Size"].to_numpy())
    np.testing.assert_array_equal(closed["entry_price"].to_numpy(), peer["EntryPrice"].to_numpy())
    np.testing.assert_array_equal(closed["exit_price"].to_numpy(), peer["ExitPrice"].to_numpy())
    np.testing.assert_allclose(closed["pnl"].to_numpy(), peer["PnL"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(closed["fees"].to_numpy(), peer["Commission"].to_numpy(), rtol=1e-9)


@pytest.mark.parametrize("data, trades", [(GOOG, 93), (EURUSD, 262)], ids=["GOOG_1d", "EURUSD_1h"])
def test_sma_cross_example_matches_trade_for_trade(data, trades):
    stats = theirs(data)
    result = ours(data, preset())
    assert stats["# Trades"] == trades
    assert_same_trades(result, stats)
    assert result.equity[-1] == pytest.approx(stats["Equity Final [$]"], rel=1e-4)  # the bar: 0.01%
    assert result.equity[-1] == pytest.approx(stats["Equity Final [$]"], rel=1e-12)  # what we actually get
    # the equity curves agree from the first bar backtesting.py trades on
    start = int(stats["_trades"]["EntryBar"].iloc[0])
    np.testing.assert_allclose(result.equity[start:], stats["_equity_curve"]["Equity"].to_numpy()[start:], rtol=1e-9)


def test_the_same_run_through_the_warehouse_and_runner(fresh_client):
    """GOOG.csv imported with load-ohlcv and read back by the feed gives the same run."""
    load_goog(fresh_client)
    data = DataSpec(symbols=("GOOG",), start="2004-01-01", end="2014-01-01", interval="1d", source="ohlcv")
    result = run_backtest(Feed(fresh_client), "sma_cross", {"fast": 10, "slow": 20}, data, preset())
    stats = theirs(GOOG)
    assert result.stats["trades"] == stats["# Trades"]
    assert result.stats["final_equity"] == pytest.approx(stats["Equity Final [$]"], rel=1e-12)
    assert_same_trades(result.simulation, stats)


def test_documented_difference_at_the_end_of_the_data():
    """Closing what is open at the end: our ``close_at_end=true`` (the default) sells at the last
    *close*, paying commission; backtesting.py's ``finalize_trades=True`` re-runs its broker on the
    last bar and fills the close order at that bar's *open*. Both count the trade."""
    kept_open = ours(GOOG, preset())
    closed_at_close = ours(GOOG, preset("engine.close_at_end=true"))
    finalized = theirs(GOOG, finalize_trades=True)
    last = kept_open.trades.row(-1, named=True)
    units = last["size"] if last["direction"] == "long" else -last["size"]
    last_open, last_close = GOOG["Open"].iloc[-1], GOOG["Close"].iloc[-1]

    assert closed_at_close.trades.height == finalized["# Trades"] == 94
    assert closed_at_close.trades["exit_price"][-1] == last_close
    assert finalized["_trades"]["ExitPrice"].iloc[-1] == last_open
    assert closed_at_close.equity[-1] == pytest.approx(
        kept_open.equity[-1] - abs(units) * last_close * COMMISSION, rel=1e-12)
    assert finalized["Equity Final [$]"] == pytest.approx(
        kept_open.equity[-1] - units * (last_close - last_open) - abs(units) * last_open * COMMISSION, rel=1e-12)
