"""Turn a DSN into a clickhouse-connect client: embedded chDB or a server.

``chdb:///abs/path`` opens an embedded ClickHouse (chDB) data directory in this
process; ``http(s)://user:pass@host:8123/db`` talks to a ClickHouse server.
The same SQL runs on both. With no DSN, ``$TICKHOUSE_DSN`` is used, else
``chdb://`` + the absolute path of ``./data/warehouse``.

Embedded limits turned into clear errors here: one process may open a data
directory at a time, and one process may open one directory at a time.
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from warehouse.errors import WarehouseError

DSN_ENV = "TICKHOUSE_DSN"
DEFAULT_EMBEDDED_DIR = "data/warehouse"

_open_embedded: dict[tuple[str, str], Client] = {}
_siblings: dict[tuple[str, str], Client] = {}  # second connections (sibling()), same keys


def resolve_dsn(dsn: str | None = None) -> str:
    """Return the DSN to use: the argument, ``$TICKHOUSE_DSN`` or the default.

    Relative embedded paths (``chdb://data/wh``) are made absolute.

    >>> resolve_dsn("chdb:///tmp/wh")
    'chdb:///tmp/wh'
    >>> resolve_dsn("http://localhost:8123/default")
    'http://localhost:8123/default'
    """
    chosen = dsn or os.environ.get(DSN_ENV) or ""
    if not chosen:
        return "chdb://" + str(Path(DEFAULT_EMBEDDED_DIR).resolve())
    scheme = urlparse(chosen).scheme
    if scheme == "chdb":
        return "chdb://" + str(Path(embedded_path(chosen)).resolve())
    if scheme in ("http", "https"):
        return chosen
    raise WarehouseError(
        f"dsn: unsupported scheme {scheme or chosen!r}; use chdb:///abs/path or http(s)://host:8123/db"
    )


def embedded_path(dsn: str) -> str:
    """The data directory of a ``chdb://`` DSN (``chdb:///abs`` or ``chdb://rel``).

    >>> embedded_path("chdb:///var/lib/wh")
    '/var/lib/wh'
    """
    rest = dsn[len("chdb://"):]
    if not rest or rest.startswith("memory"):
        raise WarehouseError(f"dsn: {dsn!r} has no data directory; use chdb:///abs/path")
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
        return _connect_embedded(embedded_path(resolved), database or "default")
    return _connect_server(resolved, database)


def close_embedded() -> None:
    """Close this process's embedded warehouse so another directory may be opened.

    >>> close_embedded()
    """
    for client in [*_open_embedded.values(), *_siblings.values()]:
        client.close()
    _open_embedded.clear()
    _siblings.clear()


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


def _connect_embedded(path: str, database: str) -> Client:
    if (path, database) in _open_embedded:
        return _open_embedded[(path, database)]
    other = next((p for p, _ in _open_embedded if p != path), None)
    if other:
        raise WarehouseError(
            f"dsn: this process already has the embedded warehouse {other} open and chDB allows one "
            f"per process; close it (warehouse.client.close_embedded()) before opening {path}"
        )
    if not _open_embedded:
        Path(path).mkdir(parents=True, exist_ok=True)
        _refuse_if_locked(path)
    try:
        if database != "default":
            _connect_embedded(path, "default").command(f"CREATE DATABASE IF NOT EXISTS {_database(database)}")
        client = _embedded_client(path, database)
    except WarehouseError:
        raise
    except Exception as exc:  # chDB reports failures as generic errors with long traces
        raise WarehouseError(f"dsn: cannot open embedded warehouse at {path}: {_first_line(exc)}") from None
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


def _refuse_if_locked(path: str) -> None:
    """Fail with a clear message when another process holds ``path/status``.

    chDB (like clickhouse-server) takes an exclusive ``flock`` on that file; a
    second process would otherwise get an opaque BAD_ARGUMENTS error.
    """
    status = Path(path) / "status"
    if not status.exists():
        return
    fd = os.open(status, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = _status_pid(status)
        raise WarehouseError(
            f"dsn: warehouse at {path} is open in another process{owner}; stop it, "
            f"or use a ClickHouse server DSN (TICKHOUSE_DSN=http://host:8123/db) for concurrent access"
        ) from None
    finally:
        os.close(fd)  # closing the descriptor releases our probe lock


def _status_pid(status: Path) -> str:
    for line in status.read_text(errors="replace").splitlines():
        if line.startswith("PID:"):
            return f" (pid {line.split(':', 1)[1].strip()})"
    return ""


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
