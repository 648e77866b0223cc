"""Walk-forward: pick the best set on each train window, trade it on the following test window.

Windows roll by the test length: train ``[s, s + train)``, test
``[s + train, s + train + test)``, then ``s += test``, while a test window has
bars (the last may be short). Lengths are bars (``5000`` or ``5000b``),
sessions (``3s``) or durations (``30d``, ``12h``, ``90m``, ``2w``, measured on
the bar times; ``3d`` is three calendar days, weekends included). A session is
a run of bars with no gap over :data:`SESSION_GAP` times the usual bar spacing
(the closed hours between trading days); bars with no such gap (24/7 markets,
daily bars) count UTC days as sessions. Train and test use the same kind.

On each train window every set is evaluated (the same sweep machinery,
executor included) and the best by ``sweep.metric`` is chosen (NaN never
wins over a number). The chosen set's signals are computed from the train
window's start -- indicators warm up on past bars only -- and simulated on
the test window alone: it starts flat with the previous window's final
equity as cash and closes what it holds at the window's end (fees paid), so
the stitched out-of-sample equity is what trading the procedure would have
given, with no bar seen twice.

>>> import numpy as np
>>> from backtest.feed import BarArrays
>>> close = (100 + np.cumsum(np.random.default_rng(2).normal(0, 1, 400)))[:, None]
>>> bars = BarArrays(np.arange(400).astype("datetime64[D]").astype("datetime64[us]"), ("X",),
...                  close, close, close, close, close)
>>> spec = SweepSpec(params={"fast": "3,5", "slow": "10,20"}, walk_forward=WalkForward(train=200, test=50))
>>> result = walk_forward(bars, "sma_cross", spec, EngineConfig(fill="close"))
>>> result.folds.height, len(result.equity), result.folds["test_start"][0] == bars.index[200].item()
(4, 200, True)
>>> bool(result.equity[-1] == result.stats["final_equity"])
True
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from backtest.engine.modes import Execution
from backtest.engine.simulate import EngineConfig, run
from backtest.errors import BacktestError
from backtest.feed import BarArrays
from backtest.stats import STAT_NAMES, summarize
from backtest.runner import engine_for, strategy_events
from backtest.sweep.local import PARAM_PREFIX, evaluate
from backtest.sweep.spec import ParamSpace, SweepSpec, WalkForward, enumerate_sets
from strategies import Strategy

_LENGTH = re.compile(r"^\s*(\d+)\s*(b|s|m|h|d|w)?\s*$")
_UNITS = {"m": "m", "h": "h", "d": "D", "w": "W"}
SESSION_GAP = 5.0  # a gap over this many times the median bar spacing ends a session


@dataclass(frozen=True)
class Sessions:
    """A window length counted in trading sessions (``3s``)."""

    count: int


@dataclass(frozen=True)
class WalkForwardResult:
    """Stitched out-of-sample ``equity`` per test bar (``index``), per-fold choices, and the stitched stats."""

    index: np.ndarray
    equity: np.ndarray
    fold: np.ndarray
    folds: pl.DataFrame
    stats: dict[str, Any]
    names: tuple[str, ...]
    metric: str  # the statistic each train window was ranked by; the folds hold ``test_<metric>``
    descending: bool  # whether a higher ``metric`` is better


def _length(name: str, value: int | str) -> int | Sessions | np.timedelta64:
    """Bars (an int), sessions or a duration (``timedelta64``) from ``sweep.walk_forward.<name>``.

    >>> _length("train", "30d"), _length("test", 500), _length("test", "500b"), _length("test", "3s")
    (np.timedelta64(30,'D'), 500, 500, Sessions(count=3))
    >>> _length("test", "5 parsecs")
    Traceback (most recent call last):
    backtest.errors.BacktestError: sweep.walk_forward.test: '5 parsecs' is not a length like 500 or 500b (bars), 3s (sessions), 90m, 12h, 30d, 2w
    """
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    match = _LENGTH.match(text) if isinstance(text, str) else None
    if not match:
        raise BacktestError(f"sweep.walk_forward.{name}: {value!r} is not a length like 500 or 500b (bars), "
                            "3s (sessions), 90m, 12h, 30d, 2w")
    count, unit = int(match.group(1)), match.group(2) or "b"
    if count < 1:
        raise BacktestError(f"sweep.walk_forward.{name}: {value!r} must be at least 1")
    if unit == "b":
        return count
    return Sessions(count) if unit == "s" else np.timedelta64(count, _UNITS[unit])


def session_starts(index: np.ndarray) -> np.ndarray:
    """Bar positions where a session starts (see the module text), the first bar included.

    >>> index = np.array(["2024-01-02T20:58", "2024-01-02T20:59", "2024-01-03T14:30", "2024-01-03T14:31"],
    ...                  dtype="datetime64[m]")
    >>> session_starts(index).tolist(), session_starts(np.arange(3).astype("datetime64[D]")).tolist()
    ([0, 2], [0, 1, 2])
    """
    times = np.asarray(index).astype("datetime64[us]")
    if len(times) < 2:
        return np.zeros(min(len(times), 1), dtype=np.int64)
    step = np.diff(times).astype(np.int64)
    gaps = step > np.median(step) * SESSION_GAP
    if not gaps.any():
        days = times.astype("datetime64[D]")
        gaps = days[1:] != days[:-1]
    return np.r_[0, np.flatnonzero(gaps) + 1].astype(np.int64)


def windows(index: np.ndarray, plan: WalkForward) -> list[tuple[int, int, int, int]]:
    """``(train_start, train_end, test_start, test_end)`` bar positions of each fold.

    >>> days = np.arange(10).astype("datetime64[D]")
    >>> windows(days, WalkForward(train=4, test=3))
    [(0, 4, 4, 7), (3, 7, 7, 10)]
    >>> windows(days, WalkForward(train="4d", test="5d"))
    [(0, 4, 4, 9), (5, 9, 9, 10)]
    >>> windows(days, WalkForward(train="4s", test="3s")) == windows(days, WalkForward(train=4, test=3))
    True
    """
    train, test = _length("train", plan.train), _length("test", plan.test)
    n = len(index)
    folds = []
    if type(train) is not type(test):
        raise BacktestError(f"sweep.walk_forward: train {plan.train!r} and test {plan.test!r} must both be bars, "
                            "both sessions or both durations")
    if isinstance(train, (int, Sessions)):
        edges = np.arange(n + 1) if isinstance(train, int) else np.r_[session_starts(index), n]
        train_n, test_n = (train, test) if isinstance(train, int) else (train.count, test.count)
        count, start = len(edges) - 1, 0
        while start + train_n < count:
            folds.append(tuple(int(edges[i]) for i in (start, start + train_n, start + train_n,
                                                         min(start + train_n + test_n, count))))
            start += test_n
    else:
        origin = index[0]
        step = 0
        while True:
            begin = origin + step * test
            a, b, c, d = np.searchsorted(index, [begin, begin + train, begin + train, begin + train + test])
            if c >= n:
                break
            if b > a and d > c:
                folds.append((int(a), int(b), int(c), int(d)))
            step += 1
    if not folds:
        raise BacktestError(f"sweep.walk_forward: train {plan.train!r} leaves no test bars in the {n:,} bars")
    return folds


def _slice(bars: BarArrays, start: int, stop: int) -> BarArrays:
    """Bars ``[start, stop)`` as contiguous arrays."""
    return BarArrays(bars.index[start:stop], bars.symbols,
                     *(np.ascontiguousarray(a[start:stop]) for a in (bars.open, bars.high, bars.low, bars.close,
                                                                      bars.volume)))


def walk_forward(bars: BarArrays, strategy: str | type[Strategy], spec: SweepSpec, engine: EngineConfig,
                 strategy_values: Mapping[str, Any] | None = None) -> WalkForwardResult:
    """Run the walk-forward ``spec.walk_forward`` describes; see the module text for the rules."""
    if engine.execution is not Execution.bars:
        raise BacktestError("sweep.walk_forward: not available with engine.execution=ticks yet; walk forward "
                            "with execution=bars")
    space = ParamSpace.parse(spec.params, strategy)
    sets = enumerate_sets(space, spec, strategy_values or {})
    if not sets.valid:
        raise BacktestError(f"sweep.params: all {len(sets.invalid)} sets are invalid ({sets.invalid[0][1]})")
    col = STAT_NAMES.index(spec.metric)
    cash = engine.init_cash
    equity, fold_of, pnl, returns, rows = [], [], [], [], []
    exposure = 0
    plan = windows(bars.index, spec.walk_forward)
    for number, (a, b, c, d) in enumerate(plan):
        stats = evaluate(_slice(bars, a, b), sets.valid, engine, spec)
        key = np.where(np.isnan(stats[:, col]), -np.inf, stats[:, col] if spec.descending else -stats[:, col])
        best = int(np.argmax(key))
        history, chosen = _slice(bars, a, d), sets.valid[best].params
        signal = np.ascontiguousarray(strategy_events(chosen, history, engine).dense()[c - a:])
        test = _slice(bars, c, d)
        sim = run(test.open, test.high, test.low, test.close, signal,
                  dataclasses.replace(engine_for(chosen, engine), init_cash=cash, close_at_end=True))
        closed = sim.trades.filter(~sim.trades["is_open"])
        test_stats = summarize(sim.equity, cash, closed["pnl"].to_numpy(), closed["return"].to_numpy(),
                               sim.exposure_bars, test.index)
        rows.append({"fold": number, "train_start": bars.index[a], "train_end": bars.index[b - 1],
                     "test_start": bars.index[c], "test_end": bars.index[d - 1],
                     **{PARAM_PREFIX + k: v for k, v in sets.valid[best].values.items()},
                     "train_bars": b - a, "test_bars": d - c,
                     f"train_{spec.metric}": float(stats[best, col]),
                     "train_return": float(stats[best, STAT_NAMES.index("total_return")]),
                     f"test_{spec.metric}": test_stats[spec.metric], "test_return": test_stats["total_return"],
                     "test_max_drawdown": test_stats["max_drawdown"], "test_trades": test_stats["trades"],
                     "test_final_equity": test_stats["final_equity"]})
        equity.append(sim.equity)
        fold_of.append(np.full(len(sim.equity), number))
        pnl.append(closed["pnl"].to_numpy())
        returns.append(closed["return"].to_numpy())
        exposure += sim.exposure_bars
        cash = float(sim.equity[-1])
    index = np.concatenate([bars.index[c:d] for _, _, c, d in plan])
    stitched = np.concatenate(equity)
    stats = summarize(stitched, engine.init_cash, np.concatenate(pnl), np.concatenate(returns), exposure, index)
    return WalkForwardResult(index, stitched, np.concatenate(fold_of), pl.DataFrame(rows), stats, space.names,
                             spec.metric, spec.descending)
