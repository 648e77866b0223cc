"""Opening an embedded warehouse directory: the checks before chDB sees it, and its failures as one line.

chDB (like clickhouse-server) takes an exclusive ``flock`` on ``<dir>/status``
while a process has the directory open; a second process gets an opaque
``Error initializing EmbeddedServer: . (BAD_ARGUMENTS)``. :func:`first_open`
checks the path (a directory, not a file nor under one; writable), then
serialises the processes that open the same directory at the same moment
(an ``flock`` on the directory itself) and probes ``status`` under it, so the
second process sees the first one's lock and says who holds it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warehouse.errors import WarehouseError

OPEN_WAIT_S = 120.0  # how long a process waits for another one that is opening the same directory
SERVE_HINT = ("run `python -m warehouse serve` to share it and point other processes at its http:// DSN, "
              "or stop that process")


@contextmanager
def first_open(path: str) -> Iterator[None]:
    """Check ``path`` and hold it against other processes opening it while chDB opens it here.

    >>> import tempfile
    >>> with first_open(tempfile.mkdtemp() + "/wh"):
    ...     pass
    >>> with first_open("/dev/null/wh"):
    ...     pass
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: dsn: '/dev/null/wh' lies under '/dev/null', which is a file, not a directory
    """
    check_directory(path)
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WarehouseError(f"dsn: cannot create the warehouse directory {path!r}: {exc.strerror}") from None
    fd = os.open(path, os.O_RDONLY)
    try:
        _wait_for_lock(fd, path)
        refuse_if_locked(path)
        if not os.access(path, os.W_OK):
            raise WarehouseError(read_only(path))
        yield
    finally:
        os.close(fd)  # releases our lock on the directory


def check_directory(path: str) -> None:
    """Refuse a warehouse path that is a file or lies under a file.

    >>> check_directory("/dev/null")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: dsn: '/dev/null' is a file, not a warehouse directory
    """
    here = Path(path)
    if here.exists() and not here.is_dir():
        raise WarehouseError(f"dsn: {path!r} is a file, not a warehouse directory")
    for parent in here.parents:
        if parent.exists():
            if not parent.is_dir():
                raise WarehouseError(f"dsn: {path!r} lies under {str(parent)!r}, which is a file, not a directory")
            return


def refuse_if_locked(path: str) -> None:
    """Fail with a one-line message naming the process when another process holds ``path/status``."""
    status = Path(path) / "status"
    if not status.exists():
        return
    try:
        fd = os.open(status, os.O_RDONLY)
    except PermissionError:
        raise WarehouseError(read_only(path)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise WarehouseError(locked(path)) from None
    finally:
        os.close(fd)  # closing the descriptor releases our probe lock


def locked(path: str) -> str:
    """The message for a warehouse another process has open: which process, and what to do.

    >>> locked("/nowhere")
    'dsn: warehouse at /nowhere is open in another process; chDB lets one process open it: run `python -m warehouse serve` to share it and point other processes at its http:// DSN, or stop that process'
    """
    return f"dsn: warehouse at {path} is open in another process{holder(path)}; chDB lets one process open it: {SERVE_HINT}"


def read_only(path: str) -> str:
    """The message for a warehouse directory this process cannot write.

    >>> read_only("/wh")
    "dsn: warehouse directory '/wh' is read-only; chDB cannot open a directory it cannot write (its lock file, status, is written even to read): copy it somewhere writable, or serve it (`python -m warehouse serve`) from a user that can write it"
    """
    return (f"dsn: warehouse directory {path!r} is read-only; chDB cannot open a directory it cannot write (its "
            f"lock file, status, is written even to read): copy it somewhere writable, or serve it "
            f"(`python -m warehouse serve`) from a user that can write it")


def holder(path: str) -> str:
    """`` (pid N: its command line)`` of the process named in ``path/status``, or ``""``.

    >>> holder("/nowhere")
    ''
    """
    try:
        text = (Path(path) / "status").read_text(errors="replace")
    except OSError:
        return ""
    pid = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("PID:")), "")
    if not pid.isdigit():
        return ""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = ""
    return f" (pid {pid})" + (f": {_short(command)}" if command else "")


def open_error(path: str, exc: BaseException) -> WarehouseError:
    """chDB's failure to open ``path`` as one line: the lock or read-only message when that is the cause."""
    text = str(exc)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)[:300]
    if isinstance(exc, PermissionError) or "Read-only file system" in text or "Permission denied" in text:
        return WarehouseError(read_only(path))
    if "EmbeddedServer" in text or "BAD_ARGUMENTS" in text or "Cannot lock file" in text:
        try:
            refuse_if_locked(path)
        except WarehouseError as clear:
            return clear
        if "Cannot lock file" in text or "EmbeddedServer" in text:
            return WarehouseError(locked(path))
    return WarehouseError(f"dsn: cannot open embedded warehouse at {path}: {first}")


def _wait_for_lock(fd: int, path: str) -> None:
    deadline = time.monotonic() + OPEN_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise WarehouseError(f"dsn: another process has been opening {path} for {OPEN_WAIT_S:.0f} s; "
                                     f"{SERVE_HINT}") from None
            time.sleep(0.02)
        except OSError as exc:
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP):
                return  # a file system without locks: chDB's own lock still guards the directory
            raise


def _short(command: str, limit: int = 100) -> str:
    command = " ".join(command.split())
    return command if len(command) <= limit else command[: limit - 3] + "..."
