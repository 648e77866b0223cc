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
from reports.run_files import write_run_files
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
