"""MAE/MFE of real engine trades (stops, reversals, several symbols, both fill rules) equal a per-trade loop
over the bars each trade held, and a trade's own price move lies between its MAE and MFE."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from backtest.engine.simulate import EngineConfig, run
from backtest.excursions import trade_excursions


def _by_hand(trades: pl.DataFrame, high: np.ndarray, low: np.ndarray, *, entry_whole: bool,
             close_fills: bool) -> tuple[list[float], list[float]]:
    """MAE and MFE of each trade by walking its bars one by one (the module docstring's rule)."""
    mae, mfe = [], []
    for t in trades.iter_rows(named=True):
        prices = [t["entry_price"], t["exit_price"]]
        whole_exit = t["is_open"] or t["exit_reason"] == "end" or (close_fills and t["exit_reason"] == "signal")
        for bar in range(t["entry_bar"] + (0 if entry_whole else 1), t["exit_bar"] + (1 if whole_exit else 0)):
            prices += [high[bar, t["column"]], low[bar, t["column"]]]
        hi, lo, p = max(prices), min(prices), t["entry_price"]
        long = t["direction"] == "long"
        mae.append(lo / p - 1 if long else 1 - hi / p)
        mfe.append(hi / p - 1 if long else 1 - lo / p)
    return mae, mfe


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_excursions_equal_a_loop_over_each_trades_bars(fill):
    rng = np.random.default_rng(5)
    n, m = 3000, 3
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, m)), axis=0))
    opens = np.vstack([close[:1], close[:-1]]) * (1 + rng.normal(0, 0.002, (n, m)))
    high = np.maximum(opens, close) * (1 + rng.uniform(0, 0.01, (n, m)))
    low = np.minimum(opens, close) * (1 - rng.uniform(0, 0.01, (n, m)))
    signals = np.where(rng.random((n, m)) < 0.02, rng.choice([-1.0, 0.0, 1.0], (n, m)), np.nan)
    signals[-2:] = [[1.0, -1.0, 1.0], [np.nan] * m]  # entries on the last bars stay open
    engine = EngineConfig(fill=fill, size=0.3, stop_loss=0.02, take_profit=0.03, close_at_end=False)
    trades = run(opens, high, low, close, signals, engine).trades
    assert trades.height > 100 and {"stop_loss", "take_profit", "signal"} <= set(trades["exit_reason"].drop_nulls())
    assert trades["is_open"].any()
    index = np.datetime64("2024-01-01T00:00") + np.arange(n).astype("timedelta64[m]")
    moves = trade_excursions(trades, index=index, high=high, low=low, engine=engine)
    mae, mfe = _by_hand(trades, high, low, entry_whole=fill == "next_open", close_fills=fill == "close")
    assert moves["mae"].to_list() == pytest.approx(mae, rel=0, abs=1e-15)
    assert moves["mfe"].to_list() == pytest.approx(mfe, rel=0, abs=1e-15)
    sign = np.where(trades["direction"] == "long", 1.0, -1.0)
    move = sign * (trades["exit_price"].to_numpy() / trades["entry_price"].to_numpy() - 1)
    assert (moves["mae"].to_numpy() <= move + 1e-12).all() and (move <= moves["mfe"].to_numpy() + 1e-12).all()
    assert (moves["mae"] <= 0).all() and (moves["mfe"] >= 0).all()
    assert moves["bars_held"].to_list() == (trades["exit_bar"] - trades["entry_bar"]).to_list()
