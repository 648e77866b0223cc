"""Sharing the embedded warehouse between processes (issue 18 item 7): real processes, each with its own
data directory (chDB allows one per process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest


def _python(code: str, *, dsn: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "TICKHOUSE_DSN": dsn}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=timeout)


def _warehouse(*args: str, dsn: str | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"TICKHOUSE_DSN": dsn} if dsn else {})}
    return subprocess.run([sys.executable, "-m", "warehouse", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=cwd)


def _one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_closing_a_feed_lets_another_process_open_the_warehouse(dsn):
    result = _python(f"""
        import subprocess, sys
        from backtest.feed import Feed
        from warehouse.client import connect

        def init():
            return subprocess.run([sys.executable, "-m", "warehouse", "--dsn", {dsn!r}, "init"],
                                  capture_output=True, text=True)

        with Feed() as feed:
            assert feed.client.command("SELECT 1") == 1
            held = init()
        assert feed.closed
        freed = init()
        print(held.returncode, freed.returncode)
        print(held.stderr.strip())
        client = connect()  # a Feed given a client leaves it open
        Feed(client).close()
        print(client.command("SELECT 2"))
    """, dsn=dsn)
    assert result.returncode == 0, result.stderr
    codes, held, still_open = result.stdout.strip().splitlines()
    assert codes == "2 0"
    assert "is open in another process (pid" in held and "python -m warehouse serve" in held
    assert still_open == "2"


@pytest.mark.parametrize("where", ["before", "after"])
def test_dsn_before_or_after_the_command(tmp_path, session_dsn, where):
    own = f"chdb://{tmp_path / 'wh'}"
    args = ("--dsn", own, "init") if where == "before" else ("init", "--dsn", own)
    result = _warehouse(*args, dsn=session_dsn)  # $TICKHOUSE_DSN names another warehouse: --dsn wins
    assert result.returncode == 0, result.stderr
    assert "schema at version" in result.stdout
    assert (tmp_path / "wh" / "metadata").is_dir()


def _backtest(*args: str, cwd, env_dsn: str | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "TICKHOUSE_DSN"}
    env.update({"TICKHOUSE_DSN": env_dsn} if env_dsn else {})
    return subprocess.run([sys.executable, "-m", "backtest", "+strategy=sma_cross", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("given", [(), ("warehouse.dsn=chdb://data/wh",)])
def test_a_run_saves_its_dsn_absolute(tmp_path, given):
    """The default (``chdb://data/warehouse`` via ``$TICKHOUSE_DSN``'s fallback) and a relative override
    are both saved as absolute paths: replayed elsewhere, the config opens the same warehouse."""
    done = _backtest(*given, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 2  # the new warehouse has no schema: a one-line error, but the config is saved
    assert _one_line(done).startswith("error: warehouse: it has no schema yet")
    saved = (tmp_path / "run" / ".hydra" / "config.yaml").read_text()
    expected = tmp_path / ("data/wh" if given else "data/warehouse")
    assert f"dsn: chdb://{expected}\n" in saved
