"""Every indicator of ``self.ind`` against vectorbt's own, within 1e-9, on seeded OHLCV walks of
3 symbols (the later ones start with NaN bars, as the feed serves a symbol before its first trade).

vectorbt has no WMA and no session VWAP: those are checked against pandas (weighted windows, a
group-by of UTC days), and Wilder's RSI -- whose seed vectorbt cannot express -- against vectorbt's
EWM RSI of the same alpha (span 2n - 1) once the seed has decayed below 1e-12.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

vbt = pytest.importorskip("vectorbt")
from strategies.indicators import Indicators  # noqa: E402
from strategies.indicators.session import utc_days  # noqa: E402
from support.data import geometric_walk  # noqa: E402

N, K = 3000, 3


def _bars():
    rng = np.random.default_rng(17)
    close = geometric_walk(rng, (N, K), 0.002)
    open_ = np.vstack([close[:1], close[:-1]])
    spread = np.abs(rng.normal(0, 0.001, (N, K))) * close
    high, low = np.maximum(open_, close) + spread, np.minimum(open_, close) - spread
    volume = rng.integers(1, 5000, (N, K)).astype(float)
    for j in range(K):
        for a in (open_, high, low, close, volume):
            a[: 40 * j, j] = np.nan
    index = np.datetime64("2024-01-02T14:30", "us") + (np.arange(N) // 390).astype("timedelta64[D]") \
        + (np.arange(N) % 390).astype("timedelta64[m]")
    return pd.Series(index), open_, high, low, close, volume


INDEX, OPEN, HIGH, LOW, CLOSE, VOLUME = _bars()
FRAME = {name: pd.DataFrame(a) for name, a in (("high", HIGH), ("low", LOW), ("close", CLOSE))}


PRICE = float(np.nanmax(CLOSE))
SPREAD = 1e-9 * PRICE  # for differences of prices (std, MACD): within 1e-9 of the prices they come from


def same(got: np.ndarray, expected, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    expected = np.asarray(expected, dtype=float)
    assert got.shape == expected.shape
    assert np.array_equal(np.isnan(got), np.isnan(expected)), "NaN warm-up differs"
    assert (~np.isnan(got)).sum() > N  # something was compared
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("window", [2, 14, 50])
def test_sma_and_ema_equal_vectorbt_ma(window):
    ind = Indicators()
    same(ind.sma(CLOSE, window), vbt.MA.run(FRAME["close"], window).ma)
    same(ind.ema(CLOSE, window), vbt.MA.run(FRAME["close"], window, ewm=True).ma)


@pytest.mark.parametrize("window", [2, 20])
def test_std_equals_vectorbt_mstd(window):
    # ours sums each window afresh; vectorbt's running (Welford) update drifts by ~1e-11 of the price
    same(Indicators().std(CLOSE, window), vbt.MSTD.run(FRAME["close"], window).mstd, atol=SPREAD)


def test_zscore_equals_vectorbt_ma_and_mstd():
    ma, mstd = vbt.MA.run(FRAME["close"], 20).ma.to_numpy(), vbt.MSTD.run(FRAME["close"], 20).mstd.to_numpy()
    # a deviation over a std of ~0.1% of the price: 1e-11 of the price in the std moves the score by ~1e-8
    same(Indicators().zscore(CLOSE, 20), (CLOSE - ma) / mstd, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("smoothing, ewm", [("sma", False), ("ema", True)])
def test_rsi_equals_vectorbt_rsi(smoothing, ewm):
    same(Indicators().rsi(CLOSE, 14, smoothing=smoothing), vbt.RSI.run(FRAME["close"], 14, ewm=ewm).rsi)


def test_wilder_rsi_equals_vectorbt_ewm_rsi_of_the_same_alpha_once_the_seed_has_decayed():
    window = 14
    got = Indicators().rsi(CLOSE, window)  # Wilder: alpha = 1 / 14, the EWM of span 27
    theirs = vbt.RSI.run(FRAME["close"], 2 * window - 1, ewm=True).rsi.to_numpy()
    settled = slice(40 * K + 40 * window, None)  # (1 - 1/14) ** 560 < 1e-17
    same(got[settled], theirs[settled])
    assert np.isnan(got[:window, 0]).all() and not np.isnan(got[window, 0])


@pytest.mark.parametrize("ewm", [True, False])
def test_atr_equals_vectorbt_atr(ewm):
    theirs = vbt.ATR.run(FRAME["high"], FRAME["low"], FRAME["close"], 14, ewm=ewm).atr
    same(Indicators().atr(HIGH, LOW, CLOSE, 14, ewm=ewm), theirs)


def test_bbands_equal_vectorbt_bbands():
    bands = Indicators().bbands(CLOSE, 20, 2.5)
    theirs = vbt.BBANDS.run(FRAME["close"], 20, alpha=2.5)
    same(bands.middle, theirs.middle)
    same(bands.upper, theirs.upper)
    same(bands.lower, theirs.lower)


@pytest.mark.parametrize("ewm", [True, False])
def test_macd_equals_vectorbt_macd(ewm):
    got = Indicators().macd(CLOSE, 12, 26, 9, ewm=ewm)
    theirs = vbt.MACD.run(FRAME["close"], 12, 26, 9, macd_ewm=ewm, signal_ewm=ewm)
    same(got.macd, theirs.macd, atol=SPREAD)  # differences of two averages of the prices
    same(got.signal, theirs.signal, atol=SPREAD)
    same(got.hist, theirs.hist, atol=SPREAD)


@pytest.mark.parametrize("window", [1, 20])
def test_donchian_highest_lowest_equal_vectorbt_rolling_max_min(window):
    ind = Indicators()
    channel = ind.donchian(HIGH, LOW, window)
    same(channel.upper, FRAME["high"].vbt.rolling_max(window, minp=window))
    same(channel.lower, FRAME["low"].vbt.rolling_min(window, minp=window))
    same(channel.middle, (channel.upper + channel.lower) / 2)
    same(ind.highest(CLOSE, window), FRAME["close"].vbt.rolling_max(window, minp=window))
    same(ind.lowest(CLOSE, window), FRAME["close"].vbt.rolling_min(window, minp=window))


@pytest.mark.parametrize("periods", [1, 5])
def test_returns_equal_vectorbt_pct_change(periods):
    same(Indicators().returns(CLOSE, periods), FRAME["close"].vbt.pct_change(periods) if periods == 1 else
         vbt.generic.nb.pct_change_nb(CLOSE, periods))


def test_crossover_and_crossunder_equal_vectorbt_crossed_above_and_below_even_at_ties():
    rng = np.random.default_rng(3)
    a = np.round(rng.normal(0, 1, (N, K)), 0)  # many exact ties
    b = np.round(rng.normal(0, 1, (N, K)), 0)
    a[500, 1] = np.nan
    ind = Indicators()
    over, under = ind.crossover(a, b), ind.crossunder(a, b)
    assert np.array_equal(over, pd.DataFrame(a).vbt.crossed_above(pd.DataFrame(b)).to_numpy()) and over.sum() > 100
    assert np.array_equal(under, pd.DataFrame(a).vbt.crossed_below(pd.DataFrame(b)).to_numpy()) and under.sum() > 100
    signal = np.asarray(ind.cross(a, b))
    assert np.array_equal(signal == 1, over) and np.array_equal(signal == -1, under)


@pytest.mark.parametrize("window", [1, 10])
def test_wma_equals_a_pandas_weighted_window(window):
    weights = np.arange(1.0, window + 1)
    expected = FRAME["close"].rolling(window).apply(lambda x: np.dot(x, weights) / weights.sum(), raw=True)
    same(Indicators().wma(CLOSE, window), expected)


def test_session_vwap_equals_a_pandas_cumsum_per_utc_day():
    bars = type("Bars", (), {"index": INDEX.to_numpy(), "high": HIGH, "low": LOW, "close": CLOSE, "volume": VOLUME})
    got = Indicators().vwap(bars)
    day = utc_days(INDEX.to_numpy())
    for j in range(K):
        frame = pd.DataFrame({"day": day, "pv": np.nan_to_num((HIGH[:, j] + LOW[:, j] + CLOSE[:, j]) / 3 * VOLUME[:, j]),
                              "v": np.nan_to_num(VOLUME[:, j])})
        cum = frame.groupby("day")[["pv", "v"]].cumsum()
        np.testing.assert_allclose(got[:, j], (cum["pv"] / cum["v"].where(cum["v"] > 0)).to_numpy(), rtol=1e-12)


def test_a_sweep_computes_each_distinct_window_once():
    bars = type("Bars", (), {"index": INDEX.to_numpy(), "open": OPEN, "high": HIGH, "low": LOW, "close": CLOSE,
                             "volume": VOLUME})
    ind = Indicators(bars, shared=True)
    first = [ind.ema(CLOSE, w) for w in (5, 10, 5, 10)]
    assert first[0] is first[2] and first[1] is first[3] and len(ind.cache) == 2
    macd = ind.macd(CLOSE, 5, 10, 3)
    assert macd.macd is ind.macd(CLOSE, 5, 10, 3).macd and len(ind.cache) == 5  # line, signal EMA, hist
    assert ind.ema(CLOSE * 1.0, 5) is not first[0] and len(ind.cache) == 5  # made elsewhere: not kept
