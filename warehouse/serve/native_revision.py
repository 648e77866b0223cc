"""Native at a client's protocol revision: what ``client_protocol_version`` asks of a ClickHouse server.

chDB writes Native as for revision 0 and has no setting for the client's revision (ClickHouse's
HTTP handler sets it from the ``client_protocol_version`` parameter, which only the server reads). clickhouse-go >= 2.37 -- the driver of Grafana's
ClickHouse plugin -- sends ``client_protocol_version=54460`` with ``default_format=Native`` and
reads each block as a ClickHouse server writes it then: a BlockInfo before the block (revision > 0),
and after each column's type one byte saying whether it has a custom serialization (revision >= 54454).
The column data itself is the same for the types below, so the bytes are copied and those fields
inserted; that needs each column's length, hence the walk over the type. chDB's revision-0 output
never uses a custom (sparse) serialization, so the byte is always 0.

>>> from warehouse.client import connect
>>> plain = connect().raw_query("SELECT 1 AS x, 'a' AS s", fmt="Native")
>>> native_at_revision(plain, 54460)[:8]
b'\\x01\\x00\\x02\\xff\\xff\\xff\\xff\\x00'
>>> native_at_revision(plain, 0) == plain
True
"""

from __future__ import annotations

import re

BLOCK_INFO = b"\x01\x00\x02\xff\xff\xff\xff\x00"  # field 1 is_overflows = false, field 2 bucket_num = -1, end
CUSTOM_SERIALIZATION_REVISION = 54454
_WIDTH = {"UInt8": 1, "Int8": 1, "Bool": 1, "UInt16": 2, "Int16": 2, "Date": 2, "BFloat16": 2, "UInt32": 4,
          "Int32": 4, "Float32": 4, "Date32": 4, "IPv4": 4, "UInt64": 8, "Int64": 8, "Float64": 8, "UInt128": 16,
          "Int128": 16, "UUID": 16, "IPv6": 16, "UInt256": 32, "Int256": 32, "Nothing": 1}
_PREFIX_WIDTH = {"Enum8": 1, "Enum16": 2, "DateTime": 4, "Decimal32": 4, "DateTime64": 8, "Decimal64": 8,
                 "Time": 4, "Time64": 8, "Decimal128": 16, "Decimal256": 32}


class NativeTypeError(ValueError):
    """A column type this rewrite does not know the length of."""


def native_at_revision(body: bytes, revision: int) -> bytes:
    """``body`` (Native, revision 0) as a server writes it for a client at ``revision``."""
    if revision <= 0 or not body:
        return body
    out, pos = bytearray(), 0
    while pos < len(body):
        out += BLOCK_INFO
        start = pos
        columns, pos = _varint(body, pos)
        rows, pos = _varint(body, pos)
        out += body[start:pos]
        for _ in range(columns):
            start = pos
            pos = _skip_string(body, pos)
            length, pos = _varint(body, pos)
            kind = body[pos:pos + length].decode()
            pos += length
            out += body[start:pos]
            if revision >= CUSTOM_SERIALIZATION_REVISION:
                out += b"\x00"
            start = pos
            if rows:
                pos = _data(body, _prefix(body, pos, kind), kind, rows)
            out += body[start:pos]
    return bytes(out)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _skip_string(data: bytes, pos: int) -> int:
    length, pos = _varint(data, pos)
    return pos + length


def _uint64(data: bytes, pos: int) -> tuple[int, int]:
    return int.from_bytes(data[pos:pos + 8], "little"), pos + 8


def _split(kind: str) -> tuple[str, list[str]]:
    """``Name(arg, arg)`` -> ("Name", ["arg", "arg"]), split at top-level commas; element names dropped."""
    if "(" not in kind:
        return kind, []
    name, inner = kind[:kind.index("(")], kind[kind.index("(") + 1:-1]
    args, depth, start, quoted = [], 0, 0, False
    for i, char in enumerate(inner):
        if char == "'" and (i == 0 or inner[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and char == "," and depth == 0:
            args.append(inner[start:i].strip())
            start = i + 1
    args.append(inner[start:].strip())
    if name == "Tuple":
        args = [re.sub(r"^(`[^`]*`|[A-Za-z_][A-Za-z0-9_]*)\s+(?=[A-Z])", "", arg) for arg in args]
    return name, args


def _prefix(data: bytes, pos: int, kind: str) -> int:
    """Skip the column's state prefixes (written before any of its data, nested ones in order)."""
    name, args = _split(kind)
    if name == "SimpleAggregateFunction":  # stored and sent as its value type
        return _prefix(data, pos, args[-1])
    if name == "LowCardinality":
        return _prefix(data, pos + 8, args[0])  # keys serialization version
    if name in ("Array", "Nullable"):
        return _prefix(data, pos, args[0])
    if name in ("Tuple", "Map"):
        for arg in args:
            pos = _prefix(data, pos, arg)
    return pos


def _data(data: bytes, pos: int, kind: str, rows: int) -> int:
    """Skip ``rows`` values of ``kind`` (after the prefixes)."""
    name, args = _split(kind)
    if name == "SimpleAggregateFunction":
        return _data(data, pos, args[-1], rows)
    if kind in _WIDTH:
        return pos + rows * _WIDTH[kind]
    if name in _PREFIX_WIDTH:
        return pos + rows * _PREFIX_WIDTH[name]
    if name == "Decimal":
        precision = int(args[0])
        return pos + rows * (4 if precision <= 9 else 8 if precision <= 18 else 16 if precision <= 38 else 32)
    if name == "FixedString":
        return pos + rows * int(args[0])
    if kind == "String":
        for _ in range(rows):
            pos = _skip_string(data, pos)
        return pos
    if name == "Nullable":
        return _data(data, pos + rows, args[0], rows)
    if name in ("Array", "Map"):
        total = int.from_bytes(data[pos + 8 * (rows - 1):pos + 8 * rows], "little")
        pos += 8 * rows
        for arg in ([args[0]] if name == "Array" else args):
            pos = _data(data, pos, arg, total)
        return pos
    if name == "Tuple":
        for arg in args:
            pos = _data(data, pos, arg, rows)
        return pos
    if name == "LowCardinality":
        flags, pos = _uint64(data, pos)
        keys, pos = _uint64(data, pos)
        inner = args[0]
        pos = _data(data, pos, _split(inner)[1][0] if inner.startswith("Nullable(") else inner, keys)
        count, pos = _uint64(data, pos)
        return pos + count * (1, 2, 4, 8)[flags & 0xFF]
    raise NativeTypeError(f"Native at a client's revision: type {kind!r} is not supported")
