"""Cached kernels stay fresh when a kernel file they compile in changes, with public numba alone.

numba stamps a cached function with its own source file only ("cache
invalidation fails to recognize changes in symbols defined in a different
file", numba's notes on caching), but an entry point such as
:func:`~backtest.engine.kernels.loop.simulate_into_nb` compiles helpers and
constants from the other kernel files into itself, and the sweep kernel
compiles in the whole bar loop. So each cached entry point is built by a
small factory as a closure over :data:`STAMP`, a digest of every kernel
source file: numba keys a cached closure on the values it closes over (since
numba 0.51, numba PR #6097), so an edit of any kernel file gives every entry
point a new cache key and it compiles afresh::

    def _compile(stamp: int):
        @njit(cache=True)
        def kernel_nb(...):
            stamp  # ties this cache entry to the kernel sources
            ...
        return kernel_nb

    kernel_nb = _compile(STAMP)

``tests/unit/test_engine_cache_stamp.py`` checks that numba still keys cached
closures on their values: if a numba release stops doing so, it fails and
names this file.

>>> 0 <= STAMP < 2 ** 60
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

KERNEL_SOURCES: tuple[Path, ...] = (
    *sorted(Path(__file__).resolve().parent.glob("*.py")),
    Path(__file__).resolve().parents[1] / "modes.py",
)
"""Every file whose code or constants the engine's cached kernels compile in."""


def sources_stamp(paths: Iterable[Path]) -> int:
    """A 60-bit digest of the files' contents (an int: numba keeps it as a constant).

    >>> sources_stamp([Path(__file__)]) == sources_stamp([Path(__file__)])
    True
    """
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return int(digest.hexdigest()[:15], 16)


STAMP: int = sources_stamp(KERNEL_SOURCES)
"""The digest of :data:`KERNEL_SOURCES` at import time."""
