"""One grid sweep on the local executor and on a Dask ``LocalCluster``: same sets, same numbers, the time each.

Usage: python benchmarks/sweep_dask.py [--bars 200k] [--workers 2] [--repeat 3]

The grid: SMA cross, fast 5..195 step 5 x slow 10..390 step 10 (the sets with fast < slow), on
``--bars`` 1-minute bars of a seeded random walk, 0.1% fees, fills at the close. Timed, median
of ``--repeat`` after one untimed warm-up each (JIT compilation, worker start-up):

* local - ``sweep.executor=local``: the chunks in this process on numba's threads (all cores);
* dask, running cluster - ``sweep.executor=dask sweep.address=...``: a ``LocalCluster`` of
  ``--workers`` single-threaded worker processes started once by this script (as a real cluster
  would be running), the bars scattered to every worker, one task per chunk;
* dask, cluster per sweep - without ``sweep.address`` (what ``python -m backtest`` does): the
  same, with the cluster's start and stop inside the time.
With ``--address tcp://host:8786`` the first dask line uses that scheduler instead.

The statistics of every set must be identical between the two (checked).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from backtest.engine.simulate import EngineConfig
from backtest.feed import BarArrays
from backtest.sweep.local import sweep
from backtest.sweep.spec import SweepSpec

PARAMS = {"fast": "range(5,200,5)", "slow": "range(10,400,10)"}


def _count(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def _bars(n: int) -> BarArrays:
    rng = np.random.default_rng(11)
    close = (100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n))))[:, None]
    index = (np.datetime64("2024-01-02T14:30") + np.arange(n).astype("timedelta64[m]")).astype("datetime64[us]")
    return BarArrays(index, ("X",), close, close, close, close, np.ones_like(close))


def _timed(bars: BarArrays, spec: SweepSpec, engine: EngineConfig, repeat: int):
    sweep(bars.__class__(bars.index[:5_000], bars.symbols, *(a[:5_000] for a in bars[2:])), "sma_cross", spec, engine)
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = sweep(bars, "sma_cross", spec, engine)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", default="200k")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--address", help="a running Dask scheduler (default: a LocalCluster per sweep)")
    args = parser.parse_args()
    bars, engine = _bars(_count(args.bars)), EngineConfig(fill="close", fees_bps=10)
    local_s, local = _timed(bars, SweepSpec(params=PARAMS, metric="total_return"), engine, args.repeat)
    from distributed import LocalCluster

    cluster = None if args.address else LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                                      dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"})
    try:
        address = args.address or cluster.scheduler_address
        running_s, running = _timed(bars, SweepSpec(params=PARAMS, metric="total_return", executor="dask",
                                                    address=address), engine, args.repeat)
    finally:
        if cluster is not None:
            cluster.close()
    per_sweep_s, per_sweep = _timed(bars, SweepSpec(params=PARAMS, metric="total_return", executor="dask",
                                                    workers=args.workers), engine, args.repeat)
    for other in (running, per_sweep):
        assert local.frame.equals(other.frame), "a Dask sweep's statistics differ from the local one's"
    sets, n = local.frame.height, bars.close.shape[0]
    workers = f"{args.workers} processes x 1 thread"
    print(f"{sets:,} sets x {n:,} bars = {sets * n:,} bar-sets; identical statistics on every executor")
    print("| executor | median s | bar-sets/s | sets/s | time / local |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, seconds in (("local (numba threads, all cores)", local_s),
                          (f"dask, running cluster ({args.address or 'LocalCluster, ' + workers})", running_s),
                          (f"dask, LocalCluster per sweep ({workers}, start included)", per_sweep_s)):
        print(f"| {name} | {seconds:.2f} | {sets * n / seconds:,.0f} | {sets / seconds:,.0f} | "
              f"{seconds / local_s:.2f}x |")
    print(f"median of {args.repeat} after one warm-up each")


if __name__ == "__main__":
    main()
