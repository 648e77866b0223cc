"""The memo through which strategies compute indicators, so a sweep computes each distinct one once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np


class IndicatorCache:
    """Memo of indicator arrays keyed by kernel, input array identity and arguments.

    Array arguments (several inputs, e.g. high and low) are keyed by identity
    too; the cache holds on to its inputs so no identity is ever reused for
    different data while an entry refers to it.

    >>> from strategies.indicators.windows import sma_nb
    >>> cache = IndicatorCache()
    >>> close = np.arange(1.0, 6.0)[:, None]
    >>> cache(sma_nb, close, 3) is cache(sma_nb, close, 3), len(cache)
    (True, 1)
    """

    def __init__(self) -> None:
        self._arrays: dict[tuple, np.ndarray] = {}
        self._inputs: list[tuple] = []
        self._lock = threading.Lock()  # sweeps compute signals on several threads

    def __call__(self, kernel: Callable[..., np.ndarray], values: np.ndarray, *args: object) -> np.ndarray:
        """``kernel(values, *args)``, computed on the first call only."""
        key = (getattr(kernel, "__qualname__", repr(kernel)), id(values),
               tuple(("array", id(a)) if isinstance(a, np.ndarray) else a for a in args))
        with self._lock:
            if key not in self._arrays:
                self._arrays[key] = kernel(values, *args)
                self._inputs.append((values, args))  # keeps the ids in the keys from being reused
            return self._arrays[key]

    def __len__(self) -> int:
        return len(self._arrays)

    def __bool__(self) -> bool:
        """Always true, so ``cache or IndicatorCache()`` keeps a shared cache that is still empty."""
        return True

    @property
    def nbytes(self) -> int:
        """Memory held by the cached arrays."""
        return sum(a.nbytes for a in self._arrays.values())
