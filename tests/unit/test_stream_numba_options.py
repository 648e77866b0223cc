"""The stream kernels use public APIs of their dependencies only (issue J, item 4).

numba: ``warehouse/stream/numba_options.py`` replaced the private ``_nrt=False`` by the
documented ``inline="always"`` (figures in that module's docstring); redis-py: the
consumer reads raw replies from a socket it opens itself (``warehouse/stream/redis_socket.py``)
instead of redis-py's private ``Connection._sock``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
from numba import njit

from warehouse.stream.numba_options import INLINED, KERNEL

REPO = Path(__file__).resolve().parents[2]


def test_numba_options_are_public():
    assert not [key for key in {**KERNEL, **INLINED} if key.startswith("_")]
    assert INLINED == {**KERNEL, "inline": "always"}


def test_an_inlined_helper_compiles_into_its_caller():
    options = {**INLINED, "cache": False}

    @njit(**options)
    def first(values):
        return values[0]

    @njit(**{**KERNEL, "cache": False})
    def twice_first(values):
        return first(values) + first(values)

    assert twice_first(np.arange(1.0, 4.0)) == 2.0
    assert not first.overloads, "numba compiled the helper on its own: inline='always' was not honoured"


def _uses(folder: str, private: str) -> list[str]:
    """Where modules under ``folder`` use ``private``: as an attribute (``x._sock``), a keyword or a dict key
    (``_nrt=False``, ``{"_nrt": False}``); docstrings and comments do not count."""
    found = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr == private
                    or isinstance(node, ast.keyword) and node.arg == private
                    or isinstance(node, ast.Constant) and node.value == private):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_no_private_hooks_into_redis_py_or_numba():
    """``grep -rn "_sock\\b" warehouse backtest`` finds nothing; no ``_nrt`` in warehouse/ (backtest/ keeps its own)."""
    found = _uses("warehouse", "_sock") + _uses("backtest", "_sock") + _uses("warehouse", "_nrt")
    assert not found, f"private hooks into redis-py or numba: {found}"
