"""The hot path over HTTP (a real uvicorn on 127.0.0.1, called with httpx) and fed by the stream sink.

* the routes answer what HotState holds, and bad requests get 4xx with a one-line detail;
* StreamSink(on_ticks=...) hands each batch's good ticks over before the warehouse write;
* end to end: a Redis stream (real redis-server) consumed into a warehouse and the hot state at
  once; GET /state over HTTP equals the produced stream's first prints and the warehouse's counts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import uvicorn
from fastapi import FastAPI

from support.brokers import free_port, redis_server, run_cli, wait_for
from support.stream_checks import spec_of
from warehouse.demo.generate import generate
from warehouse.serve.hot_routes import ServerTiming, router
from warehouse.serve.hot_state import HotState
from warehouse.stream.batch import Batch
from warehouse.stream.runner import run
from warehouse.stream.sink import RunOptions, StreamSink

T0 = 1_704_205_800  # 2024-01-02 14:30:00 UTC


@contextmanager
def serving(hot: HotState) -> Iterator[httpx.Client]:
    """A uvicorn server on a free loopback port with the hot routes over ``hot``; yields a client on it."""
    app = FastAPI()
    app.state.hot = hot
    app.include_router(router)
    app.add_middleware(ServerTiming)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 20, "uvicorn to start", every=0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def fed() -> HotState:
    hot = HotState(window_s=600)
    ns = (T0 + np.array([0, 10, 20, 30])) * 10**9
    hot.on_trades(["AAPL", "AAPL", "BRK.B", "AAPL"], ns, np.array([185.0, 187.0, 400.0, 186.0]),
                  np.array([100.0, 5.0, 1.0, 10.0]), side=np.array([1, -1, 0, 1], np.int8),
                  trade_id=np.array([1, 2, 1, 3], np.uint64))
    levels = np.array([[185.9, 185.8, 185.7, 0.0, 0.0]])
    hot.on_quotes(["AAPL"], ns[3:], levels, np.full((1, 5), 200.0) * (levels > 0), np.ones((1, 5)) * (levels > 0),
                  levels + 0.2 * (levels > 0), np.full((1, 5), 100.0), np.full((1, 5), 2), oi=np.array([12.0]))
    return hot


@pytest.fixture(scope="module")
def http(fed) -> Iterator[httpx.Client]:
    with serving(fed) as client:
        yield client


def test_state_and_book_over_http_equal_the_state_in_memory(http, fed):
    answer = http.get("/state/AAPL", params={"window_s": 25})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body == fed.state("AAPL", window_s=25)
    assert body["window"]["high"] == 187.0 and body["window"]["volume"] == 15.0 and body["window"]["trades"] == 2
    assert body["last_trade"] == {"ts": "2024-01-02T14:30:30.000000Z", "ts_ns": (T0 + 30) * 10**9, "price": 186.0,
                                  "size": 10.0, "side": "buy"}
    assert http.get("/state/AAPL").json()["window"]["trades"] == 3  # default: the last 60 seconds
    book = http.get("/book/AAPL").json()
    assert book == fed.book("AAPL")
    assert [b["price"] for b in book["bids"]] == [185.9, 185.8, 185.7] and book["asks"][0]["orders"] == 2
    assert book["oi"] == 12.0 and body["book"]["spread"] == 0.2
    assert http.get("/state/BRK.B").json()["last_trade"]["side"] is None


def test_state_lists_every_symbol_with_its_last_trade(http):
    body = http.get("/state").json()
    assert body["clock"] == "2024-01-02T14:30:30.000000Z"
    assert [(s["symbol"], s["last_trade"]["price"], s["trades"]) for s in body["symbols"]] == [
        ("AAPL", 186.0, 3), ("BRK.B", 400.0, 1)]


def test_every_response_says_its_time_in_the_app(http):
    timing = http.get("/book/AAPL").headers["server-timing"]
    assert timing.startswith("app;dur=") and float(timing.split("=")[1]) > 0


@pytest.mark.parametrize(("path", "status", "detail"), [
    ("/state/MSFT", 404, "symbol: 'MSFT' is not in the hot state (2 symbols: AAPL, BRK.B)"),
    ("/book/MSFT", 404, "symbol: 'MSFT' is not in the hot state (2 symbols: AAPL, BRK.B)"),
    ("/book/BRK.B", 404, "symbol: 'BRK.B' has no quote yet"),
    ("/state/AAPL?window_s=0", 422, "window_s: 0 is not an integer in [1, 600]"),
    ("/state/AAPL?window_s=601", 422, "window_s: 601 is not an integer in [1, 600]"),
    ("/state/x%27%3B%20DROP%20TABLE%20ticks", 404, "symbol: \"x'; DROP TABLE ticks\" is not in the hot state "
                                                   "(2 symbols: AAPL, BRK.B)"),
])
def test_bad_requests_are_4xx_naming_the_field_and_value(http, path, status, detail):
    answer = http.get(path)
    assert (answer.status_code, answer.json()) == (status, {"detail": detail})


def test_a_window_that_is_not_a_number_is_refused_by_name(http):
    answer = http.get("/state/AAPL", params={"window_s": "abc"})
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["query", "window_s"] and error["input"] == "abc"


def _message(symbol: str, ts_us: int, price: float, trade_id: int) -> bytes:
    return (f'{{"symbol":"{symbol}","ts":{ts_us},"price":{price},"size":100.0,"side":"buy",'
            f'"trade_id":{trade_id},"version":0}}').encode()


def test_the_sink_hands_good_ticks_to_on_ticks_before_writing_them(fresh_client):
    hot = HotState()
    stored_when_called = []

    def on_ticks(table):
        stored_when_called.append(fresh_client.query("SELECT count() FROM ticks").result_rows[0][0])
        hot.on_table(table)

    sink = StreamSink(fresh_client, "test:hot", on_ticks=on_ticks)
    batch = Batch()
    good = [_message("AAPL", T0 * 10**6 + i, 100.0 + i, i) for i in range(5)]
    batch.extend([*good, b'{"symbol": "AAPL"', good[0]], list(range(7)))  # a malformed message, a redelivery
    sink.write(batch, replay=False)
    assert stored_when_called == [0]
    assert fresh_client.query("SELECT count() FROM ticks").result_rows[0][0] == 6
    state = hot.state("AAPL")
    assert (state["trades"], state["skipped"]["redeliveries"], state["last_trade"]["price"]) == (5, 1, 104.0)
    sink.write(batch, replay=True)  # a replayed batch reaches on_ticks again: nothing counts twice
    assert hot.state("AAPL")["trades"] == 5 and hot.state("AAPL")["skipped"]["redeliveries"] == 7


def test_a_redis_stream_feeds_the_warehouse_and_the_hot_state_alike(fresh_client):
    from warehouse.stream.redis_consumer import RedisSource

    ticks, stream = 20_000, "hot:20k"
    hot = HotState(window_s=3600)
    with redis_server() as url, serving(hot) as http:
        done = run_cli("chdb:///unused", "produce", "redis", "--url", url, "--stream", stream, "--ticks", str(ticks),
                       "--bad", "0.01", "--rate", "0")
        assert done.returncode == 0, done.stderr
        source = RedisSource(url, stream, "hot", "c1", count=4_000, log=lambda line: None)
        sink = StreamSink(fresh_client, source.name, on_ticks=hot.on_table)
        try:
            stats = run(source, sink, RunOptions(batch=4_000, linger=0.2, until_idle=True, status_every=0),
                        threading.Event(), lambda line: None)
        finally:
            source.close()
        assert stats.ticks == ticks and stats.rejects == ticks // 100
        states = {s: http.get(f"/state/{s}", params={"window_s": 3600}).json() for s in hot.symbols()}
    produced = pl.from_arrow(pa.Table.from_batches(list(generate(spec_of(ticks))))).with_columns(
        ts_ns=pl.col("ts").dt.epoch("ns"), second=pl.col("ts").dt.epoch("s"))
    first = produced.unique(["symbol", "trade_id"], keep="first", maintain_order=True)  # the first print counts
    window = first.filter(pl.col("second") > first["second"].max() - 3600)
    stored = dict(fresh_client.query("SELECT symbol, count() FROM ticks_dedup FINAL GROUP BY symbol").result_rows)
    assert sorted(states) == sorted(stored) == sorted(first["symbol"].unique())
    for symbol, state in states.items():
        mine = first.filter(pl.col("symbol") == symbol)
        last = mine.sort("ts", maintain_order=True).tail(1).row(0, named=True)
        assert state["trades"] == mine.height == stored[symbol]
        assert (state["last_trade"]["ts_ns"], state["last_trade"]["price"]) == (last["ts_ns"], last["price"])
        recent = window.filter(pl.col("symbol") == symbol)
        assert state["window"]["trades"] == recent.height
        if recent.height:
            assert (state["window"]["high"], state["window"]["low"]) == (recent["price"].max(), recent["price"].min())
            assert state["window"]["volume"] == pytest.approx(recent["size"].sum(), rel=1e-12)
        skipped = state["skipped"]
        assert skipped["redeliveries"] + skipped["corrections"] + skipped["late"] == (
            produced.filter(pl.col("symbol") == symbol).height - mine.height)
