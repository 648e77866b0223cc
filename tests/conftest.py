"""Shared fixtures: one embedded warehouse per test session (chDB allows one
data directory per process), a fresh database inside it for tests that need
isolation."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="tickhouse-tests-"))
os.environ["TICKHOUSE_DSN"] = f"chdb://{_SESSION_DIR / 'warehouse'}"


@pytest.fixture(scope="session")
def session_dsn() -> str:
    """The DSN of this session's embedded warehouse."""
    return os.environ["TICKHOUSE_DSN"]


@pytest.fixture()
def fresh_client():
    """A client on a new, migrated database of the session warehouse."""
    from warehouse.client import connect
    from warehouse.schema.migrate import migrate

    client = connect(database=f"t_{uuid.uuid4().hex[:12]}")
    migrate(client)
    return client


@pytest.fixture()
def dsn(tmp_path) -> str:
    """A DSN for a new embedded warehouse of its own, for a CLI subprocess (one data directory per process)."""
    return f"chdb://{tmp_path / 'warehouse'}"
