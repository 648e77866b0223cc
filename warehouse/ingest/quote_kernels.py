"""Numba kernels of the quote writer (:mod:`warehouse.ingest.quote_rollup`): numpy arrays in, numpy arrays out.

Quotes are ``(code, ts, seq)`` sorted, ``code`` a symbol's position in the batch's sorted symbols,
``ts`` in microseconds; their values are the columns of :data:`VALUES`. :func:`merge_nb` merges the
stored quotes of a window with a batch into the deduplicated sequence (a batch row replaces the stored
row of its identity, as ``ReplacingMergeTree`` keeps the last one inserted); :func:`minutes_nb` turns
that sequence into the ``quotes_1m`` rows of the minutes a batch touched.

>>> import numpy as np
>>> a = (np.zeros(2, np.int32), np.array([0, 60_000_000]), np.zeros(2, np.uint64), np.ones((2, 7)))
>>> b = (np.zeros(1, np.int32), np.array([60_000_000]), np.zeros(1, np.uint64), np.full((1, 7), 2.0))
>>> code, ts, values, touched, repeats = merge_nb(*a, *b)
>>> ts.tolist(), values[:, 0].tolist(), touched.tolist(), repeats
([0, 60000000], [1.0, 2.0], [False, True], 1)
"""

from __future__ import annotations

import numpy as np
from numba import njit

VALUES = ("bid", "ask", "bid_qty", "ask_qty", "bid_depth", "ask_depth", "oi")
"""The value columns the rollup reads: top of book, its quantities, the 5 levels' summed quantities, OI."""
MINUTE_US = 60_000_000
OUTPUTS = ("quotes", "crossed", "last_ts", "last_bid", "last_ask", "last_bid_qty", "last_ask_qty", "mean_spread",
           "tw_spread", "spread_seconds", "last_oi", "imbalance", "mean_imbalance")
"""The ``quotes_1m`` columns :func:`minutes_nb` computes (besides symbol and minute), in its output's order."""


@njit(cache=True, nogil=True)
def values_nb(order, columns):
    """The :data:`VALUES` of each row in ``order``, as a ``(n, 7)`` array, from a tuple of 13 float64 columns:
    ``bid_px_1, ask_px_1, bid_qty_1..5, ask_qty_1..5, oi`` (the depth sums are added up here).

    >>> import numpy as np
    >>> cols = tuple(np.array([float(c), float(c) + 100]) for c in range(13))
    >>> values_nb(np.array([1, 0]), cols)[0].tolist()
    [100.0, 101.0, 102.0, 107.0, 520.0, 545.0, 112.0]
    """
    n = order.size
    out = np.empty((n, 7))
    for i in range(n):
        r = order[i]
        bid_depth = 0.0
        ask_depth = 0.0
        for level in range(5):
            bid_depth += columns[2 + level][r]
            ask_depth += columns[7 + level][r]
        out[i, 0] = columns[0][r]
        out[i, 1] = columns[1][r]
        out[i, 2] = columns[2][r]
        out[i, 3] = columns[7][r]
        out[i, 4] = bid_depth
        out[i, 5] = ask_depth
        out[i, 6] = columns[12][r]
    return out


@njit(cache=True, nogil=True)
def _before(code_a, ts_a, seq_a, code_b, ts_b, seq_b):
    if code_a != code_b:
        return code_a < code_b
    if ts_a != ts_b:
        return ts_a < ts_b
    return seq_a < seq_b


@njit(cache=True, nogil=True)
def merge_nb(a_code, a_ts, a_seq, a_values, b_code, b_ts, b_seq, b_values):
    """Stored quotes ``a`` (distinct identities) and a batch ``b`` (repeats adjacent), both sorted, merged:
    ``(code, ts, values, touched, repeats)``; a batch row replaces a stored row of its identity, the last of
    repeats in the batch wins, ``touched`` marks rows from the batch, ``repeats`` counts batch rows whose
    identity was stored or repeated in the batch."""
    n = a_code.size + b_code.size
    code = np.empty(n, np.int32)
    ts = np.empty(n, np.int64)
    values = np.empty((n, a_values.shape[1]))
    touched = np.zeros(n, np.bool_)
    i = j = k = 0
    repeats = 0
    while i < a_code.size or j < b_code.size:
        if j < b_code.size and j + 1 < b_code.size and b_code[j] == b_code[j + 1] and b_ts[j] == b_ts[j + 1] \
                and b_seq[j] == b_seq[j + 1]:
            j += 1  # a repeat in the batch: the last one wins
            repeats += 1
            continue
        take_b = i >= a_code.size or (j < b_code.size and not _before(a_code[i], a_ts[i], a_seq[i],
                                                                      b_code[j], b_ts[j], b_seq[j]))
        if take_b:
            if i < a_code.size and a_code[i] == b_code[j] and a_ts[i] == b_ts[j] and a_seq[i] == b_seq[j]:
                i += 1  # the stored row of this identity is replaced
                repeats += 1
            code[k], ts[k], values[k] = b_code[j], b_ts[j], b_values[j]
            touched[k] = True
            j += 1
        else:
            code[k], ts[k], values[k] = a_code[i], a_ts[i], a_values[i]
            i += 1
        k += 1
    return code[:k], ts[:k], values[:k], touched[:k], repeats


@njit(cache=True, nogil=True)
def _spread(bid, ask):
    return ask - bid if bid > 0 and ask > 0 else np.nan


@njit(cache=True, nogil=True)
def minutes_nb(code, ts, values, touched, pred_bid, pred_ask):
    """The ``quotes_1m`` rows of the minutes to write: each (symbol, minute) holding a touched quote, and the
    next minute with quotes of the symbol after each of them (the quote in force at its start may have
    changed). ``pred_bid/ask[code]``: the top of book in force before the symbol's first quote here (NaN:
    none). Returns ``(codes, minute starts in µs, (rows, 13) array of OUTPUTS)``.

    >>> import numpy as np
    >>> v = np.array([[10.0, 10.2, 1, 1, 5, 5, 0], [10.0, 10.1, 1, 1, 3, 1, 7]])
    >>> codes, minutes, out = minutes_nb(np.zeros(2, np.int32), np.array([0, 30_000_000]), v,
    ...                                  np.array([True, True]), np.full(1, np.nan), np.full(1, np.nan))
    >>> out[0].round(4).tolist()  # quotes, crossed, last ts, bid, ask, qty, qty, mean, tw, seconds, oi, imb, mean
    [2.0, 0.0, 30000000.0, 10.0, 10.1, 1.0, 1.0, 0.15, 0.15, 60.0, 7.0, 0.5, 0.25]
    """
    n = code.size
    group_start = np.empty(n + 1, np.int64)
    groups = 0
    for r in range(n):
        if r == 0 or code[r] != code[r - 1] or ts[r] // MINUTE_US != ts[r - 1] // MINUTE_US:
            group_start[groups] = r
            groups += 1
    group_start[groups] = n
    marked = np.zeros(groups, np.bool_)
    for g in range(groups):
        for r in range(group_start[g], group_start[g + 1]):
            if touched[r]:
                marked[g] = True
                if g + 1 < groups and code[group_start[g + 1]] == code[r]:
                    marked[g + 1] = True
                break
    rows = int(marked.sum())
    out_code = np.empty(rows, np.int32)
    out_minute = np.empty(rows, np.int64)
    out = np.full((rows, 13), np.nan)
    k = 0
    for g in range(groups):
        if not marked[g]:
            continue
        r0, r1 = group_start[g], group_start[g + 1]
        c = code[r0]
        start = ts[r0] // MINUTE_US * MINUTE_US
        in_force = _spread(values[r0 - 1, 0], values[r0 - 1, 1]) if r0 > 0 and code[r0 - 1] == c \
            else _spread(pred_bid[c], pred_ask[c])
        tw = seconds = spread_sum = imbalance_sum = 0.0
        spreads = imbalances = crossed = 0
        seg_start, seg_spread = start, in_force
        imbalance = np.nan
        for r in range(r0, r1 + 1):
            seg_end = ts[r] if r < r1 else start + MINUTE_US
            if not np.isnan(seg_spread) and seg_end > seg_start:
                tw += seg_spread * (seg_end - seg_start) / 1e6
                seconds += (seg_end - seg_start) / 1e6
            if r == r1:
                break
            bid, ask = values[r, 0], values[r, 1]
            seg_start, seg_spread = ts[r], _spread(bid, ask)
            if not np.isnan(seg_spread):
                spread_sum += seg_spread
                spreads += 1
                crossed += bid >= ask
            depth = values[r, 4] + values[r, 5]
            imbalance = (values[r, 4] - values[r, 5]) / depth if depth > 0 else np.nan
            if not np.isnan(imbalance):
                imbalance_sum += imbalance
                imbalances += 1
        last = r1 - 1
        out_code[k], out_minute[k] = c, start
        o = out[k]
        o[0], o[1], o[2] = r1 - r0, crossed, ts[last]
        o[3] = values[last, 0] if values[last, 0] > 0 else np.nan
        o[4] = values[last, 1] if values[last, 1] > 0 else np.nan
        o[5], o[6] = values[last, 2], values[last, 3]
        o[7] = spread_sum / spreads if spreads else np.nan
        o[8] = tw / seconds if seconds > 0 else np.nan
        o[9], o[10], o[11] = seconds, values[last, 6], imbalance
        o[12] = imbalance_sum / imbalances if imbalances else np.nan
        k += 1
    return out_code, out_minute, out
