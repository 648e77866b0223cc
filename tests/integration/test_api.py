"""The Python API (``backtest.run``, ``backtest.sweep``): the same numbers as the CLI's path, on
frames of either layout and on warehouse requests, and one-line errors for what it cannot use."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from backtesting.test import GOOG

import backtest
from backtest.config import DataSpec
from backtest.engine.simulate import EngineConfig
from backtest.errors import BacktestError
from backtest.runner import simulate
from reports.format import stat_text
from reports.run_files import write_run_files
from backtest.engine.modes import Allocation, Signals
from strategies import Strategy, param
from strategies.sma_cross import SmaCross
from support.data import frame_bars, load_goog


def test_run_on_a_pandas_frame_equals_the_engine_on_its_arrays():
    result = backtest.run(SmaCross(fast=10, slow=20), GOOG, fees_bps=20)
    simulation, stats = simulate(SmaCross(fast=10, slow=20), frame_bars(GOOG, "GOOG"), EngineConfig(fees_bps=20))
    np.testing.assert_array_equal(result.equity["equity"].to_numpy(), simulation.equity)
    assert dict(result.stats) == stats and result.stats["trades"] > 40
    trades = result.trades
    assert trades["symbol"].unique().to_list() == ["X"]  # one symbol's OHLCV without a symbol column
    assert trades["entry_time"][0] == GOOG.index[trades["entry_bar"][0]].to_pydatetime()
    assert "SmaCross(fast=10, slow=20) on X" in repr(result) and "<table>" in result._repr_html_()


def test_run_on_a_long_polars_frame_of_two_symbols():
    frame = pl.from_pandas(GOOG.reset_index(names="ts")).rename(str.lower)
    both = pl.concat([frame.with_columns(symbol=pl.lit("A")), frame.with_columns(symbol=pl.lit("B"),
                                                                                close=pl.col("close") * 2)])
    result = backtest.run("sma_cross", both.sample(fraction=1.0, shuffle=True, seed=1), size=0.5)
    assert result.bars.symbols == ("A", "B") and result.bars.close.shape == (len(GOOG), 2)
    assert set(result.trades["symbol"].to_list()) == {"A", "B"}


def test_sweep_returns_the_sets_best_first_with_the_statistics_of_a_run():
    table = backtest.sweep(SmaCross, GOOG, fast=range(5, 25, 5), slow=[20, 30], metric="total_return")
    assert table.height == 7  # (20, 20) is refused: fast must be < slow
    assert table["rank"].to_list() == list(range(1, 8))
    assert table["total_return"].to_list() == sorted(table["total_return"].to_list(), reverse=True)
    best = table.row(0, named=True)
    rerun = backtest.run(SmaCross(fast=best["param_fast"], slow=best["param_slow"]), GOOG)
    assert rerun.stats["total_return"] == pytest.approx(best["total_return"], rel=1e-12)


def test_run_on_a_warehouse_request_is_the_clis_run_and_writes_its_report(fresh_client, tmp_path):
    load_goog(fresh_client)
    spec = {"symbols": ["GOOG"], "start": "2004-01-01", "end": "2014-01-01", "interval": "1d", "source": "ohlcv"}
    result = backtest.run(SmaCross(fast=10, slow=20), spec, warehouse=fresh_client, fees_bps=20)
    assert result.run is not None and result.run.data == DataSpec.from_mapping(spec) and result.run.query_costs
    in_memory = backtest.run(SmaCross(fast=10, slow=20), GOOG, fees_bps=20)
    np.testing.assert_allclose(result.equity["equity"].to_numpy(), in_memory.equity["equity"].to_numpy(), rtol=1e-12)
    written = write_run_files(result.run, tmp_path / "report")
    assert (tmp_path / "report" / "report.html") in written
    page = result.report(tmp_path / "api")  # the same files from the Result
    assert sorted(p.name for p in page.parent.iterdir()) == sorted(p.name for p in written)
    assert "python -m backtest" in page.read_text() and "ohlcv" in page.read_text()


def test_report_of_a_run_on_bars_in_memory(tmp_path):
    frame = pl.from_pandas(GOOG.reset_index(names="ts")).rename(str.lower)
    result = backtest.run(SmaCross(fast=10, slow=20), frame, fees_bps=20, size=0.5)
    page = result.report(tmp_path / "run")
    assert page == tmp_path / "run" / "report.html"
    text = page.read_text()
    for name in ("trades", "final_equity"):  # the statistics as the report prints them
        assert f"<span>{name}</span><span>{stat_text(name, result.stats[name])}</span>" in text
    assert result.stats["trades"] > 40 and f"All {result.trades.height:,} trades" in text
    assert "<title>sma_cross on X" in text and "bars given in memory" in text
    assert "backtest.run(strategies.find(&#x27;sma_cross&#x27;)(fast=10, slow=20), bars, fees_bps=20, size=0.5)" in text
    assert sorted(p.name for p in page.parent.glob("*.csv")) == [
        "breakdown.csv", "data_access.csv", "drawdowns.csv", "equity.csv", "metrics.csv", "metrics_full.csv", "orders.csv",
        "trades.csv"]
    trades = pl.read_csv(page.parent / "trades.csv")
    assert trades.height == result.trades.height and trades["symbol"].unique().to_list() == ["X"]
    metrics = pl.read_csv(page.parent / "metrics.csv").row(0, named=True)
    assert metrics["source"] == "memory" and metrics["final_equity"] == pytest.approx(result.stats["final_equity"])
    assert pl.read_csv(page.parent / "equity.csv").height == len(GOOG)


@pytest.mark.parametrize("call, message", [
    (lambda: backtest.run(SmaCross(), GOOG, fee=1), "engine.fee: unknown rule (known: init_cash, fill"),
    (lambda: backtest.run(SmaCross(), [1, 2, 3]), "data: list is not bars"),
    (lambda: backtest.run(SmaCross(), pd.DataFrame({"close": [1.0]})), "data: no time column"),
    (lambda: backtest.sweep(SmaCross, GOOG, fees_bps=1), "sweep: no parameter of sma_cross given (known: fast"),
])
def test_bad_input_is_one_line(call, message):
    with pytest.raises(BacktestError) as error:
        call()
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def _two_symbols(close_a: list[float], close_b: list[float]) -> pl.DataFrame:
    ts = pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, len(close_a)), "1d", eager=True)
    return pl.concat([pl.DataFrame({"ts": ts, "symbol": name, "close": close})
                      for name, close in (("A", close_a), ("B", close_b))])


class Given(Strategy):
    """Returns ``values`` as its signals, or as its weights when made with ``weights=True``."""

    def __init__(self, values: list[list[float]], weights: bool = False) -> None:
        super().__init__()
        self.array, self.use_weights = np.array(values, dtype=float), weights

    def uses_weights(self) -> bool:
        return self.use_weights

    def signals(self, bars):
        return self.array

    def weights(self, bars):
        return self.array


NAN = np.nan


def test_target_weights_is_the_allocation_of_a_strategy_returning_weights():
    frame = _two_symbols([10.0, 12.0, 12.0, 12.0], [20.0] * 4)
    weights = Given([[0.5, -0.25], [NAN, NAN], [0.25, NAN], [NAN, NAN]], weights=True)
    result = backtest.run(weights, frame, init_cash=1000, fill="close", close_at_end=False)
    assert result.engine.signals is Signals.target and result.engine.allocation is Allocation.target_weights
    # bar 0: 0.5 and -0.25 of 1000; bar 2: 0.25 of the 1100 that A's rise to 12 made, A sold down to it
    assert result.simulation.orders["size"].to_list() == pytest.approx([50.0, -12.5, 0.25 * 1100 / 12 - 50])
    named = backtest.run(weights, frame, init_cash=1000, fill="close", close_at_end=False, allocation="target_weights")
    np.testing.assert_array_equal(named.equity["equity"].to_numpy(), result.equity["equity"].to_numpy())
    # a strategy's +1/-1/0 read as weights (engine.signals=target) is the same path under the same name
    signals = backtest.run(Given([[1.0, NAN], [NAN] * 2, [0.0, NAN], [NAN] * 2]), frame, signals="target", fill="close")
    assert signals.engine.allocation is Allocation.target_weights and signals.simulation.orders.height == 2


@pytest.mark.parametrize("strategy, rules, message", [
    (Given([[0.5, 0.5]] * 4, weights=True), {"allocation": "equal"},
     "engine.allocation: equal sizes direction entries, but Given returns weights(bars) (target weights: "
     "allocation=target_weights)"),
    (Given([[1.0, 1.0]] * 4), {"allocation": "target_weights"},
     "engine.allocation: target_weights reads target weights, but Given returns direction signals"),
    (Given([[1.0, 0.5]] * 4), {},
     "strategy Given: signals[0, 'B'] is 0.5; signals are +1, -1, 0 or NaN (signal strengths need "
     "engine.allocation=signal_weight)"),
    (Given([[1.0, np.inf]] * 4), {"allocation": "signal_weight"}, "strategy Given: signals[0, 'B'] is inf; "
     "signals are finite or NaN"),
])
def test_allocation_conflicts_are_one_line_errors(strategy, rules, message):
    with pytest.raises(ValueError) as error:
        backtest.run(strategy, _two_symbols([10.0] * 4, [20.0] * 4), **rules)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_signal_weight_runs_a_strategys_signal_strengths():
    strong = Given([[1.0, 0.5], [NAN, NAN], [0.0, 0.0], [NAN, NAN]])
    result = backtest.run(strong, _two_symbols([10.0] * 4, [20.0] * 4), init_cash=1000, allocation="signal_weight",
                          fill="close")
    # 1000 shared 1 : 0.5 between A (at 10) and B (at 20)
    assert result.simulation.orders["size"].to_list()[:2] == pytest.approx([1000 / 1.5 / 10, 500 / 1.5 / 20])


class Tilted(Strategy):
    """Long both symbols on the first bar, B with ``tilt`` the strength of A, flat on the third."""

    tilt = param(0.5, min=0.0, max=1.0)

    def signals(self, bars):
        out = np.full(bars.close.shape, np.nan)
        out[0], out[2] = [1.0, self.tilt], 0.0
        return out


def test_a_sweep_of_signal_strengths():
    frame = _two_symbols([10.0, 10.0, 11.0, 11.0], [20.0, 20.0, 20.0, 20.0])
    table = backtest.sweep(Tilted, frame, tilt=[0.25, 1.0], allocation="signal_weight", fill="close")
    # A gains 10% over bars 0-2: with B at 0.25 of A's strength A holds 80% of the equity, at 1.0 50%
    assert dict(table.select("param_tilt", "total_return").rows()) == pytest.approx({0.25: 0.08, 1.0: 0.05})
