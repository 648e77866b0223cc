"""Sweep chunks on Dask workers (``sweep.executor=dask``).

Dask is the ``dask`` extra (``pip install 'tickhouse[dask]'``): it is imported only
here, when a sweep asks for it, and without it the sweep stops with
:data:`MISSING_EXTRA` as its one-line error.

Why Dask rather than Ray: it is pure pip, needs no
daemon or head node for a local run (``LocalCluster`` in-process, which the
tests use), and its scheduler ships numpy arrays to workers directly -- which
is what the embedded warehouse needs, since a chDB directory can be opened by
one process only: the driver reads the bars once and every worker receives
them (``scatter(broadcast=True)``). Each worker keeps the indicators it has
computed for those bars across its chunks.

Chunks are sent as the sets are enumerated, a few per worker thread in
flight, and come back in order, so the driver never holds the whole sweep.

``sweep.address`` names a running scheduler (``tcp://host:8786``); without it a
``LocalCluster`` of ``sweep.workers`` single-threaded processes is started for
the sweep and closed after it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from backtest.engine.simulate import EngineConfig
from backtest.errors import BacktestError
from backtest.feed import BarArrays
from backtest.sweep.chunk import evaluate_chunk
from backtest.sweep.spec import Sets, SweepSpec
from strategies import Indicators, Strategy

MISSING_EXTRA = "sweep.executor=dask needs the dask extra: pip install 'tickhouse[dask]'"
_WORKER_CACHE: dict[str, Any] = {}


def _evaluate_task(bars: BarArrays, params: Sequence[Strategy], engine: EngineConfig) -> np.ndarray:
    """One chunk on a worker; indicators are reused across the chunks of the same bars object."""
    if _WORKER_CACHE.get("bars") is not bars:  # holding the bars keeps the cache's array identities valid
        _WORKER_CACHE.clear()
        _WORKER_CACHE.update(bars=bars, indicators=Indicators(bars, shared=True))
    return evaluate_chunk(bars, params, engine, _WORKER_CACHE["indicators"])


def evaluate_on_dask(bars: BarArrays, chunks: Iterable[Sets], engine: EngineConfig,
                     spec: SweepSpec) -> Iterator[tuple[Sets, np.ndarray]]:
    """Each chunk with its sets' statistics, in order, computed on Dask workers (checks the extra at once)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise BacktestError(MISSING_EXTRA) from None

    def results() -> Iterator[tuple[Sets, np.ndarray]]:
        cluster = None
        try:
            if spec.address:
                client = Client(spec.address, timeout="10s")
            else:
                cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"})
                client = Client(cluster)
        except (OSError, TimeoutError) as exc:
            raise BacktestError(f"sweep.address: cannot reach a Dask scheduler at {spec.address!r} ({exc})") from None
        try:
            shared = client.scatter(bars, broadcast=True)
            window = 4 * max(sum(client.nthreads().values()), 1)
            flight: deque = deque()
            for chunk in chunks:
                flight.append((chunk, client.submit(_evaluate_task, shared, [s.params for s in chunk.valid], engine,
                                                    pure=False)))
                if len(flight) >= window:
                    done, future = flight.popleft()
                    yield done, future.result()
            while flight:
                done, future = flight.popleft()
                yield done, future.result()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    return results()
