"""The ``tickhouse`` Hydra sweeper: found by Hydra's plugin scan, and which overrides each job gets."""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper

from hydra_plugins.tickhouse_sweeper import job_overrides


def _jobs(*overrides: str) -> list[list[str]]:
    return job_overrides(OverridesParser.create().parse_overrides(list(overrides)), ["sweep.params"])


def test_hydra_finds_the_sweeper_in_the_installed_namespace_package():
    """``pip install -e .`` and ``pip install .`` both put backtest/sweep/hydra_plugins/ in ``hydra_plugins``."""
    found = [f"{cls.__module__}.{cls.__name__}" for cls in Plugins.instance().discover(Sweeper)]
    assert "hydra_plugins.tickhouse_sweeper.TickhouseSweeper" in found


def test_sweep_params_reach_one_job_as_written():
    assert _jobs("sweep.params.fast=range(5,100,5)", "sweep.params.slow=choice(20, 40)",
                 "+sweep.params.size=interval(0.1,0.5)", "sweep.params.x=[1,2]", "sweep.params.y=7") == [[
        "++sweep.params.fast='range(5,100,5)'", "++sweep.params.slow='choice(20, 40)'",
        "++sweep.params.size='interval(0.1,0.5)'", "++sweep.params.x='[1,2]'", "++sweep.params.y='7'"]]


def test_quotes_in_a_value_survive_the_round_trip():
    (job,) = _jobs("sweep.params.mode=choice('a','b')")
    assert OverridesParser.create().parse_override(job[0]).value() == "choice('a','b')"


def test_other_sweeps_give_one_job_per_combination_as_hydra_basic_sweeper_does():
    jobs = _jobs("+strategy=sma_cross,rsi_reversion", "engine.fees_bps=0,2", "sweep.params.fast=5,10", "data.interval=5m")
    assert [" ".join(job) for job in jobs] == [
        "+strategy=sma_cross engine.fees_bps=0 ++sweep.params.fast='5,10' data.interval=5m",
        "+strategy=sma_cross engine.fees_bps=2 ++sweep.params.fast='5,10' data.interval=5m",
        "+strategy=rsi_reversion engine.fees_bps=0 ++sweep.params.fast='5,10' data.interval=5m",
        "+strategy=rsi_reversion engine.fees_bps=2 ++sweep.params.fast='5,10' data.interval=5m",
    ]
    assert _jobs("engine.fees_bps=0", "engine.fees_bps=1,3") == [["engine.fees_bps=1"], ["engine.fees_bps=3"]]


def test_a_deletion_and_a_non_discrete_sweep_elsewhere():
    assert _jobs("~sweep.params.fast") == [["~sweep.params.fast=null"]]  # as Hydra's basic sweeper writes it
    with pytest.raises(HydraException, match=r"engine.fees_bps=interval\(0,1\): only sweep.params may take a sweep"):
        _jobs("engine.fees_bps=interval(0,1)")
