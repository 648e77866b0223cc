"""Vendor bar files in the vendors' own shapes: every symbol kept, times read as stated, bad rows in rejects."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse.errors import WarehouseError
from warehouse.ingest.ohlcv import load_ohlcv

UTC = timezone.utc


def _bars(client, symbol: str | None = None) -> list[tuple]:
    where = "" if symbol is None else f"WHERE symbol = '{symbol}'"
    return client.query(f"SELECT symbol, interval, ts, open, high, low, close, volume, oi FROM ohlcv FINAL {where} "
                        "ORDER BY symbol, ts").result_rows


def _rejects(client, path) -> list[tuple[str, str, str, str, str, str]]:
    """(position, code, field, value, reason, raw) of each reject of ``path``."""
    return client.query("SELECT position, code, field, value, reason, raw FROM rejects WHERE source = {s:String} "
                        "ORDER BY length(position), position", parameters={"s": str(path)}).result_rows


def _ts(*args: int) -> datetime:
    """A UTC time as the client returns ``ohlcv.ts`` (naive)."""
    return datetime(*args)


MULTI = """date,symbol,open,high,low,close,volume
2024-01-02,AAPL,187.15,188.44,183.89,185.64,82488700
2024-01-02,MSFT,373.86,375.90,366.77,370.87,25258600
2024-01-02,GOOG,139.60,140.62,137.63,139.56,20071900
2024-01-03,AAPL,184.22,185.88,183.43,184.25,58414500
2024-01-03,MSFT,369.01,373.26,368.51,370.60,23083500
2024-01-04,AAPL,182.15,183.09,180.88,181.91,71983600
2024-01-04,MSFT,370.67,373.10,367.17,367.94,20901500
2024-01-04,GOOG,139.85,140.63,138.09,138.76,18253300
2024-01-05,AAPL,181.99,182.76,180.17,181.18,62303300
"""


def test_multi_symbol_file_keeps_every_symbol(fresh_client, tmp_path):
    path = tmp_path / "us_daily.csv"
    path.write_text(MULTI)
    report = load_ohlcv(fresh_client, path)
    expected = {"AAPL": 4, "MSFT": 3, "GOOG": 2}
    assert report.counts == dict(sorted(expected.items()))
    stored = fresh_client.query("SELECT symbol, count() FROM ohlcv FINAL GROUP BY symbol").result_rows
    assert dict(stored) == expected
    assert report.summary() == ("us_daily.csv: loaded 9 bars of 3 symbols 1d (AAPL 4, GOOG 2, MSFT 3), rejected 0; "
                                "naive times read as UTC (no --tz)")
    assert _bars(fresh_client, "MSFT")[0] == ("MSFT", "1d", _ts(2024, 1, 2), 373.86, 375.9, 366.77, 370.87,
                                              25258600.0, None)


def test_ticker_column_in_any_case_and_an_interval_per_symbol(fresh_client, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("TICKER,Datetime,Open,High,Low,Close,Volume\n"
                    "SPY,2024-01-02 14:30:00,472.16,472.80,471.64,472.20,6329500\n"
                    "SPY,2024-01-02 15:30:00,472.21,473.15,471.88,472.90,4100200\n"
                    "SPY,2024-01-02 16:30:00,472.91,473.01,471.50,471.70,3900100\n"
                    "QQQ,2024-01-02 14:30:00,405.98,406.12,403.36,404.17,9611000\n"
                    "QQQ,2024-01-02 14:35:00,404.18,404.50,403.90,404.40,2111000\n")
    report = load_ohlcv(fresh_client, path)
    assert [(s.symbol, s.interval, s.loaded) for s in report.symbols] == [("QQQ", "5m", 2), ("SPY", "1h", 3)]
    assert "(QQQ 5m 2, SPY 1h 3)" in report.summary()


def test_symbol_option_names_a_one_symbol_file_and_must_agree_with_a_symbol_column(fresh_client, tmp_path):
    path = tmp_path / "us_daily.csv"
    path.write_text(MULTI)
    with pytest.raises(WarehouseError, match=r"^symbol: --symbol 'AAPL' disagrees with the symbol column of .*"
                                             r"\(holds AAPL, GOOG, MSFT\)") as error:
        load_ohlcv(fresh_client, path, symbol="AAPL")
    assert "\n" not in str(error.value)
    assert fresh_client.command("SELECT count() FROM ohlcv") == 0
    one = tmp_path / "aapl_only.csv"
    one.write_text("\n".join(line for line in MULTI.splitlines() if "MSFT" not in line and "GOOG" not in line))
    assert load_ohlcv(fresh_client, one, symbol="AAPL").counts == {"AAPL": 4}
    plain = tmp_path / "x.csv"
    plain.write_text("Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n2024-01-03,1,2,0.5,1.5\n")
    assert load_ohlcv(fresh_client, plain, symbol="RELIANCE").counts == {"RELIANCE": 2}


def test_yfinance_history_export_with_offsets(fresh_client, tmp_path):
    path = tmp_path / "AAPL.csv"  # yf.Ticker("AAPL").history(interval="1h").to_csv()
    path.write_text("Datetime,Open,High,Low,Close,Volume,Dividends,Stock Splits\n"
                    "2024-01-02 09:30:00-05:00,187.1499,188.4400,185.8300,186.1300,21178700,0.0,0.0\n"
                    "2024-01-02 10:30:00-05:00,186.1300,186.4000,184.6200,185.2100,9419390,0.0,0.0\n")
    report = load_ohlcv(fresh_client, path, tz="Asia/Kolkata")  # offsets win over --tz
    assert report.summary() == "AAPL 1h: loaded 2 bars, rejected 0; times carried offsets"
    assert [row[2] for row in _bars(fresh_client)] == [_ts(2024, 1, 2, 14, 30), _ts(2024, 1, 2, 15, 30)]


def test_yfinance_download_of_several_tickers(fresh_client, tmp_path):
    path = tmp_path / "download.csv"  # yf.download(["AAPL", "MSFT"], start=..., end=...).to_csv()
    path.write_text("Price,Close,Close,High,High,Low,Low,Open,Open,Volume,Volume\n"
                    "Ticker,AAPL,MSFT,AAPL,MSFT,AAPL,MSFT,AAPL,MSFT,AAPL,MSFT\n"
                    "Date,,,,,,,,,,\n"
                    "2024-01-02,184.29,367.75,186.90,372.06,182.73,363.75,185.79,370.05,82488700,25258600\n"
                    "2024-01-03,182.91,367.52,184.53,369.94,182.10,365.34,183.14,366.14,58414500,23083500\n"
                    "2024-01-04,180.59,,181.74,,179.38,,181.14,,71983600,\n")
    report = load_ohlcv(fresh_client, path)
    assert report.counts == {"AAPL": 3, "MSFT": 2} and report.rejected == 0
    assert report.summary().endswith("; yfinance, naive times read as UTC (no --tz)")
    assert _bars(fresh_client, "AAPL")[0][3:8] == (185.79, 186.9, 182.73, 184.29, 82488700.0)


def test_yfinance_download_of_one_ticker_names_its_lines(fresh_client, tmp_path):
    path = tmp_path / "aapl.csv"  # yf.download("AAPL", auto_adjust=False).to_csv()
    path.write_text("Price,Adj Close,Close,High,Low,Open,Volume\nTicker,AAPL,AAPL,AAPL,AAPL,AAPL,AAPL\nDate,,,,,,\n"
                    "2024-01-02,183.9,185.64,188.44,183.89,187.15,82488700\n2024-01-03,182.5\n"
                    "2024-01-04,180.0,181.91,183.09,180.88,182.15,71983600\n")
    report = load_ohlcv(fresh_client, path)
    assert (report.counts, report.rejected) == ({"AAPL": 2}, 1)
    assert _rejects(fresh_client, path) == [("line 5", "malformed", "csv", "2 fields",
                                             "csv: wrong number of fields (7 expected)", "2024-01-03,182.5")]
    assert [row[6] for row in _bars(fresh_client)] == [185.64, 181.91]  # Close, not Adj Close


def test_iso_z_times(fresh_client, tmp_path):
    path = tmp_path / "BTCUSD.csv"
    path.write_text("timestamp,open,high,low,close,volume\n2024-01-02T00:00:00Z,44180,44200,44100,44150,12.5\n"
                    "2024-01-02T00:01:00.000Z,44150,44190,44120,44170,8.25\n")
    report = load_ohlcv(fresh_client, path)
    assert report.summary() == "BTCUSD 1m: loaded 2 bars, rejected 0; times carried offsets"


@pytest.mark.parametrize("unit, scale", [("seconds", 1), ("milliseconds", 10**3), ("microseconds", 10**6),
                                         ("nanoseconds", 10**9)])
def test_epoch_units_are_decided_per_file_and_stated(fresh_client, tmp_path, unit, scale):
    base = 1704153600  # 2024-01-02T00:00:00Z
    path = tmp_path / "ETHUSDT.csv"
    lines = [f"{(base + 60 * i) * scale},2300,2310,2290,2305,{i + 1}" for i in range(3)]
    path.write_text("open_time,open,high,low,close,volume\n" + "\n".join(lines) + "\n")
    report = load_ohlcv(fresh_client, path)
    assert report.summary() == f"ETHUSDT 1m: loaded 3 bars, rejected 0; epoch {unit}"
    assert _bars(fresh_client)[0][2] == _ts(2024, 1, 2)


def test_an_epoch_value_out_of_range_for_the_files_unit_is_a_reject_never_another_unit(fresh_client, tmp_path):
    path = tmp_path / "EPOCH.csv"
    path.write_text("ts,open,high,low,close,volume\n1704153600,1,2,0.5,1.5,10\n1704240000,1,2,0.5,1.5,10\n"
                    "253402300799,1,2,0.5,1.5,10\n1704326400,1,2,0.5,1.5,10\n")
    report = load_ohlcv(fresh_client, path)
    assert (report.loaded, report.rejected) == (3, 1)
    assert report.summary() == "EPOCH 1d: loaded 3 bars, rejected 1; epoch seconds"
    assert _rejects(fresh_client, path) == [
        ("line 4", "future_ts", "ts", "253402300799", "ts: after now + 1 day as epoch seconds",
         '{"ts":"253402300799","open":"1","high":"2","low":"0.5","close":"1.5","volume":"10"}')]
    assert [row[2] for row in _bars(fresh_client)] == [_ts(2024, 1, 2), _ts(2024, 1, 3), _ts(2024, 1, 4)]


def test_metatrader4_history_without_header(fresh_client, tmp_path):
    path = tmp_path / "EURUSD60.csv"  # MT4 History Center export
    path.write_text("2024.01.02,09:00,1.10427,1.10445,1.10311,1.10333,1640\n"
                    "2024.01.02,10:00,1.10333,1.10401,1.10290,1.10390,1521\n")
    report = load_ohlcv(fresh_client, path, symbol="EURUSD", tz="Europe/Athens")
    assert report.summary() == ("EURUSD 1h: loaded 2 bars, rejected 0; metatrader, "
                                "naive times read as Europe/Athens (--tz)")
    assert _bars(fresh_client)[0][2:4] == (_ts(2024, 1, 2, 7), 1.10427)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_metatrader5_export_with_angle_bracket_headers(fresh_client, tmp_path, encoding):
    path = tmp_path / "XAUUSD_M15.csv"
    path.write_text("<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
                    "2024.01.02\t01:00:00\t2062.88\t2064.42\t2062.50\t2063.92\t412\t0\t25\n"
                    "2024.01.02\t01:15:00\t2063.92\t2065.10\t2063.01\t2064.75\t389\t0\t25\n"
                    "2024.01.02\t01:30\t2064.75\t2065.10\n", encoding=encoding)
    report = load_ohlcv(fresh_client, path)
    assert report.summary() == ("XAUUSD_M15 15m: loaded 2 bars, rejected 1; metatrader, "
                                "naive times read as UTC (no --tz)")
    assert [row[7] for row in _bars(fresh_client)] == [412.0, 389.0]  # <VOL> all 0: tick volume
    assert _rejects(fresh_client, path)[0][:5] == ("line 4", "malformed", "csv", "4 fields",
                                                   "csv: wrong number of fields (9 expected)")


KITE = {"status": "success", "data": {"candles": [
    ["2024-01-02T09:15:00+0530", 21727.75, 21755.6, 21710.0, 21748.3, 1041900, 12513050],
    ["2024-01-02T09:16:00+0530", 21748.3, 21752.0, 21733.55, 21740.0, 383850, 12519400],
    ["2024-01-02T09:17:00+0530", 21740.0, 21745.0, 21730.1, 21731.0, 250300, -5],
]}}


@pytest.mark.parametrize("bare", [False, True])
def test_kite_historical_candles_keep_open_interest(fresh_client, tmp_path, bare):
    path = tmp_path / "NIFTY24JANFUT.json"
    path.write_text(json.dumps(KITE["data"]["candles"] if bare else KITE))
    report = load_ohlcv(fresh_client, path)
    assert report.summary() == "NIFTY24JANFUT 1m: loaded 2 bars, rejected 1; kite json, times carried offsets"
    rows = _bars(fresh_client)
    assert [(r[2], r[8]) for r in rows] == [(_ts(2024, 1, 2, 3, 45), 12513050.0), (_ts(2024, 1, 2, 3, 46), 12519400.0)]
    assert [r[:5] for r in _rejects(fresh_client, path)] == [
        ("candle 3", "bad_volume", "oi", "-5.0", "oi: negative or not finite")]


def test_naive_times_read_in_the_given_zone(fresh_client, tmp_path):
    path = tmp_path / "RELIANCE.csv"
    path.write_text("date,open,high,low,close,volume\n2024-01-02 09:15:00,2590,2602,2585,2598,120000\n"
                    "2024-01-02 09:20:00,2598,2604,2596,2601,98000\n")
    report = load_ohlcv(fresh_client, path, tz="Asia/Kolkata")
    assert report.summary() == "RELIANCE 5m: loaded 2 bars, rejected 0; naive times read as Asia/Kolkata (--tz)"
    assert _bars(fresh_client)[0][2] == _ts(2024, 1, 2, 3, 45)
    with pytest.raises(WarehouseError, match=r"^tz: 'Asia/Bombay2' is not a known time zone"):
        load_ohlcv(fresh_client, path, tz="Asia/Bombay2")


def test_a_local_hour_repeated_by_a_dst_change_is_read_in_order(fresh_client, tmp_path):
    path = tmp_path / "SPY.csv"  # naive New York half-hours across the end of daylight saving time
    times = ["00:30", "01:00", "01:30", "01:00", "01:30", "02:00"]
    path.write_text("Date,Open,High,Low,Close\n" + "".join(f"2024-11-03 {t},1,2,0.5,1.5\n" for t in times)
                    + "2024-11-04 01:15,1,2,0.5,1.5\n")
    report = load_ohlcv(fresh_client, path, tz="America/New_York", interval="30m")
    assert (report.loaded, report.rejected) == (7, 0)
    assert [row[2].strftime("%d %H:%M") for row in _bars(fresh_client)] == [
        "03 04:30", "03 05:00", "03 05:30", "03 06:00", "03 06:30", "03 07:00", "04 06:15"]
    alone = tmp_path / "QQQ.csv"
    alone.write_text("Date,Open,High,Low,Close\n2024-11-03 00:30,1,2,0.5,1.5\n2024-11-03 01:15,1,2,0.5,1.5\n")
    load_ohlcv(fresh_client, alone, tz="America/New_York", interval="30m")
    assert [r[:5] for r in _rejects(fresh_client, alone)] == [
        ("line 3", "ambiguous_ts", "ts", "2024-11-03 01:15",
         "ts: ambiguous in America/New_York (repeated by a DST change; give times with offsets)")]


def test_zone_for_symbol_hook_wins_over_tz(fresh_client, tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("symbol,date,open,high,low,close\nINFY,2024-01-02 09:15,1500,1510,1495,1505\n"
                    "INFY,2024-01-02 09:16,1505,1511,1500,1509\nIBM,2024-01-02 09:30,162,163,161,162.5\n"
                    "IBM,2024-01-02 09:31,162.5,163,162,162.8\n")
    zones = {"INFY": "Asia/Kolkata", "TCS": "Asia/Kolkata", "SAP": "Europe/Berlin"}  # TCS, SAP: not in the file
    report = load_ohlcv(fresh_client, path, tz="America/New_York", zone_for_symbol=zones)
    assert report.summary().endswith("; naive times read in exchange zones (INFY Asia/Kolkata), "
                                     "others as America/New_York (--tz)")
    assert [(r[0], r[2]) for r in _bars(fresh_client)][::2] == [("IBM", _ts(2024, 1, 2, 14, 30)),
                                                                 ("INFY", _ts(2024, 1, 2, 3, 45))]


def test_parquet_with_zoned_timestamps(fresh_client, tmp_path):
    path = tmp_path / "msft.parquet"
    pq.write_table(pa.table({
        "Datetime": pa.array([datetime(2024, 1, 2, 14, 30, tzinfo=UTC), datetime(2024, 1, 2, 14, 31, tzinfo=UTC)],
                             pa.timestamp("ns", tz="America/New_York")),
        "Open": [370.0, 370.5], "High": [371.0, 371.0], "Low": [369.5, 370.1], "Close": [370.5, 370.9],
        "Volume": [1000, 1200]}), path)
    report = load_ohlcv(fresh_client, path)
    assert report.summary() == "MSFT 1m: loaded 2 bars, rejected 0; parquet, times carried offsets"
    assert _bars(fresh_client)[0][2] == _ts(2024, 1, 2, 14, 30)


def test_rejects_name_the_real_line_and_value(fresh_client, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Date,Open,High,Low,Close,Volume\n"           # line 1
                    "2024-01-02,10,11,9,10.5,100\n"               # 2
                    "\n"                                          # 3: blank, not a row
                    "2024-01-03,10,11\n"                          # 4: wrong number of fields
                    "2024-01-04,10,11,9,10.5,100\n"               # 5
                    "2024-01-05,10,11,9,abc,100\n"                # 6
                    "2024-13-45,10,11,9,10.5,100\n"               # 7
                    "2024-01-04,10,12,9,11,100\n"                 # 8: second bar at line 5's time
                    "2024-01-08,10,11,9,10.5,\n"                  # 9
                    "2024-03-10 02:30,10,11,9,10.5,1\n")          # 10: not a New York time (DST)
    report = load_ohlcv(fresh_client, path, symbol="BAD", interval="1d", tz="America/New_York")
    assert (report.loaded, report.rejected) == (2, 6)
    assert [r[:5] for r in _rejects(fresh_client, path)] == [
        ("line 4", "malformed", "csv", "3 fields", "csv: wrong number of fields (6 expected)"),
        ("line 6", "unparseable", "close", "abc", "close: not a number"),
        ("line 7", "unparseable", "ts", "2024-13-45", "ts: not a date/time"),
        ("line 8", "duplicate_bar", "ts", "2024-01-04T05:00:00.000Z, line 5 kept",
         "ts: a second bar of the symbol at this time (the first is kept)"),
        ("line 9", "unparseable", "volume", "", "volume: missing or not a number"),
        ("line 10", "nonexistent_ts", "ts", "2024-03-10 02:30",
         "ts: does not exist in America/New_York (skipped by a DST change)"),
    ]


def test_cannot_infer_interval_names_the_file_and_the_times(fresh_client, tmp_path):
    path = tmp_path / "ONE.csv"
    path.write_text("Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n2024-01-02,1,2,0.5,1.5\n")
    with pytest.raises(WarehouseError) as error:
        load_ohlcv(fresh_client, path)
    assert str(error.value) == (f"interval: cannot infer for ONE in {path} from fewer than 2 distinct times "
                                "(saw 2024-01-02T00:00:00Z); pass --interval")


def test_a_symbol_with_one_bar_takes_the_files_interval(fresh_client, tmp_path):
    path = tmp_path / "ipo.csv"
    path.write_text(MULTI + "2024-01-05,NEWCO,10,11,9,10.5,100\n")
    assert load_ohlcv(fresh_client, path).counts["NEWCO"] == 1
    assert fresh_client.command("SELECT interval FROM ohlcv WHERE symbol = 'NEWCO'") == "1d"


def test_feed_reads_open_interest_back(fresh_client, tmp_path):
    from backtest.feed import Feed

    path = tmp_path / "NIFTY24JANFUT.json"
    path.write_text(json.dumps(KITE))
    load_ohlcv(fresh_client, path)
    bars = Feed(fresh_client).ohlcv("NIFTY24JANFUT", "2024-01-02", "2024-01-03", "1m")
    assert bars["oi"].to_list() == [12513050.0, 12519400.0]
    assert bars.schema["oi"] == pl.Float64


@pytest.mark.parametrize("name, content, options, message", [
    ("missing.csv", None, {}, r"path: .* is not a readable file"),
    ("dup.csv", "Date,Open,Open,High,Low,Close\n2024-01-02,1,1,2,0.5,1.5\n", {},
     r"columns: .* has the column 'Open' more than once"),
    ("noopen.csv", "Date,High,Low,Close\n2024-01-02,2,0.5,1.5\n", {},
     r"columns: .* has no 'open' column \(found: Date, High, Low, Close\)"),
    ("other.json", '{"data": {"rows": []}}', {}, r"format: .* is JSON without data.candles"),
    ("broken.json", "not json", {}, r"path: .* is not valid JSON"),
    ("broken.parquet", "not parquet", {}, r"path: .* could not be read"),
    ("ok.csv", "Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n", {"interval": "7q"},
     r"interval: '7q' is not like 30s, 5m, 1h, 1d or 1w"),
    ("ok.csv", "Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n", {"tz": "EST5EDT6"},
     r"tz: 'EST5EDT6' is not a known time zone"),
    ("ok.csv", "Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n", {"zone_for_symbol": {"OK": "Nowhere/X"}},
     r"zone_for_symbol: 'Nowhere/X' is not a known time zone"),
])
def test_unusable_bar_files_give_one_line_errors(fresh_client, tmp_path, name, content, options, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(WarehouseError, match="^" + message) as error:
        load_ohlcv(fresh_client, path, **options)
    assert "\n" not in str(error.value)
