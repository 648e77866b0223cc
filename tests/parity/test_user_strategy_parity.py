"""Done-when of issue 16: a strategy class written in a folder outside the repository runs from the
CLI (``python -m backtest +strategy=<module>:<Class>`` in a subprocess) and from Python, and both
equal vectorbt's ``Portfolio.from_signals`` with vectorbt's own indicators on the same bars and rules
(GOOG daily, EMA 10/30 crossover, long-only, fills at the close, 0.1% fees, all cash in, open trade
left open): every trade and the value on every bar."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

vbt = pytest.importorskip("vectorbt")
from backtesting.test import GOOG  # noqa: E402

import backtest  # noqa: E402
import strategies  # noqa: E402
from backtest.engine.simulate import EngineConfig  # noqa: E402
from backtest.runner import simulate  # noqa: E402
from support.data import GOOG_CSV, frame_bars  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ENGINE = EngineConfig(init_cash=10_000, fill="close", fees_bps=10, direction="long_only", close_at_end=False)
RULES = ["engine.init_cash=10000", "engine.fill=close", "engine.fees_bps=10", "engine.direction=long_only",
         "engine.close_at_end=false"]
SOURCE = '''
    """A user's own strategy: EMA crossover, in ten lines."""
    from strategies import Strategy, param


    class EmaCross(Strategy):
        fast = param(10, min=2)
        slow = param(30, min=3)

        def signals(self, bars):
            fast, slow = self.ind.ema(bars.close, self.fast), self.ind.ema(bars.close, self.slow)
            return self.ind.cross(fast, slow)  # +1 over, -1 under, NaN elsewhere
'''


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("user_strategies")
    assert ROOT not in folder.parents
    (folder / "my_signals.py").write_text(textwrap.dedent(SOURCE))
    return folder


def vectorbt_portfolio():
    close = GOOG["Close"]
    fast = vbt.MA.run(close, 10, ewm=True)
    slow = vbt.MA.run(close, 30, ewm=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vbt.Portfolio.from_signals(close, entries=fast.ma_crossed_above(slow), exits=fast.ma_crossed_below(slow),
                                          fees=0.001, init_cash=10_000, size=np.inf)


def assert_equals_vectorbt(trades: pl.DataFrame, equity: np.ndarray, pf) -> None:
    peer = pf.trades.records
    assert trades.height == len(peer) > 20
    np.testing.assert_array_equal(trades["entry_bar"].to_numpy(), peer["entry_idx"])
    np.testing.assert_array_equal(trades["exit_bar"].to_numpy(), peer["exit_idx"])
    np.testing.assert_allclose(trades["entry_price"].to_numpy(), peer["entry_price"], rtol=1e-12)
    np.testing.assert_allclose(trades["exit_price"].to_numpy(), peer["exit_price"], rtol=1e-12)
    np.testing.assert_allclose(trades["pnl"].to_numpy(), peer["pnl"], rtol=1e-9)
    np.testing.assert_allclose(equity, pf.value().to_numpy(), rtol=1e-9)


def test_from_python_a_class_in_a_file_outside_the_repo_equals_vectorbt(user_dir):
    cls = strategies.find(f"{user_dir / 'my_signals.py'}:EmaCross")
    result = backtest.run(cls(fast=10, slow=30), GOOG, init_cash=10_000, fill="close", fees_bps=10,
                          direction="long_only", close_at_end=False)  # GOOG: backtesting.py's pandas frame
    assert_equals_vectorbt(result.trades, result.equity["equity"].to_numpy(), vectorbt_portfolio())
    assert result.stats["final_equity"] == pytest.approx(vectorbt_portfolio().final_value(), rel=1e-9)
    simulation, _ = simulate(cls(fast=10, slow=30), frame_bars(GOOG, "GOOG"), ENGINE)  # what the CLI calls
    np.testing.assert_array_equal(simulation.equity, result.equity["equity"].to_numpy())


def test_from_the_cli_a_class_by_module_path_equals_vectorbt(user_dir, tmp_path):
    dsn = f"chdb://{tmp_path}/warehouse"
    for command in (["init"], ["load-ohlcv", str(GOOG_CSV), "--interval", "1d"]):
        done = subprocess.run([sys.executable, "-m", "warehouse", "--dsn", dsn, *command], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    out = tmp_path / "run"
    # `python -m` puts the working directory on sys.path: my_signals imports as a module from there
    done = subprocess.run([sys.executable, "-m", "backtest", "+strategy=my_signals:EmaCross", "strategy.slow=30",
                           f"warehouse.dsn={dsn}", "data.symbols=[GOOG]", "data.source=ohlcv", "data.interval=1d",
                           "data.start=2004-01-01", "data.end=2014-01-01", *RULES, f"hydra.run.dir={out}"],
                          cwd=user_dir, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "my_signals:EmaCross(fast=10, slow=30) on GOOG 1d" in done.stdout
    trades = pl.read_csv(out / "trades.csv")
    equity = pl.read_csv(out / "equity.csv")["equity"].to_numpy()
    assert_equals_vectorbt(trades, equity, vectorbt_portfolio())


def test_from_the_cli_bad_input_is_one_line_naming_strategy_field_and_value(user_dir):
    cases = [
        (["+strategy=my_signals:EmaCross", "strategy.fast=1"], "strategy.fast: 1 must be an integer >= 2 (EmaCross)"),
        (["+strategy=my_signals:EmaCross", "strategy.fast=abc"], "strategy.fast: 'abc' must be an integer >= 2"),
        (["+strategy=my_signals:Nope"], "strategy: 'my_signals:Nope': my_signals has no 'Nope'"),
        (["+strategy=no_such_module:EmaCross"], "strategy: 'no_such_module:EmaCross': cannot import"),
    ]
    for args, message in cases:
        done = subprocess.run([sys.executable, "-m", "backtest", *args, "warehouse.dsn=chdb:///nonexistent/wh"],
                              cwd=user_dir, capture_output=True, text=True, timeout=300)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and message in lines[0], (args, done.stderr)


def test_signals_of_the_wrong_shape_or_with_inf_name_the_strategy_field_and_value():
    bars = frame_bars(GOOG.iloc[:50], "GOOG")

    class Short(strategies.Strategy):
        def signals(self, bars):
            return bars.close[:-1]

    class Infinite(strategies.Strategy):
        def weights(self, bars):
            return np.where(np.arange(50)[:, None] == 7, np.inf, np.nan)

    class Booleans(strategies.Strategy):
        def signals(self, bars):
            return bars.close > 0

    for strategy, message in [
        (Short(), "strategy Short: signals returned shape (49, 1), bars are (50, 1) (bars, symbols)"),
        (Infinite(), "strategy Infinite: weights[7, 'GOOG'] is inf; weights are finite fractions of equity or NaN"),
        (Booleans(), "strategy Booleans: signals returned booleans; return +1/-1/0/NaN"),
    ]:
        with pytest.raises(strategies.StrategyError) as error:
            strategies.signal_events(strategy, bars)
        assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_plain_numpy_and_a_polars_strategy_equal_the_numba_built_in():
    """No numba: the same SMA-cross rule in numpy and in polars gives the built-in's trades."""
    bars = frame_bars(GOOG, "GOOG")

    class NumpySma(strategies.Strategy):
        fast = strategies.param(10)
        slow = strategies.param(20)

        def signals(self, bars):
            close = pd.DataFrame(bars.close)
            diff = np.sign((close.rolling(self.fast).mean() - close.rolling(self.slow).mean()).to_numpy())
            before = np.vstack([np.full((1, diff.shape[1]), np.nan), diff[:-1]])
            return np.where((diff != before) & (diff != 0) & (np.abs(before) == 1), diff, np.nan)

    class PolarsSma(strategies.Strategy):
        fast = strategies.param(10)
        slow = strategies.param(20)

        def signals(self, bars):
            close = pl.DataFrame(bars.close, schema=["c"])
            gap = close.select((pl.col("c").rolling_mean(self.fast) - pl.col("c").rolling_mean(self.slow)).sign())
            before = gap.shift(1)
            crossed = (gap["c"] != before["c"]) & (gap["c"] != 0) & (before["c"].abs() == 1)
            return gap.select(pl.when(crossed).then(pl.col("c")).otherwise(None).cast(pl.Float64).fill_null(np.nan))

    builtin, _ = simulate(strategies.find("sma_cross")(fast=10, slow=20), bars, ENGINE)
    for strategy in (NumpySma(), PolarsSma()):
        result, _ = simulate(strategy, bars, ENGINE)
        assert result.trades.height == builtin.trades.height > 20
        np.testing.assert_allclose(result.equity, builtin.equity, rtol=1e-9)
