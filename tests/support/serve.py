"""``python -m warehouse serve`` as a real process on a free loopback port, for the serve tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from support.brokers import REPO, _stop, free_port


@contextmanager
def serve_process(dsn: str, *args: str, outputs: Path | None = None, env: dict[str, str] | None = None,
                  token: str | None = None) -> Iterator[str]:
    """Start ``serve`` on ``dsn`` (an embedded warehouse of its own); yield its base URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "warehouse", "serve", "--dsn", dsn, "--port", str(port), *args]
    if outputs is not None:
        command += ["--outputs", str(outputs)]
    if token is not None:
        command += ["--token", token]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited with {process.returncode}: {process.stdout.read()}")
            try:
                if httpx.get(f"{url}/ping", headers=headers, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not answer /ping within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        _stop(process)
