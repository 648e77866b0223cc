"""Finding strategies: an installed package's entry point (``tickhouse.strategies``), files by relative
path, and the one-line errors when a name leads nowhere. Real files and real distribution metadata in
a temporary folder; the entry-point checks run in a subprocess that has that folder on its path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import strategies
from strategies.errors import StrategyError

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = '''
    import numpy as np
    from strategies import Strategy, param


    class {name}(Strategy):
        window = param(20, min=2)

        def signals(self, bars):
            return np.sign(self.ind.returns(bars.close, self.window))
'''


def _write(path: Path, *names: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(textwrap.dedent(STRATEGY.format(name=n)) for n in names))
    return path


def test_an_installed_packages_entry_point_is_a_strategy_by_its_short_name(tmp_path):
    _write(tmp_path / "acme_signals" / "__init__.py", "Breakout")
    info = tmp_path / "acme_signals-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-signals\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[tickhouse.strategies]\nacme_breakout = acme_signals:Breakout\n")
    code = ("import strategies, backtest.config\n"
            "from hydra import compose, initialize_config_dir\n"
            "print(strategies.available())\n"
            "print(strategies.find('acme_breakout')(window=5))\n"
            "with initialize_config_dir(config_dir=backtest.config.CONF_DIR, version_base='1.3'):\n"
            "    print(dict(compose(config_name='config', overrides=['+strategy=acme_breakout']).strategy))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    available, made, node = done.stdout.splitlines()
    assert "'acme_breakout'" in available and "'sma_cross'" in available
    assert made == "Breakout(window=5)"
    assert node == "{'name': 'acme_breakout', 'window': 20}"


def test_files_by_relative_path_and_by_the_one_class_they_hold(tmp_path, monkeypatch):
    _write(tmp_path / "sub" / "one.py", "Solo")
    _write(tmp_path / "two.py", "First", "Second")
    monkeypatch.chdir(tmp_path)
    assert strategies.find("sub/one.py:Solo").__name__ == "Solo"
    assert strategies.find("sub/one.py") is strategies.find("sub/one.py:Solo")  # loaded once
    assert strategies.find(str(tmp_path / "two.py") + ":Second").__name__ == "Second"
    with pytest.raises(StrategyError, match=r"'two.py' defines 2 strategy classes \(First, Second\); name one"):
        strategies.find("two.py")
    with pytest.raises(StrategyError, match=r"strategy: 'gone.py:X': no file"):
        strategies.find("gone.py:X")
    with pytest.raises(StrategyError, match=r"'builtins:dict' is not a subclass of strategies.Strategy"):
        strategies.find("builtins:dict")
