"""numba still honours the one private option the engine kernels use (backtest/engine/kernels/numba_options.py).

``_nrt=False`` is not public numba API. If a numba release ignores, renames or rejects
it, these tests fail and say where the option lives; the kernels would still give the
same results, only slower (see that module's docstring for the measured factor).
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from backtest.engine.kernels.loop import simulate_into_nb
from backtest.engine.kernels.numba_options import NO_REFCOUNTS, PUBLIC

_WHERE = "backtest/engine/kernels/numba_options.py: numba changed its private _nrt option"


def _caller_ir(options: dict) -> str:
    """LLVM IR of a function passing an array to a helper, both compiled with ``options`` (uncached)."""

    @njit(**options)
    def first(values):
        return values[0]

    @njit(**options)
    def twice_first(values):
        return first(values) + first(values)

    assert twice_first(np.arange(3.0)) == 0.0
    return "\n".join(twice_first.inspect_llvm().values())


def test_without_the_option_numba_counts_references():
    """The check below means something: numba's default does emit reference counting here."""
    assert "NRT_incref" in _caller_ir(PUBLIC), "numba no longer emits NRT_incref: rewrite this test"


def test_no_refcounts_compiles_without_reference_counting():
    try:
        ir = _caller_ir(NO_REFCOUNTS)
    except (TypeError, KeyError) as exc:  # an unknown option
        pytest.fail(f"{_WHERE} ({exc})")
    assert "NRT_incref" not in ir and "NRT_decref" not in ir, _WHERE


def test_the_options_are_the_public_ones_plus_nrt_alone():
    assert {k: v for k, v in NO_REFCOUNTS.items() if k != "_nrt"} == PUBLIC
    assert NO_REFCOUNTS["_nrt"] is False


def test_the_bar_loop_is_compiled_with_them():
    assert {k: simulate_into_nb.targetoptions.get(k) for k in NO_REFCOUNTS} == NO_REFCOUNTS, _WHERE
