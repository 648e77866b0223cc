"""Quotes (issue G): load, rejects, crossed books in status, ``quotes_1m`` exact under redelivery for a plain reader,
and the feed's quotes, book and arrays equal to what was loaded."""

from __future__ import annotations

import uuid
from datetime import timedelta

import clickhouse_connect
import polars as pl
import pyarrow as pa
import pytest

from warehouse.client import connect, resolve_dsn
from warehouse.demo.generate import DemoSpec
from warehouse.demo.quotes import demo_quotes
from warehouse.ingest.quote_rollup import rebuild_quote_minutes
from warehouse.ingest.quotes import QuoteWriter, load_quotes
from warehouse.schema.migrate import migrate

from support.brokers import run_cli
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
