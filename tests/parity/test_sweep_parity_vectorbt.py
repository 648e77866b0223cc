"""Our sweep's total return per set equals vectorbt's (MA.run_combs + Portfolio.from_signals) on an SMA-cross grid.

Matching settings: fills at the close, 0.1% fees, all cash in (vectorbt's
default size=inf is our equity_fraction 1.0 with fractional units), long-only
(vectorbt's default direction: a cross above enters, a cross below exits),
and the open position marked at the last close rather than closed (vectorbt
does not close at the end).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.engine.simulate import EngineConfig
from backtest.sweep.local import sweep
from backtest.sweep.spec import SweepSpec

vbt = pytest.importorskip("vectorbt")
from support.data import close_bars, geometric_walk  # noqa: E402

WINDOWS = list(range(5, 55, 5))


def test_total_return_per_set_equals_vectorbt():
    n = 20_000
    close = geometric_walk(np.random.default_rng(7), n, 1e-3)
    index = pd.date_range("2024-01-01", periods=n, freq="1min")
    price = pd.Series(close, index=index)
    fast, slow = vbt.MA.run_combs(price, window=WINDOWS, r=2, short_names=["fast", "slow"])
    portfolio = vbt.Portfolio.from_signals(price, fast.ma_crossed_above(slow), fast.ma_crossed_below(slow),
                                           fees=0.001, freq="1min")
    theirs = {(int(f), int(s)): r for (f, s), r in portfolio.total_return().items()}

    bars = close_bars(close, index.values)
    spec = SweepSpec(params={"fast": WINDOWS, "slow": WINDOWS}, metric="total_return")
    engine = EngineConfig(fill="close", fees_bps=10, direction="long_only", close_at_end=False)
    result = sweep(bars, "sma_cross", spec, engine)
    ours = {(f, s): r for f, s, r in result.frame.select("param_fast", "param_slow", "total_return").iter_rows()}

    assert len(ours) == len(theirs) == 45
    assert ours.keys() == theirs.keys()
    returns = np.array([theirs[key] for key in ours])
    assert np.abs(returns).max() > 0.01  # the sets trade and move
    np.testing.assert_allclose([ours[key] for key in ours], returns, rtol=1e-9, atol=0)
