"""Parity with vectorbt: ``Portfolio.from_signals`` on the same signals as our engine, over seeded random
walks and backtesting.py's GOOG bars: the same trades (bars, sizes, prices, PnL to 1e-9 relative), the same
number of trades, the same value on every bar.

How vectorbt sizes ``size=np.inf`` (read from ``vectorbt/portfolio/nb.py``, 1.2): a long entry buys
``cash / (price * (1 + fees))`` units (all cash, fees included); a short entry's ``-inf`` becomes "100%"
and sells ``free_cash / (price * (1 + fees))``; a reversal is one order of the old position plus a new
one sized from the cash the exit frees, with fees on the whole order. That is our ``size=1`` of equity
with reductions before additions, so both engines hold the same units after every fill (whole units:
vectorbt's ``size_granularity=1`` is our ``whole_units``). Mapping of our signals: +1 is a long entry, -1 a
short entry (a long exit under ``long_only``), 0 an exit of either side; ``accumulate=False`` and
``upon_opposite_entry='reversereduce'`` (its defaults) mean re-entries are ignored and opposite entries
reverse, as in our ``direction`` signals. Close fills are vectorbt's default (``price=close``); our next-open
fills are vectorbt with ``price=open`` and signals shifted by one bar. Open trades stay open in both
(``close_at_end=false``) and are counted by both ``pf.trades`` and our trade list.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

vbt = pytest.importorskip("vectorbt")
from backtesting.test import GOOG  # noqa: E402

from backtest.engine.simulate import EngineConfig, SimulationResult, run  # noqa: E402
from strategies import signal_events, sma_cross  # noqa: E402
from support.data import frame_bars, geometric_walk  # noqa: E402

FEES = 0.001


def walk(seed: int, n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """A seeded geometric random walk and random signals (+1, -1, 0 and mostly NaN)."""
    rng = np.random.default_rng(seed)
    close = geometric_walk(rng, n, 0.01)
    signal = rng.choice([1.0, -1.0, 0.0, np.nan], size=n, p=[0.03, 0.03, 0.02, 0.92])
    return close, signal


def theirs(close: pd.Series, signal: np.ndarray, direction: str, price: pd.Series | None = None, shift: int = 0,
           whole: bool = False, fees: float = FEES):
    """vectorbt on our signals (see the module docstring for the mapping)."""
    s = pd.Series(signal, index=close.index).shift(shift)
    short_entry = s == -1
    exits = (s == 0) | short_entry if direction == "long_only" else s == 0
    never = pd.Series(False, index=close.index)  # long-only passes empty short signals: one signature
    options = ({"short_entries": short_entry, "short_exits": s == 0} if direction == "both"
               else {"short_entries": never, "short_exits": never})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # explicit price and granularity keep one argument signature, so vectorbt compiles once per process
        return vbt.Portfolio.from_signals(close, entries=s == 1, exits=exits, price=close if price is None else price,
                                          fees=fees, init_cash=10_000, size=np.inf,
                                          size_granularity=1.0 if whole else np.nan, **options)


def ours(open_, close, signal, direction: str, fill: str = "close", whole: bool = False,
         fees: float = FEES) -> SimulationResult:
    config = EngineConfig(init_cash=10_000, fill=fill, fees_bps=fees * 1e4, direction=direction,
                          whole_units=whole, close_at_end=False)
    return run(open_, close, close, close, signal, config)


def assert_same(result: SimulationResult, pf) -> None:
    """Trades (count incl. open, bars, sides, sizes, prices, PnL) and the value on every bar."""
    peer = pf.trades.records
    trades = result.trades
    assert trades.height == pf.trades.count() == len(peer)
    assert (~trades["is_open"]).sum() == pf.trades.closed.count()
    np.testing.assert_array_equal(trades["entry_bar"].to_numpy(), peer["entry_idx"])
    np.testing.assert_array_equal(trades["exit_bar"].to_numpy(), peer["exit_idx"])
    np.testing.assert_array_equal(trades["direction"].to_numpy() == "short", peer["direction"] == 1)
    np.testing.assert_array_equal(trades["is_open"].to_numpy(), peer["status"] == 0)
    np.testing.assert_allclose(trades["size"].to_numpy(), peer["size"], rtol=1e-9)
    np.testing.assert_allclose(trades["entry_price"].to_numpy(), peer["entry_price"], rtol=1e-12)
    np.testing.assert_allclose(trades["exit_price"].to_numpy(), peer["exit_price"], rtol=1e-12)
    np.testing.assert_allclose(trades["pnl"].to_numpy(), peer["pnl"], rtol=1e-9)
    np.testing.assert_allclose(result.equity, pf.value().to_numpy(), rtol=1e-9)
    assert result.equity[-1] == pytest.approx(pf.final_value(), rel=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("direction", ["long_only", "both"])
def test_random_walks_with_close_fills(seed, direction):
    close, signal = walk(seed)
    result = ours(close, close, signal, direction)
    pf = theirs(pd.Series(close), signal, direction)
    assert_same(result, pf)
    assert result.trades.height > 25
    assert (result.trades["direction"] == "short").any() == (direction == "both")


GOOG_BARS = frame_bars(GOOG, "GOOG")
GOOG_SIGNAL = signal_events(sma_cross.SmaCross(fast=10, slow=20), GOOG_BARS).dense()[:, 0]


@pytest.mark.parametrize("direction, whole, final", [
    ("both", False, 51_250.998963), ("both", True, 49_985.91578), ("long_only", False, None),
])
def test_goog_sma_cross_with_close_fills(direction, whole, final):
    result = ours(GOOG["Open"].to_numpy(), GOOG["Close"].to_numpy(), GOOG_SIGNAL, direction, whole=whole, fees=0.002)
    pf = theirs(GOOG["Close"], GOOG_SIGNAL, direction, whole=whole, fees=0.002)
    assert_same(result, pf)
    assert result.trades.height == (94 if direction == "both" else 47)
    if final is not None:
        assert result.equity[-1] == pytest.approx(final, rel=1e-9)


def test_goog_next_open_fills_equal_vectorbt_at_open_prices_with_shifted_signals():
    result = ours(GOOG["Open"].to_numpy(), GOOG["Close"].to_numpy(), GOOG_SIGNAL, "both", fill="next_open",
                  whole=True, fees=0.002)
    pf = theirs(GOOG["Close"], GOOG_SIGNAL, "both", price=GOOG["Open"], shift=1, whole=True, fees=0.002)
    assert_same(result, pf)
    assert result.equity[-1] == pytest.approx(56_263.51934, rel=1e-9)  # backtesting.py's figure as well


def test_documented_difference_a_short_that_lost_more_than_the_equity():
    """Covering a short whose loss exceeds the account: we buy back every unit (cash and equity go
    negative, as a broker's margin call would leave it); vectorbt buys back only what its cash pays for
    and stays short the rest."""
    close = np.array([100.0, 100.0, 250.0, 250.0])
    signal = np.array([-1.0, np.nan, 1.0, np.nan])
    result = ours(close, close, signal, "both")
    pf = theirs(pd.Series(close), signal, "both")

    shorted = 10_000 / (100 * (1 + FEES))
    cash = 10_000 + shorted * 100 * (1 - FEES)
    covered = cash / (250 * (1 + FEES))
    assert result.positions[-1, 0] == 0.0
    assert pf.assets().iloc[-1] == pytest.approx(covered - shorted, rel=1e-12)  # still short 20.06 units
    assert result.equity[-1] == pytest.approx(cash - shorted * 250 * (1 + FEES), rel=1e-12)  # -5,019.98
    assert pf.final_value() == pytest.approx(cash - covered * 250 * (1 + FEES) - (shorted - covered) * 250,
                                             rel=1e-12)  # -5,014.97: no fee on the part never bought back
    assert result.equity[1] == pytest.approx(pf.value().iloc[1], rel=1e-12)  # identical until then
