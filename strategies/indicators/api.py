"""``self.ind``: every indicator by name, checked, computed by its kernel once per data and arguments.

Arrays are ``(n_bars, n_symbols)`` float64 (a 1-D array is one column); each
value at bar t uses bars up to t only, and warm-up bars are NaN as in
vectorbt. Results computed from the run's bars (or from other results) are
cached, so a sweep over many parameter sets computes each distinct window
once; results of arrays made elsewhere are computed each time.

>>> import numpy as np
>>> close = np.array([1.0, 2, 3, 4, 3, 2, 3, 4])[:, None]
>>> ind = Indicators()
>>> ind.sma(close, 3)[:, 0].tolist()
[nan, nan, 2.0, 3.0, 3.3333333333333335, 3.0, 2.6666666666666665, 3.0]
>>> ind.crossover(close, ind.sma(close, 3))[:, 0].tolist()
[False, False, False, False, False, False, True, False]
>>> np.asarray(ind.cross(close, ind.sma(close, 3)))[:, 0].tolist()
[nan, nan, nan, nan, -1.0, nan, 1.0, nan]
>>> ind.sma(close, 0)
Traceback (most recent call last):
strategies.errors.StrategyError: indicator sma: window 0 must be an integer >= 1
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numba
import numpy as np

from strategies.errors import StrategyError
from strategies.indicators.averages import ema_nb, returns_nb, true_range_nb, wma_nb
from strategies.indicators.cache import IndicatorCache
from strategies.indicators.crosses import cross_events_nb, crossed_above_nb
from strategies.indicators.crossings import crossover_events_nb, sma_crossings
from strategies.indicators.session import session_vwap_nb, utc_days
from strategies.indicators.windows import rolling_max_nb, rolling_min_nb, rolling_std_nb, rsi_nb, sma_nb
from strategies.indicators.events import SignalEvents

SMOOTHINGS = ("wilder", "sma", "ema")


class Bands(NamedTuple):
    """Bollinger bands: the moving average and ``k`` standard deviations above and below it."""

    middle: np.ndarray
    upper: np.ndarray
    lower: np.ndarray


class Macd(NamedTuple):
    """MACD line (fast average - slow average), its signal line, and the histogram (line - signal)."""

    macd: np.ndarray
    signal: np.ndarray
    hist: np.ndarray


class Channel(NamedTuple):
    """Donchian channel: highest high, lowest low and their midpoint over the window."""

    upper: np.ndarray
    lower: np.ndarray
    middle: np.ndarray


class Indicators:
    """The indicators of one data set (``bars``: its arrays are the cached inputs).

    ``shared`` says many parameter sets read the same data (a sweep): fused
    one-pass kernels that keep nothing then give way to cached pieces.
    """

    def __init__(self, bars: Any = None, *, shared: bool = False) -> None:
        arrays = () if bars is None else (bars.open, bars.high, bars.low, bars.close, bars.volume, bars.index)
        self.cache = IndicatorCache(*arrays)
        self.shared = shared

    def __repr__(self) -> str:
        return f"Indicators({len(self.cache)} cached, {self.cache.nbytes / 2**20:.1f} MiB)"

    # ---- averages and windows ------------------------------------------------------------------

    def sma(self, values: np.ndarray, window: int) -> np.ndarray:
        """Simple moving average (vectorbt ``MA``)."""
        return self.cache(sma_nb, _matrix(values), _window("sma", window))

    def ema(self, values: np.ndarray, window: int) -> np.ndarray:
        """Exponential moving average, ``alpha = 2 / (window + 1)`` (vectorbt ``MA(ewm=True)``)."""
        return self.cache(ema_nb, _matrix(values), _window("ema", window))

    def wma(self, values: np.ndarray, window: int) -> np.ndarray:
        """Linearly weighted moving average (weights 1..window, newest heaviest)."""
        return self.cache(wma_nb, _matrix(values), _window("wma", window))

    def std(self, values: np.ndarray, window: int) -> np.ndarray:
        """Rolling population standard deviation (ddof=0; vectorbt ``MSTD``)."""
        return self.cache(rolling_std_nb, _matrix(values), _window("std", window))

    def zscore(self, values: np.ndarray, window: int) -> np.ndarray:
        """``(values - sma) / std`` over ``window`` bars (NaN where the std is 0)."""
        values = _matrix(values)
        return self.cache(_zscore, values, self.sma(values, window), self.std(values, window))

    def highest(self, values: np.ndarray, window: int) -> np.ndarray:
        """Highest value of the last ``window`` bars, this one included."""
        return self.cache(rolling_max_nb, _matrix(values), _window("highest", window))

    def lowest(self, values: np.ndarray, window: int) -> np.ndarray:
        """Lowest value of the last ``window`` bars, this one included."""
        return self.cache(rolling_min_nb, _matrix(values), _window("lowest", window))

    def returns(self, values: np.ndarray, periods: int = 1) -> np.ndarray:
        """Simple returns over ``periods`` bars: ``values[t] / values[t - periods] - 1``."""
        return self.cache(returns_nb, _matrix(values), _window("returns", periods, "periods"))

    # ---- oscillators and bands -----------------------------------------------------------------

    def rsi(self, values: np.ndarray, window: int = 14, *, smoothing: str = "wilder") -> np.ndarray:
        """Relative strength index in [0, 100].

        ``smoothing="wilder"`` (default): Wilder's averages (seeded by the mean of
        the first ``window`` changes, then ``alpha = 1 / window``); ``"sma"`` and
        ``"ema"``: vectorbt's ``RSI`` with ``ewm=False`` / ``ewm=True``.
        """
        if smoothing not in SMOOTHINGS:
            raise StrategyError(f"indicator rsi: smoothing {smoothing!r} is not one of {', '.join(SMOOTHINGS)}")
        values, window = _matrix(values), _window("rsi", window)
        if smoothing == "wilder":
            return self.cache(rsi_nb, values, window)
        up, down = self.cache(_gains_losses, values)
        average = self.sma if smoothing == "sma" else self.ema
        return self.cache(_rsi_of, average(up, window), average(down, window))

    def atr(self, high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int = 14, *,
            ewm: bool = True) -> np.ndarray:
        """Average true range: the EMA (``ewm=True``, vectorbt's default) or SMA of the true range."""
        true_range = self.cache(true_range_nb, _matrix(high), _matrix(low), _matrix(close))
        return (self.ema if ewm else self.sma)(true_range, window)

    def bbands(self, values: np.ndarray, window: int = 20, k: float = 2.0) -> Bands:
        """Bollinger bands: SMA and ``k`` population standard deviations (vectorbt ``BBANDS``)."""
        values = _matrix(values)
        return self.cache(_bands, self.sma(values, window), self.std(values, window), _number("bbands", "k", k))

    def macd(self, values: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9, *,
             ewm: bool = True) -> Macd:
        """MACD of exponential (``ewm=True``) or simple averages; vectorbt ``MACD`` with both ``*_ewm`` alike."""
        values = _matrix(values)
        average = self.ema if ewm else self.sma
        line = self.cache(np.subtract, average(values, fast), average(values, slow))
        signal_line = average(line, signal)
        return Macd(line, signal_line, self.cache(np.subtract, line, signal_line))

    def donchian(self, high: np.ndarray, low: np.ndarray, window: int = 20) -> Channel:
        """Donchian channel over ``window`` bars, this one included (shift by one bar to trade its breaks)."""
        upper, lower = self.highest(high, window), self.lowest(low, window)
        return Channel(upper, lower, self.cache(_midpoint, upper, lower))

    def sessions(self, index: np.ndarray) -> np.ndarray:
        """Session numbers of bar times: UTC days since 1970-01-01 (``int64``)."""
        return self.cache(utc_days, index)

    def vwap(self, bars: Any) -> np.ndarray:
        """Session VWAP of the typical price ``(high + low + close) / 3``; sessions are UTC days."""
        return self.cache(session_vwap_nb, bars.high, bars.low, bars.close, bars.volume, self.sessions(bars.index))

    # ---- crossings -----------------------------------------------------------------------------

    def crossover(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """True where ``a`` crosses above ``b`` (vectorbt's ``crossed_above``)."""
        a, b = _pair(a, b)
        return self.cache(crossed_above_nb, a, b)

    def crossunder(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """True where ``a`` crosses below ``b`` (vectorbt's ``crossed_below``)."""
        return self.crossover(b, a)

    def cross(self, a: np.ndarray, b: np.ndarray) -> SignalEvents:
        """A signal: +1 where ``a`` crosses over ``b``, -1 where under, NaN elsewhere.

        Returned sparse (the crossing bars only); ``np.asarray`` gives the dense array.
        """
        a, b = _pair(a, b)
        bars, rows = cross_events_nb(a, b)
        return SignalEvents(bars, rows, a.shape[0])

    def sma_cross(self, values: np.ndarray, fast: int, slow: int) -> SignalEvents:
        """+1 / -1 where SMA(``fast``) crosses above / below SMA(``slow``), backtesting.py's strict test.

        A single run makes one pass over ``values`` keeping the crossings only
        (split over numba's threads); a sweep (``shared``) crosses cached averages.
        """
        values = _matrix(values)
        _window("sma_cross", fast, "fast")
        _window("sma_cross", slow, "slow")
        if self.shared:
            bars, rows = crossover_events_nb(self.sma(values, fast), self.sma(values, slow))
        else:
            bars, rows = sma_crossings(values, fast, slow, parts=numba.get_num_threads())
        return SignalEvents(bars, rows, values.shape[0])


def _matrix(values: np.ndarray) -> np.ndarray:
    """``values`` as a 2-D float64 array (the object itself when it already is one)."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64 and values.ndim == 2:
        return values
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise StrategyError(f"indicator input: expected (bars, symbols), got shape {array.shape}")
    return np.ascontiguousarray(array)


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two series of one shape (a scalar or a row broadcasts: ``crossover(close, 50.0)``)."""
    a, b = _matrix(np.atleast_1d(a)), _matrix(np.atleast_1d(b))
    if a.shape == b.shape:
        return a, b
    a, b = np.broadcast_arrays(a, b)
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def _window(indicator: str, value: object, name: str = "window") -> int:
    """``value`` if it is an int >= 1, else a one-line error."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise StrategyError(f"indicator {indicator}: {name} {value!r} must be an integer >= 1")
    return int(value)


def _number(indicator: str, name: str, value: object) -> float:
    """``value`` as a float if it is a finite number, else a one-line error."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value):
        raise StrategyError(f"indicator {indicator}: {name} {value!r} must be a finite number")
    return float(value)


def _zscore(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > 0, (values - mean) / std, np.nan)


def _gains_losses(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-bar gains and losses (both >= 0; NaN at the first bar and around NaNs), as vectorbt's RSI."""
    change = np.full(values.shape, np.nan)
    change[1:] = values[1:] - values[:-1]
    return np.where(change < 0, 0.0, change), np.abs(np.where(change > 0, 0.0, change))


def _rsi_of(up: np.ndarray, down: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 - 100.0 / (1.0 + up / down)


def _bands(middle: np.ndarray, std: np.ndarray, k: float) -> Bands:
    return Bands(middle, middle + k * std, middle - k * std)


def _midpoint(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    return (upper + lower) / 2.0
