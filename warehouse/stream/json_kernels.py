"""Numba kernel that decodes the producer's JSON tick messages into typed columns.

Messages travel as slices of one byte buffer (``data[starts[i]:ends[i]]``,
:class:`~warehouse.stream.messages.Messages`), so a batch never becomes a Python object
per message on the fast path. :func:`decode_ticks_nb` decodes the producer's own layout
(``{"symbol":"AAPL","ts":1704205800123456,"price":185.12,"size":100.0,"side":"buy","trade_id":17,"version":0}``)
and flags every message that deviates from it in any way (key order, spaces, escapes,
non-ASCII text, a number it cannot convert exactly); :mod:`warehouse.stream.decode`
decodes those with polars.

>>> import numpy as np
>>> msg = b'{"symbol":"AAPL","ts":1704205800123456,"price":185.12,"size":100.0,"side":"buy","trade_id":17,"version":0}'
>>> data = np.frombuffer(msg, np.uint8)
>>> out = decode_ticks_nb(data, np.array([0]), np.array([len(msg)]))
>>> ok, codes, sym_starts, sym_ends, ts, price, size, side, trade_id, version = out
>>> [column[0].item() for column in (ok, ts, price, size, side, trade_id, version)]
[True, 1704205800123456, 185.12, 100.0, 1, 17, 0]
>>> bytes(data[sym_starts[0]:sym_ends[0]])
b'AAPL'
"""

from __future__ import annotations

import numpy as np
from numba import njit

from warehouse.stream.numba_options import INLINED, KERNEL

# Exact powers of ten (doubles represent 10**k exactly for k <= 22): a decimal with at most
# 15 significant digits and such an exponent converts correctly rounded in one operation.
_POW10 = np.array([10.0 ** k for k in range(23)])
_KEYS = (b'{"symbol":"', b'","ts":', b',"price":', b',"size":', b',"side":"', b'","trade_id":', b',"version":')
_K0, _K1, _K2, _K3, _K4, _K5, _K6 = (np.frombuffer(key, np.uint8) for key in _KEYS)
_BUY, _SELL, _UNKNOWN = (np.frombuffer(word, np.uint8) for word in (b"buy", b"sell", b"unknown"))
# The helpers take the batch's arrays: inlined into decode_ticks_nb (see numba_options).


@njit(**INLINED)
def _literal(data, pos, end, word):
    """Position after ``word`` if it is at ``pos`` (within ``end``), else -1."""
    if pos + word.size > end:
        return -1
    for k in range(word.size):
        if data[pos + k] != word[k]:
            return -1
    return pos + word.size


@njit(**INLINED)
def _plain_string(data, pos, end):
    """End of a JSON string body of printable ASCII without escapes starting at ``pos`` (at its quote), else -1."""
    while pos < end:
        c = data[pos]
        if c == 34:  # "
            return pos
        if c == 92 or c < 32 or c > 126:  # escapes, control characters, non-ASCII: not this path
            return -1
        pos += 1
    return -1


@njit(**INLINED)
def _uint(data, pos, end):
    """(value, position after) of a JSON unsigned integer of at most 18 digits; position -1 if none."""
    start = pos
    value = 0
    while pos < end and 48 <= data[pos] <= 57 and pos - start < 18:
        value = value * 10 + (data[pos] - 48)
        pos += 1
    if pos == start or (pos < end and 48 <= data[pos] <= 57) or (data[start] == 48 and pos - start > 1):
        return 0, -1
    return value, pos


@njit(**INLINED)
def _number(data, pos, end, pow10):
    """(value, position after) of a JSON number converted exactly (<= 15 significant digits,
    decimal exponent within +-22); position -1 otherwise."""
    negative = pos < end and data[pos] == 45
    if negative:
        pos += 1
    mantissa, after = _uint(data, pos, end)
    if after < 0:
        return 0.0, -1
    digits = after - pos
    pos = after
    scale = 0
    if pos < end and data[pos] == 46:  # .
        pos += 1
        start = pos
        while pos < end and 48 <= data[pos] <= 57:
            mantissa = mantissa * 10 + (data[pos] - 48)
            pos += 1
            if pos - start + digits > 15:
                return 0.0, -1
        if pos == start:
            return 0.0, -1
        scale = start - pos
        digits += pos - start
    if digits > 15:
        return 0.0, -1
    if pos < end and (data[pos] == 101 or data[pos] == 69):  # e, E
        pos += 1
        sign = 1
        if pos < end and (data[pos] == 43 or data[pos] == 45):
            sign = -1 if data[pos] == 45 else 1
            pos += 1
        start = pos
        exponent = 0
        while pos < end and 48 <= data[pos] <= 57 and pos - start < 3:
            exponent = exponent * 10 + (data[pos] - 48)
            pos += 1
        if pos == start or (pos < end and 48 <= data[pos] <= 57):
            return 0.0, -1
        scale += sign * exponent
    if scale < -22 or scale > 22:
        return 0.0, -1
    value = float(mantissa) / pow10[-scale] if scale < 0 else float(mantissa) * pow10[scale]
    return (-value if negative else value), pos


@njit(**INLINED)
def _side(data, start, end):
    """1 for buy, -1 for sell, 0 for unknown, 2 for anything else."""
    n = end - start
    if _literal(data, start, end, _BUY) == end and n == 3:
        return 1
    if _literal(data, start, end, _SELL) == end and n == 4:
        return -1
    if _literal(data, start, end, _UNKNOWN) == end and n == 7:
        return 0
    return 2


@njit(**INLINED)
def _symbol_code(data, start, end, table, sym_starts, sym_ends, n_symbols):
    """The code of the symbol ``data[start:end]`` in an open-addressing ``table``; adds it when new.

    Returns (code, n_symbols after), code -1 when the table is full.
    """
    h = np.uint64(14695981039346656037)
    for k in range(start, end):
        h = (h ^ np.uint64(data[k])) * np.uint64(1099511628211)
    mask = table.size - 1
    slot = np.int64(h >> np.uint64(33)) & mask
    while True:
        code = table[slot]
        if code < 0:
            if 2 * (n_symbols + 1) > table.size:
                return -1, n_symbols
            table[slot] = n_symbols
            sym_starts[n_symbols], sym_ends[n_symbols] = start, end
            return n_symbols, n_symbols + 1
        if sym_ends[code] - sym_starts[code] == end - start:
            same = True
            for k in range(end - start):
                if data[sym_starts[code] + k] != data[start + k]:
                    same = False
                    break
            if same:
                return code, n_symbols
        slot = (slot + 1) & mask


@njit(**KERNEL)
def decode_ticks_nb(data, starts, ends):
    """Decode messages in the producer's layout.

    Returns ``(ok, codes, sym_starts, sym_ends, ts, price, size, side, trade_id, version)``:
    per message whether it was decoded (the other columns are meaningful only there),
    its symbol's code, and per code the slice of its first occurrence. ``ts`` is the
    epoch number as written (its unit is picked later, by validation).
    """
    n = starts.size
    ok = np.zeros(n, np.bool_)
    codes = np.zeros(n, np.int32)
    ts = np.zeros(n, np.int64)
    price = np.zeros(n, np.float64)
    size = np.zeros(n, np.float64)
    side = np.zeros(n, np.int8)
    trade_id = np.zeros(n, np.uint64)
    version = np.zeros(n, np.uint32)
    table = -np.ones(4096, np.int32)
    sym_starts = np.zeros(2048, np.int64)
    sym_ends = np.zeros(2048, np.int64)
    n_symbols = 0
    for i in range(n):
        end = ends[i]
        pos = _literal(data, starts[i], end, _K0)
        if pos < 0:
            continue
        sym_end = _plain_string(data, pos, end)
        if sym_end <= pos:
            continue
        sym_start = pos
        pos = _literal(data, sym_end, end, _K1)
        if pos < 0:
            continue
        t, pos = _uint(data, pos, end)
        if pos < 0:
            continue
        pos = _literal(data, pos, end, _K2)
        if pos < 0:
            continue
        p, pos = _number(data, pos, end, _POW10)
        if pos < 0:
            continue
        pos = _literal(data, pos, end, _K3)
        if pos < 0:
            continue
        s, pos = _number(data, pos, end, _POW10)
        if pos < 0:
            continue
        pos = _literal(data, pos, end, _K4)
        if pos < 0:
            continue
        side_end = _plain_string(data, pos, end)
        if side_end < 0:
            continue
        d = _side(data, pos, side_end)
        if d == 2:
            continue
        pos = _literal(data, side_end, end, _K5)
        if pos < 0:
            continue
        tid, pos = _uint(data, pos, end)
        if pos < 0:
            continue
        pos = _literal(data, pos, end, _K6)
        if pos < 0:
            continue
        v, pos = _uint(data, pos, end)
        if pos < 0 or pos + 1 != end or data[pos] != 125 or v > 4294967295:  # }
            continue
        code, n_symbols = _symbol_code(data, sym_start, sym_end, table, sym_starts, sym_ends, n_symbols)
        if code < 0:
            continue
        ok[i] = True
        codes[i] = code
        ts[i], price[i], size[i], side[i], trade_id[i], version[i] = t, p, s, d, tid, v
    return ok, codes, sym_starts[:n_symbols], sym_ends[:n_symbols], ts, price, size, side, trade_id, version
