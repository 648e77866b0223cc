"""Tick files that name instruments by token only: enriched from ``instruments`` as they load; an unknown token is
a reject (``unknown_token``) with the token as its value, counted, never stored half-enriched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl

from support.brokers import query
from warehouse.demo.kite import write_instruments_csv
from warehouse.ingest.files import load_ticks
from warehouse.ingest.instruments import load_instruments

ROOT = Path(__file__).resolve().parents[2]


def _ticks(tokens: list[int]) -> pl.DataFrame:
    n = len(tokens)
    return pl.DataFrame({"instrument_token": tokens,
                         "ts": [f"2024-01-02T04:{i // 60:02d}:{i % 60:02d}Z" for i in range(n)],
                         "price": [100.0 + i for i in range(n)], "size": [1.0] * n, "trade_id": list(range(n))})


def test_token_ticks_get_their_symbols_and_unknown_tokens_are_rejects(fresh_client, tmp_path):
    load_instruments(fresh_client, write_instruments_csv(tmp_path / "instruments.csv"))
    frame = _ticks([738561, 408065, 999, 738561, 13368834])
    report = load_ticks(fresh_client, frame, name="tokens")
    assert (report.loaded, report.rejected, dict(report.rejected_by_code)) == (4, 1, {"unknown_token": 1})
    stored = fresh_client.query("SELECT symbol, trade_id FROM ticks_dedup FINAL ORDER BY trade_id").result_rows
    assert stored == [("RELIANCE", 0), ("INFY", 1), ("RELIANCE", 3), ("RELIANCE24JANFUT", 4)]
    reject = fresh_client.query("SELECT position, code, field, value FROM rejects WHERE source = 'tokens'").result_rows
    assert reject == [("row 3", "unknown_token", "instrument_token", "999")]


def test_the_cli_loads_a_token_csv_through_instruments(tmp_path):
    dsn = f"chdb://{tmp_path / 'warehouse'}"
    path = tmp_path / "kite_trades.csv"
    _ticks([738561, 408065, 5, 408065]).rename({"instrument_token": "token"}).write_csv(path)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "warehouse", "--dsn", dsn, *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)

    assert cli("load-instruments", "--demo-nse").returncode == 0
    done = cli("load", str(path))
    assert done.returncode == 0, done.stderr
    assert "loaded 3" in done.stdout and "unknown_token 1" in done.stdout, done.stdout
    counts = query(dsn, "SELECT symbol, count() AS n FROM ticks_dedup FINAL GROUP BY symbol ORDER BY symbol")
    assert counts.rows() == [("INFY", 2), ("RELIANCE", 1)]
