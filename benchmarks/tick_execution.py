"""Tick execution (issue H): events/s of our replay alone and end to end (warehouse -> fills), against hftbacktest.

Usage::

    python benchmarks/tick_execution.py                      # 1M, 10M and 50M events
    python benchmarks/tick_execution.py --sizes 1M,10M --runs 3

The peer, hftbacktest 2.4.4, cannot share our venv (it pins numpy<2.3), so it runs in its own,
``.venv-hftbacktest`` (``make bench-peers`` makes it:
``python3 -m venv .venv-hftbacktest && .venv-hftbacktest/bin/pip install hftbacktest==2.4.4``);
without it this prints that command and measures ours alone.

**Events.** One symbol, a seeded synthetic feed: strictly increasing microsecond times (the
warehouse keeps microseconds), mean gap ``--gap-ms`` (50 ms: 1.7M events a day, 50M in 29 days);
75% BBO updates, 25% trades at the bid or the ask. A BBO update changes one side: its top
quantity, or (30%) its price by one cent (spread 1-5 cents). Ours reads each update as a full
top-of-book row; hftbacktest, whose depth is a map of levels, reads a quantity change as one row
and a price move as two (the new level, then the old one deleted), so it gets somewhat more rows
for the same events. Events/s are counted on the same events for both: wall time is what differs.

**Strategy.** At every minute of event time: buy 1 unit with a market order, the next minute
sell it (buy / flat), latency 1.0005 ms (half a microsecond off the event grid, so an order
never arrives at the time of an event). Ours: signals 1/0 on 1-minute bars (decided at each
bar's end; ``size_type=units``, ``direction=long_only``). hftbacktest: a numba strategy woken on
every event (``wait_next_feed`` with the time to the next minute as its timeout, so it also wakes
at the minute), submitting a market order at each minute (constant latency, no partial fills).
Both fill every order at the top of the book (quantities are >= 1); fill counts are compared,
and fill prices are checked against each engine's rule: hftbacktest fills at the book in force
when the order arrives, ours at the book in force at the first event at or after the active
time (a quote at that event counts), so prices differ exactly where that first event is a
quote that moves the side taken.

**Measured** (each in its own process, one after the other):

* ours, replay alone: the events of each chunk (2^20 events) in memory as the kernel's arrays,
  ``backtest.engine.ticks.replay`` over them; warm (the kernel compiled, or loaded from numba's
  cache, on a small replay first; compile excluded); median of ``--runs``;
* ours, streamed: the same replay with each chunk read from its ``.npz`` file when the replay
  reaches it: peak RSS (memory follows the chunk, not the size);
* ours, end to end: the events loaded into a fresh embedded warehouse (trades with
  ``load_ticks``, quotes with ``load_quotes``; load not timed, shown apart), then
  ``TickSource.replay`` (one day of trades and quotes read per window through ``Feed``, the
  replay on them, fills out); median of ``--e2e-runs``; peak RSS;
* hftbacktest: the same events as its event rows, in memory, ``HashMapMarketDepthBacktest``
  built and run to the end; warm (the numba strategy compiled on a small run first); median of
  ``--runs``; then once from its own storage, the ``.npy`` files (loaded as it goes).

Ratios: hftbacktest's wall time over ours (above 1: ours is faster): in memory against our replay
alone, and from its files against our end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tick_events import (INIT_CASH, LATENCY_NS, MINUTE_NS, SYMBOL, T0_NS, TICK, bar_signals, count_of, generate, label,
                         peak_rss_mib)

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = ROOT / ".venv-hftbacktest" / "bin" / "python"
PEER_SETUP = "python3 -m venv .venv-hftbacktest && .venv-hftbacktest/bin/pip install hftbacktest==2.4.4"


# ---------------------------------------------------------------- ours


def _engine():
    from backtest.engine.rules import EngineConfig

    return EngineConfig(execution="ticks", latency_ms=LATENCY_NS / 1e6, direction="long_only", size_type="units",
                        size=1.0, init_cash=INIT_CASH, close_at_end=False)


def _window(path: Path):
    from backtest.engine.kernels.tick_records import QuoteStream, TradeStream

    with np.load(path) as f:
        trades = TradeStream(f["t_ts"], np.zeros(f["t_ts"].shape[0], np.int64), f["t_price"], f["t_size"])
        quotes = QuoteStream(f["q_ts"], np.zeros(f["q_ts"].shape[0], np.int64),
                             *(np.ascontiguousarray(f[name][:, None]) for name in ("q_bid", "q_bid_qty", "q_ask",
                                                                                     "q_ask_qty")))
    return trades, quotes


def _warm_up() -> None:
    """Compile (or load from the cache) the replay on a few events of the same types."""
    from backtest.engine.kernels.tick_records import QuoteStream, TradeStream
    from backtest.engine.ticks import replay
    from strategies.indicators.events import SignalEvents

    ts = T0_NS + np.arange(1, 300, dtype=np.int64) * 10**9
    one = np.ones((ts.shape[0], 1))
    trades = TradeStream(ts + 1, np.zeros(ts.shape[0], np.int64), one[:, 0] * 100, one[:, 0])
    quotes = QuoteStream(ts, np.zeros(ts.shape[0], np.int64), one * 99.99, one, one * 100.01, one)
    signal = SignalEvents.from_dense(np.array([[1.0], [0.0], [1.0], [np.nan]]))
    replay(T0_NS + MINUTE_NS * np.arange(1, 5), signal, [(trades, quotes)], _engine(), symbols=(SYMBOL,))


def _fill_checks(result, windows) -> dict:
    """Each fill's price against the book in force just before its active time and at its fill time."""
    fills = result.fills
    active = fills["active"].cast(int).to_numpy()
    at = fills["ts"].cast(int).to_numpy()
    buy = fills["units"].to_numpy() > 0
    q_ts = np.concatenate([q.ts for _, q in windows])
    bid = np.concatenate([q.bid_px[:, 0] for _, q in windows])
    ask = np.concatenate([q.ask_px[:, 0] for _, q in windows])
    before = np.searchsorted(q_ts, active, "left") - 1  # the book when the order arrives
    in_force = np.searchsorted(q_ts, at, "right") - 1  # the book after the quotes of the fill's time
    book_before = np.where(buy, ask[before], bid[before])
    book_at_fill = np.where(buy, ask[in_force], bid[in_force])
    price = fills["price"].to_numpy()
    return {"ticks": np.round(price / TICK).astype(np.int64).tolist(),
            "before_ticks": np.round(book_before / TICK).astype(np.int64).tolist(),
            "ours_at_fill_book": int(np.count_nonzero(np.abs(price - book_at_fill) < 1e-9))}


def child_replay(directory: Path, runs: int) -> dict:
    """Ours, replay alone: every chunk in memory, the median of ``runs`` warm replays."""
    from backtest.engine.ticks import replay
    from strategies.indicators.events import SignalEvents

    meta = json.loads((directory / "meta.json").read_text())
    windows = [_window(path) for path in sorted(directory.glob("ours_*.npz"))]
    bar_end = T0_NS + MINUTE_NS * np.arange(1, meta["n_bars"] + 1)
    events = SignalEvents.from_dense(bar_signals(meta))
    _warm_up()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = replay(bar_end, events, windows, _engine(), symbols=(SYMBOL,))
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "times": times, "fills": result.fills.height,
            **_fill_checks(result, windows)}


def child_stream(directory: Path) -> dict:
    """Ours, streamed: each chunk read from its file when the replay reaches it; peak RSS."""
    from backtest.engine.ticks import replay
    from strategies.indicators.events import SignalEvents

    meta = json.loads((directory / "meta.json").read_text())
    bar_end = T0_NS + MINUTE_NS * np.arange(1, meta["n_bars"] + 1)
    _warm_up()
    start = time.perf_counter()
    result = replay(bar_end, SignalEvents.from_dense(bar_signals(meta)),
                    (_window(path) for path in sorted(directory.glob("ours_*.npz"))), _engine(), symbols=(SYMBOL,))
    return {"seconds": time.perf_counter() - start, "fills": result.fills.height, "rss_mib": peak_rss_mib()}


def _tables(directory: Path, what: str):
    """The chunks as Arrow tables for the warehouse loaders: ticks or quotes (level 1 only)."""
    import pyarrow as pa

    first = 0
    for path in sorted(directory.glob("ours_*.npz")):
        with np.load(path) as f:
            if what == "ticks":
                n = f["t_ts"].shape[0]
                columns = {"ts": pa.array(f["t_ts"] // 1000, pa.int64()).cast(pa.timestamp("us", "UTC")),
                           "price": f["t_price"], "size": f["t_size"],
                           "trade_id": pa.array(np.arange(first, first + n, dtype=np.uint64))}
            else:
                n = f["q_ts"].shape[0]
                columns = {"ts": pa.array(f["q_ts"] // 1000, pa.int64()).cast(pa.timestamp("us", "UTC")),
                           "seq": pa.array(np.arange(first, first + n, dtype=np.uint64)),
                           "bid_px_1": f["q_bid"], "bid_qty_1": f["q_bid_qty"],
                           "ask_px_1": f["q_ask"], "ask_qty_1": f["q_ask_qty"]}
        first += n
        yield pa.table({"symbol": pa.array([SYMBOL] * n, pa.string()), **columns})


def child_load(directory: Path) -> dict:
    """Load the events into a fresh embedded warehouse under ``directory/wh`` (not part of the end to end)."""
    from warehouse.client import close_embedded, connect
    from warehouse.ingest.files import load_ticks
    from warehouse.ingest.quotes import load_quotes
    from warehouse.schema.migrate import migrate

    client = connect(f"chdb://{directory / 'wh'}")
    migrate(client)
    start = time.perf_counter()
    ticks = load_ticks(client, _tables(directory, "ticks"), name="bench-trades", progress=False)
    middle = time.perf_counter()
    quotes = load_quotes(client, _tables(directory, "quotes"), name="bench-quotes", progress=False)
    end = time.perf_counter()
    close_embedded()
    return {"ticks_s": middle - start, "quotes_s": end - middle, "ticks": ticks.loaded, "quotes": quotes.loaded,
            "rejected": ticks.rejected + quotes.rejected}


def child_e2e(directory: Path, runs: int) -> dict:
    """Ours, end to end: ``TickSource.replay`` reading a day of trades and quotes per window; peak RSS."""
    from backtest.feed import BarArrays, Feed
    from backtest.runner import TickSource
    from strategies.indicators.events import SignalEvents
    from warehouse.client import connect

    meta = json.loads((directory / "meta.json").read_text())
    feed = Feed(connect(f"chdb://{directory / 'wh'}"))
    n = meta["n_bars"]
    index = (np.datetime64(T0_NS, "ns") + np.arange(n) * np.timedelta64(1, "m")).astype("datetime64[us]")
    ones = np.ones((n, 1))
    bars = BarArrays(index, (SYMBOL,), ones, ones, ones, ones, ones)
    events = SignalEvents.from_dense(bar_signals(meta))
    _warm_up()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = TickSource(feed, 60).replay(bars, events, _engine())
        times.append(time.perf_counter() - start)
    price = result.fills["price"].to_numpy()
    return {"seconds": statistics.median(times), "times": times, "fills": result.fills.height,
            "ticks": np.round(price / TICK).astype(np.int64).tolist(), "rss_mib": peak_rss_mib(),
            "quotes": hasattr(Feed, "quote_arrays")}


# ---------------------------------------------------------------- the run


def _peer(directory: Path, runs: int) -> dict:
    """hftbacktest's runs (this process is its venv's interpreter)."""
    from tick_execution_peer import child_peer

    return child_peer(directory, runs)


def _child(role: str, directory: Path, runs: int, *, python: Path | str = sys.executable) -> dict:
    """Run ``role`` in a fresh process; its last stdout line is its JSON answer."""
    command = [str(python), str(Path(__file__).resolve()), "--child", role, "--dir", str(directory),
               "--runs", str(runs)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)} if role != "peer" else None)
    if done.returncode != 0:
        raise RuntimeError(f"{role} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compare(ours: dict, peer: dict) -> str:
    """Fill counts, and fill prices against each engine's rule."""
    if ours["fills"] != peer["fills"]:
        return f"fills differ: ours {ours['fills']}, hftbacktest {peer['fills']}"
    mine, theirs, before = (np.array(x) for x in (ours["ticks"], peer["ticks"], ours["before_ticks"]))
    same = int(np.count_nonzero(mine == theirs))
    peer_rule = int(np.count_nonzero(theirs == before))
    return (f"{ours['fills']:,} fills each; same price {same:,}; hftbacktest = book at arrival {peer_rule:,}/"
            f"{len(theirs):,}; ours = book at its fill event {ours['ours_at_fill_book']:,}/{len(mine):,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M,50M", help="event counts, comma separated (default 1M,10M,50M)")
    parser.add_argument("--runs", type=int, default=3, help="timed replays per size, ours and hftbacktest (median)")
    parser.add_argument("--e2e-runs", type=int, default=3, help="timed end-to-end replays per size (median)")
    parser.add_argument("--gap-ms", type=float, default=50.0, help="mean time between events (ms)")
    parser.add_argument("--no-e2e", action="store_true", help="skip the warehouse load and the end to end")
    parser.add_argument("--workdir", help="where the events and warehouses go (default: a temporary folder)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        directory = Path(args.dir)
        roles = {"replay": lambda: child_replay(directory, args.runs), "stream": lambda: child_stream(directory),
                 "load": lambda: child_load(directory), "e2e": lambda: child_e2e(directory, args.runs),
                 "peer": lambda: _peer(directory, args.runs)}
        print(json.dumps(roles[args.child]()))
        return

    peer = PEER_PYTHON.exists()
    if not peer:
        print(f"hftbacktest: {PEER_PYTHON.relative_to(ROOT)} is missing; make it with `{PEER_SETUP}` "
              "(`make bench-peers`); measuring ours alone")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tick-bench-"))
    rows = []
    try:
        for n in (count_of(s) for s in args.sizes.split(",")):
            directory = work / label(n)
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
            started = time.perf_counter()
            meta = generate(directory, n, args.gap_ms)
            print(f"\n{label(n)} events: {meta['quotes']:,} BBO updates + {meta['trades']:,} trades over "
                  f"{meta['n_bars'] / 1440:.1f} days, {meta['n_orders']:,} orders; hftbacktest rows "
                  f"{meta['hbt_rows']:,} (generated in {time.perf_counter() - started:.1f} s)", flush=True)
            ours = _child("replay", directory, args.runs)
            print(f"  ours replay: {ours['seconds']:.3f} s (runs {', '.join(f'{t:.3f}' for t in ours['times'])}), "
                  f"{n / ours['seconds'] / 1e6:.1f}M events/s", flush=True)
            stream = _child("stream", directory, 1)
            print(f"  ours streamed from files: {stream['seconds']:.2f} s, peak RSS {stream['rss_mib']:,.0f} MiB",
                  flush=True)
            row = {"n": n, "meta": meta, "ours": ours, "stream": stream}
            if peer:
                theirs = _child("peer", directory, args.runs, python=PEER_PYTHON)
                row["peer"] = theirs
                print(f"  hftbacktest {theirs['version']}: {theirs['seconds']:.3f} s (runs "
                      f"{', '.join(f'{t:.3f}' for t in theirs['times'])}), {n / theirs['seconds'] / 1e6:.1f}M "
                      f"events/s ({meta['hbt_rows'] / theirs['seconds'] / 1e6:.1f}M rows/s)", flush=True)
                print(f"  hftbacktest from its .npy files (loaded as it goes): {theirs['files_s']:.3f} s, "
                      f"{n / theirs['files_s'] / 1e6:.1f}M events/s, fills {theirs['files_fills']:,}", flush=True)
                print(f"  check: {_compare(ours, theirs)}", flush=True)
            if not args.no_e2e:
                load = _child("load", directory, 1)
                print(f"  warehouse load (not timed below): {load['ticks']:,} trades in {load['ticks_s']:.1f} s, "
                      f"{load['quotes']:,} quotes in {load['quotes_s']:.1f} s, rejected {load['rejected']}",
                      flush=True)
                e2e = _child("e2e", directory, args.e2e_runs)
                row["e2e"] = e2e
                same = e2e["ticks"] == ours["ticks"]
                print(f"  ours end to end ({'trades and quotes' if e2e['quotes'] else 'trades only'}): "
                      f"{e2e['seconds']:.2f} s, {n / e2e['seconds'] / 1e6:.2f}M events/s, peak RSS "
                      f"{e2e['rss_mib']:,.0f} MiB; fills {e2e['fills']:,}, "
                      f"{'same prices as the replay alone' if same else 'prices differ from the replay alone'}",
                      flush=True)
            shutil.rmtree(directory, ignore_errors=True)
            rows.append(row)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    _table(rows, peer)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end; replay alone and hftbacktest warm (compile excluded), "
          f"median of {args.runs}" + ("" if args.no_e2e else f"; end to end median of {args.e2e_runs}"))


def _table(rows: list[dict], peer: bool) -> None:
    """One line per size: replay alone (ours, hftbacktest in memory), end to end (ours from the warehouse,
    hftbacktest from its .npy files), peak RSS, fills. A ratio is hftbacktest's time over ours."""
    def rate(n: int, seconds: float | None) -> str:
        return f"{n / seconds / 1e6:.1f}" if seconds else "-"

    def ratio(theirs: float | None, ours: float | None) -> str:
        return f"{theirs / ours:.2f}x" if theirs and ours else "-"

    head = ["events", "ours replay s", "M ev/s", "hbt s", "M ev/s", "ratio", "ours e2e s", "M ev/s",
            "hbt files s", "ratio e2e", "RSS streamed", "RSS e2e", "fills ours/hbt"]
    lines = [head]
    for row in rows:
        n, ours, theirs, e2e = row["n"], row["ours"], row.get("peer", {}), row.get("e2e", {})
        mine_s, their_s, e2e_s, files_s = ours["seconds"], theirs.get("seconds"), e2e.get("seconds"), \
            theirs.get("files_s")
        lines.append([label(n), f"{mine_s:.3f}", rate(n, mine_s), f"{their_s:.3f}" if their_s else "-",
                      rate(n, their_s), ratio(their_s, mine_s), f"{e2e_s:.2f}" if e2e_s else "-", rate(n, e2e_s),
                      f"{files_s:.2f}" if files_s else "-", ratio(files_s, e2e_s),
                      f"{row['stream']['rss_mib']:,.0f} MiB", f"{e2e['rss_mib']:,.0f} MiB" if e2e else "-",
                      f"{ours['fills']:,}/{theirs['fills']:,}" if theirs else f"{ours['fills']:,}/-"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    print()
    for line in lines:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths)))


if __name__ == "__main__":
    main()
