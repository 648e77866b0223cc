"""Bars in exchange time (issue G item 4): an NSE symbol's bars anchored at 09:15 IST, one daily bar per
session (no holiday, no weekend), pre/post-market ticks kept out of regular bars, rollup equal to raw ticks,
a US symbol's bars at 09:30 ET across a DST change and on a half day, and one-line errors."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from backtest.api import bars_of
from backtest.errors import BacktestError
from backtest.feed import Feed, FeedError, bar_arrays
from warehouse.ingest.instruments import KITE_COLUMNS, load_instruments
from warehouse.ingest.validate import TICKS_SCHEMA
from warehouse.errors import WarehouseError
from warehouse.ingest.writer import TickWriter
from warehouse.sessions import day_table, venue_of

IST, ET, JST = ZoneInfo("Asia/Kolkata"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")
# Wed 24, Thu 25 trade; Fri 26 is Republic Day (an NSE holiday); Sat 27, Sun 28 weekend; Mon 29 trades
NSE_DAYS = [date(2024, 1, d) for d in (24, 25, 26, 27, 28, 29)]
NSE_SESSIONS = {date(2024, 1, d) for d in (24, 25, 29)}
NSE_START, NSE_END = "2024-01-24", "2024-01-30"
# Thu 7, Fri 8 in EST; Sun 10 the clocks go forward; Mon 11, Tue 12 in EDT
US_DAYS = [date(2024, 3, d) for d in (7, 8, 11, 12)]
US_START, US_END = "2024-03-07", "2024-03-13"
# Tokyo: 09:00-11:30 and 12:30-15:00 JST, a lunch break between
TSE_DAYS = [date(2024, 3, 4), date(2024, 3, 5)]
TSE_START, TSE_END = "2024-03-04T00:00+09:00", "2024-03-06T00:00+09:00"


def local_ticks(symbol: str, zone: ZoneInfo, days: list[date], first: time, last: time, every_s: int,
                seed: int) -> pa.Table:
    """A trade every ``every_s`` seconds (10 s past the step) from ``first`` to ``last`` local time on ``days``."""
    stamps = []
    for day in days:
        t, stop = datetime.combine(day, first, zone) + timedelta(seconds=10), datetime.combine(day, last, zone)
        while t < stop:
            stamps.append(t.astimezone(timezone.utc))
            t += timedelta(seconds=every_s)
    rng = np.random.default_rng(seed)
    n = len(stamps)
    return pa.table({
        "symbol": [symbol] * n, "ts": stamps, "price": np.round(100 + np.cumsum(rng.normal(0, 0.1, n)), 2),
        "size": rng.integers(1, 100, n).astype(np.float64), "side": np.ones(n, np.int8),
        "trade_id": np.arange(1, n + 1, dtype=np.uint64), "version": np.zeros(n, np.uint32),
    }, schema=TICKS_SCHEMA)


def write_instruments(client, folder: Path, rows: list[tuple[int, str, str]]) -> None:
    """Kite's instruments CSV with (token, symbol, exchange) rows, through the project's loader."""
    path = folder / "instruments.csv"
    lines = [",".join(KITE_COLUMNS)] + [f"{token},{token},{symbol},{symbol},0,,0,0.05,1,EQ,{exchange},{exchange}"
                                        for token, symbol, exchange in rows]
    path.write_text("\n".join(lines) + "\n")
    assert load_instruments(client, path).loaded == len(rows)


@pytest.fixture()
def market(fresh_client, tmp_path):
    """INFY on NSE (09:00-16:00 IST every 30 s, holiday and weekend too), IBM on NYSE (08:00-17:00 ET every
    minute around the DST change), TYO on TSE (08:00-16:00 JST every minute), LOOSE with INFY's ticks and no
    instruments row; returns (feed, ticks)."""
    write_instruments(fresh_client, tmp_path, [(408065, "INFY", "NSE"), (51, "IBM", "NYSE"), (7203, "TYO", "TSE")])
    ticks = {
        "INFY": local_ticks("INFY", IST, NSE_DAYS, time(9), time(16), 30, seed=1),
        "IBM": local_ticks("IBM", ET, US_DAYS, time(8), time(17), 60, seed=2),
        "TYO": local_ticks("TYO", JST, TSE_DAYS, time(8), time(16), 60, seed=4),
    }
    ticks["LOOSE"] = ticks["INFY"].set_column(0, "symbol", pa.array(["LOOSE"] * ticks["INFY"].num_rows))
    writer = TickWriter(fresh_client)
    for table in ticks.values():
        writer.write(table)
    return Feed(fresh_client), ticks


def assert_bars_equal(left: pl.DataFrame, right: pl.DataFrame) -> None:
    """Every column exact except vwap (float sums in another order): 1e-12 relative."""
    assert_frame_equal(left.drop("vwap"), right.drop("vwap"), check_exact=True)
    a, b = left["vwap"].to_numpy(), right["vwap"].to_numpy()
    assert np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)


def local(frame: pl.DataFrame, zone: ZoneInfo) -> list[datetime]:
    return [ts.astimezone(zone) for ts in frame["ts"]]


def reference_nse(ticks: pa.Table, minutes: int) -> pl.DataFrame:
    """INFY's regular-session bars computed here: 09:15-15:30 IST on session days, buckets from 09:15."""
    frame = pl.from_arrow(ticks).sort("ts", "trade_id")
    labels, keep = [], []
    for ts in frame["ts"]:
        at = ts.astimezone(IST)
        opens = datetime.combine(at.date(), time(9, 15), IST)
        inside = at.date() in NSE_SESSIONS and opens <= at < datetime.combine(at.date(), time(15, 30), IST)
        keep.append(inside)
        labels.append(opens + (at - opens) // timedelta(minutes=minutes) * timedelta(minutes=minutes))
    frame = frame.with_columns(bar=pl.Series(labels).dt.convert_time_zone("UTC")).filter(pl.Series(keep))
    return (frame.group_by("bar", "symbol", maintain_order=True)
            .agg(open=pl.col("price").first(), high=pl.col("price").max(), low=pl.col("price").min(),
                 close=pl.col("price").last(), volume=pl.col("size").sum(),
                 vwap=(pl.col("price") * pl.col("size")).sum() / pl.col("size").sum(), trades=pl.len().cast(pl.UInt64))
            .rename({"bar": "ts"}).with_columns(pl.col("ts").dt.cast_time_unit("us")).sort("ts"))


def test_nse_intraday_bars_start_at_0915_ist(market) -> None:
    feed, ticks = market
    bars = feed.bars("INFY", NSE_START, NSE_END, "75m")
    starts = local(bars, IST)
    assert {t.date() for t in starts} == NSE_SESSIONS  # no bar on the holiday or the weekend
    assert sorted({t.time() for t in starts}) == [time(9, 15), time(10, 30), time(11, 45), time(13), time(14, 15)]
    assert bars["trades"].to_list() == [150] * 15  # 75 minutes x 2 trades, nothing from 09:00-09:15 or 15:30-16:00
    assert_bars_equal(bars, reference_nse(ticks["INFY"], 75))
    shown = feed.bars("INFY", NSE_START, NSE_END, "75m", tz="Asia/Kolkata")
    assert shown["ts"][0] == datetime(2024, 1, 24, 9, 15, tzinfo=IST) and shown.schema["ts"].time_zone == "Asia/Kolkata"


def test_nse_daily_bars_skip_the_holiday_and_the_weekend(market) -> None:
    feed, ticks = market
    daily = feed.bars("INFY", NSE_START, NSE_END, "1d")
    assert [(t.date(), t.time()) for t in local(daily, IST)] == [(d, time(9, 15)) for d in sorted(NSE_SESSIONS)]
    assert daily["trades"].to_list() == [750] * 3  # 09:15-15:30: 375 minutes x 2
    assert_bars_equal(daily, reference_nse(ticks["INFY"], 24 * 60))


def test_pre_and_post_market_ticks_only_in_bars_that_ask_for_them(market) -> None:
    feed, ticks = market
    count = {s: feed.bars("INFY", NSE_START, NSE_END, "5m", session=s)["trades"].sum()
             for s in ("regular", "pre", "post", "all")}
    assert count == {"regular": 3 * 750, "pre": 3 * 30, "post": 3 * 60, "all": ticks["INFY"].num_rows}
    pre = feed.bars("INFY", NSE_START, NSE_END, "75m", session="pre")
    assert {t.time() for t in local(pre, IST)} == {time(8)}  # the grid's 08:00-09:15 bar (trades from 09:00)
    post = feed.bars("INFY", NSE_START, NSE_END, "1h", session="post")
    assert {t.time() for t in local(post, IST)} == {time(15, 30)}  # bars never straddle the close
    # on trading days, all = pre + regular + post: nothing merged across the open or the close
    every = feed.bars("INFY", NSE_START, NSE_END, "1h", session="all")
    parts = pl.concat([feed.bars("INFY", NSE_START, NSE_END, "1h", session=s) for s in ("pre", "regular", "post")])
    on_sessions = every.filter(pl.col("ts").dt.convert_time_zone("Asia/Kolkata").dt.date().is_in(NSE_SESSIONS))
    assert_bars_equal(on_sessions, parts.sort("ts"))
    days = feed.bars("INFY", NSE_START, NSE_END, "1d", session="all")  # one bar per day, from local midnight
    assert [(t.date(), t.time()) for t in local(days, IST)] == [(d, time()) for d in NSE_DAYS]
    assert days["trades"].to_list() == [840] * 6


@pytest.mark.parametrize("interval", ["1m", "5m", "75m", "1h", "1d"])
@pytest.mark.parametrize("session", ["regular", "all", "pre", "post"])
def test_rollup_and_raw_ticks_give_the_same_session_bars(market, interval: str, session: str) -> None:
    feed, _ = market
    symbols = ["INFY", "IBM", "TYO", "LOOSE"]
    rollup = feed.bars(symbols, NSE_START, US_END, interval, source="rollup", session=session)
    raw = feed.bars(symbols, NSE_START, US_END, interval, source="raw", session=session)
    sources = [cost.source for cost in feed.stats if cost.call.startswith("bars")]
    assert sources == ["bars_1m"] * 4 + ["ticks_dedup"] * 4  # one query per venue: NSE, NYSE, TSE, 24h UTC
    assert rollup.height > 0
    assert_bars_equal(rollup, raw)
    arrays = feed.arrays(symbols, NSE_START, US_END, interval, session=session)
    expected = bar_arrays(rollup)
    assert arrays.symbols == expected.symbols and np.array_equal(arrays.index, expected.index)
    for field in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(arrays, field), getattr(expected, field), equal_nan=True), field


def test_us_hour_bars_start_at_0930_et_across_the_dst_change(market) -> None:
    feed, _ = market
    bars = feed.bars("IBM", US_START, US_END, "1h")
    starts = local(bars, ET)
    assert {t.date() for t in starts} == set(US_DAYS)
    assert sorted({t.time() for t in starts}) == [time(h, 30) for h in range(9, 16)]
    utc_opens = sorted({(t.date(), t.astimezone(timezone.utc).time()) for t in starts if t.time() == time(9, 30)})
    assert utc_opens == [(date(2024, 3, 7), time(14, 30)), (date(2024, 3, 8), time(14, 30)),
                         (date(2024, 3, 11), time(13, 30)), (date(2024, 3, 12), time(13, 30))]
    assert bars["trades"].to_list() == ([60] * 6 + [30]) * 4  # 15:30-16:00 is half an hour; none before 09:30


def test_tokyo_bars_restart_after_the_lunch_break(market) -> None:
    feed, ticks = market
    hours = feed.bars("TYO", TSE_START, TSE_END, "1h")
    assert [t.time() for t in local(hours, JST)] == [time(9), time(10), time(11), time(12, 30), time(13, 30),
                                                     time(14, 30)] * 2
    assert hours["trades"].to_list() == [60, 60, 30, 60, 60, 30] * 2  # 11:30-12:30 and from 15:00 left out
    daily = feed.bars("TYO", TSE_START, TSE_END, "1d")
    assert [t.time() for t in local(daily, JST)] == [time(9)] * 2 and daily["trades"].to_list() == [300, 300]
    every = feed.bars("TYO", TSE_START, TSE_END, "1h", session="all")
    # the break is a part of its own on the morning's grid (11:30, 12:00); post-market on the afternoon's
    assert [t.time() for t in local(every, JST)][:11] == [time(8), time(9), time(10), time(11), time(11, 30), time(12),
                                                          time(12, 30), time(13, 30), time(14, 30), time(15),
                                                          time(15, 30)]
    assert every["trades"].sum() == ticks["TYO"].num_rows


def test_us_half_day_closes_early(fresh_client, tmp_path) -> None:
    write_instruments(fresh_client, tmp_path, [(51, "IBM", "NYSE")])
    day_after_thanksgiving = date(2024, 11, 29)  # NYSE closes at 13:00 ET
    TickWriter(fresh_client).write(local_ticks("IBM", ET, [day_after_thanksgiving], time(9), time(17), 60, seed=3))
    feed = Feed(fresh_client)
    hours = feed.bars("IBM", "2024-11-29", "2024-11-30", "1h")
    assert [t.time() for t in local(hours, ET)] == [time(9, 30), time(10, 30), time(11, 30), time(12, 30)]
    assert hours["trades"].to_list() == [60, 60, 60, 30]
    daily = feed.bars("IBM", "2024-11-29", "2024-11-30", "1d")
    assert daily["trades"].to_list() == [210]  # 09:30-13:00


def test_a_symbol_without_an_exchange_uses_tz_or_the_exchange_given(market) -> None:
    feed, _ = market
    utc_days = feed.bars("LOOSE", NSE_START, NSE_END, "1d")  # no instruments row: 24h UTC days, all ticks
    assert [t.time() for t in utc_days["ts"]] == [time()] * 6 and utc_days["trades"].sum() == 6 * 840
    ist_days = feed.bars("LOOSE", NSE_START, NSE_END, "1d", tz="Asia/Kolkata")
    assert [(t.date(), t.time()) for t in ist_days["ts"]] == [(d, time()) for d in NSE_DAYS]
    mcx = feed.bars("LOOSE", NSE_START, NSE_END, "1d", exchange="MCX", tz="UTC")  # no calendar: 24h IST days
    assert [t.time() for t in mcx["ts"]] == [time(18, 30)] * 6 and mcx["trades"].sum() == 6 * 840
    as_nse = feed.bars("LOOSE", NSE_START, NSE_END, "75m", exchange="NSE")
    listed = feed.bars("INFY", NSE_START, NSE_END, "75m")
    assert_bars_equal(as_nse.with_columns(symbol=pl.lit("INFY")), listed)


@pytest.mark.parametrize(("call", "message"), [
    (lambda f: f.bars("INFY", NSE_START, NSE_END, session="lunch"),
     "session: 'lunch' is not one of regular, all, pre, post"),
    (lambda f: f.arrays("INFY", NSE_START, NSE_END, session="night"),
     "session: 'night' is not one of regular, all, pre, post"),
    (lambda f: f.bars("INFY", NSE_START, NSE_END, tz="Mars/Base"), "tz: 'Mars/Base' is not a known time zone"),
    (lambda f: f.bars("INFY", NSE_START, NSE_END, exchange="LUNA"), "exchange: 'LUNA' has no known calendar"),
    (lambda f: f.bars("INFY", "1990-01-01", "1990-01-02"), "exchange: XBOM cannot place 1990-1990"),
])
def test_bad_input_is_one_line_naming_the_field_and_value(market, call, message: str) -> None:
    feed, _ = market
    with pytest.raises(FeedError) as raised:
        call(feed)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_a_symbol_listed_on_exchanges_with_different_hours_must_be_chosen(market, tmp_path) -> None:
    feed, _ = market
    write_instruments(feed.client, tmp_path, [(77, "INFY", "NYSE")])
    with pytest.raises(FeedError, match="symbols: 'INFY' is listed on NSE, NYSE in instruments"):
        feed.bars("INFY", NSE_START, NSE_END, "75m")
    chosen = feed.bars("INFY", NSE_START, NSE_END, "75m", exchange="NSE")
    assert {t.time() for t in local(chosen, IST)} >= {time(9, 15)}


def test_a_backtest_request_carries_exchange_session_and_tz(market) -> None:
    feed, _ = market
    request = {"symbols": ["LOOSE"], "start": NSE_START, "end": NSE_END, "interval": "75m"}
    as_nse = bars_of({**request, "exchange": "NSE"}, warehouse=feed.client)
    expected = bar_arrays(feed.bars("LOOSE", NSE_START, NSE_END, "75m", exchange="NSE"))
    assert np.array_equal(as_nse.index, expected.index) and np.array_equal(as_nse.close, expected.close)
    every = bars_of({**request, "exchange": "NSE", "session": "all"}, warehouse=feed.client)
    assert every.volume.sum() > as_nse.volume.sum()
    ist_days = bars_of({**request, "interval": "1d", "tz": "Asia/Kolkata"}, warehouse=feed.client)
    assert ist_days.index[0] == np.datetime64("2024-01-23T18:30")  # 2024-01-24 00:00 IST
    for setting, message in (("session", "data.session: 'lunch' is not one of regular, all, pre, post"),
                             ("tz", "data.tz: 'lunch' is not a known time zone"),
                             ("exchange", "data.exchange: 'lunch' has no known calendar")):
        with pytest.raises(BacktestError) as raised:
            bars_of({**request, setting: "lunch"}, warehouse=feed.client)
        assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_a_warehouse_without_instruments_reads_bars_as_before(fresh_client) -> None:
    fresh_client.command("DROP TABLE instruments")  # a schema from before migration 9
    TickWriter(fresh_client).write(local_ticks("OLD", ET, US_DAYS[:1], time(9, 30), time(16), 60, seed=5))
    bars = Feed(fresh_client).bars("OLD", US_START, US_END, "1h")
    assert bars["ts"][0] == datetime(2024, 3, 7, 14, tzinfo=timezone.utc) and bars["trades"].sum() == 390


def test_ticks_keep_the_session_asked_for(market) -> None:
    feed, ticks = market
    counts = {s: feed.ticks("INFY", NSE_START, NSE_END, ["price"], session=s).height
              for s in ("regular", "pre", "post", "all")}
    assert counts == {"regular": 3 * 750, "pre": 3 * 30, "post": 3 * 60, "all": ticks["INFY"].num_rows}
    regular = feed.ticks("INFY", NSE_START, NSE_END, session="regular", tz="Asia/Kolkata")
    assert set(regular["ts"].dt.date()) == NSE_SESSIONS
    assert regular["ts"].dt.time().min() >= time(9, 15) and regular["ts"].dt.time().max() < time(15, 30)
    both = feed.ticks(["IBM", "INFY"], NSE_START, US_END, ["price", "trade_id"], session="regular", dedup=False)
    assert both["ts"].is_sorted() and both.height == 3 * 750 + 4 * 390
    assert both.filter(pl.col("symbol") == "IBM")["trade_id"].is_sorted()
    assert feed.bars(["IBM", "INFY"], NSE_START, US_END, "1h")["trades"].sum() == both.height


class ServerLike:
    """The embedded client under another class name: the feed takes its server path (Native query + summary)."""

    def __init__(self, client) -> None:
        self._client = client

    def query(self, *args, **kwargs):
        return self._client.query(*args, **kwargs)


def test_the_server_path_gives_the_same_session_bars_and_ticks(market) -> None:
    feed, _ = market
    server = Feed(ServerLike(feed.client))
    symbols = ["INFY", "IBM", "TYO"]
    for interval, session in (("75m", "regular"), ("1d", "all"), ("1h", "pre")):
        assert_bars_equal(server.bars(symbols, NSE_START, US_END, interval, session=session),
                          feed.bars(symbols, NSE_START, US_END, interval, session=session))
    assert_frame_equal(server.ticks(symbols, NSE_START, US_END, session="post"),
                       feed.ticks(symbols, NSE_START, US_END, session="post"))


def test_nse_days_place_up_to_the_last_year_its_holidays_are_recorded() -> None:
    # exchange-calendars records XBOM's holidays to the end of a year: a day table in that year
    # must not ask for the year after it (it did, so NSE sessions failed for the current year)
    import exchange_calendars as xc

    last_year = xc.get_calendar("XBOM").last_session.year
    start = datetime(last_year, 12, 1, tzinfo=timezone.utc)
    days = day_table(venue_of("NSE"), start, start + timedelta(days=6))
    weekdays = [day for day, opened in zip(days.days, days.opens) if opened]
    assert weekdays and all(day.weekday() < 5 for day in weekdays)
    with pytest.raises(WarehouseError, match="XBOM cannot place"):
        day_table(venue_of("NSE"), start.replace(year=last_year + 1), start.replace(year=last_year + 1, day=5))
