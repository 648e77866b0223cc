"""The run report of a tick-execution run: the slippage of every fill drawn on the shared time axis, with the
values of fills.csv, beside the execution card; the nights between sessions are cut out of the time axes."""

from __future__ import annotations

import base64
import json
import re
import uuid

import numpy as np
import polars as pl
import pytest

import backtest
from support.data import demo_ticks
from warehouse.client import connect
from warehouse.demo.generate import DemoSpec
from warehouse.demo.quotes import demo_quotes
from warehouse.ingest.files import load_ticks
from warehouse.ingest.quotes import load_quotes
from warehouse.schema.migrate import migrate

SPEC = DemoSpec(ticks=60_000, symbols=("AAPL", "MSFT"), seed=9)
DATA = {"symbols": ["AAPL", "MSFT"], "start": "2024-01-02", "end": "2024-01-05", "interval": "5m"}


@pytest.fixture(scope="module")
def warehouse():
    client = connect(database=f"rticks_{uuid.uuid4().hex[:8]}")
    migrate(client)
    load_ticks(client, demo_ticks(SPEC))
    load_quotes(client, demo_quotes(SPEC))
    return client


def _traces(text: str, chart: str) -> list[dict]:
    start = text.index(f'"chart-{chart}",')
    traces, _ = json.JSONDecoder().raw_decode(text, text.index("[", start))
    return traces


def _array(value: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))


def test_the_slippage_of_every_fill_is_drawn_on_the_time_axis(warehouse, tmp_path):
    result = backtest.run("sma_cross", DATA, warehouse=warehouse, size=0.5, execution="ticks", latency_ms=500)
    text = result.report(tmp_path).read_text()
    assert '<div class="plot js-time" data-chart="execution">' in text and "Slippage per fill" in text
    nights = re.findall(r'\{"bounds":\["(2024-01-0\dT[\d:]+)\.0+","(2024-01-0\dT[\d:]+)\.0+"\]\}', text)
    index = result.bars.index.astype("datetime64[m]")  # the nights between sessions are cut out of time axes
    gaps = [(str(a + np.timedelta64(5, "m")) + ":00", str(b) + ":00")
            for a, b in zip(index[:-1], index[1:]) if b - a > np.timedelta64(1, "h")]
    assert len(gaps) == 2 and set(nights) == set(gaps)
    fills = pl.read_csv(tmp_path / "fills.csv", try_parse_dates=True)
    traces = {t["name"]: t for t in _traces(text, "execution")}
    assert set(traces) == {"AAPL", "MSFT"}
    for symbol, trace in traces.items():
        mine = fills.filter(pl.col("symbol") == symbol)
        assert len(mine) > 5
        assert _array(trace["y"]) == pytest.approx(mine["slippage_vs_decision"].to_numpy() * 1e4, abs=1e-9)
        ms = mine["ts"].dt.epoch("us").to_numpy() / 1000.0
        assert _array(trace["x"]) == pytest.approx(ms, abs=1e-3)
