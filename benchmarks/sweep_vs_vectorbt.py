"""SMA-cross grid sweep: tickhouse vs vectorbt 1.2, side by side in one run.

Windows 5..100 step 5 (190 fast < slow pairs) on ``--bars`` 1-minute bars of
a seeded random walk, 0.1% fees, fills at the close, long-only (vectorbt's
default), all cash in. Each variant runs in its own subprocess (so its peak
RSS, VmHWM, is its own), is warmed up once untimed on a 20k-bar slice (JIT
compilation), then timed once on the full data. vectorbt: ``MA.run_combs`` +
``ma_crossed_above/below`` + ``Portfolio.from_signals`` + ``total_return``;
ours: :func:`backtest.sweep.local.sweep` with 1 and with 2 numba threads. The total
return of every set is compared between the two.

    python benchmarks/sweep_vs_vectorbt.py               # 1,000,000 bars (vectorbt needs ~11 GB)
    python benchmarks/sweep_vs_vectorbt.py --bars 100k
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WINDOWS = list(range(5, 105, 5))
FEES = 0.001
WARM_BARS = 20_000


def _count(text: str) -> int:
    """``1M``, ``100k`` or ``250000`` as an int."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def _close(n: int) -> np.ndarray:
    """A seeded geometric random walk of ``n`` 1-minute closes."""
    return 100 * np.exp(np.cumsum(np.random.default_rng(42).normal(0, 1e-3, n)))


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _ours(close: np.ndarray) -> dict[tuple[int, int], float]:
    from backtest.engine.simulate import EngineConfig
    from backtest.feed import BarArrays
    from backtest.sweep.local import sweep
    from backtest.sweep.spec import SweepSpec

    column = close[:, None]
    index = (np.datetime64("2024-01-01") + np.arange(len(close)) * np.timedelta64(1, "m")).astype("datetime64[us]")
    bars = BarArrays(index, ("X",), column, column, column, column, column)
    spec = SweepSpec(params={"fast": WINDOWS, "slow": WINDOWS}, metric="total_return", chunk=256)
    engine = EngineConfig(fill="close", fees_bps=FEES * 1e4, direction="long_only", close_at_end=False)
    frame = sweep(bars, "sma_cross", spec, engine).frame
    return {(f, s): r for f, s, r in frame.select("param_fast", "param_slow", "total_return").iter_rows()}


def _vectorbt(close: np.ndarray) -> dict[tuple[int, int], float]:
    import pandas as pd
    import vectorbt as vbt

    price = pd.Series(close, index=pd.date_range("2024-01-01", periods=len(close), freq="1min"))
    fast, slow = vbt.MA.run_combs(price, window=WINDOWS, r=2, short_names=["fast", "slow"])
    portfolio = vbt.Portfolio.from_signals(price, fast.ma_crossed_above(slow), fast.ma_crossed_below(slow),
                                           fees=FEES, freq="1min")
    return {(int(f), int(s)): float(r) for (f, s), r in portfolio.total_return().items()}


def child(variant: str, bars: int, threads: int, out: Path) -> None:
    """Run one variant warm, then timed; write wall time, peak RSS and per-set returns to ``out``."""
    import numba

    numba.set_num_threads(threads)
    work = _ours if variant == "ours" else _vectorbt
    close = _close(bars)
    work(close[:WARM_BARS])
    started = time.perf_counter()
    returns = work(close)
    wall = time.perf_counter() - started
    out.write_text(json.dumps({"wall": wall, "rss": _peak_rss_mib(),
                               "returns": [[f, s, r] for (f, s), r in sorted(returns.items())]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=_count, default=1_000_000)
    parser.add_argument("--child", choices=("ours", "vectorbt"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.bars, args.threads, args.out)
        return

    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, variant, threads in (("vectorbt 1.2 (from_signals)", "vectorbt", 2),
                                        ("tickhouse sweep, 1 core", "ours", 1),
                                        ("tickhouse sweep, 2 cores", "ours", 2)):
            out = Path(tmp) / f"{variant}-{threads}.json"
            subprocess.run([sys.executable, __file__, "--child", variant, "--bars", str(args.bars), "--threads",
                            str(threads), "--out", str(out)], check=True)
            runs[label] = json.loads(out.read_text())
    peer = runs["vectorbt 1.2 (from_signals)"]
    sets = len(peer["returns"])
    print(f"SMA-cross grid, windows 5..100 step 5: {sets} sets x {args.bars:,} bars, fees {FEES:.1%}, close fills\n")
    print("| variant | wall s | peak RSS MiB | bar-sets/s | x vectorbt speed |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, result in runs.items():
        print(f"| {label} | {result['wall']:.2f} | {result['rss']:,.0f} | {sets * args.bars / result['wall']:,.0f} | "
              f"{peer['wall'] / result['wall']:.1f} |")
    theirs = np.array([r for _, _, r in peer["returns"]])
    for label in ("tickhouse sweep, 1 core", "tickhouse sweep, 2 cores"):
        ours = runs[label]["returns"]
        assert [(f, s) for f, s, _ in ours] == [(f, s) for f, s, _ in peer["returns"]], "different sets"
        rel = np.abs(np.array([r for _, _, r in ours]) - theirs) / np.maximum(np.abs(theirs), 1e-300)
        print(f"\n{label}: total return per set vs vectorbt: max relative difference {rel.max():.2e}, "
              f"{int((rel > 1e-9).sum())} of {sets} sets above 1e-9")


if __name__ == "__main__":
    main()
