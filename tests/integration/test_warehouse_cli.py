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
    demo = _run("demo", "--ticks", "50k", "--symbols", "AAPL,MSFT", dsn=own_dsn)
    assert demo.returncode == 0, demo.stderr
    assert "loaded 50,000 ticks, rejected 0" in demo.stdout
    repeat = _run("demo", "--ticks", "50k", "--symbols", "AAPL,MSFT", dsn=own_dsn)
    assert "nothing loaded" in repeat.stdout
    status = _run("status", dsn=own_dsn)
    assert status.returncode == 0
    rows = {line.split()[0]: line.split() for line in status.stdout.splitlines() if line.strip()}
    assert rows["ticks"][2] == "50,000"
    assert {"AAPL", "MSFT"} <= rows.keys()


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
