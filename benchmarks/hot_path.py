"""Hot path latency: GET /state/{symbol} and /book/{symbol} over loopback while ~100k ticks/s stream in,
against the same question asked of the warehouse.

Usage: python benchmarks/hot_path.py [--rate 100000] [--requests 1000] [--seconds 10] [--ticks 2M]
                                     [--warehouse /tmp/hot-bench/warehouse] [--sql-queries 100]

One process serves the hot routes (warehouse/serve/hot_routes.py, uvicorn on 127.0.0.1, the
``ServerTiming`` middleware) over a HotState that a feeder thread in the same process (as the
consumer runs inside ``serve``) fills with the demo stream (``--ticks``, warehouse.demo) at
``--rate`` trades/s, through ``HotState.on_table`` (the decoded batches the stream sink hands
over), plus the demo's 5-level quotes (about one per trade) through ``on_quotes``, every 50 ms.
A client in another process (http.client, one keep-alive connection) sends ``--requests`` requests/s
for ``--seconds`` s, alternating /state and /book over the symbols, each at its scheduled time (or
at once when late: latency counts from the send), first without the feed, then under it.
Latency: end to end at the client, and at the server from the ``Server-Timing`` header (request
reaching the app to response headers). Then ``HotState.state`` is timed in process, paced the same
way, still under the feed, and the peer: the same question (last trade + high/low/volume over the last minute)
asked of a demo warehouse of the same ticks (created with ``python -m warehouse demo`` if
``--warehouse`` does not hold one), in process with chDB, two ways: ticks_dedup FINAL over the
last 60 s of the symbol, and bars_1m's last minute. Ratios: warehouse p50 / hot p50.

Last measured (2 cores shared with other jobs, load average 2.7-4.5; defaults): under 99.7k trades/s
(+ quotes), /state p50 / p99 at the server 0.225 / 0.527 ms, /book 0.186 / 0.449 ms (no feed: 0.225 /
0.518, 0.193 / 0.465); end to end p50 0.555 / 0.525 ms (p99 3-5 ms with or without the feed: the
client's own wake-ups on a loaded machine); HotState.state in process 0.058 / 0.116 ms; the warehouse
11.6 ms (ticks_dedup FINAL) and 13.6 ms (bars_1m) p50: 21-25x end to end, 52-61x at the server. With
one lock between the writer and the readers instead of two copies, /state p99 at the server was 1.5-3.8
ms under the feed (a reader waited for a writer preempted mid-chunk), 0.4-0.7 ms without it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.brokers import free_port, wait_for, warehouse_cmd  # noqa: E402
from warehouse.demo.generate import DemoSpec, generate, parse_count  # noqa: E402
from warehouse.demo.quotes import demo_quotes  # noqa: E402
from warehouse.serve.hot_state import HotState  # noqa: E402

PERIOD_S = 0.05  # the feeder's batch interval
_LAST_TS = "WITH (SELECT max(ts) FROM ticks_dedup WHERE symbol = {symbol:String}) AS t\n"
ROLLING_SQL = _LAST_TS + """SELECT t, argMax(price, (ts, version)), max(price), min(price), sum(size), count()
FROM ticks_dedup FINAL WHERE symbol = {symbol:String} AND ts > t - INTERVAL 60 SECOND"""
BARS_SQL = _LAST_TS + """SELECT t,
    (SELECT argMax(price, version) FROM ticks_dedup WHERE symbol = {symbol:String} AND ts = t),
    max(high), min(low), sum(volume), sum(trades)
FROM bars_1m WHERE symbol = {symbol:String} AND minute = toStartOfMinute(t)"""

class Stream:
    """The demo stream as the sink would hand it over (a TICKS_SCHEMA table) and its quotes as arrays."""

    def __init__(self, spec: DemoSpec) -> None:
        self.trades = pa.Table.from_batches(list(generate(spec)))
        quotes = pa.concat_tables(list(demo_quotes(spec)))
        self.symbols = quotes["symbol"].combine_chunks().dictionary_encode()
        self.quote_ns = quotes["ts"].cast(pa.int64()).to_numpy() * 1000
        self.levels = [np.column_stack([quotes[f"{side}_{field}_{k}"].to_numpy() for k in range(1, 6)]).astype(float)
                       for side in ("bid", "ask") for field in ("px", "qty", "orders")]
        self.oi = quotes["oi"].to_numpy()

    def feed(self, hot: HotState, a: int, b: int) -> None:
        """Trades ``[a, b)`` and the same share of the quotes."""
        hot.on_table(self.trades.slice(a, b - a))
        n, q = self.trades.num_rows, self.quote_ns.size
        qa, qb = a * q // n, b * q // n
        if qb > qa:
            bid_px, bid_qty, bid_orders, ask_px, ask_qty, ask_orders = (x[qa:qb] for x in self.levels)
            hot.on_quotes(self.symbols[qa:qb], self.quote_ns[qa:qb], bid_px, bid_qty, bid_orders, ask_px, ask_qty,
                          ask_orders, oi=self.oi[qa:qb])


class Feeder(threading.Thread):
    """Feeds ``stream`` into ``hot`` at ``rate`` trades/s in PERIOD_S batches until stopped or out of ticks."""

    def __init__(self, stream: Stream, hot: HotState, rate: float) -> None:
        super().__init__(name="feeder", daemon=True)
        self.stream, self.hot, self.rate = stream, hot, rate
        self.stop = threading.Event()
        self.fed, self.seconds, self.batches = 0, 0.0, 0

    def run(self) -> None:
        started = time.perf_counter()
        total = self.stream.trades.num_rows
        while not self.stop.is_set() and self.fed < total:
            due = min(total, int((time.perf_counter() - started) * self.rate))
            if due > self.fed:
                self.stream.feed(self.hot, self.fed, due)
                self.fed, self.batches = due, self.batches + 1
            self.stop.wait(PERIOD_S)
        self.seconds = time.perf_counter() - started


def serve(hot: HotState) -> tuple[object, threading.Thread, str]:
    import uvicorn
    from fastapi import FastAPI

    from warehouse.serve.hot_routes import ServerTiming, router

    app = FastAPI()
    app.state.hot = hot
    app.include_router(router)
    app.add_middleware(ServerTiming)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "uvicorn to start", every=0.02)
    return server, thread, f"http://127.0.0.1:{server.config.port}"


def client(url: str, symbols: list[str], rate: float, seconds: float) -> None:
    """The load: ``rate`` requests/s for ``seconds`` s on one keep-alive connection (the standard library's
    http.client, the thinnest HTTP/1.1 client); prints one JSON object of latencies (ms)."""
    from http.client import HTTPConnection
    from urllib.parse import urlsplit

    out: dict[str, dict[str, list[float]]] = {kind: {"e2e": [], "server": []} for kind in ("state", "book")}
    errors = 0
    address = urlsplit(url)
    http = HTTPConnection(address.hostname, address.port, timeout=5)

    def get(path: str) -> tuple[int, str | None]:
        http.request("GET", path)
        answer = http.getresponse()
        answer.read()
        return answer.status, answer.getheader("server-timing")

    for symbol in symbols:  # warm the connection and every route
        get(f"/state/{symbol}"), get(f"/book/{symbol}")
    started = time.perf_counter()
    count = int(rate * seconds)
    for i in range(count):
        wait = started + i / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        kind = "state" if i % 2 == 0 else "book"
        sent = time.perf_counter()
        status, timing = get(f"/{kind}/{symbols[(i // 2) % len(symbols)]}")
        took = (time.perf_counter() - sent) * 1000
        if status != 200 or timing is None:
            errors += 1
            continue
        out[kind]["e2e"].append(took)
        out[kind]["server"].append(float(timing.split("dur=")[1]))
    elapsed = time.perf_counter() - started
    http.close()
    print(json.dumps({"latency": out, "errors": errors, "sent": count, "seconds": elapsed}))


def percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def in_process(hot: HotState, symbols: list[str], rate: float, seconds: float) -> list[float]:
    """ms per ``HotState.state`` call, ``rate`` calls/s for ``seconds`` s from this thread (sleeping between)."""
    took = []
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        wait = started + i / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        sent = time.perf_counter()
        hot.state(symbols[i % len(symbols)], window_s=60)
        took.append((time.perf_counter() - sent) * 1000)
    return took


def warehouse_latency(directory: str, ticks: str, symbols: list[str], queries: int) -> dict[str, list[float]]:
    """ms per question on the demo warehouse at ``directory`` (created first if absent)."""
    dsn = f"chdb://{directory}"
    if not Path(directory).exists():
        subprocess.run(warehouse_cmd(dsn, "demo", "--ticks", ticks), cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    from warehouse.client import connect

    db = connect(dsn)
    timings: dict[str, list[float]] = {}
    for name, sql in (("ticks_dedup FINAL, rolling 60 s", ROLLING_SQL), ("bars_1m, last minute", BARS_SQL)):
        for symbol in symbols:  # warm
            db.query(sql, parameters={"symbol": symbol})
        took = []
        for i in range(queries):
            started = time.perf_counter()
            db.query(sql, parameters={"symbol": symbols[i % len(symbols)]}).result_rows
            took.append((time.perf_counter() - started) * 1000)
        timings[name] = took
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100_000, help="trades/s fed into the hot state")
    parser.add_argument("--requests", type=float, default=1_000, help="HTTP requests/s")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--ticks", default="2M", help="demo ticks (the feed stops when they run out)")
    parser.add_argument("--warehouse", default="/tmp/hot-bench/warehouse", help="demo warehouse directory")
    parser.add_argument("--sql-queries", type=int, default=100)
    parser.add_argument("--client", help=argparse.SUPPRESS)  # internal: run as the load client against this URL
    parser.add_argument("--symbols", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(args.client, args.symbols.split(","), args.requests, args.seconds)
        return
    spec = DemoSpec(ticks=parse_count(args.ticks))
    stream = Stream(spec)
    symbols = list(spec.symbols)
    hot = HotState()
    stream.feed(hot, 0, 1000)  # compile / load the kernels before the clock starts
    server, thread, url = serve(hot)
    idle = load(url, symbols, args)  # the same server and machine without the feed: what the feed adds
    feeder = Feeder(stream, hot, args.rate)
    feeder.start()
    time.sleep(1.0)
    fed = load(url, symbols, args)
    local = in_process(hot, symbols, args.requests, min(args.seconds, 5))
    feeder.stop.set()
    feeder.join()
    server.should_exit = True
    thread.join(10)
    sql = warehouse_latency(args.warehouse, args.ticks, symbols, args.sql_queries)
    rows = []
    for phase, result in (("under the feed", fed), ("no feed", idle)):
        for kind in ("state", "book"):
            for where in ("server", "e2e"):
                label = f"{'server (Server-Timing)' if where == 'server' else 'end to end (client)'}, {phase}"
                values = result["latency"][kind][where]
                rows.append((f"GET /{kind}/{{symbol}}", label, *percentiles(values), len(values)))
    rows.append(("HotState.state(symbol)", "in process (a thread, paced), under the feed", *percentiles(local),
                 len(local)))
    for name, values in sql.items():
        rows.append((f"warehouse: {name}", "in process (chDB), no feed", *percentiles(values), len(values)))
    print(f"feed: {feeder.fed:,} trades in {feeder.seconds:.1f} s = {feeder.fed / feeder.seconds:,.0f} trades/s "
          f"(+ as many quotes), {feeder.batches:,} batches")
    for phase, result in (("under the feed", fed), ("no feed", idle)):
        print(f"load {phase}: {result['sent']:,} requests in {result['seconds']:.1f} s = "
              f"{result['sent'] / result['seconds']:,.0f}/s, {result['errors']} errors")
    print("| question | measured | p50 ms | p99 ms | n |")
    print("| --- | --- | ---: | ---: | ---: |")
    for question, where, p50, p99, n in rows:
        print(f"| {question} | {where} | {p50:.3f} | {p99:.3f} | {n:,} |")
    state_server = percentiles(fed["latency"]["state"]["server"])
    state_e2e = percentiles(fed["latency"]["state"]["e2e"])
    for name, values in sql.items():
        p50 = statistics.median(values)
        print(f"ratio p50 warehouse ({name}) / hot /state under the feed: {p50 / state_e2e[0]:,.1f}x end to end, "
              f"{p50 / state_server[0]:,.1f}x at the server")
    print(f"goals under the feed: p99 at the server < 1 ms: /state {state_server[1]:.3f}, "
          f"/book {percentiles(fed['latency']['book']['server'])[1]:.3f}; p50 end to end < 1 ms: /state "
          f"{state_e2e[0]:.3f}, /book {percentiles(fed['latency']['book']['e2e'])[0]:.3f}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end")


def load(url: str, symbols: list[str], args: argparse.Namespace) -> dict:
    """Run the load client in its own process (its own GIL) against ``url``; its JSON result."""
    done = subprocess.run([sys.executable, __file__, "--client", url, "--symbols", ",".join(symbols),
                           "--requests", str(args.requests), "--seconds", str(args.seconds)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)

if __name__ == "__main__":
    main()
