"""Numba kernels of the demo tick generator (``warehouse.demo.generate``): numpy arrays in, numpy arrays out.

Both kernels are sequential recursions (self-exciting arrivals, GARCH variance)
that numpy cannot vectorise. Their state arrays are advanced in place so the
next chunk of the stream continues where the last one stopped.

>>> import numpy as np
>>> state = np.zeros(2)
>>> times = hawkes_times_nb(np.ones(3), 1.0, 0.0, 1.0, state)
>>> times.tolist(), state.tolist()
([1.0, 2.0, 3.0], [3.0, 0.0])
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def hawkes_times_nb(exp_draws, base, jump, decay, state):
    """Event times of a self-exciting process: intensity ``base + x``, ``x`` jumps by ``jump``
    at each event and decays at rate ``decay``; ``state = [time, x]`` is advanced in place.

    The first event doubles the intensity, so the same draw gives half the gap next:

    >>> import numpy as np
    >>> hawkes_times_nb(np.array([1.0, 1.0]), 1.0, 1.0, 0.0, np.zeros(2)).tolist()
    [1.0, 1.5]
    """
    t = state[0]
    x = state[1]
    out = np.empty(exp_draws.shape[0])
    for i in range(exp_draws.shape[0]):
        gap = exp_draws[i] / (base + x)
        t += gap
        x = x * np.exp(-decay * gap) + jump
        out[i] = t
    state[0] = t
    state[1] = x
    return out


@njit(cache=True)
def trades_nb(codes, shocks, flips, day, gaps, log_level, revert, omega, alpha, beta, stick, half_spread,
              log_mid, var, last_day, side, next_id):
    """Price (cents), side and trade id of each trade of symbol ``codes[i]`` on session ``day[i]``.

    Per symbol: the log mid moves by ``sqrt(var) * shocks[i]`` (GARCH(1,1) variance
    ``omega + alpha * r**2 + beta * var``) with a slow pull to ``log_level`` and an
    overnight ``gaps[day - day[0]]`` on a new day; the side flips when ``flips[i] >= stick``;
    the trade prints at mid +- ``half_spread`` (relative, at least half a cent).
    ``log_mid, var, last_day, side, next_id`` are the per-symbol state, advanced in place.

    >>> import numpy as np
    >>> one = np.ones(1)
    >>> cents, sides, ids = trades_nb(np.zeros(2, np.int32), np.zeros(2), np.zeros(2), np.zeros(2, np.int64),
    ...     np.zeros((1, 1)), np.log(one * 100), one * 0, one * 1e-8, 0.0, 0.0, 0.5, 1e-4,
    ...     np.log(one * 100), one * 1e-8, np.full(1, -1), np.ones(1, np.int8), np.ones(1, np.uint64))
    >>> cents.tolist(), sides.tolist(), ids.tolist()
    ([10001, 10001], [1, 1], [1, 2])
    """
    n = codes.shape[0]
    cents = np.empty(n, np.int64)
    sides = np.empty(n, np.int8)
    ids = np.empty(n, np.uint64)
    for i in range(n):
        s = codes[i]
        if day[i] != last_day[s]:
            if last_day[s] >= 0:
                log_mid[s] += gaps[day[i] - day[0], s]
            last_day[s] = day[i]
        r = np.sqrt(var[s]) * shocks[i]
        log_mid[s] += r - revert[s] * (log_mid[s] - log_level[s])
        var[s] = omega[s] + alpha * r * r + beta * var[s]
        if flips[i] >= stick:
            side[s] = -side[s]
        mid = np.exp(log_mid[s]) * 100.0
        cents[i] = max(1, np.int64(np.round(mid + side[s] * max(0.5, mid * half_spread))))
        sides[i] = side[s]
        ids[i] = next_id[s]
        next_id[s] += 1
    return cents, sides, ids
