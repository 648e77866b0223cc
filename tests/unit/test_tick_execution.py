"""Tick execution (issue H): parity with bar execution on ticks made from bars, and the rules bars cannot express."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.engine.kernels.tick_records import QuoteStream, TradeStream
from backtest.engine.rules import EngineConfig
from backtest.engine.simulate import run
from backtest.engine.ticks import bar_ticks, no_quotes, replay
from backtest.errors import BacktestError
from strategies.indicators.events import SignalEvents

MINUTE = 60 * 10**9


def random_bars(n: int, k: int, seed: int) -> tuple[np.ndarray, ...]:
    """OHLC bars with gaps between bars, and sparse -1/0/+1 signals."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, k)), axis=0))
    open_ = np.vstack([close[:1], close[:-1]]) * np.exp(rng.normal(0, 0.003, (n, k)))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.006, (n, k))))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.006, (n, k))))
    signal = np.where(rng.random((n, k)) < 0.08, rng.choice([-1.0, 0.0, 1.0], (n, k)), np.nan)
    return open_, high, low, close, signal


def tick_run(o, h, l, c, signal, *, path="low_first", windows=1, **rules):
    """Replay ``signal`` on ticks made from the bars, split into ``windows`` time windows."""
    start = np.arange(c.shape[0], dtype=np.int64) * MINUTE
    ticks = bar_ticks(start, MINUTE, o, h, l, c, path=path)
    cuts = np.searchsorted(ticks.ts, np.linspace(0, c.shape[0] * MINUTE, windows + 1)[1:-1].astype(np.int64))
    parts = [TradeStream(*(a[lo:hi] for a in ticks)) for lo, hi in zip([0, *cuts], [*cuts, len(ticks.ts)])]
    return replay(start + MINUTE, SignalEvents.from_dense(signal), [(p, no_quotes(0)) for p in parts],
                  EngineConfig(execution="ticks", **rules))


@pytest.mark.parametrize("direction, path, stops", [
    ("long_only", "low_first", {}),
    ("long_only", "low_first", {"stop_loss": 0.01, "take_profit": 0.015}),
    ("short_only", "high_first", {"stop_loss": 0.01, "take_profit": 0.015}),
    ("both", "low_first", {"size": 0.3}),
    ("long_only", "low_first", {"size": 0.3, "stop_loss": 0.01, "take_profit": 0.02, "signals": "target"}),
])
def test_ticks_made_from_bars_replay_the_bar_engine_exactly(direction, path, stops):
    o, h, l, c, signal = random_bars(400, 3, seed=7)
    rules = dict(init_cash=10_000, fees_bps=3, slippage_bps=2, direction=direction, **stops)
    bars = run(o, h, l, c, signal, EngineConfig(**rules))
    ticks = tick_run(o, h, l, c, signal, path=path, stop_fill="level", **rules)
    assert len(bars.trades) > 10
    assert ticks.trades.equals(bars.trades)
    assert ticks.orders.equals(bars.orders)
    np.testing.assert_array_equal(ticks.equity, bars.equity)


def test_windows_and_symbol_order_change_nothing():
    o, h, l, c, signal = random_bars(300, 4, seed=3)
    rules = dict(size=0.4, stop_loss=0.01, trailing_stop=0.02)
    whole = tick_run(o, h, l, c, signal, **rules)
    assert whole.fills["ts"].equals(tick_run(o, h, l, c, signal, windows=7, **rules).fills["ts"])
    np.testing.assert_array_equal(tick_run(o, h, l, c, signal, windows=7, **rules).equity, whole.equity)
    order = [2, 0, 3, 1]
    permuted = tick_run(o[:, order], h[:, order], l[:, order], c[:, order], signal[:, order], **rules)
    np.testing.assert_allclose(permuted.equity, whole.equity, rtol=1e-12)
    by_symbol = permuted.trades.with_columns(column=permuted.trades["column"].map_elements(
        lambda j: order[j], return_dtype=permuted.trades["column"].dtype)).sort("column", "entry_bar")
    assert by_symbol.drop("column").equals(whole.trades.sort("column", "entry_bar").drop("column"))


def prints(*rows: tuple[int, float, float]) -> TradeStream:
    """A one-symbol trade stream from ``(seconds, price, size)`` rows."""
    ts, price, size = (np.array(v) for v in zip(*rows))
    return TradeStream((ts * 10**9).astype(np.int64), np.zeros(len(ts), np.int64), price.astype(float),
                       size.astype(float))


def one_bar_long(trades: TradeStream, quotes: QuoteStream | None = None, **rules):
    """Go long at the close of bar 0 (ends at 60 s); bar 1 ends at 120 s."""
    signal = SignalEvents.from_dense(np.array([[1.0], [np.nan]]))
    return replay(np.array([60, 120]) * 10**9, signal, [(trades, quotes or no_quotes(0))],
                  EngineConfig(execution="ticks", **rules))


def test_take_profit_touched_before_the_stop_loss_inside_one_bar_wins_on_ticks():
    # bar 1: opens 100, rallies to 103 (take-profit 102 touched), then falls to 97 (stop-loss 98), closes 99
    seq = prints((0, 100, 1), (60, 100, 1), (70, 101, 1), (80, 103, 1), (90, 97, 1), (100, 99, 1))
    rules = dict(stop_loss=0.02, take_profit=0.02, close_at_end=False)
    ticks = one_bar_long(seq, **rules)
    o, h, l, c = (np.array([[100.0], [v]]) for v in (100, 103, 97, 99))
    bars = run(o, h, l, c, np.array([[1.0], [np.nan]]), EngineConfig(**rules))
    assert bars.trades["exit_reason"].to_list() == ["stop_loss"]  # the bar cannot tell, so it assumes the worst
    assert bars.trades["exit_price"].to_list() == [98.0]
    assert ticks.trades["exit_reason"].to_list() == ["take_profit"]  # the sequence says the profit came first
    assert ticks.trades["exit_price"].to_list() == [102.0]
    assert ticks.equity[-1] == pytest.approx(10_000 * 1.02)


def test_stop_fill_print_takes_the_triggering_print_and_level_takes_the_level():
    seq = prints((0, 100, 1), (60, 100, 1), (70, 99, 1), (80, 96.5, 1), (100, 99, 1))
    assert one_bar_long(seq, stop_loss=0.02).trades["exit_price"][0] == 96.5
    assert one_bar_long(seq, stop_loss=0.02, stop_fill="level").trades["exit_price"][0] == 98.0


def test_latency_moves_the_fill_to_the_first_print_after_the_active_time():
    seq = prints((0, 100, 1), (60, 100, 1), (61, 101, 1), (65, 102, 1), (100, 103, 1))
    assert one_bar_long(seq).fills["price"][0] == 100.0
    assert one_bar_long(seq, latency_ms=500).fills["price"][0] == 101.0
    late = one_bar_long(seq, latency_ms=2_000)
    assert late.fills["price"][0] == 102.0
    assert (late.fills["active"][0] - late.fills["decided"][0]).total_seconds() == 2.0
    jittered = [one_bar_long(seq, latency_jitter_ms=3_000, seed=s).fills["active"][0] for s in (1, 1, 2)]
    assert jittered[0] == jittered[1] != jittered[2]


def book(ts: float, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> QuoteStream:
    """One quote of symbol 0 with the given (price, qty) levels, padded to 5 with NaN."""
    def side(levels):
        px, qty = np.full((1, 5), np.nan), np.full((1, 5), np.nan)
        for i, (p, q) in enumerate(levels):
            px[0, i], qty[0, i] = p, q
        return px, qty
    (bp, bq), (ap, aq) = side(bids), side(asks)
    return QuoteStream(np.array([int(ts * 10**9)]), np.zeros(1, np.int64), bp, bq, ap, aq)


def merge(*quotes: QuoteStream) -> QuoteStream:
    return QuoteStream(*(np.concatenate(parts) for parts in zip(*quotes)))


def test_market_order_walks_the_book_and_waits_for_quotes_beyond_it():
    quotes = merge(book(30, [(99.9, 5)], [(100.1, 5)]),
                   book(61, [(99.9, 5)], [(100.2, 10), (100.4, 20)]),
                   book(62, [(100.0, 5)], [(100.5, 1_000)]))
    seq = prints((0, 100, 1), (70, 100.3, 1))
    result = one_bar_long(seq, quotes, init_cash=5_000, close_at_end=False)
    fills = result.fills
    # sized on the mid at 61 s (100.05): 5000 / 100.05 = 49.975 units; 30 on the book, the rest at 62 s
    assert fills["units"].to_list()[0] == 30
    assert fills["price"][0] == pytest.approx((10 * 100.2 + 20 * 100.4) / 30)
    assert fills["levels"][0] == 2
    assert fills["beyond_book"][0] == pytest.approx(5_000 / 100.05 - 30)
    assert fills["price"][1] == 100.5 and fills["units"].sum() == pytest.approx(5_000 / 100.05)
    assert fills["decision_bid"][0] == 99.9 and fills["decision_ask"][0] == 100.1
    assert fills["slippage_vs_mid"][0] == pytest.approx(fills["price"][0] / 100.0 - 1)


@pytest.mark.parametrize("queue, filled", [("conservative", [1.0, 2.0]), ("optimistic", [3.0])])
def test_limit_order_rests_and_fills_by_traded_size(queue, filled):
    # decision price 100, buy limit 1% lower at 99; a print at exactly 99 fills only with optimistic queueing
    seq = prints((0, 100, 1), (60, 100.5, 1), (70, 99, 3), (80, 98.5, 1), (90, 98, 2), (100, 99.5, 1))
    result = one_bar_long(seq, order_type="limit", limit_offset_bps=100, size_type="units", size=3,
                          queue=queue, close_at_end=False)
    assert result.fills["price"].unique().to_list() == [99.0]
    assert result.fills["units"].to_list() == filled


def test_one_print_fills_a_reversal_by_its_traded_size_once():
    # short 2 units at 101 (a sell limit 1% above 100); at bar 1's close a buy limit 1% below 101.5 closes 2, opens 2
    seq = prints((0, 100, 1), (65, 101.5, 5), (150, 98, 3), (170, 97, 10))
    signal = SignalEvents.from_dense(np.array([[-1.0], [1.0], [np.nan]]))
    result = replay(np.array([60, 120, 180]) * 10**9, signal, [(seq, no_quotes(0))],
                    EngineConfig(execution="ticks", order_type="limit", limit_offset_bps=100, size_type="units",
                                 size=2, close_at_end=False))
    buys = result.fills.filter(result.fills["units"] > 0)
    assert buys["units"].to_list() == [2.0, 1.0, 1.0]  # the print of 3 at 98: 2 to close, 1 to open; then 1 at 97
    assert buys["price"].unique().to_list() == [101.5 * 0.99]


def test_stop_entry_triggers_on_the_print_that_reaches_it_and_expiry_cancels():
    seq = prints((0, 100, 1), (60, 100.5, 1), (70, 101.2, 1), (80, 101.0, 1), (100, 100, 1))
    entry = one_bar_long(seq, order_type="stop", stop_offset_bps=100, close_at_end=False)
    assert entry.fills["price"].to_list() == [101.2]
    expired = one_bar_long(seq, order_type="stop", stop_offset_bps=100, order_expiry_s=5, close_at_end=False)
    assert expired.fills.is_empty() and expired.trades.is_empty()


@pytest.mark.parametrize("rules, message", [
    ({"execution": "ticks", "latency_ms": -1}, "engine.latency_ms: -1 must be >= 0"),
    ({"execution": "ticks", "order_expiry_s": 0}, "engine.order_expiry_s: 0 must be > 0"),
    ({"execution": "ticks", "order_type": "limit", "limit_offset_bps": 10_000}, "engine.limit_offset_bps: 10000"),
    ({"order_type": "limit"}, "engine.order_type: limit needs engine.execution=ticks"),
    ({"execution": "ticks", "fill": "close"}, "engine.fill: close cannot be used with execution=ticks"),
    ({"execution": "tick"}, "engine.execution: 'tick' is not one of bars, ticks"),
    ({"execution": "ticks", "allocation": "signal_weight"}, "engine.allocation: signal_weight is not available"),
])
def test_bad_tick_rules_are_one_line_errors_naming_the_field(rules, message):
    with pytest.raises(BacktestError, match=message.replace(".", r"\.")):
        EngineConfig(**rules)


def test_a_symbol_without_ticks_is_an_error_naming_it_and_the_range():
    signal = SignalEvents.from_dense(np.array([[1.0, 1.0], [np.nan, np.nan]]))
    with pytest.raises(BacktestError, match=r"ticks: no trades or quotes for BBB in \[1970-01-01T00:01"):
        replay(np.array([60, 120]) * 10**9, signal, [(prints((10, 100, 1)), no_quotes(0))],
               EngineConfig(execution="ticks"), symbols=("AAA", "BBB"))
