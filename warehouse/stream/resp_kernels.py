"""Numba kernels for the Redis consumer's wire format (RESP): parse ``XREADGROUP`` replies, write ``XACK`` ids.

* :func:`resp_entries_nb` parses a raw ``XREADGROUP`` reply into entry-id and payload
  slices of the receive buffer, resumably while the reply is still arriving;
* :func:`resp_bulk_args_nb` writes slices as RESP bulk strings (the ids of an ``XACK``).

>>> import numpy as np
>>> reply = b"*1\\r\\n*2\\r\\n$1\\r\\ns\\r\\n*1\\r\\n*2\\r\\n$3\\r\\n1-0\\r\\n*2\\r\\n$4\\r\\ntick\\r\\n$2\\r\\n{}\\r\\n"
>>> data, state, out = np.frombuffer(reply, np.uint8), np.array([0, -1, 0]), np.zeros((4, 1), np.int64)
>>> resp_entries_nb(data, len(reply), state, *out, np.frombuffer(b"tick", np.uint8)), state.tolist()
(0, [54, 1, 1])
>>> bytes(data[out[0, 0]:out[1, 0]]), bytes(data[out[2, 0]:out[3, 0]])
(b'1-0', b'{}')
"""

from __future__ import annotations

import numpy as np
from numba import njit

from warehouse.stream.numba_options import INLINED, KERNEL


@njit(**INLINED)
def _same_bytes(data, start, end, word):
    """True when ``data[start:end]`` equals ``word``."""
    if end - start != word.size:
        return False
    for k in range(word.size):
        if data[start + k] != word[k]:
            return False
    return True


@njit(**INLINED)
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


@njit(**INLINED)
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


@njit(**KERNEL)
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
                if p < 0 or not _same_bytes(data, f0, f1, field):
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


@njit(**KERNEL)
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
