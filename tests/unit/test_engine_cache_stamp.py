"""Cached kernels go stale on no kernel edit (backtest/engine/kernels/cache_stamp.py).

numba stamps a cached function with its own file only; the engine's entry points are
closures over a digest of every kernel file, and numba keys a cached closure on the
values it closes over. If a numba release stops doing so, the first test fails and names
the module that relies on it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import backtest.engine.kernels as kernels
from backtest.engine.kernels import simulate_into_nb, stats_nb
from backtest.engine.kernels.cache_stamp import KERNEL_SOURCES, STAMP
from backtest.sweep.kernels import sweep_stats_nb

_WHERE = "backtest/engine/kernels/cache_stamp.py: numba no longer keys cached closures on their values"
_MODULE = '''
import sys
from numba import njit

def _compile(stamp):
    @njit(cache=True)
    def value():
        return stamp
    return value

print(_compile(int(sys.argv[1]))())
'''


def test_numba_keys_a_cached_closure_on_its_values(tmp_path: Path) -> None:
    (tmp_path / "stamped.py").write_text(_MODULE)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)  # the in-tree cache, next to stamped.py

    def run(stamp: int) -> str:
        done = subprocess.run([sys.executable, "-c", "import stamped", str(stamp)],
                              capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
        return done.stdout.strip()

    assert run(1) == "1"
    assert run(2) == "2", _WHERE  # a stale cache would answer 1
    assert run(1) == "1", _WHERE
    assert list((tmp_path / "__pycache__").glob("stamped*.nbi")), "the closure was not cached at all"


@pytest.mark.parametrize("kernel", [simulate_into_nb, stats_nb, sweep_stats_nb], ids=lambda k: k.__name__)
def test_entry_points_close_over_the_kernel_stamp(kernel) -> None:
    cells = [cell.cell_contents for cell in kernel.py_func.__closure__ or ()]
    assert cells == [STAMP], f"{kernel.__name__} is not built by a _compile(stamp) factory"


def test_the_stamp_covers_every_file_the_kernels_import() -> None:
    package = Path(kernels.__file__).parent
    root = package.parents[2]
    covered = {path.resolve() for path in KERNEL_SOURCES}
    for source in package.glob("*.py"):
        assert source.resolve() in covered
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("backtest."):
                target = root / (node.module.replace(".", "/") + ".py")
                if not target.exists():
                    target = root / node.module.replace(".", "/") / "__init__.py"
                assert target.resolve() in covered, f"{source.name} imports {node.module}, not in KERNEL_SOURCES"
