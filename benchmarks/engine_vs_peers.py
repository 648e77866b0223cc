"""One SMA-cross backtest on 1M bars: tickhouse vs vectorbt vs backtesting.py, side by side in one run.

Data: ``--bars`` 1-minute OHLC bars of a seeded random walk; SMA 10/30
crossover, long and short, no fees (so every engine keeps trading
the same crossings to the end: with 0.1% fees the ~40k round trips of a
random walk leave dust that peers stop trading at different points), all
equity in. Every variant runs in its
own subprocess:

* ours, compile: a fresh process with an empty numba cache, first call (the
  JIT compile), then a second fresh process on that cache (what every later
  ``python -m backtest`` pays), then the warm median of 10 calls of what
  ``python -m backtest`` does: the strategy's signal events (both SMAs and
  the crossings) + the simulation with its trade/order frames, also shown
  apart (vectorbt's time below excludes its signals);
* vectorbt 1.2: ``Portfolio.from_signals`` on the same crossings (close
  fills), warmed up on 20k bars, then the median of 3;
* backtesting.py: its ``SmaCross`` example strategy (``crossover`` +
  ``position.close()`` + ``buy``/``sell``), one timed run (it is a Python loop
  over bars; ``--bt-bars`` caps its data when 1M is too slow).

``--cli`` also times ``python -m backtest +strategy=sma_cross`` end to end on
the demo warehouse (second of two runs, warm cache).

    python benchmarks/engine_vs_peers.py
    python benchmarks/engine_vs_peers.py --bars 200k --bt-bars 200k --cli
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FAST, SLOW, FEES = 10, 30, 0.0  # with fees, ~40k round trips drain a random walk's account to dust
ROOT = Path(__file__).resolve().parents[1]


def _count(text: str) -> int:
    """``1M``, ``100k`` or ``250000`` as an int."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def _ohlc(n: int) -> tuple[np.ndarray, ...]:
    """Seeded random-walk OHLC arrays of ``n`` bars."""
    rng = np.random.default_rng(42)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 5e-4, n))
    return open_, np.maximum(open_, close) * (1 + spread), np.minimum(open_, close) * (1 - spread), close


def _ours(n: int, repeats: int) -> dict:
    import strategies
    from backtest.engine.simulate import EngineConfig, run
    from backtest.feed import BarArrays

    o, h, lo, c = (a[:, None] for a in _ohlc(n))
    index = (np.datetime64("2024-01-01") + np.arange(n) * np.timedelta64(1, "m")).astype("datetime64[us]")
    bars = BarArrays(index, ("X",), o, h, lo, c, np.ones_like(c))
    strategy = strategies.find("sma_cross")(fast=FAST, slow=SLOW)
    config = EngineConfig(fees_bps=FEES * 1e4)
    signal_s, simulation_s, totals = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        events = strategies.signal_events(strategy, bars, strategies.Indicators(bars))  # what python -m backtest does
        middle = time.perf_counter()
        result = run(o, h, lo, c, events, config)
        trades = result.trades.height  # the frames are part of the result
        end = time.perf_counter()
        signal_s.append(middle - start)
        simulation_s.append(end - middle)
        totals.append(end - start)
    tail = slice(1, None) if repeats > 1 else slice(None)
    return {"first_s": totals[0], "median_ms": 1e3 * statistics.median(totals[tail]),
            "signals_ms": 1e3 * statistics.median(signal_s[tail]),
            "simulation_ms": 1e3 * statistics.median(simulation_s[tail]),
            "trades": trades, "final": float(result.equity[-1])}


def _vectorbt(n: int) -> dict:
    import pandas as pd
    import vectorbt as vbt

    def once(length: int) -> tuple[float, int]:
        close = pd.Series(_ohlc(length)[3])
        fast, slow = close.rolling(FAST).mean(), close.rolling(SLOW).mean()
        up = (fast > slow) & (fast.shift() < slow.shift())
        down = (fast < slow) & (fast.shift() > slow.shift())
        start = time.perf_counter()
        portfolio = vbt.Portfolio.from_signals(close, entries=up, exits=down, short_entries=down, short_exits=up,
                                               fees=FEES, freq="1min")
        trades = portfolio.trades.count()
        return time.perf_counter() - start, int(trades)

    once(20_000)
    runs = [once(n) for _ in range(3)]
    return {"median_ms": 1e3 * statistics.median(t for t, _ in runs), "trades": runs[0][1]}


def _backtesting(n: int) -> dict:
    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    o, h, lo, c = _ohlc(n)
    frame = pd.DataFrame({"Open": o, "High": h, "Low": lo, "Close": c, "Volume": 1.0},
                         index=pd.date_range("2024-01-01", periods=n, freq="1min"))

    class SmaCross(Strategy):
        def init(self):
            self.fast = self.I(SMA, self.data.Close, FAST)
            self.slow = self.I(SMA, self.data.Close, SLOW)

        def next(self):
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()
                self.sell()

    start = time.perf_counter()
    stats = Backtest(frame, SmaCross, cash=1_000_000, commission=FEES).run()
    return {"median_ms": 1e3 * (time.perf_counter() - start), "trades": int(stats["# Trades"])}


def _child(kind: str, n: int) -> dict:
    """Run one variant in a subprocess; its JSON result."""
    env = dict(os.environ)
    if kind.startswith("ours"):
        env["NUMBA_CACHE_DIR"] = _child.cache_dir
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--bars", str(n)], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cli_seconds() -> float:
    """Wall time of ``python -m backtest +strategy=sma_cross`` on the demo warehouse, warm (second run)."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "backtest", "+strategy=sma_cross", f"hydra.run.dir={out}/run"]
        for attempt in range(2):
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            elapsed = time.perf_counter() - start
            if done.returncode:
                raise SystemExit(f"python -m backtest failed (run `make run` first?):\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", default="1M")
    parser.add_argument("--bt-bars", default=None, help="bars for backtesting.py (default: --bars)")
    parser.add_argument("--cli", action="store_true", help="also time python -m backtest end to end")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = _count(args.bars)
    if args.child:
        result = {"ours": lambda: _ours(n, 11), "ours-first": lambda: _ours(n, 1), "vectorbt": lambda: _vectorbt(n),
                  "backtesting": lambda: _backtesting(n)}[args.child]()
        print(json.dumps(result))
        return

    bt_n = _count(args.bt_bars) if args.bt_bars else n
    with tempfile.TemporaryDirectory() as cache:
        _child.cache_dir = cache
        cold = _child("ours-first", n)
        cached = _child("ours-first", n)
        ours = _child("ours", n)
    vbt = _child("vectorbt", n)
    bt = _child("backtesting", bt_n)
    bt_per_million = bt["median_ms"] * 1_000_000 / bt_n
    ours_per_million = ours["median_ms"] * 1_000_000 / n

    print(f"SMA {FAST}/{SLOW} cross, long+short, fees {FEES:.1%}, {n:,} bars (backtesting.py: {bt_n:,})")
    print(f"ours: first call {cold['first_s']:.2f} s with an empty numba cache (compile), "
          f"{cached['first_s']:.2f} s in a new process on the cache; warm: signals {ours['signals_ms']:.1f} ms + "
          f"simulation {ours['simulation_ms']:.1f} ms (medians)")
    print(f"{'engine':<16}{'bars':>12}{'ms':>12}{'ms per 1M bars':>16}{'trades':>9}{'x ours':>9}")
    rows = [("tickhouse", n, ours["median_ms"], ours_per_million, ours["trades"]),
            ("vectorbt 1.2", n, vbt["median_ms"], vbt["median_ms"] * 1_000_000 / n, vbt["trades"]),
            ("backtesting.py", bt_n, bt["median_ms"], bt_per_million, bt["trades"])]
    for name, bars, ms, per_million, trades in rows:
        print(f"{name:<16}{bars:>12,}{ms:>12,.1f}{per_million:>16,.1f}{trades:>9,}{per_million / ours_per_million:>9.1f}")
    if args.cli:
        print(f"python -m backtest +strategy=sma_cross on the demo data, warm cache: {_cli_seconds():.2f} s wall")


if __name__ == "__main__":
    main()
