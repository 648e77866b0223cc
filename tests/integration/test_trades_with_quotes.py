"""Trades joined to the quote in force (``Feed.trades_with_quotes``, an ``ASOF LEFT JOIN``): hand-computed bid, ask,
spread and spread paid for crafted trades and quotes, and on the demo market (each trade at its bid or ask) a
spread paid of half the quoted spread."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from backtest.feed import Feed, FeedError
from warehouse.demo.generate import DemoSpec, generate
from warehouse.demo.quotes import demo_quotes
from warehouse.ingest.files import load_ticks
from warehouse.ingest.quotes import load_quotes

DAY = "2024-01-02T10:00:"
QUOTES = [  # symbol, second, bid, ask (0: an empty side)
    ("X", "01", 10.00, 10.04),
    ("X", "03", 10.02, 10.06),
    ("X", "05", 0.0, 10.10),
    ("X", "30", 11.00, 11.04),  # after every trade: never in force
    ("Y", "02", 50.00, 50.10),
]
OLD_QUOTE = ("Y", "2024-01-01T15:59:59Z", 20.00, 20.50)  # the day before: still in force for Y's first trade
TRADES = [  # symbol, second, price, side -> expected (quote second, bid, ask, spread paid)
    ("X", "00.5", 10.00, "buy", (None, None, None, None)),  # before any quote of X
    ("X", "01", 10.04, "buy", ("01", 10.00, 10.04, 0.02)),  # at exactly the quote's time: that quote
    ("X", "02", 10.00, "sell", ("01", 10.00, 10.04, 0.02)),
    ("X", "02.5", 10.03, "buy", ("01", 10.00, 10.04, 0.01)),
    ("X", "03", 10.03, "sell", ("03", 10.02, 10.06, 0.01)),
    ("X", "04", 10.05, "", ("03", 10.02, 10.06, 0.01)),  # no side: |price - mid|
    ("X", "04.5", 10.03, "buy", ("03", 10.02, 10.06, -0.01)),  # a buy below the mid: price improvement
    ("X", "06", 10.10, "buy", ("05", None, 10.10, None)),  # the quote in force has no bid: no mid
    ("Y", "01", 20.50, "buy", ("old", 20.00, 20.50, 0.25)),
    ("Y", "02", 49.90, "sell", ("02", 50.00, 50.10, 0.15)),
]


@pytest.fixture()
def crafted(fresh_client):
    quotes = pl.DataFrame(
        [(s, f"{DAY}{sec}Z", bid, 100.0, ask, 200.0) for s, sec, bid, ask in QUOTES]
        + [(OLD_QUOTE[0], OLD_QUOTE[1], OLD_QUOTE[2], 100.0, OLD_QUOTE[3], 200.0)],
        schema=["symbol", "ts", "bid_px_1", "bid_qty_1", "ask_px_1", "ask_qty_1"], orient="row")
    report = load_quotes(fresh_client, quotes, name="crafted quotes")
    assert (report.loaded, report.rejected) == (len(QUOTES) + 1, 0)
    trades = pl.DataFrame([(s, f"{DAY}{sec}Z", price, 10.0, side, i) for i, (s, sec, price, side, _) in
                           enumerate(TRADES)], schema=["symbol", "ts", "price", "size", "side", "trade_id"],
                          orient="row")
    trades = pl.concat([trades, pl.DataFrame([("X", "2024-01-02T09:59:59Z", 99.0, 1.0, "buy", 99)],
                                             schema=trades.schema, orient="row")])  # before the range asked
    assert load_ticks(fresh_client, trades, name="crafted trades").loaded == len(TRADES) + 1
    return fresh_client


def _second(label: str | None) -> datetime | None:
    if label is None:
        return None
    text = OLD_QUOTE[1] if label == "old" else f"{DAY}{label}Z"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_each_trade_gets_the_quote_in_force_and_the_spread_it_paid(crafted):
    feed = Feed(crafted)
    joined = feed.trades_with_quotes(["X", "Y"], "2024-01-02T10:00:00Z", "2024-01-02T10:01:00Z")
    assert joined.columns == ["symbol", "ts", "price", "size", "side", "trade_id", "quote_ts", "bid", "ask",
                              "bid_qty", "ask_qty", "mid", "spread", "spread_paid", "effective_spread"]
    assert joined["ts"].is_sorted() and joined.height == len(TRADES)  # the trade before the range is left out
    rows = {row["trade_id"]: row for row in joined.iter_rows(named=True)}
    for i, (symbol, _, price, _, (quote, bid, ask, paid)) in enumerate(TRADES):
        row = rows[i]
        assert (row["symbol"], row["price"]) == (symbol, price)
        assert row["quote_ts"] == _second(quote), i
        assert (row["bid"], row["ask"]) == (bid, ask), i
        if bid is None or ask is None:
            assert row["mid"] is None and row["spread"] is None and row["spread_paid"] is None, i
            assert row["effective_spread"] is None, i
            continue
        assert row["mid"] == pytest.approx((bid + ask) / 2, abs=1e-12), i
        assert row["spread"] == pytest.approx(ask - bid, abs=1e-12), i
        assert row["spread_paid"] == pytest.approx(paid, abs=1e-9), i
        assert row["effective_spread"] == pytest.approx(2 * paid, abs=1e-9), i
    assert rows[1]["bid_qty"] == 100.0 and rows[1]["ask_qty"] == 200.0
    cost = feed.stats[-1]
    assert cost.source == "ticks_dedup+quotes" and cost.rows_returned == len(TRADES)
    assert cost.call.startswith("trades with quotes X,Y 2024-01-02T10:00:00Z") and cost.rows_to_read >= len(TRADES)


def test_of_two_quotes_at_one_time_the_higher_sequence_number_is_in_force(fresh_client):
    quotes = pl.DataFrame({"symbol": ["Z"] * 3, "ts": [f"{DAY}01Z"] * 3, "seq": [2, 7, 5],
                           "bid_px_1": [1.0, 3.0, 2.0], "ask_px_1": [1.5, 3.5, 2.5]})
    assert load_quotes(fresh_client, quotes, name="same time").loaded == 3
    load_ticks(fresh_client, pl.DataFrame({"symbol": ["Z", "Z"], "ts": [f"{DAY}01Z", f"{DAY}02Z"],
                                           "price": [3.5, 3.0], "size": [1.0, 1.0], "side": ["buy", "sell"]}))
    joined = Feed(fresh_client).trades_with_quotes("Z", "2024-01-02", "2024-01-03")
    assert joined.select("bid", "ask", "spread_paid").rows() == [(3.0, 3.5, 0.25), (3.0, 3.5, 0.25)]


def test_times_show_in_a_zone_and_unknown_symbols_are_refused(crafted):
    feed = Feed(crafted)
    shown = feed.trades_with_quotes("Y", "2024-01-02T10:00:00Z", "2024-01-02T10:01:00Z", tz="Asia/Kolkata")
    assert shown["ts"].dt.hour().to_list() == [15, 15] and shown["quote_ts"][0].hour == 21
    with pytest.raises(FeedError, match=r"^symbols: 'NOPE' not in the warehouse \(no ticks\)$"):
        feed.trades_with_quotes(["X", "NOPE"], "2024-01-02T10:00:00Z", "2024-01-02T10:01:00Z")


def test_on_the_demo_market_every_trade_pays_half_the_quoted_spread(fresh_client):
    """The demo (``python -m warehouse demo --ticks 200k``: the same generators, loaded the same way) prints each
    trade at the bid or the ask of the quote made for it; a correction (a later version at another price) is the
    one kind of trade that may print elsewhere."""
    spec = DemoSpec(ticks=200_000)
    load_ticks(fresh_client, generate(spec), name="demo")
    load_quotes(fresh_client, demo_quotes(dataclasses.replace(spec, batch_rows=100_000)), name="demo quotes")
    feed = Feed(fresh_client)
    start, end = datetime(2024, 1, 1, tzinfo=timezone.utc), datetime.now(timezone.utc)
    joined = feed.trades_with_quotes(list(spec.symbols), start, end)
    versions = feed.ticks(list(spec.symbols), start, end, columns=["trade_id", "version"])
    assert joined.height == versions.height > 150_000
    joined = joined.join(versions, on=["symbol", "ts", "trade_id"], how="left", validate="1:1")
    assert joined["bid"].null_count() == joined["ask"].null_count() == 0  # a quote before every trade
    half = (pl.col("spread_paid") - pl.col("spread") / 2).abs() < 1e-9
    full = (pl.col("effective_spread") - pl.col("spread")).abs() < 1e-9
    originals = joined.filter(pl.col("version") == 0)
    assert originals.height > 0.95 * joined.height
    assert originals.select((half & full).all()).item()
    assert (originals["spread"] > 0).all()


class ServerLike:
    """The embedded client under another class name: the feed takes its server path (Native query + summary)."""

    def __init__(self, client) -> None:
        self._client = client

    def query(self, *args, **kwargs):
        return self._client.query(*args, **kwargs)


def test_the_server_path_gives_the_same_join(crafted):
    args = (["X", "Y"], "2024-01-02T10:00:00Z", "2024-01-02T10:01:00Z")
    assert_frame_equal(Feed(ServerLike(crafted)).trades_with_quotes(*args), Feed(crafted).trades_with_quotes(*args))
