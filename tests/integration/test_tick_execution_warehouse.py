"""Tick execution on warehouse ticks: bars built from the same trades agree with it, latency and stops
differ where the tick sequence says so, the CLI and the API run it, and a range without ticks is refused."""

from __future__ import annotations

import numpy as np
import pytest

import backtest
from backtest.errors import BacktestError
from strategies.sma_cross import SmaCross
from support.data import demo_ticks
from warehouse.demo.generate import DemoSpec
from warehouse.demo.quotes import demo_quotes
from warehouse.ingest.files import load_ticks
from warehouse.ingest.quotes import load_quotes

DATA = {"symbols": ["AAPL", "MSFT"], "start": "2024-01-02", "end": "2024-01-09", "interval": "5m"}


SPEC = DemoSpec(ticks=150_000, symbols=("AAPL", "MSFT"), duplicate_rate=0.02, correction_rate=0.01, seed=5)


def _database(*, quotes: bool):
    import uuid

    from warehouse.client import connect
    from warehouse.schema.migrate import migrate

    client = connect(database=f"ticks_{uuid.uuid4().hex[:8]}")
    migrate(client)
    load_ticks(client, demo_ticks(SPEC))
    if quotes:  # a 5-level book at each original trade, the trade at its bid or ask
        load_quotes(client, demo_quotes(SPEC))
    return client


@pytest.fixture(scope="module")
def trades_only():
    """150k demo ticks of two symbols (with redeliveries and corrections), no quotes."""
    return _database(quotes=False)


@pytest.fixture(scope="module")
def warehouse():
    """The same ticks and the demo's quotes."""
    return _database(quotes=True)


def test_market_orders_on_the_ticks_the_bars_come_from_fill_at_the_next_bar_open(trades_only):
    one = {**DATA, "symbols": ["MSFT"]}
    bars = backtest.run("sma_cross", one, warehouse=trades_only, fees_bps=1)
    ticks = backtest.run("sma_cross", one, warehouse=trades_only, fees_bps=1, execution="ticks")
    assert bars.stats["trades"] > 10
    # the first print after a bar's end is the next bar's open: same trades, same equity
    assert ticks.simulation.trades.equals(bars.simulation.trades)
    np.testing.assert_array_equal(ticks.equity["equity"].to_numpy(), bars.equity["equity"].to_numpy())
    fills = ticks.simulation.fills
    assert len(fills) == len(ticks.simulation.orders) and (fills["ts"] >= fills["active"]).all()


def test_two_symbols_fill_at_the_same_prices_and_size_on_the_last_prints(trades_only):
    bars = backtest.run("sma_cross", DATA, warehouse=trades_only, size=0.5)
    ticks = backtest.run("sma_cross", DATA, warehouse=trades_only, size=0.5, execution="ticks")
    same = ["column", "entry_bar", "exit_bar", "entry_price", "exit_price", "exit_reason"]
    assert bars.stats["trades"] > 20 and ticks.simulation.trades.select(same).equals(bars.simulation.trades.select(same))
    # entries are sized on equity marked at each symbol's last print (a bar marks all at their opens)
    np.testing.assert_allclose(ticks.simulation.trades["size"], bars.simulation.trades["size"], rtol=1e-3)


def test_with_quotes_market_orders_pay_the_spread_of_the_book_in_force(warehouse, trades_only):
    from backtest.feed import Feed

    one = {**DATA, "symbols": ["MSFT"]}
    ticks = backtest.run("sma_cross", one, warehouse=warehouse, execution="ticks", latency_ms=200)
    prints = backtest.run("sma_cross", one, warehouse=trades_only, execution="ticks", latency_ms=200)
    fills = ticks.simulation.fills.filter(reason="signal")
    assert fills.height > 10 and (fills["levels"] >= 1).all()
    feed = Feed(warehouse)
    for fill in fills.head(12).iter_rows(named=True):
        book = feed.depth_at("MSFT", fill["ts"])
        side = "ask_px" if fill["units"] > 0 else "bid_px"
        if fill["levels"] == 1:
            assert fill["price"] == pytest.approx(book[side][0])
        assert fill["decision_bid"] < fill["decision_ask"]
    # the same decisions filled at prints instead: the book's spread is what the quotes cost
    assert ticks.stats["final_equity"] < prints.stats["final_equity"]
    assert (fills["slippage_vs_mid"] > 0).mean() > 0.9


def test_latency_fills_later_prints_and_records_them(warehouse):
    ticks = backtest.run("sma_cross", DATA, warehouse=warehouse, size=0.5, execution="ticks", latency_ms=1_500)
    fills = ticks.simulation.fills.filter(reason="signal")
    assert ((fills["active"] - fills["decided"]).dt.total_milliseconds() == 1_500).all()
    assert (fills["ts"] >= fills["active"]).all()
    zero = backtest.run("sma_cross", DATA, warehouse=warehouse, size=0.5, execution="ticks")
    assert not ticks.simulation.fills["price"].equals(zero.simulation.fills["price"])


def test_a_range_without_ticks_is_an_error_naming_the_symbol_and_range(trades_only):
    from support.data import load_goog

    load_goog(trades_only)
    goog = {"symbols": ["GOOG"], "start": "2010-01-01", "end": "2011-01-01", "interval": "1d", "source": "ohlcv"}
    with pytest.raises(BacktestError, match=r"ticks: symbols: 'GOOG' not in the warehouse \(no ticks\) in \[2010-01-0"):
        backtest.run("sma_cross", goog, warehouse=trades_only, execution="ticks")


def test_tick_execution_needs_a_feed_request():
    frame = {"ts": np.arange(3).astype("datetime64[D]"), "close": np.array([1.0, 2.0, 3.0])}
    import polars as pl

    with pytest.raises(BacktestError, match="engine.execution: ticks needs the trades of the run"):
        backtest.run("sma_cross", pl.DataFrame(frame), execution="ticks")


def test_the_report_shows_the_shortfall_per_trade_and_in_total(warehouse, tmp_path):
    from backtest.engine.ticks import execution_summary, shortfall_by_trade

    result = backtest.run("sma_cross", DATA, warehouse=warehouse, size=0.5, execution="ticks", latency_ms=800,
                          order_type="limit", limit_offset_bps=1)
    per_trade = shortfall_by_trade(result.simulation)
    summary = execution_summary(result.simulation)
    assert len(per_trade) == len(result.simulation.trades) and per_trade.null_count() == 0
    assert per_trade.sum() == pytest.approx(summary["shortfall"])  # every fill belongs to one trade
    page = result.report(tmp_path).read_text()
    assert "Execution on ticks" in page and "implementation shortfall" in page and "800 ms" in page
    fills = __import__("polars").read_csv(tmp_path / "fills.csv")
    assert len(fills) == summary["fills"] and set(fills["symbol"]) == {"AAPL", "MSFT"}


def test_a_sweep_on_ticks_replays_every_set_on_one_read_and_equals_single_runs(warehouse):
    table = backtest.sweep("sma_cross", DATA, warehouse=warehouse, fast=[5, 10], slow=[20, 40], size=0.5,
                           execution="ticks", latency_ms=300, metric="total_return")
    assert table.height == 4
    for row in table.iter_rows(named=True):
        strategy = SmaCross(fast=row["param_fast"], slow=row["param_slow"])
        single = backtest.run(strategy, DATA, warehouse=warehouse, size=0.5, execution="ticks", latency_ms=300)
        assert row["final_equity"] == pytest.approx(single.stats["final_equity"], rel=1e-12)
        assert row["trades"] == single.stats["trades"]
    bars_table = backtest.sweep("sma_cross", DATA, warehouse=warehouse, fast=[5, 10], slow=[20, 40], size=0.5,
                                metric="total_return")
    assert not bars_table["final_equity"].equals(table["final_equity"])  # 300 ms later, other prints
    from backtest.engine.rules import EngineConfig
    from backtest.sweep.local import evaluate_stream
    from backtest.sweep.spec import SweepSpec

    with pytest.raises(BacktestError, match="sweep.executor: dask cannot sweep with engine.execution=ticks"):
        evaluate_stream(None, [], EngineConfig(execution="ticks"), SweepSpec(params={"fast": "5"}, executor="dask"))


def test_a_strategy_that_reads_quotes_gets_the_book_at_each_bar_close(warehouse):
    from backtest.feed import Feed
    from backtest.feed.quote_bars import QuoteBars
    from backtest.runner import DataSpec, read_strategy_bars
    from strategies.book_imbalance import BookImbalance

    spec = DataSpec.from_mapping(DATA)
    bars = read_strategy_bars(Feed(warehouse), spec, BookImbalance)
    assert isinstance(bars, QuoteBars)
    known = ~np.isnan(bars.bid)
    assert known.mean() > 0.9 and (bars.ask[known] > bars.bid[known]).all()
    assert (np.abs(bars.imbalance[known]) <= 1).all()
    # each bar holds the last quote before its close, as a plain query over the raw quotes reads it
    rng = np.random.default_rng(0)
    for t, j in zip(rng.integers(0, bars.close.shape[0], 15), rng.integers(0, 2, 15)):
        end = (bars.index[t] + np.timedelta64(5, "m")).astype("datetime64[us]").item()
        expected = warehouse.query(
            "SELECT argMax(bid_px_1, (ts, seq)), argMax(ask_qty_1, (ts, seq)) FROM quotes FINAL "
            "WHERE symbol = {s:String} AND ts < {end:DateTime64(6, 'UTC')}",
            parameters={"s": bars.symbols[j], "end": end}).result_rows[0]
        assert (bars.bid[t, j], bars.ask_qty[t, j]) == pytest.approx(expected)
    result = backtest.run("book_imbalance", DATA, warehouse=warehouse, size=0.5, execution="ticks")
    assert result.stats["trades"] > 5 and len(result.simulation.fills) == len(result.simulation.orders)
    sweep = backtest.sweep("book_imbalance", DATA, warehouse=warehouse, enter=[0.3, 0.5], size=0.5)
    assert sweep.height == 2


def test_a_quote_strategy_on_bars_given_in_memory_is_a_one_line_error():
    import polars as pl

    frame = pl.DataFrame({"ts": np.arange(3).astype("datetime64[D]"), "close": np.array([1.0, 2.0, 3.0])})
    with pytest.raises(BacktestError, match="strategy: book_imbalance reads quotes; run it on a feed request"):
        backtest.run("book_imbalance", frame)
