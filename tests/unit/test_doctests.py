"""Run every public docstring example (they are the documentation's promises)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("warehouse", "backtest", "strategies", "reports")
# Installed outside our packages (backtest/sweep/hydra_plugins/ is the hydra_plugins namespace; pyproject.toml).
PLUGINS = ("hydra_plugins.tickhouse_sweeper", "hydra_plugins.tickhouse_strategies")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package)
        module = importlib.import_module(package)
        names += [m.name for m in pkgutil.walk_packages(module.__path__, package + ".") if m.name.split(".")[-1] != "__main__"]
    return names + list(PLUGINS)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
