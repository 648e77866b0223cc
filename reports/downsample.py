"""Which points of a long series to draw so the picture stays exact at a given width (M4).

For every pixel column (bucket of consecutive x positions) M4 keeps the first,
last, lowest and highest point: a line through them rasterises like the full
series, so a one-bar spike among millions of bars still shows. Missing values
(NaN) are skipped; the kept positions come back sorted and unique.

>>> import numpy as np
>>> y = np.zeros(1000); y[517] = 9.0
>>> keep = m4(y, 10)
>>> len(keep) <= 40, 517 in keep, 0 in keep, 999 in keep
(True, True, True, True)
"""

from __future__ import annotations

import numpy as np


def m4(values: np.ndarray, buckets: int) -> np.ndarray:
    """Positions of ``values`` to keep: first, last, min and max of each of ``buckets`` equal x-ranges."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(values))
    if len(finite) <= 4 * buckets:
        return finite
    bucket = finite * buckets // len(values)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(finite)] - 1
    order = np.lexsort((values[finite], bucket))
    kept = np.concatenate([finite[starts], finite[ends], finite[order[starts]], finite[order[ends]]])
    return np.unique(kept)


def bucket_extremes(low: np.ndarray, high: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bucket of equal x-range: centre position, lowest ``low`` and highest ``high`` (NaN ignored).

    >>> centre, lo, hi = bucket_extremes(np.arange(8.0), np.arange(8.0) + 1, 2)
    >>> centre.tolist(), lo.tolist(), hi.tolist()
    ([1.5, 5.5], [0.0, 4.0], [4.0, 8.0])
    """
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    edges = np.unique(np.linspace(0, len(low), min(buckets, len(low)) + 1).astype(np.int64))
    starts = edges[:-1]
    with np.errstate(invalid="ignore"):
        lo = np.fmin.reduceat(low, starts) if len(starts) else low[:0]
        hi = np.fmax.reduceat(high, starts) if len(starts) else high[:0]
    centre = (edges[:-1] + edges[1:] - 1) / 2.0
    return centre, lo, hi
