"""The demo's NSE market: XBOM sessions in IST (holidays and weekends skipped), trades at the bid or ask of their
tick's 5-level book, a future with OI that follows its underlying and stops at expiry; its KiteTicker view and
its tables are the same market."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow as pa

from warehouse.demo.generate import DemoSpec
from warehouse.demo.kite import INSTRUMENTS, kite_ticks, nse_market, tick_dicts
from warehouse.demo.nse import STEP_S, nse_quotes, nse_span, nse_ticks
from warehouse.ingest.quote_check import clean_quotes
from warehouse.ingest.validate import clean_ticks

IST = ZoneInfo("Asia/Kolkata")


def test_sessions_are_xbom_days_from_0915_to_1530_ist():
    sessions = list(nse_market(start="2024-01-19", last=date(2024, 1, 29), step=60))
    assert [s.day.isoformat() for s in sessions] == ["2024-01-19", "2024-01-23", "2024-01-24", "2024-01-25",
                                                     "2024-01-29"]  # 22nd and 26th: NSE holidays; a weekend
    for s in sessions:
        first, last = (datetime.fromtimestamp(int(t), IST) for t in (s.ts[0], s.ts[-1]))
        assert (first.date(), first.strftime("%H:%M"), last.strftime("%H:%M")) == (s.day, "09:15", "15:29")
    assert [s.live.tolist() for s in sessions][-2:] == [[True, True, True], [True, True, False]]  # expiry 25th


def test_the_us_span_sets_the_nse_days():
    assert nse_span(DemoSpec()) == (date(2024, 1, 2), date(2024, 2, 14))  # the 2M demo's first and last US day
    days = pl.from_arrow(pa.Table.from_batches(list(nse_ticks(DemoSpec()))))["ts"].dt.convert_time_zone(
        "Asia/Kolkata").dt.date().unique().sort()
    assert days.len() == 30 and date(2024, 1, 22) not in days and date(2024, 1, 26) not in days


def test_trades_print_at_the_bid_or_ask_of_their_ticks_book_and_the_future_has_oi():
    spec = DemoSpec(ticks=200_000, seed=5)
    ticks = pl.from_arrow(pa.Table.from_batches(list(nse_ticks(spec))))
    quotes = pl.from_arrow(pa.concat_tables(nse_quotes(spec)))
    assert clean_quotes(quotes.to_arrow(), source="t").rejects.num_rows == 0  # 5 ordered levels
    assert clean_ticks(ticks.to_arrow(), source="t").rejects.num_rows == 0
    assert (quotes["bid_px_1"] < quotes["ask_px_1"]).all() and (quotes["bid_px_5"] > 0).all()
    both = ticks.join(quotes, on=["symbol", "ts"], how="left")
    assert both["bid_px_1"].null_count() == 0  # a quote at each trade
    at = pl.when(pl.col("side") > 0).then(pl.col("ask_px_1")).otherwise(pl.col("bid_px_1"))
    assert both.select((pl.col("price") - at).abs().max()).item() < 1e-9
    assert (both["last_price"] == both["price"]).all() and (both["last_qty"] == both["size"]).all()
    volume = ticks.group_by("symbol").agg(ok=(pl.col("trade_id").diff().drop_nulls() == pl.col("size").slice(1))
                                          .all())
    assert volume["ok"].all()  # named by cumulative volume: each trade adds its size
    future = quotes.filter(pl.col("symbol") == "RELIANCE24JANFUT")
    assert future.height and (future["oi"] > 0).all() and (quotes.filter(pl.col("symbol") == "INFY")["oi"] == 0).all()
    assert (future["oi_day_low"] <= future["oi"]).all() and (future["oi"] <= future["oi_day_high"]).all()
    spot = quotes.filter(pl.col("symbol") == "RELIANCE").select("ts", spot="last_price")
    basis = future.join(spot, on="ts").select(pl.col("last_price") - pl.col("spot"))["last_price"]
    assert 0 < basis.median() < 20  # cost of carry, a few rupees


def test_the_kite_view_is_the_same_market_and_seeded():
    session = next(nse_market(step=STEP_S, seed=3))
    ticks = list(itertools.chain.from_iterable(tick_dicts(session)))
    assert len(ticks) == session.ts.size * len(INSTRUMENTS)
    future = [t for t in ticks if t["instrument_token"] == INSTRUMENTS[2][0]]
    assert [t["oi"] for t in future] == session.oi[:, 2].tolist()
    assert [t["volume_traded"] for t in future] == session.volume[:, 2].tolist()
    assert [t["depth"]["sell"][4]["price"] for t in future] == (session.ask[:, 2, 4] / 100).tolist()
    again = next(nse_market(step=STEP_S, seed=3))
    assert all(np.array_equal(a, b) for a, b in zip(session[1:], again[1:]))
    first = [tick for second in kite_ticks(seconds=3, seed=3) for tick in second]
    assert [t["instrument_token"] for t in first] == [row[0] for row in INSTRUMENTS] * 3
    assert first[0]["exchange_timestamp"] == datetime(2024, 1, 2, 9, 15, tzinfo=IST).astimezone().replace(tzinfo=None)
