"""Messages as slices of one byte buffer: a batch of payloads without a Python object per message.

A stream consumer hands its batch to the decoder (:mod:`warehouse.stream.decode`) and
its ids to ``XACK`` as :class:`Messages`; single messages become ``bytes`` only where
one is needed (a reject's raw payload, a message the fast decoder does not take).
:func:`gather_nb` copies slices into a buffer of their own (:meth:`Messages.compact`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
from numba import njit

from warehouse.stream.numba_options import KERNEL


@dataclass(frozen=True, eq=False)
class Messages(Sequence[bytes]):
    """Message ``i`` is ``data[starts[i]:ends[i]]``.

    >>> batch = Messages.of([b"ab", b"", b"cde"])
    >>> len(batch), batch[2], list(batch[1:])
    (3, b'cde', [b'', b'cde'])
    >>> list(Messages.concat([batch[:1], Messages.of([b"x"])]))
    [b'ab', b'x']
    """

    data: np.ndarray  # uint8
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64

    @classmethod
    def of(cls, payloads: Sequence[bytes]) -> Messages:
        """Copy ``payloads`` into one buffer."""
        if isinstance(payloads, Messages):
            return payloads
        lengths = np.fromiter(map(len, payloads), np.int64, len(payloads))
        ends = np.cumsum(lengths)
        return cls(np.frombuffer(b"".join(payloads), np.uint8), ends - lengths, ends)

    @classmethod
    def concat(cls, parts: Sequence[Messages]) -> Messages:
        """One :class:`Messages` holding ``parts`` in order (no copy of the bytes when they share a buffer)."""
        parts = [part for part in parts if len(part)] or parts[:1]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return cls.of([])
        if all(part.data is parts[0].data for part in parts):
            return cls(parts[0].data, np.concatenate([p.starts for p in parts]), np.concatenate([p.ends for p in parts]))
        shift = np.cumsum([0] + [p.data.size for p in parts[:-1]])
        return cls(np.concatenate([p.data for p in parts]), np.concatenate([p.starts + s for p, s in zip(parts, shift)]),
                   np.concatenate([p.ends + s for p, s in zip(parts, shift)]))

    def compact(self) -> Messages:
        """A copy holding only these messages' bytes (so a large buffer they slice can be freed).

        >>> Messages.of([b"abc", b"de"])[1:].compact().data.tobytes()
        b'de'
        """
        return Messages(*gather_nb(self.data, self.starts, self.ends))

    def __len__(self) -> int:
        return self.starts.size

    @overload
    def __getitem__(self, i: int) -> bytes: ...

    @overload
    def __getitem__(self, i: slice) -> Messages: ...

    def __getitem__(self, i: int | slice) -> bytes | Messages:
        if isinstance(i, slice):
            return Messages(self.data, self.starts[i], self.ends[i])
        return self.data[self.starts[i]:self.ends[i]].tobytes()


@njit(**KERNEL)
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
