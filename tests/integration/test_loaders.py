"""Bulk loaders: every format lands the same ticks; bad rows land in rejects with a reason."""

from __future__ import annotations

import gzip

import polars as pl
import pyarrow as pa
import pytest

from support.data import BACKTESTING_DATA, GOOG_CSV, demo_ticks
from warehouse.demo.generate import DemoSpec, write_parquet
from warehouse.errors import WarehouseError
from warehouse.ingest.files import load_ticks
from warehouse.ingest.ohlcv import load_ohlcv

BAD_CSV = """symbol,ts,price,size,side,trade_id
AAPL,2024-01-02T14:30:00Z,100.5,10,buy,1
AAPL,2024-01-02T14:30:01Z,abc,10,buy,2
AAPL,2024-01-02T14:30:02Z,101
AAPL,2024-01-02T14:30:03Z,101,-5,sell,4
AAPL,2024-01-02T14:30:04Z,inf,5,sell,5
AAPL,1960-01-02T14:30:05Z,101,5,sell,6
,2024-01-02T14:30:06Z,101,5,sell,7
AAPL,2024-01-02T14:30:07Z,0,5,sell,8
AAPL,2024-01-02T14:30:08Z,101,5,hold,9
MSFT,2024-01-02 14:30:09,300,5,s,10
"""


def _rejects(client, source: str) -> list[tuple[str, str, str, str, str]]:
    """(position, code, field, value, reason) of each reject of ``source``, in position order."""
    return client.query("SELECT position, code, field, value, reason FROM rejects WHERE source = {s:String} "
                        "ORDER BY position", parameters={"s": source}).result_rows


def test_bad_csv_rows_land_in_rejects_with_code_field_value_and_reason(fresh_client, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV)
    report = load_ticks(fresh_client, path, batch_rows=4)
    assert (report.loaded, report.rejected) == (2, 8)
    assert _rejects(fresh_client, str(path)) == [
        ("line 4", "malformed", "csv", "3 fields", "csv: wrong number of fields (6 expected)"),
        ("row 2", "unparseable", "price", "abc", "price: unparseable"),
        ("row 3", "bad_size", "size", "-5.0", "size: not a non-negative finite number"),
        ("row 4", "bad_price", "price", "inf", "price: not a positive finite number"),
        ("row 5", "early_ts", "ts", "1960-01-02T14:30:05Z", "ts: before 1971-01-01"),
        ("row 6", "missing_field", "symbol", "", "symbol: missing"),
        ("row 7", "bad_price", "price", "0.0", "price: not a positive finite number"),
        ("row 8", "unparseable", "side", "hold", "side: unparseable"),
    ]
    raw = fresh_client.command("SELECT raw FROM rejects WHERE code = 'missing_field'")
    assert '"trade_id":"7"' in raw
    assert ("rejected 8 (bad_price 2, unparseable 2, bad_size 1, early_ts 1, malformed 1, missing_field 1; "
            "new trades 2,") in report.summary()
    # reason holds the rule, not the value: a few distinct texts however many rows are refused
    column = fresh_client.query("SELECT name, type FROM system.columns WHERE database = currentDatabase() "
                                "AND table = 'rejects' AND name IN ('code', 'field', 'reason')").result_rows
    assert sorted(column) == [(name, "LowCardinality(String)") for name in ("code", "field", "reason")]
    assert fresh_client.query("SELECT symbol, side FROM ticks ORDER BY ts").result_rows == [("AAPL", 1), ("MSFT", -1)]


@pytest.fixture(scope="module")
def demo_table() -> pa.Table:
    return demo_ticks(DemoSpec(ticks=30_000, seed=3))


def _dedup_summary(client) -> tuple:
    return client.query("SELECT count(), sum(price * size), min(ts), max(ts) FROM ticks_dedup FINAL").result_rows[0]


def test_every_format_loads_the_same_ticks(demo_table, tmp_path, fresh_client):
    from warehouse.client import connect
    from warehouse.schema.migrate import migrate

    frame = pl.from_arrow(demo_table)
    csv_gz = tmp_path / "ticks.csv.gz"
    with gzip.open(csv_gz, "wb") as out:
        frame.with_columns(pl.col("ts").dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ")).write_csv(out)
    parquet = tmp_path / "ticks.parquet"
    write_parquet(DemoSpec(ticks=30_000, seed=3), parquet)
    summaries = []
    for i, source in enumerate([demo_table, frame, parquet, csv_gz]):
        client = fresh_client if i == 0 else connect(database=f"{fresh_client.database}_{i}")
        migrate(client)
        report = load_ticks(client, source, batch_rows=8_000)
        assert (report.loaded, report.rejected) == (demo_table.num_rows, 0)
        summaries.append(_dedup_summary(client))
    assert all(s[0] == summaries[0][0] and s[2:] == summaries[0][2:] for s in summaries)
    assert all(abs(s[1] / summaries[0][1] - 1) < 1e-12 for s in summaries)


@pytest.mark.parametrize("name, content, message", [
    ("missing.csv", None, "path: .* is not a readable file"),
    ("ticks.json", "{}", "path: .* has an unknown type"),
    ("nocol.csv", "symbol,ts,size\nA,2024-01-02,1\n", "columns: .* has no 'price' column"),
    ("header_only.csv", "x,y\n", "columns: .* has no 'symbol' column \\(found: x, y\\)"),
    ("broken.parquet", "not parquet", "path: .* is not a readable Parquet file"),
])
def test_unusable_files_give_one_line_errors(fresh_client, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(WarehouseError, match=message) as error:
        load_ticks(fresh_client, path)
    assert "\n" not in str(error.value)


def test_backtesting_sample_bars_load_as_is(fresh_client):
    goog = load_ohlcv(fresh_client, GOOG_CSV)
    eurusd = load_ohlcv(fresh_client, BACKTESTING_DATA / "EURUSD.csv")
    assert (goog.symbol, goog.interval, goog.loaded, goog.rejected) == ("GOOG", "1d", 2148, 0)
    assert (eurusd.symbol, eurusd.interval, eurusd.loaded, eurusd.rejected) == ("EURUSD", "1h", 5000, 0)
    first = fresh_client.query("SELECT open, high, low, close, volume FROM ohlcv WHERE symbol = 'GOOG' "
                               "ORDER BY ts LIMIT 1").result_rows[0]
    assert first == (100.0, 104.06, 95.96, 100.34, 22351900.0)
    load_ohlcv(fresh_client, GOOG_CSV)  # importing again replaces, never doubles
    assert fresh_client.command("SELECT count() FROM ohlcv FINAL WHERE symbol = 'GOOG'") == 2148


def test_bad_bars_land_in_rejects(fresh_client, tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n"
                    "2024-01-03,10,9,11,10,100\n2024-01-04,x,11,9,10,100\n2024-01-05,10,11,9,10,-1\n")
    report = load_ohlcv(fresh_client, path, symbol="BAD", interval="1d")
    assert (report.loaded, report.rejected) == (1, 3)
    assert _rejects(fresh_client, str(path)) == [
        ("line 3", "high_below_low", "high", "9.0 < 11.0", "high: below low"),
        ("line 4", "unparseable", "open", "x", "open: not a number"),
        ("line 5", "bad_volume", "volume", "-1.0", "volume: negative or not finite"),
    ]


def test_wrong_field_count_rejects_name_the_line_in_a_large_gzipped_csv(fresh_client, tmp_path):
    lines = ["symbol,ts,price,size"] + [f"A,2024-01-02T14:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d}Z,10,1"
                                        for i in range(60_000)]
    lines[2], lines[45_001] = "A,2024-01-02", "A,2024-01-02T15:00:00Z,10,1,extra"
    path = tmp_path / "ticks.csv.gz"
    with gzip.open(path, "wt") as out:
        out.write("\n".join(lines) + "\n")
    report = load_ticks(fresh_client, path, batch_rows=7_000)
    assert report.rejected == 2
    assert [row[:4] for row in _rejects(fresh_client, str(path))] == [("line 3", "malformed", "csv", "2 fields"),
                                                                     ("line 45002", "malformed", "csv", "5 fields")]


def test_epoch_times_keep_one_unit_per_file_and_out_of_range_values_are_rejects(fresh_client, tmp_path):
    # 253402300799 is 9999-12-31 in seconds; read per value by magnitude it was stored as 1978-01-11 (ms)
    lines = ["symbol,ts,price,size,trade_id", "EPOCH,1704205800,10,1,1", "EPOCH,1704205801,10,1,2",
             "EPOCH,253402300799,10,1,3", "EPOCH,1704205802,10,1,4", "EPOCH,1704205803500,10,1,5"]
    path = tmp_path / "epoch.csv"
    path.write_text("\n".join(lines) + "\n")
    report = load_ticks(fresh_client, path, batch_rows=3)  # the second batch keeps the first's unit
    assert (report.loaded, report.rejected, report.epoch_unit) == (3, 2, "seconds")
    assert report.summary().endswith("; times as epoch seconds")
    assert _rejects(fresh_client, str(path)) == [
        ("row 3", "future_ts", "ts", "253402300799", "ts: after now + 1 day as epoch seconds"),
        ("row 5", "future_ts", "ts", "1704205803500", "ts: after now + 1 day as epoch seconds"),
    ]
    stored = fresh_client.query("SELECT toString(ts) FROM ticks WHERE symbol = 'EPOCH' ORDER BY ts").result_rows
    assert [row[0] for row in stored] == ["2024-01-02 14:30:00.000000", "2024-01-02 14:30:01.000000",
                                          "2024-01-02 14:30:02.000000"]


def test_epoch_milliseconds_and_nanoseconds_read_exactly(fresh_client):
    frame = pl.DataFrame({"symbol": ["NS", "NS"], "ts": [1704205800123456789, 1704205800987654321],
                          "price": [1.0, 1.0], "size": [1.0, 1.0]})
    report = load_ticks(fresh_client, frame, name="ns-frame")
    assert (report.loaded, report.epoch_unit) == (2, "nanoseconds")
    stored = fresh_client.query("SELECT toString(ts) FROM ticks WHERE symbol = 'NS' ORDER BY ts").result_rows
    assert [row[0] for row in stored] == ["2024-01-02 14:30:00.123456", "2024-01-02 14:30:00.987654"]
