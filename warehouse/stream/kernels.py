"""Numba kernels of the stream consumers: numpy arrays in, numpy arrays out.

Messages travel as slices of one byte buffer (``data[starts[i]:ends[i]]``), so a
batch never becomes a Python object per message on the fast paths:

* :func:`decode_ticks_nb` decodes the producer's own JSON layout
  (``{"symbol":"AAPL","ts":1704205800123456,"price":185.12,"size":100.0,"side":"buy","trade_id":17,"version":0}``)
  into typed columns, and flags every message that deviates from it in any way
  (key order, spaces, escapes, non-ASCII text, a number it cannot convert exactly);
  the Python layer decodes those with polars;
* :func:`resp_entries_nb` parses a raw ``XREADGROUP`` reply into entry-id and
  payload slices, resumably while the reply is still arriving;
* :func:`resp_bulk_args_nb` writes slices as RESP bulk strings (the ids of an ``XACK``);
* :func:`gather_nb` copies slices into a buffer of their own.

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

# Exact powers of ten (doubles represent 10**k exactly for k <= 22): a decimal with at most
# 15 significant digits and such an exponent converts correctly rounded in one operation.
_POW10 = np.array([10.0 ** k for k in range(23)])
_KEYS = (b'{"symbol":"', b'","ts":', b',"price":', b',"size":', b',"side":"', b'","trade_id":', b',"version":')
_K0, _K1, _K2, _K3, _K4, _K5, _K6 = (np.frombuffer(key, np.uint8) for key in _KEYS)
_BUY, _SELL, _UNKNOWN = (np.frombuffer(word, np.uint8) for word in (b"buy", b"sell", b"unknown"))
# Helpers, and kernels that allocate nothing, are compiled without numba's reference counting
# (``_nrt=False``): with it, every array passed to a helper costs an atomic increment and
# decrement, which was most of the parse and decode time (decode 450 -> 150 ns a message,
# reply parsing 200 -> 60 ns an entry).
_NO_REFCOUNTS = {"cache": True, "nogil": True, "_nrt": False}


@njit(**_NO_REFCOUNTS)
def _literal(data, pos, end, word):
    """Position after ``word`` if it is at ``pos`` (within ``end``), else -1."""
    if pos + word.size > end:
        return -1
    for k in range(word.size):
        if data[pos + k] != word[k]:
            return -1
    return pos + word.size


@njit(**_NO_REFCOUNTS)
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


@njit(**_NO_REFCOUNTS)
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


@njit(**_NO_REFCOUNTS)
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


@njit(**_NO_REFCOUNTS)
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


@njit(**_NO_REFCOUNTS)
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


@njit(cache=True, nogil=True)
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


@njit(**_NO_REFCOUNTS)
def _resp_int(data, pos, end, marker):
    """(value, position after CRLF) of ``<marker><int>\\r\\n`` at ``pos``; position -1: incomplete,
    -2: another type there."""
    if pos >= end:
        return 0, -1
    if data[pos] != marker:
        return 0, -2
    pos += 1
    negative = pos < end and data[pos] == 45
    if negative:
        pos += 1
    value = 0
    while pos < end and 48 <= data[pos] <= 57:
        value = value * 10 + (data[pos] - 48)
        pos += 1
    if pos + 1 >= end:
        return 0, -1
    if data[pos] != 13 or data[pos + 1] != 10:
        return 0, -2
    return (-value if negative else value), pos + 2


@njit(**_NO_REFCOUNTS)
def _resp_bulk(data, pos, end):
    """(start, end, position after) of a bulk string at ``pos``; position -1: incomplete, -2: not one."""
    length, pos = _resp_int(data, pos, end, 36)  # $
    if pos < 0:
        return 0, 0, pos
    if length < 0 or pos + length + 2 > end:
        return 0, 0, -1 if length >= 0 else -2
    if data[pos + length] != 13 or data[pos + length + 1] != 10:
        return 0, 0, -2
    return pos, pos + length, pos + length + 2


@njit(**_NO_REFCOUNTS)
def resp_entries_nb(data, end, state, id_starts, id_ends, payload_starts, payload_ends, field):
    """Parse an ``XREADGROUP`` reply of one stream in ``data[:end]``, resuming from ``state``.

    ``state`` = [position, entries announced (-1: header not parsed yet), entries parsed];
    the output arrays hold at least the entries announced (size them from the first call's
    result). An entry is ``[id, [field, payload]]``; a deleted entry (nil fields) gets
    payload slice (-1, -1). Returns 0 when the reply is complete, 1 when more bytes are
    needed, 2 when the output arrays must grow to ``state[1]``, 3 when the reply is anything
    else (an error, several streams, other fields): the caller parses it another way.
    """
    pos = state[0]
    if state[1] < 0:
        if pos < end and data[pos] == 95:  # RESP3 null
            if end - pos < 3:
                return 1
            if data[pos + 1] != 13 or data[pos + 2] != 10:
                return 3
            state[0], state[1] = pos + 3, 0
            return 0
        if pos < end and data[pos] == 37:  # RESP3 map of one stream
            streams, after = _resp_int(data, pos, end, 37)
        else:
            streams, after = _resp_int(data, pos, end, 42)
            if after >= 0 and streams == 1:  # RESP2: [[stream, entries]]
                pair, after = _resp_int(data, after, end, 42)
                if after >= 0 and pair != 2:
                    return 3
            elif after >= 0 and streams == -1:  # RESP2 null
                state[0], state[1] = after, 0
                return 0
        if after == -1:
            return 1
        if after < 0 or streams != 1:
            return 3
        _, _, after = _resp_bulk(data, after, end)
        if after == -1:
            return 1
        if after < 0:
            return 3
        entries, after = _resp_int(data, after, end, 42)
        if after == -1:
            return 1
        if after < 0 or entries < 0:
            return 3
        state[0], state[1] = after, entries
        pos = after
        if id_starts.size < entries:
            return 2
    while state[2] < state[1]:
        k = state[2]
        pair, p = _resp_int(data, pos, end, 42)
        if p == -1:
            return 1
        if p < 0 or pair != 2:
            return 3
        i0, i1, p = _resp_bulk(data, p, end)
        if p == -1:
            return 1
        if p < 0:
            return 3
        if p < end and data[p] == 95:  # RESP3 nil fields
            if p + 2 >= end:
                return 1
            p0, p1, p = -1, -1, p + 3
        else:
            fields, p = _resp_int(data, p, end, 42)
            if p == -1:
                return 1
            if p < 0:
                return 3
            if fields == -1:  # RESP2 nil fields
                p0, p1 = -1, -1
            elif fields == 2:
                f0, f1, p = _resp_bulk(data, p, end)
                if p == -1:
                    return 1
                if p < 0 or f1 - f0 != field.size or _literal(data, f0, f1, field) != f1:
                    return 3
                p0, p1, p = _resp_bulk(data, p, end)
                if p == -1:
                    return 1
                if p < 0:
                    return 3
            else:
                return 3
        id_starts[k], id_ends[k], payload_starts[k], payload_ends[k] = i0, i1, p0, p1
        state[0], state[2] = p, k + 1
        pos = p
    return 0


@njit(cache=True, nogil=True)
def resp_bulk_args_nb(data, starts, ends):
    """``$<len>\\r\\n<bytes>\\r\\n`` for every slice, concatenated (command arguments).

    >>> import numpy as np
    >>> bytes(resp_bulk_args_nb(np.frombuffer(b"1-0 22-1", np.uint8), np.array([0, 4]), np.array([3, 8])))
    b'$3\\r\\n1-0\\r\\n$4\\r\\n22-1\\r\\n'
    """
    total = 0
    for i in range(starts.size):
        length = ends[i] - starts[i]
        digits = 1
        while length >= 10 ** digits:
            digits += 1
        total += 1 + digits + 2 + length + 2
    out = np.empty(total, np.uint8)
    pos = 0
    for i in range(starts.size):
        length = ends[i] - starts[i]
        digits = 1
        while length >= 10 ** digits:
            digits += 1
        out[pos] = 36
        for k in range(digits):
            out[pos + digits - k] = 48 + (length // 10 ** k) % 10
        pos += 1 + digits
        out[pos], out[pos + 1] = 13, 10
        pos += 2
        for k in range(starts[i], ends[i]):  # a loop, not a slice copy: slices are reference-counted
            out[pos] = data[k]
            pos += 1
        out[pos], out[pos + 1] = 13, 10
        pos += 2
    return out


@njit(cache=True, nogil=True)
def gather_nb(data, starts, ends):
    """``(buffer, starts, ends)``: the slices copied, in order, into a buffer holding only them.

    >>> import numpy as np
    >>> out, starts, ends = gather_nb(np.frombuffer(b"abcdef", np.uint8), np.array([4, 0]), np.array([6, 1]))
    >>> bytes(out), starts.tolist(), ends.tolist()
    (b'efa', [0, 2], [2, 3])
    """
    n = starts.size
    new_starts = np.empty(n, np.int64)
    new_ends = np.empty(n, np.int64)
    total = 0
    for i in range(n):
        new_starts[i] = total
        total += ends[i] - starts[i]
        new_ends[i] = total
    out = np.empty(total, np.uint8)
    pos = 0
    for i in range(n):
        for k in range(starts[i], ends[i]):
            out[pos] = data[k]
            pos += 1
    return out, new_starts, new_ends
