"""Quotes (issue G): load, rejects, crossed books in status, ``quotes_1m`` exact under redelivery for a plain reader,
and the feed's quotes, book and arrays equal to what was loaded."""

from __future__ import annotations

import uuid
from datetime import timedelta

import clickhouse_connect
import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from backtest.feed import Feed, FeedError
from warehouse.client import connect, resolve_dsn
from warehouse.demo.generate import DemoSpec
from warehouse.demo.quotes import demo_quotes
from warehouse.feed_quotes import quote_schema
from warehouse.ingest.files import load_ticks
from warehouse.ingest import journal
from warehouse.ingest.journal import open_batch
from warehouse.ingest.quote_rollup import QUOTE_SOURCE, open_quote_batches, rebuild_quote_minutes
from warehouse.ingest.quotes import QuoteWriter, _insert, load_quotes, prepare
from warehouse.status import quotes_report
from warehouse.schema.ddl import Target, render
from warehouse.schema.migrate import migrate

from support.brokers import run_cli
from support.data import demo_ticks
from support.quotes import assert_minutes_equal, deduplicated_quotes, reference_minutes, served_minutes


@pytest.fixture(scope="module")
def quotes() -> pa.Table:
    """About 28,000 demo quotes of 5 symbols over 2-3 sessions, in time order."""
    return pa.concat_tables(demo_quotes(DemoSpec(ticks=30_000, seed=11, batch_rows=10_000))).combine_chunks()


def _with_crossed_and_empty_levels(quotes: pa.Table) -> pa.Table:
    """Every 50th quote crossed (bid = ask + 0.01), every 70th without an ask side."""
    frame = pl.from_arrow(quotes).with_row_index("i")
    crossed = pl.col("i") % 50 == 0
    no_ask = pl.col("i") % 70 == 0
    frame = frame.with_columns(bid_px_1=pl.when(crossed).then(pl.col("ask_px_1") + 0.01).otherwise(pl.col("bid_px_1")))
    frame = frame.with_columns([pl.when(no_ask).then(0.0 if "px" in name or "qty" in name else 0)
                                .otherwise(pl.col(name)).cast(frame[name].dtype).alias(name)
                                for name in frame.columns if name.startswith("ask_")])
    frame = frame.with_columns(bid_px_2=pl.when(crossed).then(pl.col("bid_px_1") - 0.01).otherwise(pl.col("bid_px_2")))
    return frame.drop("i").to_arrow().cast(quotes.schema)


def test_a_plain_reader_sees_exact_minutes_after_every_batch_redelivered_or_late(quotes):
    database = f"t_{uuid.uuid4().hex[:12]}"
    client = connect(database=database)
    migrate(client)
    plain = clickhouse_connect.get_client(dsn=resolve_dsn(), database=database)
    data = _with_crossed_and_empty_levels(quotes)
    n = data.num_rows
    cuts = [0, n // 5, 2 * n // 5, 3 * n // 5, 4 * n // 5, n]
    parts = [data.slice(a, b - a) for a, b in zip(cuts, cuts[1:])]
    # in order, then a batch from the future, a late one that fills the gap, a redelivery, a half redelivery
    plan = [parts[0], parts[1], parts[3], parts[2], parts[1], parts[4].slice(0, parts[4].num_rows // 2),
            parts[4], parts[2].slice(100, 5_000)]
    writer = QuoteWriter(client)
    written = []
    for batch in plan:
        writer.write(batch)
        written.append(pl.from_arrow(batch))
        assert_minutes_equal(served_minutes(plain), reference_minutes(pl.concat(written)))
    assert writer.stats.repeats >= parts[1].num_rows + parts[4].num_rows // 2 + 5_000
    assert client.command("SELECT count() FROM quotes FINAL") == n
    assert client.command("SELECT sum(crossed) FROM quotes_1m FINAL") == len(range(0, n, 50)) - len(range(0, n, 350))
    before = served_minutes(plain)
    first, last = data.column("ts")[0].as_py(), data.column("ts")[n - 1].as_py()
    symbols = sorted(set(data.column("symbol").to_pylist()))
    assert rebuild_quote_minutes(client, symbols, first, last + timedelta(minutes=1)) == before.height
    assert_minutes_equal(served_minutes(plain), before)
    client.command(f"DROP DATABASE {database}")


def test_loaded_quotes_are_stored_once_each(fresh_client, quotes):
    report = load_quotes(fresh_client, quotes, batch_rows=7_000)
    again = load_quotes(fresh_client, quotes.slice(3_000, 9_000), batch_rows=4_000)
    assert report.loaded == quotes.num_rows and report.rejected == 0 and report.written.repeats == 0
    assert again.written.repeats == 9_000
    stored = pl.from_arrow(fresh_client.query_arrow("SELECT * FROM quotes FINAL ORDER BY symbol, ts, seq"))
    expected = deduplicated_quotes(pl.from_arrow(quotes))
    assert stored.with_columns(pl.col("symbol").cast(pl.String)).equals(expected)
    assert_minutes_equal(served_minutes(fresh_client), reference_minutes(pl.from_arrow(quotes)))


HEADER = "symbol,ts,bid_px_1,bid_qty_1,bid_orders_1,bid_px_2,bid_qty_2,ask_px_1,ask_qty_1,ask_px_2,ask_qty_2,oi"
GOOD = [
    "QQQ,2024-01-02T14:30:00Z,10.00,100,2,9.99,200,10.01,100,10.02,300,0",
    "QQQ,2024-01-02T14:30:01Z,10.01,100,2,10.00,200,10.01,100,10.02,300,0",  # crossed (bid = ask): kept
    "QQQ,2024-01-02T14:30:02Z,10.00,100,2,,,10.01,100,,,0",  # level 2 empty
]
BAD = {  # line -> (code, field, value)
    "QQQ,2024-01-02T14:30:03Z,10.00,-100,2,9.99,200,10.01,100,10.02,300,0": ("bad_quantity", "bid_qty_1", "-100.0"),
    "QQQ,2024-01-02T14:30:04Z,nan,100,2,9.99,200,10.01,100,10.02,300,0": ("bad_price", "bid_px_1", "NaN"),
    "QQQ,2024-01-02T14:30:05Z,10.00,100,2,10.05,200,10.01,100,10.02,300,0": ("bad_depth", "bid_px_2", "10.05"),
    "QQQ,2024-01-02T14:30:06Z,10.00,100,2,9.99,200,10.01,100,10.00,300,0": ("bad_depth", "ask_px_2", "10.0"),
    "QQQ,2024-01-02T14:30:07Z,,,,9.99,200,10.01,100,10.02,300,0": ("bad_depth", "bid_px_2", "9.99"),
    "QQQ,2024-01-02T14:30:08Z,10.00,abc,2,9.99,200,10.01,100,10.02,300,0": ("unparseable", "bid_qty_1", "abc"),
    ",2024-01-02T14:30:09Z,10.00,100,2,9.99,200,10.01,100,10.02,300,0": ("missing_field", "symbol", ""),
    "QQQ,2024-01-02T14:30:10Z,10.00,100,2,9.99,200,10.01,100,10.02,300,-5": ("bad_quantity", "oi", "-5.0"),
    "QQQ,2024-01-02T14:30:11Z,10.00,100": ("malformed", "csv", "4 fields"),
}


@pytest.fixture()
def quotes_csv(tmp_path):
    path = tmp_path / "quotes.csv"
    path.write_text("\n".join([HEADER, *GOOD, *BAD]) + "\n")
    return path


def test_every_bad_row_is_a_reject_with_its_code_field_and_value(fresh_client, quotes_csv):
    report = load_quotes(fresh_client, quotes_csv)
    assert (report.loaded, report.rejected, report.written.crossed) == (len(GOOD), len(BAD), 1)
    assert report.rejected_by_code == {"bad_depth": 3, "bad_quantity": 2, "bad_price": 1, "unparseable": 1,
                                       "missing_field": 1, "malformed": 1}
    rejects = fresh_client.query("SELECT position, code, field, value FROM rejects WHERE target = 'quotes'").result_rows
    lines = {line: i + 2 + len(GOOD) for i, line in enumerate(BAD)}
    expected = {(f"{'line' if code == 'malformed' else 'row'} {lines[line] - (code != 'malformed')}", code, field,
                 value) for line, (code, field, value) in BAD.items()}
    assert set(rejects) == expected
    stored = pl.from_arrow(fresh_client.query_arrow("SELECT bid_px_2, bid_qty_2, ask_px_2 FROM quotes FINAL "
                                                    "ORDER BY ts"))
    assert stored.row(2) == (0.0, 0.0, 0.0)  # an empty level is stored as 0


def test_cli_loads_and_status_counts_crossed_books(dsn, quotes_csv, tmp_path):
    done = run_cli(dsn, "load-quotes", str(quotes_csv))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "loaded 3 quotes, rejected 9 (bad_depth 3, bad_quantity 2" in done.stdout
    assert "crossed kept 1" in done.stdout
    status = run_cli(dsn, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "crossed top of book (bid >= ask): 1 of 3 quotes" in status.stdout
    other = tmp_path / "other.csv"
    other.write_text("symbol,ts,bid,bid_size\nA,2024-01-02,1,5\n")
    refused = run_cli(dsn, "load-quotes", str(other))
    assert refused.returncode == 2 and refused.stderr.startswith("error: columns: ") and "'ask_px_1'" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.fixture()
def loaded(fresh_client, quotes):
    """A warehouse holding the test quotes (with crossed books and empty ask sides) and demo ticks."""
    data = _with_crossed_and_empty_levels(quotes)
    load_quotes(fresh_client, data, batch_rows=9_000)
    load_ticks(fresh_client, demo_ticks(DemoSpec(ticks=30_000, seed=11, batch_rows=10_000)))
    return Feed(fresh_client), deduplicated_quotes(pl.from_arrow(data))


def _expected_frame(stored: pl.DataFrame, levels: int) -> pl.DataFrame:
    """The feed's view of stored quotes: empty levels as nulls, ``levels`` levels, ordered by ts, symbol, seq."""
    empty = {f"{side}_{field}_{k}": pl.when(pl.col(f"{side}_px_{k}") > 0).then(pl.col(f"{side}_{field}_{k}"))
             for side in ("bid", "ask") for k in range(1, 6) for field in ("px", "qty", "orders")}
    frame = stored.with_columns(**empty).sort(["ts", "symbol", "seq"])
    return frame.select(quote_schema(levels).names)


def test_feed_quotes_are_the_loaded_quotes(loaded):
    feed, stored = loaded
    start, end = stored["ts"][1_000], stored["ts"][1_000] + timedelta(minutes=100)
    window = stored.filter((pl.col("ts") >= start) & (pl.col("ts") < end) & pl.col("symbol").is_in(["SPY", "AAPL"]))
    for levels in (5, 2):
        frame = feed.quotes(["SPY", "AAPL"], start, end, levels=levels)
        assert frame.equals(_expected_frame(window, levels)), levels
    cost = feed.stats[-1]
    assert cost.source == "quotes" and cost.rows_returned == window.height and cost.rows_to_read >= window.height
    with pytest.raises(FeedError, match="^symbols: 'NOPE' not in the warehouse"):
        feed.quotes(["SPY", "NOPE"], start, end)


def test_depth_at_is_the_last_quote_at_or_before(loaded):
    feed, stored = loaded
    spy = stored.filter(pl.col("symbol") == "SPY").sort(["ts", "seq"])
    picks = [spy.row(i, named=True) for i in (0, 17, 500, spy.height // 2, spy.height - 1)]
    for quote in picks:
        for at in (quote["ts"], quote["ts"] + timedelta(microseconds=1)):
            book = feed.depth_at("SPY", at)
            expected = spy.filter(pl.col("ts") <= at).tail(1).row(0, named=True)
            assert book["ts"].to_list() == [expected["ts"]] * 5 and book["level"].to_list() == [1, 2, 3, 4, 5]
            for side in ("bid", "ask"):
                want = [expected[f"{side}_px_{k}"] or None for k in range(1, 6)]
                assert book[f"{side}_px"].to_list() == want
                assert book[f"{side}_qty"].to_list() == [expected[f"{side}_qty_{k}"] if want[k - 1] else None
                                                          for k in range(1, 6)]
    assert feed.depth_at("SPY", spy["ts"][0] - timedelta(microseconds=1)).height == 0
    assert [s.source for s in feed.stats[-2:]] == ["quotes", "quotes_1m"]  # the book, then: is SPY quoted at all?
    assert max(s.rows_to_read for s in feed.stats if s.call.startswith("depth_at")) <= 2 * 8192  # one range
    overnight = spy["ts"][-1] + timedelta(hours=15)  # the book in force after a night without quotes
    assert feed.depth_at("SPY", overnight)["ts"][0] == spy["ts"][-1]
    minutes = spy.with_columns(minute=pl.col("ts").dt.truncate("1m"))
    first = minutes.filter(pl.col("minute") != pl.col("minute").shift(1)).filter(pl.col("ts") > pl.col("minute"))
    for minute in first["minute"][:5]:  # the minute of ts has quotes, all after ts: the book is the minute before's
        expected = spy.filter(pl.col("ts") <= minute)["ts"][-1]
        assert feed.depth_at("SPY", minute)["ts"][0] == expected < minute


def test_quote_and_trade_arrays_equal_the_loaded_rows(loaded):
    feed, stored = loaded
    names = ["TSLA", "SPY", "AAPL"]
    start, end = stored["ts"][0], stored["ts"][0] + timedelta(hours=3)
    window = stored.filter((pl.col("ts") >= start) & (pl.col("ts") < end) & pl.col("symbol").is_in(names))
    window = window.with_columns(column=pl.col("symbol").replace_strict(names, range(3), return_dtype=pl.Int32)) \
        .sort(["ts", "column", "seq"])
    arrays = feed.quote_arrays(names, start, end)
    assert arrays.ts.dtype == np.int64 and arrays.column.dtype == np.int32
    assert arrays.ts.tolist() == window["ts"].dt.epoch("ns").to_list()
    assert arrays.column.tolist() == window["column"].to_list()
    assert (np.diff(arrays.ts) >= 0).all()
    for side in ("bid", "ask"):
        present = np.column_stack([window[f"{side}_px_{k}"].to_numpy() > 0 for k in range(1, 6)])
        for field in ("px", "qty"):
            got = getattr(arrays, f"{side}_{field}")
            want = np.column_stack([window[f"{side}_{field}_{k}"].to_numpy() for k in range(1, 6)])
            assert got.shape == (window.height, 5) and got.dtype == np.float64 and got.flags.c_contiguous
            np.testing.assert_array_equal(got, np.where(present, want, np.nan))
    assert np.isnan(arrays.ask_px).any() and (arrays.bid_px[:, 0] >= arrays.ask_px[:, 0]).any()  # empty, crossed
    ticks = feed.ticks(names, start, end, columns=["price", "size"])
    trades = feed.trade_arrays(names, start, end)
    assert trades.ts.tolist() == ticks["ts"].dt.epoch("ns").to_list()
    assert sorted(zip(trades.ts.tolist(), trades.column.tolist(), trades.price.tolist())) == sorted(zip(
        ticks["ts"].dt.epoch("ns").to_list(), ticks["symbol"].replace_strict(names, range(3)).to_list(),
        ticks["price"].to_list()))
    assert trades.price.flags.c_contiguous and trades.column.dtype == np.int32
    assert [s.source for s in feed.stats[-3:]] == ["quotes", "ticks_dedup", "ticks_dedup"]
    empty = feed.quote_arrays(names, end + timedelta(days=400), end + timedelta(days=401))
    assert empty.bid_px.shape == (0, 5) and empty.ts.dtype == np.int64


def test_migration_10_renders_for_a_cluster_and_runs_embedded(fresh_client):
    sql = "\n".join(render(Target(cluster="prod")))
    assert "CREATE TABLE IF NOT EXISTS quotes ON CLUSTER prod" in sql
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/quotes', '{replica}')" in sql
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/quotes_1m', '{replica}', version)" in sql
    assert "quotes_all ON CLUSTER prod AS quotes ENGINE = Distributed(prod, currentDatabase(), quotes" in sql
    keys = dict(fresh_client.query("SELECT name, sorting_key FROM system.tables WHERE database = currentDatabase() "
                                   "AND name IN ('quotes', 'quotes_1m')").result_rows)
    assert keys == {"quotes": "symbol, ts, seq", "quotes_1m": "symbol, minute"}
    assert fresh_client.command("SELECT partition_key FROM system.tables WHERE database = currentDatabase() "
                                "AND name = 'quotes'") == "toYYYYMM(ts)"


def test_minutes_stay_exact_across_gaps_of_weeks(fresh_client, quotes):
    """The quote in force before a batch, and the next stored minute after it, are found however far away."""
    aapl = pl.from_arrow(_with_crossed_and_empty_levels(quotes)).filter(pl.col("symbol") == "AAPL").head(600)
    shift = [pl.col(c) + timedelta(days=60) for c in ("ts", "exchange_ts")]
    early, late, middle = aapl.head(200), aapl.slice(400, 200).with_columns(shift), aapl.slice(200, 200)
    writer = QuoteWriter(fresh_client)
    written = []
    for batch in (early, late, middle):  # late: 60 days after early; middle: filled in between, weeks before late
        writer.write(batch.to_arrow())
        written.append(batch)
        assert_minutes_equal(served_minutes(fresh_client), reference_minutes(pl.concat(written)))


def test_a_writer_killed_between_quotes_and_minutes_is_repaired_by_the_next(fresh_client, quotes):
    data = _with_crossed_and_empty_levels(quotes)
    first, second = data.slice(0, 12_000), data.slice(12_000)
    QuoteWriter(fresh_client).write(first)
    killed = QuoteWriter(fresh_client)
    prepared = prepare(second)
    entry = open_batch(fresh_client, prepared.symbols, second.column("ts")[0].as_py(),
                       second.column("ts")[second.num_rows - 1].as_py(), source=QUOTE_SOURCE + "killed")
    _insert(fresh_client, prepared.table)  # ... and the process dies before its minutes
    assert killed.stats.rows == 0 and [b.batch_id for b in open_quote_batches(fresh_client)] == [entry.batch_id]
    assert "quote batches were left open" in "\n".join(quotes_report(fresh_client))
    assert not served_minutes(fresh_client).equals(reference_minutes(pl.from_arrow(data)))
    QuoteWriter(fresh_client)  # the next writer repairs first
    assert open_quote_batches(fresh_client) == []
    assert_minutes_equal(served_minutes(fresh_client), reference_minutes(pl.from_arrow(data)))
    assert journal.open_batches(fresh_client) == []  # a quote batch is none of the tick repair's business
