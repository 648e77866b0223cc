"""A core install (``pip install tickhouse``, no extras) works, and a command that needs an extra says which.

The brokers' clients and Dask are extras (``[redis]``, ``[kafka]``, ``[dask]``). Here they
are made unimportable in subprocesses (a ``sitecustomize`` that sets ``sys.modules[name] =
None``, inherited by every process the command starts): the core commands must still
work, and a broker command or a Dask sweep must exit 2 with one line naming the
``pip install`` to run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.demo.generate import DemoSpec, write_parquet

REPO = Path(__file__).resolve().parents[2]
EXTRAS = ("redis", "hiredis", "confluent_kafka", "dask", "distributed", "fastapi", "uvicorn", "streamlit")


@pytest.fixture(scope="module")
def core_env(tmp_path_factory) -> dict[str, str]:
    """Environment of a Python where the extras' modules cannot be imported."""
    site = tmp_path_factory.mktemp("core-site")
    (site / "sitecustomize.py").write_text(f"import sys\nsys.modules.update(dict.fromkeys({EXTRAS!r}))\n")
    path = os.pathsep.join([str(site), str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "PYTHONPATH": path}


def _run(env: dict[str, str], *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_blocker_blocks(core_env):
    done = _run(core_env, "-c", "import redis")
    assert done.returncode == 1 and "ModuleNotFoundError" in done.stderr


def test_core_imports_load_no_extra():
    """Even where the extras are installed, importing the packages and CLIs leaves them unimported."""
    code = ("import sys, backtest, warehouse, strategies, reports, warehouse.cli, backtest.cli, "
            "warehouse.stream.cli, warehouse.stream.kafka_prejoin, warehouse.serve.cli; "
            f"print(sorted(n for n in {EXTRAS!r} if n in sys.modules))")
    done = _run(dict(os.environ), "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("command, extra", [
    ("ingest redis", "redis"), ("produce redis", "redis"), ("ingest kafka", "kafka"), ("produce kafka", "kafka")])
def test_a_broker_command_without_its_extra_prints_one_line_and_exits_2(core_env, tmp_path, command, extra):
    done = _run(core_env, "-m", "warehouse", "--dsn", f"chdb://{tmp_path / 'wh'}", *command.split())
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"error: {command} needs the {extra} extra: pip install 'tickhouse[{extra}]'\n"
    assert done.stdout == ""


def test_serve_without_its_extra_prints_one_line_and_exits_2(core_env):
    done = _run(core_env, "-m", "warehouse", "--dsn", "chdb://:memory:", "serve")
    assert done.returncode == 2, done.stderr
    assert done.stderr == "error: serve needs the serve extra: pip install 'tickhouse[serve]'\n"


def test_core_commands_and_a_backtest_run_without_the_extras(core_env, tmp_path):
    dsn = f"chdb://{tmp_path / 'wh'}"
    for args in (("init",), ("demo", "--ticks", "50k", "--symbols", "AAPL"), ("status",)):
        done = _run(core_env, "-m", "warehouse", "--dsn", dsn, *args)
        assert done.returncode == 0, (args, done.stderr)
    ticks = tmp_path / "more.parquet"
    write_parquet(DemoSpec(ticks=5_000, symbols=("MSFT",), seed=5), ticks)
    done = _run(core_env, "-m", "warehouse", "--dsn", dsn, "load", str(ticks))
    assert done.returncode == 0, done.stderr

    done = _run(core_env, "-m", "backtest", "+strategy=sma_cross", f"warehouse.dsn={dsn}", "data.symbols=[AAPL]",
                f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "sma_cross" in done.stdout

    done = _run(core_env, "-m", "backtest", "+strategy=sma_cross", "+sweep=grid", "sweep.executor=dask",
                "sweep.params.fast=5,10", f"warehouse.dsn={dsn}", "data.symbols=[AAPL]",
                f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr == "error: sweep.executor=dask needs the dask extra: pip install 'tickhouse[dask]'\n"


def test_a_dask_sweep_without_the_extra_raises_the_hint_as_a_backtest_error(core_env):
    """The backtest CLI prints a BacktestError as its one-line ``error: ...`` and exits 2."""
    code = ("from backtest.errors import BacktestError\n"
            "from backtest.sweep.dask_executor import evaluate_on_dask\n"
            "try:\n    evaluate_on_dask(None, [[]], None, None)\n"
            "except BacktestError as exc:\n    print(exc)\n")
    done = _run(core_env, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "sweep.executor=dask needs the dask extra: pip install 'tickhouse[dask]'\n"
