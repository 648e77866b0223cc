"""Turn a DSN into a clickhouse-connect client: embedded chDB or a server.

``chdb:///abs/path`` opens an embedded ClickHouse (chDB) data directory in this
process; ``http(s)://user:pass@host:8123/db`` talks to a ClickHouse server.
The same SQL runs on both. With no DSN, ``$TICKHOUSE_DSN`` is used, else
``chdb://`` + the absolute path of ``./data/warehouse``.

``chdb://:memory:`` is an in-memory warehouse that lives as long as the process.

Embedded limits turned into clear errors here: one process may open a data
directory at a time (the error names the process that holds it and suggests
``python -m warehouse serve``, also when two processes start at once), one
process may open one directory at a time, and the path must be a writable
directory (not a file, not under a file).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from warehouse.errors import WarehouseError
from warehouse.locks import first_open, open_error

DSN_ENV = "TICKHOUSE_DSN"
DEFAULT_EMBEDDED_DIR = "data/warehouse"
MEMORY = ":memory:"  # chdb://:memory: -- an in-memory warehouse, gone when the process ends

_open_embedded: dict[tuple[str, str], Client] = {}
_siblings: dict[tuple[str, str], Client] = {}  # second connections (sibling()), same keys
_held: Counter[str] = Counter()  # embedded path -> open holds (hold()/release(), e.g. Feeds)
_plain: set[str] = set()  # embedded paths connect() handed out: they stay open until close_embedded()
_beside: dict[int, ThreadPoolExecutor] = {}  # query_beside's thread, by process (a forked child starts its own)


def resolve_dsn(dsn: str | None = None) -> str:
    """Return the DSN to use: the argument, ``$TICKHOUSE_DSN`` or the default.

    Relative embedded paths (``chdb://data/wh``) are made absolute.

    >>> resolve_dsn("chdb:///tmp/wh")
    'chdb:///tmp/wh'
    >>> resolve_dsn("http://localhost:8123/default")
    'http://localhost:8123/default'
    >>> resolve_dsn("chdb://:memory:")
    'chdb://:memory:'
    """
    chosen = dsn or os.environ.get(DSN_ENV) or ""
    if not chosen:
        return "chdb://" + str(Path(DEFAULT_EMBEDDED_DIR).resolve())
    scheme = urlparse(chosen).scheme
    if scheme == "chdb":
        path = embedded_path(chosen)
        return "chdb://" + (path if path == MEMORY else str(Path(path).resolve()))
    if scheme in ("http", "https"):
        return chosen
    raise WarehouseError(
        f"dsn: unsupported scheme {scheme or chosen!r}; use chdb:///abs/path or http(s)://host:8123/db"
    )


def embedded_path(dsn: str) -> str:
    """The data directory of a ``chdb://`` DSN (``chdb:///abs`` or ``chdb://rel``).

    >>> embedded_path("chdb:///var/lib/wh")
    '/var/lib/wh'
    >>> embedded_path("chdb://memory")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: dsn: 'chdb://memory' has no data directory; use chdb:///abs/path or chdb://:memory:
    """
    rest = dsn[len("chdb://"):]
    if rest == MEMORY:
        return rest
    if not rest or rest.startswith(("memory", ":memory")):
        raise WarehouseError(f"dsn: {dsn!r} has no data directory; use chdb:///abs/path or chdb://{MEMORY}")
    return rest


def is_embedded(client: Client) -> bool:
    """True when ``client`` runs chDB in this process (not a server).

    >>> is_embedded(connect())
    True
    """
    return type(client).__name__ == "ChdbClient"


def connect(dsn: str | None = None, database: str | None = None) -> Client:
    """Open (or reuse) the client for ``dsn``; see :func:`resolve_dsn`.

    ``database`` selects (and creates) a database other than the DSN's default.
    Embedded clients are cached per process, because chDB allows one data
    directory per process; asking for a second directory is an error.

    >>> client = connect()
    >>> client.query("SELECT 1 + {x:UInt8}", parameters={"x": 1}).result_rows
    [(2,)]
    """
    resolved = resolve_dsn(dsn)
    if resolved.startswith("chdb://"):
        client = _connect_embedded(embedded_path(resolved), database or "default")
        _plain.add(embedded_path(resolved))
        return client
    return _connect_server(resolved, database)


def hold(dsn: str | None = None, database: str | None = None) -> Client:
    """:func:`connect`, counted: :func:`release` closes what the holds alone opened.

    A :class:`~backtest.feed.Feed` given a DSN holds its client this way, so
    closing the last such Feed lets another process open the embedded warehouse.

    >>> client = hold()
    >>> client.command("SELECT 1")
    1
    >>> release(client)
    """
    resolved = resolve_dsn(dsn)
    if not resolved.startswith("chdb://"):
        return _connect_server(resolved, database)
    path = embedded_path(resolved)
    client = _connect_embedded(path, database or "default")
    _held[path] += 1
    return client


def release(client: Client) -> None:
    """Give back a client from :func:`hold`: a server client is closed; the embedded warehouse is closed in this
    process when no other hold uses it and :func:`connect` never handed it out (other code may use that one).
    """
    path = next((key[0] for key, opened in _open_embedded.items() if opened is client), None)
    if path is None:
        client.close()
        return
    _held[path] -= 1
    if _held[path] <= 0 and path not in _plain:
        close_embedded()


def close_embedded() -> None:
    """Close this process's embedded warehouse so another directory (or process) may open it.

    >>> close_embedded()
    """
    for client in [*_open_embedded.values(), *_siblings.values()]:
        client.close()
    _open_embedded.clear()
    _siblings.clear()
    _held.clear()
    _plain.clear()


def sibling(client: Client) -> Client | None:
    """A second connection to ``client``'s embedded warehouse: its queries run beside ``client``'s.

    chDB runs one query at a time per connection, on one core; a bulk insert
    writes half of a large batch through this one (:mod:`warehouse.ingest.writer`).
    None for a client :func:`connect` did not open.

    >>> client = connect()
    >>> sibling(client) is sibling(client), sibling(client) is client
    (True, False)
    """
    key = next((key for key, opened in _open_embedded.items() if opened is client), None)
    if key is None:
        return None
    if key not in _siblings:
        _siblings[key] = _embedded_client(*key)
    return _siblings[key]


def query_beside(client: Client, sql: str, parameters: dict[str, Any]) -> Future:
    """``client.query(sql, parameters=...)`` run on ``client``'s :func:`sibling` in a background thread, so it takes
    no time of its own while ``client`` runs another query (the feed's ``EXPLAIN ESTIMATE`` beside the read it
    costs: ~1.5 ms of a one-bar read). Without a sibling it runs on ``client`` before this returns.

    >>> query_beside(connect(), "SELECT {x:UInt8} + 1", {"x": 1}).result().result_rows
    [(2,)]
    """
    other = sibling(client)
    if other is not None:
        if os.getpid() not in _beside:
            _beside[os.getpid()] = ThreadPoolExecutor(1, thread_name_prefix="tickhouse-beside")
        return _beside[os.getpid()].submit(other.query, sql, parameters=parameters)
    done: Future = Future()
    done.set_result(client.query(sql, parameters=parameters))
    return done


def read_only_connection(dsn: str) -> Client:
    """A new connection to the embedded warehouse of ``dsn``, already open in this process, on which ClickHouse
    refuses inserts, DDL and other changes (``readonly = 2``; settings may still change). The caller closes it.

    >>> _ = connect()
    >>> reader = read_only_connection(resolve_dsn())
    >>> reader.command("CREATE TABLE nope (x UInt8) ENGINE = Memory")
    Traceback (most recent call last):
    clickhouse_connect.driver.exceptions.DatabaseError: Code: 164. DB::Exception: default: Cannot execute query in readonly mode. (READONLY)
    >>> reader.close()
    """
    path = embedded_path(resolve_dsn(dsn))
    if not any(key[0] == path for key in _open_embedded):
        raise WarehouseError(f"dsn: open the embedded warehouse {path} (connect()) before a read-only connection")
    client = _embedded_client(path, "default")
    client.command("SET readonly = 2")
    return client


def _connect_embedded(path: str, database: str) -> Client:
    if (path, database) in _open_embedded:
        return _open_embedded[(path, database)]
    other = next((p for p, _ in _open_embedded if p != path), None)
    if other:
        raise WarehouseError(
            f"dsn: this process already has the embedded warehouse {other} open and chDB allows one "
            f"per process; close it (warehouse.client.close_embedded()) before opening {path}"
        )
    if database != "default":  # opens the warehouse first (below), then adds the database
        _connect_embedded(path, "default").command(f"CREATE DATABASE IF NOT EXISTS {_database(database)}")
    try:
        if _open_embedded or path == MEMORY:
            client = _embedded_client(path, database)
        else:
            with first_open(path):
                client = _embedded_client(path, database)
    except WarehouseError:
        raise
    except Exception as exc:  # chDB reports failures as generic errors with long traces
        raise open_error(path, exc) from None
    _open_embedded[(path, database)] = client
    return client


def _embedded_client(path: str, database: str) -> Client:
    """A new connection to the embedded warehouse at ``path`` (open in this process already or not)."""
    client = clickhouse_connect.get_client(dsn="chdb://" + path, database=database)
    # Arrow results stay in this process: lz4 (the default) is wasted work. Set once per client:
    # a per-query setting costs chDB about 7 ms of setup on every query.
    client.set_client_setting("output_format_arrow_compression_method", "none")
    return client


def _database(name: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", name):
        raise WarehouseError(f"database: {name!r} is not a valid database name (letters, digits, _)")
    return name


def _connect_server(dsn: str, database: str | None) -> Client:
    try:
        if database:
            connect(dsn).command(f"CREATE DATABASE IF NOT EXISTS {_database(database)}")
            return clickhouse_connect.get_client(dsn=dsn, database=database)
        return clickhouse_connect.get_client(dsn=dsn)
    except WarehouseError:
        raise
    except Exception as exc:
        parts = urlparse(dsn)
        safe = parts._replace(netloc=f"{parts.hostname}:{parts.port or ''}").geturl()
        raise WarehouseError(f"dsn: cannot connect to ClickHouse server {safe}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
