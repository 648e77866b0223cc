"""``python -m warehouse`` as a newcomer types it: real processes, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from warehouse.client import connect


def _run(*args: str, dsn: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TICKHOUSE_DSN": dsn}
    return subprocess.run([sys.executable, "-m", "warehouse", *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture()
def own_dsn(tmp_path) -> str:
    return f"chdb://{tmp_path / 'wh'}"


def test_init_demo_status(own_dsn):
    first = _run("init", dsn=own_dsn)
    assert first.returncode == 0 and "applied 1, 2" in first.stdout
    again = _run("init", dsn=own_dsn)
    assert again.returncode == 0 and "already up to date" in again.stdout
    demo = _run("demo", "--ticks", "50k", "--symbols", "AAPL,MSFT", "--no-nse", dsn=own_dsn)
    assert demo.returncode == 0, demo.stderr
    assert "loaded 50,000 ticks, rejected 0" in demo.stdout
    repeat = _run("demo", "--ticks", "50k", "--symbols", "AAPL,MSFT", "--no-nse", dsn=own_dsn)
    assert "nothing loaded" in repeat.stdout
    status = _run("status", dsn=own_dsn)
    assert status.returncode == 0
    rows = {line.split()[0]: line.split() for line in status.stdout.splitlines() if line.strip()}
    assert rows["ticks"][2] == "50,000"
    assert {"AAPL", "MSFT"} <= rows.keys()


def test_demo_adds_symbols_rather_than_ticks_in_the_future(own_dsn):
    import numpy as np
    from warehouse.demo.generate import today_utc

    # three sessions before today (a weekend rolls forward to Monday: Friday is a session before it)
    start = str(np.busday_offset(np.datetime64(today_utc()), -3, roll="forward"))
    demo = _run("demo", "--ticks", "200k", "--start", start, "--dense", "SPY=3", "--no-nse", dsn=own_dsn)
    assert demo.returncode == 0, demo.stderr
    note, summary, quotes = demo.stdout.strip().splitlines()
    assert quotes.startswith("demo quotes: loaded ") and "rejected 0" in quotes
    assert note.startswith("200k ticks over ") and "AAPL, MSFT, NVDA, SPY, TSLA, AMZN" in note
    assert "(the 5 asked for would have run past today, to " in note
    assert "loaded 200,000 ticks, rejected 0 (new trades" in summary
    symbols = int(note.split(" symbols:")[0].split()[-1])
    status = _run("status", dsn=own_dsn)  # this process holds the session warehouse: ask another one
    assert status.returncode == 0, status.stdout + status.stderr
    rows = [line.split() for line in status.stdout.splitlines() if line[:1].isupper() and line.count(":") >= 4]
    assert len(rows) == symbols > 5 and {row[0] for row in rows} >= {"AAPL", "SPY", "AMZN"}
    assert max(row[-2] for row in rows) < str(today_utc())  # last trade's date, UTC


def test_all_rows_rejected_exits_nonzero(own_dsn, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,ts,price,size\nA,yesterday,1,1\nB,2024-01-02,-3,1\n")
    result = _run("load", str(bad), dsn=own_dsn)
    assert result.returncode == 1
    assert "loaded 0 ticks, rejected 2" in result.stdout
    assert "every row" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (("load", "/no/such/file.csv"), "error: path: '/no/such/file.csv' is not a readable file"),
    (("demo", "--ticks", "lots"), "error: ticks: 'lots' is not a count"),
    (("demo", "--duplicates", "2"), "error: duplicate_rate: 2.0 is not in"),
    (("demo", "--dense", "SPY"), "error: dense: 'SPY' is not like SYMBOL=k"),
    (("demo", "--dense", "XYZ=2"), "error: dense: 'XYZ' is not one of the symbols"),
    (("rebuild-bars", "--start", "soon"), "error: start: 'soon' is not an ISO date"),
    (("load-ohlcv", "--interval", "7q", "/dev/null"), "error: "),
    (("init", "--cluster", "x;y", "--print-sql"), "error: cluster: 'x;y' is not a valid identifier"),
])
def test_bad_input_is_one_line_and_exit_2(own_dsn, args, message):
    result = _run(*args, dsn=own_dsn)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_dsn_is_one_line():
    result = _run("status", dsn="ftp://example")
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: dsn: unsupported scheme 'ftp'; use chdb:///abs/path or "
                                     "http(s)://host:8123/db")


def test_warehouse_open_in_another_process_is_explained(session_dsn):
    connect()  # this test process now holds the session warehouse
    result = _run("status", dsn=session_dsn)
    assert result.returncode == 2
    assert f"is open in another process (pid {os.getpid()})" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_load_ohlcv_keeps_three_symbols_and_reads_naive_times_in_tz(own_dsn, tmp_path):
    bars = tmp_path / "nse.csv"
    bars.write_text("Symbol,Date,Open,High,Low,Close,Volume\n"
                    "INFY,2024-01-02 09:15,1500,1510,1495,1505,1000\nINFY,2024-01-02 09:20,1505,1511,1500,1509,900\n"
                    "TCS,2024-01-02 09:15,3700,3710,3695,3705,400\nTCS,2024-01-02 09:20,3705,3712,3701,3709,300\n"
                    "SBIN,2024-01-02 09:15,640,642,639,641,5000\nSBIN,2024-01-02 09:20,641,643,640,642,4000\n"
                    "SBIN,2024-01-02 09:25,642,641,643,642,4000\n")
    result = _run("load-ohlcv", str(bars), "--tz", "Asia/Kolkata", dsn=own_dsn)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("nse.csv: loaded 6 bars of 3 symbols 5m (INFY 2, SBIN 2, TCS 2), rejected 1; "
                                     "naive times read as Asia/Kolkata (--tz)")


@pytest.mark.parametrize("args, message", [
    (("--tz", "Asia/Kolkatta"), "error: tz: 'Asia/Kolkatta' is not a known time zone"),
    (("--symbol", "AAA"), "error: symbol: --symbol 'AAA' disagrees with the symbol column of"),
])
def test_load_ohlcv_bad_options_are_one_line_and_exit_2(own_dsn, tmp_path, args, message):
    bars = tmp_path / "two.csv"
    bars.write_text("ticker,date,open,high,low,close\nAAA,2024-01-02,1,2,0.5,1.5\nBBB,2024-01-02,1,2,0.5,1.5\n")
    result = _run("load-ohlcv", str(bars), *args, dsn=own_dsn)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_load_ohlcv_unreadable_times_are_one_line_and_every_row_rejected_exits_1(own_dsn, tmp_path):
    one = tmp_path / "ONE.csv"
    one.write_text("Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n")
    result = _run("load-ohlcv", str(one), dsn=own_dsn)
    assert result.returncode == 2 and result.stderr.strip() == (
        f"error: interval: cannot infer for ONE in {one} from fewer than 2 distinct times (saw 2024-01-02T00:00:00Z); "
        "pass --interval")
    bad = tmp_path / "BAD.csv"
    bad.write_text("Date,Open,High,Low,Close\nsoon,1,2,0.5,1.5\n2024-01-03,x,2,0.5,1.5\n")
    result = _run("load-ohlcv", str(bad), dsn=own_dsn)
    assert result.returncode == 1
    assert result.stdout.strip() == "BAD.csv: loaded 0 bars, rejected 2; naive times read as UTC (no --tz)"
    assert result.stderr.startswith(f"error: every row of {bad} was rejected") and "Traceback" not in result.stderr
