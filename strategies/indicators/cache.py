"""The memo through which strategies compute indicators, so a sweep computes each distinct one once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np


class IndicatorCache:
    """Memo of indicator results for one data set, keyed by function, input arrays and arguments.

    Only inputs the cache *knows* are keyed: the data arrays it was given
    (``IndicatorCache(close, high, ...)`` or :meth:`know`) and every array it
    produced. An array computed elsewhere (``close * 2``) has no stable
    identity, so a call on it is computed and not stored: a sweep can never
    pile up one entry per parameter set, and no identity is ever reused for
    other data while an entry refers to it (the cache holds what it knows).

    >>> from strategies.indicators.windows import sma_nb
    >>> close = np.arange(1.0, 6.0)[:, None]
    >>> cache = IndicatorCache(close)
    >>> cache(sma_nb, close, 3) is cache(sma_nb, close, 3), len(cache)
    (True, 1)
    >>> cache(sma_nb, close * 2, 3) is cache(sma_nb, close * 2, 3), len(cache)
    (False, 1)
    """

    def __init__(self, *arrays: np.ndarray) -> None:
        self._results: dict[tuple, Any] = {}
        self._known: dict[int, np.ndarray] = {}
        self._lock = threading.RLock()  # sweeps compute signals on several threads; composites nest calls
        self.know(*arrays)

    def know(self, *arrays: np.ndarray) -> None:
        """Let ``arrays`` be keyed by identity (the data every parameter set reads)."""
        with self._lock:
            for array in arrays:
                if isinstance(array, np.ndarray):
                    self._known[id(array)] = array

    def knows(self, array: object) -> bool:
        """Whether ``array`` is one of the data arrays or results of this cache."""
        return isinstance(array, np.ndarray) and self._known.get(id(array)) is array

    def __call__(self, function: Callable[..., Any], *args: object) -> Any:
        """``function(*args)``, computed on the first call only when every array argument is known."""
        if not all(self.knows(a) for a in args if isinstance(a, np.ndarray)):
            return function(*args)
        key = (getattr(function, "__qualname__", repr(function)),
               tuple(("array", id(a)) if isinstance(a, np.ndarray) else a for a in args))
        with self._lock:
            if key not in self._results:
                result = function(*args)
                self._results[key] = result
                self.know(*(result if isinstance(result, tuple) else (result,)))
            return self._results[key]

    def __len__(self) -> int:
        return len(self._results)

    def __bool__(self) -> bool:
        """Always true, so ``cache or IndicatorCache()`` keeps a shared cache that is still empty."""
        return True

    @property
    def nbytes(self) -> int:
        """Memory held by the cached arrays."""
        return sum(a.nbytes for result in self._results.values()
                   for a in (result if isinstance(result, tuple) else (result,)) if isinstance(a, np.ndarray))
