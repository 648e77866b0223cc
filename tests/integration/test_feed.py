"""The feed: raw vs rollup bars, a polars reference, alignment, time zones, bad
input, empty ranges, query cost and sort-key pushdown."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from polars.testing import assert_frame_equal

from backtest.feed import Feed, FeedError, bar_arrays
from warehouse.feed_sql import BAR_SCHEMA, OHLCV_SCHEMA

UTC = timezone.utc
DAY0 = datetime(2024, 3, 4, tzinfo=UTC)
SESSION_US = int(6.5 * 3600e6)  # trades between 14:30 and 21:00 UTC
GRANULE = 8192


def make_ticks(n_symbols: int, days: int, per_day: int, seed: int = 7) -> pa.Table:
    """Clean synthetic ticks: unique trade ids, some equal timestamps, whole-number
    sizes (so volume sums are exact in any order), shuffled insertion order."""
    rng = np.random.default_rng(seed)
    n = n_symbols * days * per_day
    symbol = np.repeat(np.arange(n_symbols), days * per_day)
    day = np.tile(np.repeat(np.arange(days), per_day), n_symbols)
    session_start = np.datetime64(DAY0.replace(tzinfo=None), "us") + np.timedelta64(14 * 60 + 30, "m")
    offsets = np.sort(rng.integers(0, SESSION_US, (n_symbols * days, per_day)), axis=1).ravel()
    ts = session_start + (day * 86_400_000_000 + offsets).astype("timedelta64[us]")
    ts[1::17] = ts[0::17][: len(ts[1::17])]  # ties on ts: (ts, trade_id) decides open/close
    price = np.round(100 + np.cumsum(rng.normal(0, 0.02, n)), 2)
    table = pa.table({
        "symbol": pa.array(np.array([f"S{i:02d}" for i in range(n_symbols)])[symbol]),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "price": price,
        "size": rng.integers(1, 500, n).astype(np.float64),
        "side": pa.array(rng.choice(np.array([-1, 1], np.int8), n)),
        "trade_id": pa.array(rng.permutation(n).astype(np.uint64) + 1),
        "version": pa.array(np.zeros(n, np.uint32)),
    })
    return table.take(rng.permutation(n))


def tick_table(rows: list[tuple[str, datetime, float, float]]) -> pa.Table:
    """Ticks from (symbol, ts, price, size) rows, trade ids in row order."""
    return pa.table({
        "symbol": [r[0] for r in rows],
        "ts": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
        "price": [float(r[2]) for r in rows],
        "size": [float(r[3]) for r in rows],
        "side": pa.array([1] * len(rows), pa.int8()),
        "trade_id": pa.array(range(1, len(rows) + 1), pa.uint64()),
        "version": pa.array([0] * len(rows), pa.uint32()),
    })


def reference_bars(ticks: pa.Table, every: str) -> pl.DataFrame:
    """Bars computed in polars: open/close by (ts, trade_id)."""
    return (
        pl.from_arrow(ticks).sort("ts", "trade_id")
        .group_by(pl.col("ts").dt.truncate(every), "symbol", maintain_order=True)
        .agg(
            open=pl.col("price").first(), high=pl.col("price").max(), low=pl.col("price").min(),
            close=pl.col("price").last(), volume=pl.col("size").sum(),
            vwap=(pl.col("price") * pl.col("size")).sum() / pl.col("size").sum(),
            trades=pl.len().cast(pl.UInt64),
        )
        .sort("ts", "symbol")
    )


def assert_bars_equal(left: pl.DataFrame, right: pl.DataFrame) -> None:
    """Every column exact except vwap (float sums in another order): 1e-12 relative."""
    assert_frame_equal(left.drop("vwap"), right.drop("vwap"), check_exact=True)
    a, b = left["vwap"].to_numpy(), right["vwap"].to_numpy()
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.nanmax(np.abs(a - b) / np.abs(b), initial=0.0) <= 1e-12


@pytest.fixture()
def loaded(fresh_client):
    """A fresh warehouse with 3 symbols x 3 days of clean ticks; returns (feed, ticks)."""
    ticks = make_ticks(n_symbols=3, days=3, per_day=3000)
    fresh_client.insert_arrow("ticks", ticks)
    return Feed(fresh_client), ticks


SYMBOLS = ["S00", "S01", "S02"]
END = DAY0 + timedelta(days=3)


@pytest.mark.parametrize("interval", ["1m", "5m", "1h", "1d", "7h"])
def test_raw_and_rollup_bars_are_identical(loaded, interval: str) -> None:
    feed, _ = loaded
    rollup = feed.bars(SYMBOLS, DAY0, END, interval, source="rollup")
    raw = feed.bars(SYMBOLS, DAY0, END, interval, source="raw")
    assert [s.source for s in feed.stats] == ["bars_1m", "ticks_dedup"]
    assert rollup.height > 0 and rollup["trades"].sum() == 27_000
    assert_bars_equal(raw, rollup)


@pytest.mark.parametrize("interval", ["1m", "5m", "1h", "1d", "1s", "15s"])
def test_bars_equal_a_polars_reference(loaded, interval: str) -> None:
    feed, ticks = loaded
    bars = feed.bars(SYMBOLS, DAY0, END, interval)
    traded = bars.filter(pl.col("trades") > 0).sort("ts", "symbol")
    assert_bars_equal(traded, reference_bars(ticks, interval))


def test_1m_rollup_merges_minutes_split_across_inserts(fresh_client) -> None:
    # every other row in a second insert: each minute's bar is in two parts of bars_1m until they merge
    ticks = make_ticks(n_symbols=2, days=1, per_day=4000).sort_by([("ts", "ascending")])
    fresh_client.insert_arrow("ticks", ticks.take(np.arange(0, ticks.num_rows, 2)))
    fresh_client.insert_arrow("ticks", ticks.take(np.arange(1, ticks.num_rows, 2)))
    feed = Feed(fresh_client)
    rollup = feed.bars(["S00", "S01"], DAY0, DAY0 + timedelta(days=1), "1m", source="rollup")
    raw = feed.bars(["S00", "S01"], DAY0, DAY0 + timedelta(days=1), "1m", source="raw")
    assert rollup["trades"].sum() == 8000 and rollup.height == raw.height > 390
    assert_bars_equal(rollup, raw)


def test_one_symbol_equals_its_rows_of_an_aligned_request(loaded) -> None:
    feed, _ = loaded
    for interval in ("1m", "5m", "90s"):
        alone = feed.bars("S01", DAY0, END, interval)
        together = feed.bars(SYMBOLS, DAY0, END, interval)
        traded = together.filter((pl.col("symbol") == "S01") & (pl.col("trades") > 0))
        assert alone.height > 0 and alone["ts"].is_sorted() and alone["ts"].is_unique().all()
        assert_frame_equal(alone, traded)


def test_hour_buckets_restart_at_midnight_utc(loaded) -> None:
    feed, _ = loaded
    # sessions 14:30-21:00 fall in the 14-21 h bucket of every day (epoch-aligned 7 h would split them)
    assert set(feed.bars(SYMBOLS, DAY0, END, "7h")["ts"].dt.hour()) == {14}


def test_auto_source_picks_rollup_only_for_whole_minutes(loaded) -> None:
    feed, _ = loaded
    feed.bars("S00", DAY0, END, "60s")
    feed.bars("S00", DAY0, END, "90s")
    feed.bars("S00", DAY0 + timedelta(seconds=30), END, "5m")
    feed.bars("S00", "2024-03-04T15:00:00", "2024-03-04T16:00:00", "1h")
    assert [s.source for s in feed.stats] == ["bars_1m", "ticks_dedup", "ticks_dedup", "bars_1m"]


def test_unaligned_start_gives_the_same_partial_bar_from_ticks(loaded) -> None:
    feed, ticks = loaded
    start = DAY0 + timedelta(hours=15, seconds=30)
    bars = feed.bars("S01", start, start + timedelta(hours=1), "5m")
    inside = ticks.filter((pc.field("ts") >= start) & (pc.field("ts") < start + timedelta(hours=1))
                          & (pc.field("symbol") == "S01"))
    assert_bars_equal(bars, reference_bars(inside, "5m"))
    assert bars["ts"][0] == DAY0 + timedelta(hours=15)  # labelled by the bucket start


def test_several_symbols_align_on_one_index_without_future_fill(fresh_client) -> None:
    t = DAY0 + timedelta(hours=15)
    m = timedelta(minutes=1)
    fresh_client.insert_arrow("ticks", tick_table([
        ("AAA", t, 10, 1), ("AAA", t + m, 11, 2), ("AAA", t + 2 * m, 12, 3), ("AAA", t + 3 * m, 13, 4),
        ("BBB", t + m + timedelta(seconds=5), 50, 5), ("BBB", t + m + timedelta(seconds=9), 51, 5),
        ("BBB", t + 3 * m, 53, 6),
        ("AAA", t + 6 * m, 16, 1),  # nobody trades at t + 4m and t + 5m
    ]))
    feed = Feed(fresh_client)
    for source in ("rollup", "raw"):
        bars = feed.bars(["BBB", "AAA"], t, t + 7 * m, "1m", source=source)
        assert bars["ts"].unique(maintain_order=True).to_list() == [t, t + m, t + 2 * m, t + 3 * m, t + 6 * m]
        bbb = bars.filter(pl.col("symbol") == "BBB")
        assert bars["symbol"].to_list()[:2] == ["BBB", "AAA"]  # order asked
        assert bbb["open"].to_list() == [None, 50.0, 51.0, 53.0, 53.0]  # carried forward, never back
        assert bbb["close"].to_list() == [None, 51.0, 51.0, 53.0, 53.0]
        assert bbb["high"].to_list() == [None, 51.0, 51.0, 53.0, 53.0]
        assert bbb["volume"].to_list() == [0.0, 10.0, 0.0, 6.0, 0.0]
        assert bbb["trades"].to_list() == [0, 2, 0, 1, 0]
        assert bbb["vwap"].to_list() == [None, 50.5, None, 53.0, None]

        arrays = bar_arrays(bars)
        assert arrays.symbols == ("BBB", "AAA")
        assert arrays.index.dtype == np.dtype("datetime64[us]") and len(arrays.index) == 5
        for name in ("open", "high", "low", "close", "volume"):
            values = getattr(arrays, name)
            assert values.shape == (5, 2) and values.dtype == np.float64 and values.flags.c_contiguous
        assert np.isnan(arrays.close[0, 0]) and arrays.close[:, 1].tolist() == [10, 11, 12, 13, 16]
        assert arrays.close[1:, 0].tolist() == [51, 51, 53, 53]
        assert_arrays_equal(feed.arrays(["BBB", "AAA"], t, t + 7 * m, "1m", source=source), arrays)


def assert_arrays_equal(left, right) -> None:
    assert left.symbols == right.symbols and np.array_equal(left.index, right.index)
    for name in ("open", "high", "low", "close", "volume"):
        a, b = getattr(left, name), getattr(right, name)
        assert a.dtype == b.dtype == np.float64 and a.flags.c_contiguous and np.array_equal(a, b, equal_nan=True), name


@pytest.mark.parametrize(("interval", "source"), [("1m", "rollup"), ("5m", "rollup"), ("7h", "rollup"), ("1m", "raw"),
                                                   ("90s", "raw"), ("1d", "auto")])
def test_arrays_equal_the_pivot_of_the_aligned_frame(loaded, interval: str, source: str) -> None:
    feed, _ = loaded
    symbols = ["S02", "S00", "S01"]
    start, end = DAY0 + timedelta(hours=14, minutes=31), END
    expected = bar_arrays(feed.bars(symbols, start, end, interval, source=source))
    assert_arrays_equal(feed.arrays(symbols, start, end, interval, source=source), expected)


def test_arrays_refuse_an_unknown_symbol_and_keep_a_quiet_one(loaded) -> None:
    feed, _ = loaded
    with pytest.raises(FeedError, match="'NOPE' not in the warehouse"):
        feed.arrays(["S00", "NOPE"], DAY0, END)
    quiet = feed.arrays(["S00", "S01"], DAY0 + timedelta(hours=14, minutes=30), DAY0 + timedelta(hours=14, minutes=31))
    assert quiet.close.shape[1] == 2


def test_times_accept_naive_aware_and_iso_and_output_in_tz(loaded) -> None:
    feed, _ = loaded
    utc = feed.bars("S00", DAY0 + timedelta(hours=15), DAY0 + timedelta(hours=16), "5m")
    naive = feed.bars("S00", datetime(2024, 3, 4, 15), datetime(2024, 3, 4, 16), "5m")
    paris = feed.bars("S00", "2024-03-04T16:00:00+01:00", "2024-03-04 17:00+01:00", "5m")
    zulu = feed.bars("S00", "2024-03-04T15:00:00Z", np.datetime64("2024-03-04T16:00"), "5m")
    for frame in (naive, paris, zulu):
        assert_frame_equal(frame, utc)
    assert utc.schema["ts"] == pl.Datetime("us", "UTC")
    ny = feed.bars("S00", DAY0 + timedelta(hours=15), DAY0 + timedelta(hours=16), "5m", tz="America/New_York")
    assert ny.schema["ts"] == pl.Datetime("us", "America/New_York")
    assert ny["ts"][0].hour == 10 and (ny["ts"].dt.epoch("us") == utc["ts"].dt.epoch("us")).all()
    ticks = feed.ticks("S00", "2024-03-04T15:00Z", "2024-03-04T15:05Z", ["price"], tz="Asia/Tokyo")
    assert ticks.schema["ts"] == pl.Datetime("us", "Asia/Tokyo") and ticks.height > 0


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda f: f.bars("NOPE", DAY0, END), "symbols: 'NOPE'"),
        (lambda f: f.bars(["S00", "NOPE"], DAY0, END, "5m", source="raw"), "symbols: 'NOPE'"),
        (lambda f: f.ticks("NOPE", DAY0, END), "symbols: 'NOPE'"),
        (lambda f: f.bars([], DAY0, END), "symbols: []"),
        (lambda f: f.bars("S00", END, DAY0), "start: 2024-03-07"),
        (lambda f: f.bars("S00", "March 4th", END), "start: 'March 4th'"),
        (lambda f: f.bars("S00", DAY0, 20240307), "end: 20240307"),
        (lambda f: f.bars("S00", "1969-12-31", END), "start: '1969-12-31'"),
        (lambda f: f.bars("S00", DAY0, END, "7q"), "interval: '7q'"),
        (lambda f: f.bars("S00", DAY0, END, "0m"), "interval: '0m'"),
        (lambda f: f.bars("S00", DAY0, END, "2d"), "interval: '2d'"),
        (lambda f: f.bars("S00", DAY0, END, "1M"), "interval: '1M'"),
        (lambda f: f.bars("S00", DAY0, END, "5m", source="cache"), "source: 'cache'"),
        (lambda f: f.bars("S00", DAY0, END, "30s", source="rollup"), "interval: '30s'"),
        (lambda f: f.bars("S00", DAY0 + timedelta(seconds=1), END, "1m", source="rollup"), "start: 2024-03-04"),
        (lambda f: f.bars("S00", DAY0, END, tz="Europe/Nowhere"), "tz: 'Europe/Nowhere'"),
        (lambda f: f.ticks("S00", DAY0, END, ["price", "bid"]), "columns: 'bid'"),
        (lambda f: f.ohlcv("S00", DAY0, END), "symbols: 'S00'"),
    ],
)
def test_bad_input_raises_a_one_line_feed_error(loaded, call, field: str) -> None:
    feed, _ = loaded
    with pytest.raises(FeedError) as raised:
        call(feed)
    message = str(raised.value)
    assert message.startswith(field) and "\n" not in message


def test_empty_range_gives_an_empty_frame_with_the_schema(loaded) -> None:
    feed, _ = loaded
    night = DAY0 + timedelta(hours=2)
    bar_schema = pl.from_arrow(BAR_SCHEMA.empty_table()).schema
    for source in ("rollup", "raw"):
        for start, end in ((night, night + timedelta(hours=1)), (END, END)):
            bars = feed.bars(["S00", "S01"], start, end, "5m", source=source)
            assert bars.height == 0 and bars.schema == bar_schema
    ticks = feed.ticks("S00", night, night + timedelta(hours=1), ["price", "size"])
    assert ticks.height == 0 and ticks.columns == ["symbol", "ts", "price", "size"]
    assert ticks.schema["ts"] == pl.Datetime("us", "UTC")


def test_ticks_read_deduplicated_trades_unless_asked_for_raw(fresh_client) -> None:
    t = DAY0 + timedelta(hours=15)
    table = tick_table([("AAA", t, 10, 1), ("AAA", t + timedelta(seconds=1), 11, 1)])
    fresh_client.insert_arrow("ticks", table)
    fresh_client.insert_arrow("ticks", table.slice(1))  # a redelivery
    correction = table.slice(0, 1).set_column(2, "price", pa.array([10.5])).set_column(
        6, "version", pa.array([1], pa.uint32()))
    fresh_client.insert_arrow("ticks", correction)
    feed = Feed(fresh_client)
    ticks = feed.ticks("AAA", t, t + timedelta(minutes=1))
    assert ticks.columns == ["symbol", "ts", "price", "size", "side", "trade_id", "version"]
    assert ticks["price"].to_list() == [10.5, 11.0] and ticks["version"].to_list() == [1, 0]
    raw = feed.ticks("AAA", t, t + timedelta(minutes=1), ["price", "version"], dedup=False)
    assert sorted(raw["price"].to_list()) == [10.0, 10.5, 11.0, 11.0]
    assert [s.source for s in feed.stats] == ["ticks_dedup", "ticks"]


def test_ohlcv_reads_imported_bars_aligned(fresh_client) -> None:
    days = [DAY0 + timedelta(days=d) for d in range(4)]
    fresh_client.insert_arrow("ohlcv", pa.table({
        "symbol": ["GOOG"] * 4 + ["EURUSD"] * 2 + ["GOOG"],
        "interval": ["1d"] * 6 + ["1h"],
        "ts": pa.array(days + days[1:3] + days[:1], pa.timestamp("ms", tz="UTC")),
        "open": [1.0, 2, 3, 4, 10, 11, 99], "high": [1.5, 2.5, 3.5, 4.5, 10.5, 11.5, 99],
        "low": [0.5, 1.5, 2.5, 3.5, 9.5, 10.5, 99], "close": [1.2, 2.2, 3.2, 4.2, 10.2, 11.2, 99],
        "volume": [100.0, 200, 300, 400, 0, 0, 99],
    }))
    feed = Feed(fresh_client)
    bars = feed.ohlcv(["GOOG", "EURUSD"], days[0], days[3] + timedelta(days=1), "1d")
    assert bars.columns == OHLCV_SCHEMA.names and bars.height == 8
    eur = bars.filter(pl.col("symbol") == "EURUSD")
    assert eur["close"].to_list() == [None, 10.2, 11.2, 11.2] and eur["volume"].to_list() == [0, 0, 0, 0]
    assert bar_arrays(bars).close[:, 0].tolist() == [1.2, 2.2, 3.2, 4.2]
    assert feed.stats[-1].source == "ohlcv" and feed.stats[-1].rows_returned == 6
    assert feed.ohlcv("GOOG", days[0], days[0]).height == 0
    with pytest.raises(FeedError, match=r"^interval: '5m' is not imported for GOOG \(has 1d, 1h\)$"):
        feed.ohlcv(["GOOG", "EURUSD"], days[0], days[3], "5m")


def test_every_query_records_its_cost(loaded) -> None:
    feed, _ = loaded
    feed.bars(["S00", "S01"], DAY0, END, "15m")
    feed.bars(["S00", "S01"], DAY0, END, "15m", source="raw")
    feed.ticks("S02", DAY0, END, ["price"])
    with pytest.raises(FeedError):
        feed.ticks("NOPE", DAY0, END)
    assert [(s.call.split()[0], s.source) for s in feed.stats] == [
        ("bars", "bars_1m"), ("bars", "ticks_dedup"), ("ticks", "ticks_dedup"), ("ticks", "ticks_dedup"),
        ("symbols", "ticks"),
    ]
    rollup, raw, ticks = feed.stats[:3]
    assert rollup.call == "bars 15m S00,S01 2024-03-04T00:00:00Z/2024-03-07T00:00:00Z"
    assert rollup.rows_returned == raw.rows_returned > 0 and ticks.rows_returned == 9000
    for cost in feed.stats[:3]:
        assert cost.rows_to_read > 0 and cost.wall_ms > 0 and cost.bytes_returned > 0
    assert raw.rows_to_read >= 18_000 > rollup.rows_to_read  # ticks vs minutes
    assert pl.DataFrame(feed.stats).height == 5


class ServerLike:
    """Wraps the embedded client under another class name, so the feed takes its
    server path (Native query + summary) against the same data."""

    def __init__(self, client) -> None:
        self._client = client

    def query(self, *args, **kwargs):
        return self._client.query(*args, **kwargs)


def test_server_path_returns_the_same_frames(loaded) -> None:
    feed, _ = loaded
    server = Feed(ServerLike(feed.client))
    for interval in ("5m", "90s"):
        assert_frame_equal(server.bars(SYMBOLS, DAY0, END, interval), feed.bars(SYMBOLS, DAY0, END, interval))
    assert_frame_equal(server.ticks(SYMBOLS, DAY0, END), feed.ticks(SYMBOLS, DAY0, END))
    empty = server.bars("S00", END, END, "5m")
    assert empty.height == 0 and empty.schema == feed.bars("S00", END, END, "5m").schema
    assert all(cost.rows_to_read > 0 for cost in server.stats[:3])


def _granules_touched(ticks: pa.Table, symbol: str, start: datetime, end: datetime) -> int:
    """Granules of one sorted part (symbol, ts) that hold the rows of symbol in [start, end)."""
    keys = pl.from_arrow(ticks.select(["symbol", "ts"])).sort("symbol", "ts")
    before = keys.filter((pl.col("symbol") < symbol) | ((pl.col("symbol") == symbol) & (pl.col("ts") < start))).height
    upto = keys.filter((pl.col("symbol") < symbol) | ((pl.col("symbol") == symbol) & (pl.col("ts") < end))).height
    return (upto - 1) // GRANULE - before // GRANULE + 1


def check_pushdown(client, ticks: pa.Table) -> None:
    client.insert_arrow("ticks", ticks)
    client.command("OPTIMIZE TABLE ticks_dedup FINAL")  # one sorted part per month: granules are countable
    assert client.command("SELECT count() FROM system.parts WHERE active AND database = currentDatabase() "
                          "AND table = 'ticks_dedup'") == 1
    feed = Feed(client)
    start = DAY0 + timedelta(days=2, hours=16)
    end = start + timedelta(minutes=100)
    rows = feed.ticks("S03", start, end, ["price"]).height
    granules = _granules_touched(ticks, "S03", start, end)
    cost = feed.stats[-1]
    assert cost.rows_returned == rows > 0
    assert cost.rows_to_read < 2 * granules * GRANULE, (cost, granules)
    assert cost.rows_to_read <= ticks.num_rows / 20
    feed.bars("S03", start, end, "1m", source="raw")
    assert feed.stats[-1].rows_to_read == cost.rows_to_read


def test_symbol_and_time_predicates_hit_the_sort_key(fresh_client) -> None:
    check_pushdown(fresh_client, make_ticks(n_symbols=8, days=5, per_day=12_000))


@pytest.mark.slow
def test_symbol_and_time_predicates_hit_the_sort_key_on_millions_of_rows(fresh_client) -> None:
    check_pushdown(fresh_client, make_ticks(n_symbols=20, days=20, per_day=10_000))
