"""Kite's instruments CSV into ``instruments``: every good row kept, every bad one in ``rejects`` with its code;
a bar file's naive times read in the exchange zone ``instruments`` knows for its symbols."""

from __future__ import annotations

import polars as pl
import pytest

from warehouse.ingest.instruments import KITE_COLUMNS, exchange_zones, load_instruments
from warehouse.ingest.ohlcv import load_ohlcv

from support.brokers import run_cli

GOOD = [
    "408065,1594,INFY,INFOSYS,0,,0,0.05,1,EQ,NSE,NSE",
    "500209,1954,INFY,INFOSYS,0,,0,0.05,1,EQ,BSE,BSE",
    "256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE",
    "12345678,48225,NIFTY24JAN21500CE,NIFTY,0,2024-01-25,21500,0.05,50,CE,NFO-OPT,NFO",
    "13368834,52222,NIFTY24JANFUT,NIFTY,0,2024-01-25,0,0.05,50,FUT,NFO-FUT,NFO",
]
BAD = {  # line -> expected (code, field, value)
    "x1,1,AAA,A,0,,0,0.05,1,EQ,NSE,NSE": ("unparseable", "instrument_token", "x1"),
    ",1,BBB,B,0,,0,0.05,1,EQ,NSE,NSE": ("missing_field", "instrument_token", ""),
    "7,1,,C,0,,0,0.05,1,EQ,NSE,NSE": ("missing_field", "tradingsymbol", ""),
    "8,1,DDD,D,0,,0,-0.05,1,EQ,NSE,NSE": ("bad_value", "tick_size", "-0.05"),
    "9,1,EEE,E,0,,0,0.05,-5,EQ,NSE,NSE": ("bad_value", "lot_size", "-5"),
    "10,1,FFF,F,0,25-01-2024,100,0.05,1,FUT,NFO-FUT,NFO": ("unparseable", "expiry", "25-01-2024"),
    "11,1,GGG,G,0,,0,0.05,1,EQ,XYZ,XYZ": ("unknown_exchange", "exchange", "XYZ"),
}


@pytest.fixture()
def instruments_csv(tmp_path):
    path = tmp_path / "instruments.csv"
    path.write_text("\n".join([",".join(KITE_COLUMNS), *GOOD, *BAD]) + "\n")
    return path


def test_good_rows_load_and_every_bad_row_is_a_reject_with_its_code(fresh_client, instruments_csv):
    report = load_instruments(fresh_client, instruments_csv)
    assert report.loaded == len(GOOD) and sum(report.rejected.values()) == len(BAD)
    assert report.by_exchange == {"NSE": 2, "BSE": 1, "NFO": 2}
    stored = pl.from_arrow(fresh_client.query_arrow(
        "SELECT instrument_token, symbol, asset_class, lot_size, expiry, strike, exchange_tz FROM instruments "
        "FINAL ORDER BY instrument_token"))
    assert stored["asset_class"].to_list() == ["index", "equity", "equity", "option", "future"]
    option = stored.filter(pl.col("symbol") == "NIFTY24JAN21500CE").row(0, named=True)
    assert (option["lot_size"], str(option["expiry"]), option["strike"]) == (50, "2024-01-25", 21500.0)
    assert set(stored["exchange_tz"]) == {"Asia/Kolkata"}
    rejects = fresh_client.query("SELECT position, code, field, value FROM rejects WHERE target = 'instruments' "
                                 "ORDER BY position").result_rows
    lines = {line: f"line {i + 2 + len(GOOD)}" for i, line in enumerate(BAD)}
    assert sorted(rejects) == sorted((lines[line], *expected) for line, expected in BAD.items())
    again = load_instruments(fresh_client, instruments_csv)  # a second import replaces, never doubles
    assert again.loaded == len(GOOD)
    assert fresh_client.command("SELECT count() FROM instruments FINAL") == len(GOOD)


def test_zones_for_other_exchanges_come_from_the_caller(fresh_client, instruments_csv):
    report = load_instruments(fresh_client, instruments_csv, zones={"XYZ": "Asia/Singapore"})
    assert report.loaded == len(GOOD) + 1 and "unknown_exchange" not in report.rejected
    assert exchange_zones(fresh_client, ["GGG", "INFY", "NOPE"]) == {"GGG": "Asia/Singapore", "INFY": "Asia/Kolkata"}


def test_naive_bar_times_are_read_in_the_exchange_zone_instruments_knows(fresh_client, instruments_csv, tmp_path):
    load_instruments(fresh_client, instruments_csv)
    bars = tmp_path / "INFY.csv"
    bars.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02 09:15,10,11,9,10.5,100\n"
                    "2024-01-02 09:16,10,11,9,10.5,100\n")
    report = load_ohlcv(fresh_client, bars, interval="1m")
    assert "exchange zones (INFY Asia/Kolkata)" in report.summary()
    first = fresh_client.command("SELECT formatDateTime(min(ts), '%H:%i') FROM ohlcv WHERE symbol = 'INFY'")
    assert first == "03:45"  # 09:15 IST is 03:45 UTC


def test_cli_loads_and_refuses_a_file_that_is_not_kites(dsn, instruments_csv, tmp_path):
    done = run_cli(dsn, "load-instruments", str(instruments_csv), "--zone", "XYZ=Asia/Singapore")
    assert done.returncode == 0 and "loaded 6 instruments" in done.stdout, done.stdout + done.stderr
    other = tmp_path / "other.csv"
    other.write_text("token,symbol\n1,AAA\n")
    refused = run_cli(dsn, "load-instruments", str(other))
    assert refused.returncode == 2 and refused.stderr.startswith("error: path:") and "instrument_token" in refused.stderr
    bad_zone = run_cli(dsn, "load-instruments", str(instruments_csv), "--zone", "XYZ")
    assert bad_zone.returncode == 2 and "zone: 'XYZ' is not NAME=VALUE" in bad_zone.stderr
