"""Sharing the embedded warehouse between processes (issue 18 item 7): real processes, each with its own
data directory (chDB allows one per process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest


def _python(code: str, *, dsn: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TICKHOUSE_DSN": dsn}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=300, cwd=cwd)


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


RACE = """
import sys, time
from warehouse.cli import main
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))  # imports done: every process opens the warehouse at this moment
sys.exit(main(["--dsn", sys.argv[2], sys.argv[3]]))
"""


@pytest.mark.parametrize("command", ["init", "status"])
def test_processes_starting_together_get_the_warehouse_in_turn_or_the_lock_message(tmp_path, command):
    dsn = f"chdb://{tmp_path / 'wh'}"
    if command == "status":
        assert _warehouse("init", dsn=dsn).returncode == 0
    start = f"{time.time() + 4:.3f}"  # after the slowest process has imported
    racers = [subprocess.Popen([sys.executable, "-c", RACE, start, dsn, command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(racer.wait(timeout=300), *racer.communicate()) for racer in racers]
    for code, out, err in results:
        assert "EmbeddedServer" not in err and "BAD_ARGUMENTS" not in err and "Traceback" not in err, err
        if code != 0:
            assert code == 2 and len(err.strip().splitlines()) == 1, err
            assert err.startswith(f"error: dsn: warehouse at {tmp_path / 'wh'} is open in another process (pid "), err
            assert "python -m warehouse serve" in err
    assert any(code == 0 for code, _, _ in results)


def test_a_read_only_warehouse_is_one_line(tmp_path):
    """chDB cannot open a directory it cannot write (it writes ``status`` even to read), so ``status`` on a
    read-only warehouse says so. Root ignores file modes: the directory is mounted read-only in a mount
    namespace of the command's own (``unshare -m``), skipped where that is not allowed."""
    source, mounted = tmp_path / "src", tmp_path / "ro"
    mounted.mkdir()
    assert _warehouse("--dsn", f"chdb://{source / 'wh'}", "init").returncode == 0
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("no mount namespace here (unshare -m) to mount a read-only directory")
    script = (f"mount --bind {source} {mounted} && mount -o remount,bind,ro {mounted} && "
              f"{sys.executable} -m warehouse --dsn chdb://{mounted / 'wh'} status")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert _one_line(result).startswith(f"error: dsn: warehouse directory '{mounted / 'wh'}' is read-only; ")


@pytest.mark.parametrize("under", [False, True])
def test_a_dsn_path_that_is_a_file_is_one_line_from_both_clis(tmp_path, under):
    file = tmp_path / "notes.txt"
    file.write_text("not a warehouse")
    path = file / "wh" if under else file
    expected = (f"dsn: '{path}' lies under '{file}', which is a file, not a directory" if under
                else f"dsn: '{path}' is a file, not a warehouse directory")
    warehouse = _warehouse("status", "--dsn", f"chdb://{path}", cwd=str(tmp_path))
    assert warehouse.returncode == 2 and _one_line(warehouse) == f"error: {expected}"
    backtest = _backtest(f"warehouse.dsn=chdb://{path}", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert backtest.returncode == 2 and _one_line(backtest) == f"error: warehouse.{expected}"
    assert file.read_text() == "not a warehouse"


def test_memory_dsn_is_an_in_memory_warehouse(tmp_path):
    result = _python("""
        from backtest.feed import Feed
        from warehouse.cli import main
        assert main(["--dsn", "chdb://:memory:", "demo", "--ticks", "20k", "--symbols", "AAA", "--no-quotes"]) == 0
        with Feed("chdb://:memory:") as feed:
            print(feed.bars("AAA", "2024-01-01", "2024-03-01", "1d").height > 0)
    """, dsn="chdb://:memory:", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"
    assert list(tmp_path.iterdir()) == []  # no directory named ':memory:' (nor any other) appeared


def test_a_consumer_opens_the_warehouse_before_it_reads_the_stream(tmp_path):
    """A warehouse that cannot be opened fails ``ingest redis`` before one entry is read (none left pending)."""
    redis = pytest.importorskip("redis")
    from support.brokers import redis_server

    file = tmp_path / "not-a-dir"
    file.write_text("")
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        for n in range(1000):
            client.xadd("ticks", {"data": f'{{"n": {n}}}'})
        result = _warehouse("ingest", "redis", "--url", url, "--stream", "ticks", "--until-idle",
                            "--dsn", f"chdb://{file}")
        groups = client.xinfo_groups("ticks")
    assert result.returncode == 2
    assert _one_line(result) == f"error: dsn: '{file}' is a file, not a warehouse directory"
    assert all(group["pending"] == 0 and not group.get("entries-read") for group in groups), groups
