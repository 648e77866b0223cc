"""The served warehouse's chDB connections: a pool for writes and a read-only pool.

chDB runs one query at a time per connection; ``python -m warehouse serve`` keeps a few
connections to the one embedded warehouse its process owns, so requests from other
processes run side by side. Connections of the read pool are ``readonly = 2``: ClickHouse
itself refuses inserts, DDL and other changes on them (it is not a check of the SQL text),
and a connection cannot leave that mode. Per-request settings are applied with ``SET`` on
the connection that runs the request (and undone on the next request that does not ask
for them); names must be identifiers and values are quoted literals.

>>> from warehouse.client import connect, embedded_path, resolve_dsn
>>> client = connect()  # the process opens its warehouse first; the engine adds connections to it
>>> engine = Engine(embedded_path(resolve_dsn()), size=1)
>>> engine.run("SELECT {x:UInt8} + 1", fmt="TabSeparated", params={"x": "41"}).body
b'42\\n'
>>> engine.run("CREATE TABLE t (x UInt8) ENGINE = Memory", fmt="TabSeparated", writable=False).body
Traceback (most recent call last):
warehouse.serve.engine.QueryError: Code: 164. DB::Exception: default: Cannot execute query in readonly mode. (READONLY)
>>> engine.close()
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import chdb


IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
ERROR_CODE = re.compile(r"Code: (\d+)\.")


class QueryError(Exception):
    """ClickHouse refused a statement; ``code`` is its exception code (0 when it has none)."""

    def __init__(self, message: str) -> None:
        text = message[message.find("Code: "):] if "Code: " in message else message
        super().__init__(text.strip())
        found = ERROR_CODE.search(text)
        self.code = int(found.group(1)) if found else 0


@dataclass
class Outcome:
    """What a statement returned: its bytes and ClickHouse's counters for the summary header."""

    body: bytes
    read_rows: int = 0
    read_bytes: int = 0
    elapsed_ns: int = 0


@dataclass
class _Connection:
    handle: Any
    settings: dict[str, str] = field(default_factory=dict)
    database: str = "default"


class Engine:
    """Pools of chDB connections to the warehouse at ``path`` (a directory this process has opened, or
    ``:memory:``); ``size`` connections per pool."""

    def __init__(self, path: str, *, size: int = 4) -> None:
        self.path = path
        self._pools: dict[bool, queue.LifoQueue[_Connection]] = {True: queue.LifoQueue(), False: queue.LifoQueue()}
        self._all: list[_Connection] = []
        self._lock = threading.Lock()
        for writable in (True, False):
            for _ in range(size):
                connection = _Connection(chdb.connect(path))
                if not writable:
                    connection.handle.query("SET readonly = 2", "TabSeparated")
                self._all.append(connection)
                self._pools[writable].put(connection)

    def run(self, sql: str | bytes, *, fmt: str, params: Mapping[str, str] | None = None,
            settings: Mapping[str, str] | None = None, database: str = "default", writable: bool = True) -> Outcome:
        """Run one statement on a free connection (``writable`` False: the read-only pool); ``fmt`` is the output
        format unless the statement names its own (``FORMAT ...``)."""
        with self._connection(writable, settings or {}, database) as connection:
            try:
                result = connection.handle.query(sql, fmt, params=dict(params or {}))
            except Exception as exc:  # chDB raises ChdbError / RuntimeError with ClickHouse's message
                raise QueryError(str(exc)) from None
        return Outcome(result.bytes() or b"", _counter(result.rows_read), _counter(result.bytes_read),
                       int(_counter(result.elapsed) * 1e9))

    def close(self) -> None:
        """Close every connection (the embedded warehouse stays open while other clients of this process hold it)."""
        for connection in self._all:
            connection.handle.close()
        self._all.clear()

    @contextmanager
    def _connection(self, writable: bool, settings: Mapping[str, str], database: str) -> Iterator[_Connection]:
        connection = self._pools[writable].get()
        try:
            _apply(connection, settings, database)
            yield connection
        finally:
            self._pools[writable].put(connection)


def _apply(connection: _Connection, settings: Mapping[str, str], database: str) -> None:
    """Bring the connection's session to ``settings`` and ``database`` (only what differs is sent)."""
    for name in [name for name in connection.settings if name not in settings]:
        _session(connection, f"SET {name} = DEFAULT")
        del connection.settings[name]
    for name, value in settings.items():
        if connection.settings.get(name) == value:
            continue
        if not IDENTIFIER.match(name):
            raise QueryError(f"Code: 115. DB::Exception: Unknown setting {name!r}. (UNKNOWN_SETTING)")
        _session(connection, f"SET {name} = {quote(value)}")
        connection.settings[name] = value
    if connection.database != database:
        if not IDENTIFIER.match(database):
            raise QueryError(f"Code: 81. DB::Exception: Database {database!r} does not exist. (UNKNOWN_DATABASE)")
        _session(connection, f"USE {database}")
        connection.database = database


def _session(connection: _Connection, statement: str) -> None:
    """Run a statement that changes the connection's session (``SET``, ``USE``); ClickHouse's refusal as a
    :class:`QueryError`."""
    try:
        connection.handle.query(statement, "TabSeparated")
    except Exception as exc:  # chDB raises ChdbError / RuntimeError with ClickHouse's message
        raise QueryError(str(exc)) from None


def quote(value: str) -> str:
    """A ClickHouse string literal of ``value``.

    >>> quote("it's")
    "'it\\\\'s'"
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _counter(read: Any) -> float:
    try:
        return read()
    except Exception:  # counters of a statement without a result
        return 0

