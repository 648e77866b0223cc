"""The numba options of the stream kernels, all public: :data:`KERNEL` and :data:`INLINED`.

The JSON decoder and the RESP parser call a dozen small helpers per message, each
with the batch's buffer. Compiled as separate functions (numba's default), every such
call increments and decrements the array's reference count, atomically: that was most
of the time. Helpers compiled with :data:`INLINED` (numba's documented
``inline="always"``) are inlined into their kernel at numba's IR level, where those
reference-count pairs vanish. Measured (``python benchmarks/stream_ingest.py --kernels
--ticks 1M``, median of 7, load 0.01): decode 215 -> 140 ns a message, reply parsing
86 -> 60 ns an entry. This replaced numba's private ``_nrt=False`` (131 and 36 ns: about
the same for decoding, 24 ns an entry faster for parsing, i.e. ~50 ms on 2M entries of
a ~5 s ingest), so no private numba API is used. The price: the first compile
(once, then cached on disk) takes about 8 s instead of 4.
"""

from __future__ import annotations

KERNEL: dict[str, object] = {"cache": True, "nogil": True}
"""Every stream kernel: compiled once and cached on disk, the GIL released."""

INLINED: dict[str, object] = {**KERNEL, "inline": "always"}
"""Helpers that take the batch's arrays: inlined into the kernels that call them."""
