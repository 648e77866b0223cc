"""The one private numba option the engine kernels use, kept here alone: ``_nrt=False``.

``_nrt`` is not part of numba's public API. With numba's default reference
counting, the bar loop pays an atomic increment and decrement of an array's
meminfo wherever an array changes hands: the price and book records passed by
name to its pieces, the price array of the current stage. Measured with
``benchmarks/engine_vs_peers.py --child ours`` (1M bars, simulation only) and
``benchmarks/sweep_vs_vectorbt.py --child ours`` (190 sets x 1M bars, one
thread), medians of 5 interleaved runs on a shared 2-core machine:

=========================  ==============  =================
kernels                    with ``_nrt``   without (public)
=========================  ==============  =================
these (records by name)    8.4 ms, 1.42 s  24.9 ms, 2.44 s
before (24 positional)     7.6 ms, 1.41 s  9.2 ms, 1.62 s
=========================  ==============  =================

so the option is worth x3.0 on a single run and x1.7 on a sweep today.
A function compiled with it must not allocate arrays or return new
ones: :func:`~backtest.engine.kernels.loop.simulate_into_nb` writes into
buffers its caller owns.

``tests/unit/test_engine_numba_options.py`` checks that numba still honours
the option (no ``NRT_incref`` in the LLVM IR of a function compiled with it,
some without it); if numba drops or renames it, that test fails and names this
file. Removing the option costs speed only, never results: replace
:data:`NO_REFCOUNTS` by :data:`PUBLIC` to run on public options alone.
"""

from __future__ import annotations

PUBLIC: dict[str, object] = {"nogil": True, "error_model": "numpy"}
"""Options of the bar loop: the GIL released, divisions without Python's zero checks (divisors are
prices, sizes and equity, all positive)."""

NO_REFCOUNTS: dict[str, object] = {**PUBLIC, "_nrt": False}
""":data:`PUBLIC` plus numba's private ``_nrt=False``: no reference counting inside the function."""
