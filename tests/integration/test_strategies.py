"""Strategies: each indicator against an independent reference (pandas or a plain Python loop),
each signal rule against a loop written from its docstring, bad parameters, and one CLI multirun
of every strategy on demo data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

import strategies
from strategies.errors import StrategyError
from backtest.feed import BarArrays
from strategies import bollinger_breakout, donchian_breakout, rsi_reversion, vwap_reversion
from support.data import geometric_walk
from strategies.indicators import (IndicatorCache, rolling_max_nb, rolling_min_nb, rolling_std_nb, rsi_nb,
                                   session_vwap_nb, utc_days)

ROOT = Path(__file__).resolve().parents[2]
NEW = ("bollinger_breakout", "donchian_breakout", "rsi_reversion", "vwap_reversion")


def walk(n: int = 3000, k: int = 3, seed: int = 1, level: float = 100.0, lead_nan: int = 25) -> BarArrays:
    """Seeded OHLCV random walks, 1-minute bars over 14:30-21:00 UTC sessions; each column starts
    ``lead_nan * j`` bars late (NaN before its first trade, as the feed serves it)."""
    rng = np.random.default_rng(seed)
    close = geometric_walk(rng, (n, k), 0.002, level)
    open_ = np.vstack([close[:1], close[:-1]])
    spread = np.abs(rng.normal(0, 0.001, (n, k))) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.integers(0, 5000, (n, k)).astype(float)
    for j in range(k):
        for a in (open_, high, low, close, volume):
            a[: lead_nan * j, j] = np.nan
    days = np.arange(n) // 390
    minutes = np.arange(n) % 390
    index = (np.datetime64("2024-01-02T14:30", "us") + days.astype("timedelta64[D]")
             + minutes.astype("timedelta64[m]"))
    return BarArrays(index, tuple(f"S{j}" for j in range(k)), open_, high, low, close, volume)


BARS = walk()


# ---- indicators against pandas / plain loops -------------------------------------------------

def test_rsi_matches_wilder_smoothing_in_pandas():
    window = 14
    got = rsi_nb(BARS.close, window)
    for j in range(BARS.close.shape[1]):
        close = pd.Series(BARS.close[:, j]).dropna()
        change = close.diff().iloc[1:]
        gain, loss = change.clip(lower=0), -change.clip(upper=0)
        # Wilder: seed with the mean of the first `window` changes, then an EWM with alpha = 1/window
        seeded = [pd.concat([pd.Series([s.iloc[:window].mean()]), s.iloc[window:]]) for s in (gain, loss)]
        avg_gain, avg_loss = (s.ewm(alpha=1 / window, adjust=False).mean().to_numpy() for s in seeded)
        expected = 100 - 100 / (1 + avg_gain / avg_loss)
        column = got[:, j][~np.isnan(BARS.close[:, j])]
        assert np.isnan(column[:window]).all()
        np.testing.assert_allclose(column[window:], expected, rtol=1e-10)


def test_rsi_edges_no_losses_is_100_and_no_moves_is_50():
    rising = np.arange(1.0, 8.0)[:, None]
    flat = np.full((7, 1), 5.0)
    assert rsi_nb(rising, 3)[3:, 0].tolist() == [100.0] * 4
    assert rsi_nb(flat, 3)[3:, 0].tolist() == [50.0] * 4


@pytest.mark.parametrize("window", [2, 20, 390])
def test_rolling_std_is_numpys_two_pass_population_std_of_each_window(window):
    prices = BARS.close * 100  # around 10,000 with small moves: a naive sum-of-squares would lose digits
    got = rolling_std_nb(prices, window)
    expected = np.full(prices.shape, np.nan)
    expected[window - 1:] = np.lib.stride_tricks.sliding_window_view(prices, window, axis=0).std(axis=-1)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    # pandas' running update drifts (~1e-9 of the price), never more
    pandas = pd.DataFrame(prices).rolling(window).std(ddof=0).to_numpy()
    np.testing.assert_allclose(got, pandas, rtol=0, atol=1e-8 * np.nanmax(prices))


@pytest.mark.parametrize("window", [1, 3, 55])
def test_rolling_max_and_min_match_pandas(window):
    for kernel, method in ((rolling_max_nb, "max"), (rolling_min_nb, "min")):
        got = kernel(BARS.high, window)
        expected = getattr(pd.DataFrame(BARS.high).rolling(window), method)().to_numpy()
        np.testing.assert_array_equal(got, expected)


def test_session_vwap_matches_a_groupby_over_utc_days():
    sessions = utc_days(BARS.index)
    got = session_vwap_nb(BARS.high, BARS.low, BARS.close, BARS.volume, sessions)
    for j in range(BARS.close.shape[1]):
        frame = pd.DataFrame({
            "day": sessions,
            "pv": np.nan_to_num((BARS.high[:, j] + BARS.low[:, j] + BARS.close[:, j]) / 3 * BARS.volume[:, j]),
            "v": np.nan_to_num(BARS.volume[:, j]),
        })
        cum = frame.groupby("day")[["pv", "v"]].cumsum()
        expected = (cum["pv"] / cum["v"].where(cum["v"] > 0)).to_numpy()
        np.testing.assert_allclose(got[:, j], expected, rtol=1e-12)
    assert len(np.unique(sessions)) == 8


def test_indicator_cache_keys_known_arrays_by_identity_and_keeps_nothing_of_others():
    cache = IndicatorCache(BARS.high, BARS.low, BARS.close, BARS.volume, BARS.index)
    sessions = cache(utc_days, BARS.index)
    first = cache(session_vwap_nb, BARS.high, BARS.low, BARS.close, BARS.volume, sessions)
    again = cache(session_vwap_nb, BARS.high, BARS.low, BARS.close, BARS.volume, sessions)
    other = cache(session_vwap_nb, BARS.high, BARS.low, BARS.close, BARS.volume, sessions[::-1].copy())
    assert first is again and other is not first and len(cache) == 2
    np.testing.assert_array_equal(first, session_vwap_nb(BARS.high, BARS.low, BARS.close, BARS.volume, sessions))


# ---- signal rules against loops written from the docstrings ----------------------------------

def test_rsi_reversion_signals_follow_the_thresholds():
    got = rsi_reversion.RsiReversion(window=10, lower=35, upper=65).signals(BARS)
    rsi = rsi_nb(BARS.close, 10)
    expected = np.where(rsi < 35, 1.0, np.where(rsi > 65, -1.0, np.nan))
    np.testing.assert_array_equal(got, expected)
    assert (got == 1).sum() > 50 and (got == -1).sum() > 50


def test_bollinger_breakout_signals_match_pandas_bands():
    got = bollinger_breakout.BollingerBreakout(window=30, k=1.5).signals(BARS)
    close = pd.DataFrame(BARS.close)
    middle, std = close.rolling(30).mean(), close.rolling(30).std(ddof=0)
    expected = np.where(close > middle + 1.5 * std, 1.0, np.where(close < middle - 1.5 * std, -1.0, np.nan))
    np.testing.assert_array_equal(got, expected)
    assert (got == 1).sum() > 50 and (got == -1).sum() > 50


def _position_loop(close, enter_long, enter_short, exit_long, exit_short, flat=None):
    """The shared state machine of the stateful strategies, one plain loop per column."""
    out = np.full(close.shape, np.nan)
    for j in range(close.shape[1]):
        position = 0
        for t in range(close.shape[0]):
            if flat is not None and flat[t]:
                if position:
                    position, out[t, j] = 0, 0.0
                continue
            if enter_long[t, j] and position != 1:
                position, out[t, j] = 1, 1.0
            elif enter_short[t, j] and position != -1:
                position, out[t, j] = -1, -1.0
            elif (position == 1 and exit_long[t, j]) or (position == -1 and exit_short[t, j]):
                position, out[t, j] = 0, 0.0
    return out


def test_donchian_breakout_uses_the_previous_bars_channels():
    got = donchian_breakout.DonchianBreakout(window=40, exit_window=15).signals(BARS)
    high, low = pd.DataFrame(BARS.high), pd.DataFrame(BARS.low)
    close = BARS.close
    upper, lower = (high.rolling(40).max().shift(1).to_numpy(), low.rolling(40).min().shift(1).to_numpy())
    exit_upper, exit_lower = high.rolling(15).max().shift(1).to_numpy(), low.rolling(15).min().shift(1).to_numpy()
    expected = _position_loop(close, close > upper, close < lower, close < exit_lower, close > exit_upper)
    np.testing.assert_array_equal(got, expected)
    assert {1.0, -1.0, 0.0} <= set(got[~np.isnan(got)].tolist())


def test_vwap_reversion_enters_away_from_vwap_exits_at_it_and_is_flat_at_session_ends():
    got = vwap_reversion.VwapReversion(threshold=0.003, flat_bars=2).signals(BARS)
    sessions = utc_days(BARS.index)
    vwap = session_vwap_nb(BARS.high, BARS.low, BARS.close, BARS.volume, sessions)
    close = BARS.close
    with np.errstate(invalid="ignore"):
        deviation = close / vwap - 1
    last_two = np.zeros(len(sessions), dtype=bool)
    for t in range(len(sessions)):
        last_two[t] = t + 2 >= len(sessions) or sessions[t + 2] != sessions[t]
    expected = _position_loop(close, deviation < -0.003, deviation > 0.003, close >= vwap, close <= vwap, last_two)
    np.testing.assert_array_equal(got, expected)
    # nothing is held into a new session: every position opened in a day is closed by its last-but-one bar
    for j in range(close.shape[1]):
        held = pd.Series(got[:, j]).ffill().fillna(0).to_numpy()
        assert (held[last_two] == 0).all()
        assert (got[:, j] == 1).sum() > 5 and (got[:, j] == -1).sum() > 5


# ---- parameters --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, values, message", [
    ("rsi_reversion", {"window": 0}, "strategy.window: 0 must be an integer >= 1 (rsi_reversion)"),
    ("rsi_reversion", {"lower": 70, "upper": 30}, "strategy.lower: 70.0 must be < strategy.upper (30.0) (rsi_reversion)"),
    ("rsi_reversion", {"upper": 120}, "strategy.upper: 120 must be a number in [0, 100] (rsi_reversion)"),
    ("rsi_reversion", {"upper": "high"}, "strategy.upper: 'high' must be a number in [0, 100] (rsi_reversion)"),
    ("bollinger_breakout", {"window": 1}, "strategy.window: 1 must be an integer >= 2 (bollinger_breakout)"),
    ("bollinger_breakout", {"k": -1.0}, "strategy.k: -1.0 must be a number >= 0 (bollinger_breakout)"),
    ("donchian_breakout", {"exit_window": 2.5}, "strategy.exit_window: 2.5 must be an integer >= 1 (donchian_breakout)"),
    ("vwap_reversion", {"threshold": 0}, "strategy.threshold: 0.0 must be a finite number > 0 (vwap_reversion)"),
    ("vwap_reversion", {"flat_bars": True}, "strategy.flat_bars: True must be an integer >= 0 (vwap_reversion)"),
    ("sma_cross", {"fsat": 3}, "strategy.fsat: unknown parameter of sma_cross (known: fast, slow)"),
])
def test_bad_parameters_name_the_field_the_value_and_the_strategy(name, values, message):
    with pytest.raises(StrategyError) as error:
        strategies.find(name)(**values)
    assert str(error.value) == message


def test_every_builtin_is_a_class_whose_config_option_holds_its_defaults():
    from hydra import compose, initialize_config_dir

    from backtest.config import CONF_DIR

    assert set(NEW) | {"sma_cross"} <= set(strategies.available())
    assert not (ROOT / "conf" / "strategy").exists()  # no YAML: defaults come from the classes
    for name in strategies.available():
        cls = strategies.find(name)
        assert issubclass(cls, strategies.Strategy) and cls.name == name
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            node = compose(config_name="config", overrides=[f"+strategy={name}"]).strategy
        assert dict(node) == {"name": name, **cls.defaults()}
        assert cls(**cls.defaults()) == cls()


# ---- end to end -------------------------------------------------------------------------------

def test_every_new_strategy_runs_from_the_cli_on_demo_data(tmp_path):
    dsn = f"chdb://{tmp_path}/warehouse"
    demo = subprocess.run([sys.executable, "-m", "warehouse", "--dsn", dsn, "demo", "--ticks", "200k",
                           "--symbols", "AAPL"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    sweep_dir = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-m", "backtest", "-m", f"+strategy={','.join(NEW)}",
                           f"warehouse.dsn={dsn}", f"hydra.sweep.dir={sweep_dir}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for job, name in enumerate(NEW):
        assert f"{name}(" in done.stdout
        metrics = pl.read_csv(sweep_dir / str(job) / "metrics.csv")
        equity = pl.read_csv(sweep_dir / str(job) / "equity.csv")
        assert metrics["strategy"][0] == name
        assert metrics["trades"][0] > 0, name
        assert metrics["final_equity"][0] == pytest.approx(equity["equity"][-1], rel=1e-12)


# ---- sparse signal events ----------------------------------------------------------------------

def test_sma_is_the_correctly_rounded_window_mean_and_restarts_after_a_nan():
    import math

    from strategies.indicators import sma_nb

    values = walk(n=4000, k=2).close.copy()
    values[1500, 1] = np.nan
    window = 37
    got = sma_nb(values, window)
    for j in range(2):
        column = values[:, j]
        for t in range(len(column)):
            span = column[max(t - window + 1, 0): t + 1]
            if t + 1 < window or np.isnan(span).any():
                assert np.isnan(got[t, j])
            else:
                assert got[t, j] == math.fsum(span) / window, (t, j)


def test_sma_cross_events_of_a_run_and_of_a_sweep_equal_the_dense_crossings_of_the_averages():
    from strategies.indicators import Indicators, crossover_signal_nb, sma_nb

    bars = walk(n=5000, k=3, seed=7)
    for fast, slow in ((10, 30), (3, 8)):
        dense = crossover_signal_nb(sma_nb(bars.close, fast), sma_nb(bars.close, slow))
        strategy = strategies.find("sma_cross")(fast=fast, slow=slow)
        for indicators in (Indicators(bars), Indicators(bars, shared=True)):  # one pass; cached averages
            events = strategies.signal_events(strategy, bars, indicators)
            assert events.n_bars == dense.shape[0] and len(events.bars) > 10
            expected = np.flatnonzero(~np.isnan(dense).all(axis=1))
            assert events.bars.tolist() == expected.tolist()
            np.testing.assert_array_equal(events.rows, dense[expected])
            np.testing.assert_array_equal(events.dense(), dense)


def test_dense_signals_reach_the_engine_as_the_same_events():
    strategy = rsi_reversion.RsiReversion()
    dense = strategy.signals(BARS)
    np.testing.assert_array_equal(strategies.signal_events(strategy, BARS).dense(), dense)


@pytest.mark.parametrize("fast, slow", [(10, 30), (2, 3), (1, 2), (30, 10), (5, 100)])
def test_one_pass_crossings_equal_those_of_the_stored_averages_even_at_exact_ties(fast, slow):
    from strategies.indicators import crossover_events_nb, sma_crossover_events_nb, sma_nb

    rng = np.random.default_rng(11)
    # cent prices with long flat runs: the two averages are often exactly equal
    ties = np.round(np.cumsum(rng.choice([-1, 0, 0, 0, 1], (50_000, 2)), axis=0) * 0.25 + 100, 2)
    ties[1000:1100, 0] = 100.0
    ties[7000, 1] = np.nan
    for values in (ties, walk(n=20_000, k=2, seed=5).close):
        stored = crossover_events_nb(sma_nb(values, fast), sma_nb(values, slow))
        one_pass = sma_crossover_events_nb(values, fast, slow, 0, len(values))
        assert len(stored[0]) > 100
        np.testing.assert_array_equal(one_pass[0], stored[0])
        np.testing.assert_array_equal(one_pass[1], stored[1])


@pytest.mark.parametrize("fast, slow", [(10, 30), (2, 3), (30, 10), (5, 400)])
def test_crossings_are_the_same_however_many_threads_split_the_bars(fast, slow):
    from strategies.indicators import RESTART_EVERY, crossover_events_nb, sma_crossings, sma_nb

    rng = np.random.default_rng(3)
    n = 3 * RESTART_EVERY + 777
    # cent prices with flat runs (exact ties) across the restart bars, and NaNs next to them
    values = np.round(np.cumsum(rng.choice([-1, 0, 0, 0, 1], (n, 2)), axis=0) * 0.25 + 100, 2)
    values[RESTART_EVERY - 40: RESTART_EVERY + 40, 0] = 100.0
    values[2 * RESTART_EVERY - 1, 1] = np.nan
    values[3 * RESTART_EVERY + 2, 0] = np.nan
    # a slide into a jump: both columns cross exactly at the first bar of a part
    for start in (RESTART_EVERY, 2 * RESTART_EVERY):
        values[start - 1000: start] = np.linspace(120, 100, 1000)[:, None]
        values[start: start + 5] = 140.0
    stored = crossover_events_nb(sma_nb(values, fast), sma_nb(values, slow))
    assert len(stored[0]) > 1000 and np.isin([RESTART_EVERY, 2 * RESTART_EVERY], stored[0]).all()
    for parts in (1, 2, 3, 4, 9):
        bars, rows = sma_crossings(values, fast, slow, parts=parts)
        np.testing.assert_array_equal(bars, stored[0])
        np.testing.assert_array_equal(rows, stored[1])


def test_sma_stays_the_correctly_rounded_mean_where_its_sums_start_afresh():
    import math

    from strategies.indicators import RESTART_EVERY, sma_nb

    values = walk(n=2 * RESTART_EVERY + 100, k=1, seed=9).close
    window = 50
    got = sma_nb(values, window)[:, 0]
    for restart in (RESTART_EVERY, 2 * RESTART_EVERY):
        for t in range(restart - 60, restart + 60):
            assert got[t] == math.fsum(values[t - window + 1: t + 1, 0]) / window, t


def test_crossings_of_no_bars_are_empty_for_any_number_of_parts():
    from strategies.indicators import sma_crossings

    for parts in (1, 2):
        bars, rows = sma_crossings(np.empty((0, 2)), 10, 30, parts=parts)
        assert bars.shape == (0,) and rows.shape == (0, 2)
