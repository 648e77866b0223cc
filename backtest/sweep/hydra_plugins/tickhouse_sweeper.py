"""``hydra/sweeper: tickhouse``: Hydra's basic sweep, except that ``sweep.params.*`` values reach ONE job as written.

Our sweep engine evaluates thousands of parameter sets in one process, so
``sweep.params.fast=range(5,100,5)`` must not become 19 Hydra jobs: this
sweeper hands every override under a ``literal`` key (default
``sweep.params``) to each job as a quoted string of its text after ``=``
(``++sweep.params.fast='range(5,100,5)'``), which
:mod:`backtest.sweep.spec` parses with Hydra's grammar. Every other override is
swept as Hydra's basic sweeper does: a discrete sweep (``a,b``,
``choice()``, ``range()``, ``glob()``) gives one job per value, the jobs are the
combinations, and all of them are composed before the first one runs.

A failed job does not stop the others. When all have run, the sweeper raises
:class:`JobsFailed` (how many of how many, and the sweep folder) instead of
the first job's exception, which Hydra's basic sweeper raises after printing
an ``Error executing job`` line: each of our jobs has printed and recorded its
own error, and the caller decides what the count means.

``conf/config.yaml`` selects this sweeper for every multirun of
``python -m backtest``; ``conf/sweep/grid.yaml`` sets ``hydra.mode:
MULTIRUN``, so ``+sweep=grid`` needs no ``-m``: Hydra accepts sweep syntax
only in a multirun, and ``hydra.mode`` is its own way to ask for one.

The file lives in ``backtest/sweep/hydra_plugins/`` and is installed as the
module ``hydra_plugins.tickhouse_sweeper`` (``pyproject.toml`` maps the
``hydra_plugins`` namespace package to that folder): Hydra instantiates a
plugin only from a class it found by scanning that namespace package. It
imports nothing of ours, because Hydra imports every plugin for every app, and
it does without ``from __future__ import annotations``: Hydra's scan runs the
module before it is in ``sys.modules``, where ``dataclass`` would look up
string annotations.

>>> from hydra.core.override_parser.overrides_parser import OverridesParser
>>> parsed = OverridesParser.create().parse_overrides(
...     ["sweep.params.fast=range(5,100,5)", "sweep.params.slow=20,40", "engine.fees_bps=0,2", "+strategy=sma_cross"])
>>> for job in job_overrides(parsed, ["sweep.params"]):
...     print(" ".join(job))
++sweep.params.fast='range(5,100,5)' ++sweep.params.slow='20,40' engine.fees_bps=0 +strategy=sma_cross
++sweep.params.fast='range(5,100,5)' ++sweep.params.slow='20,40' engine.fees_bps=2 +strategy=sma_cross
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Quote, QuotedString
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf


@dataclass
class TickhouseSweeperConf:
    """The ``hydra.sweeper`` node: keys whose overrides pass to every job as written."""

    _target_: str = "hydra_plugins.tickhouse_sweeper.TickhouseSweeper"
    literal: List[str] = field(default_factory=lambda: ["sweep.params"])


ConfigStore.instance().store(group="hydra/sweeper", name="tickhouse", node=TickhouseSweeperConf, provider="tickhouse")


class JobsFailed(Exception):
    """``failed`` of the ``total`` jobs of the multirun in ``sweep_dir`` failed (each recorded its own error).

    >>> str(JobsFailed(1, 4, Path("multirun")))
    '1 of 4 jobs failed (multirun)'
    """

    def __init__(self, failed: int, total: int, sweep_dir: Path) -> None:
        super().__init__(f"{failed} of {total} jobs failed ({sweep_dir})")
        self.failed, self.total, self.sweep_dir = failed, total, sweep_dir


def _is_literal(override: Override, literal: Sequence[str]) -> bool:
    key = override.key_or_group
    return any(key == prefix or key.startswith(prefix + ".") for prefix in literal)


def job_overrides(overrides: Sequence[Override], literal: Sequence[str]) -> List[List[str]]:
    """The overrides of each job: literal keys quoted as written, the rest swept as Hydra's basic sweeper does.

    A later override of the same key replaces an earlier one; an ``interval()``
    outside the literal keys is refused, as Hydra's basic sweeper refuses it.
    """
    choices: Dict[str, List[str]] = {}
    for override in overrides:
        key = override.get_key_element()
        if _is_literal(override, literal) and not override.is_delete():
            assert override.input_line is not None  # parsed from a command line
            text = override.input_line.split("=", 1)[1]
            quoted = QuotedString(text=text, quote=Quote.single).with_quotes()
            choices[override.key_or_group] = [f"++{override.key_or_group}={quoted}"]
        elif override.is_sweep_override():
            if not override.is_discrete_sweep():
                raise HydraException(f"{override.input_line}: only {', '.join(literal)} may take a sweep of type "
                                     f"{override.value_type.name if override.value_type else 'unknown'}")
            choices[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
        else:
            choices[key] = [f"{key}={override.get_value_element_as_str()}"]
    return [list(job) for job in itertools.product(*choices.values())]


class TickhouseSweeper(Sweeper):
    """Launch one job per combination of the swept overrides; literal keys' values go to every job as text."""

    def __init__(self, literal: Sequence[str]) -> None:
        self.literal = tuple(literal)
        self.config: Optional[DictConfig] = None
        self.launcher: Optional[Launcher] = None
        self.hydra_context: Optional[HydraContext] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Keep the config and make the configured launcher (``hydra/launcher``, basic by default)."""
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(config=config, hydra_context=hydra_context,
                                                                task_function=task_function)

    def sweep(self, arguments: List[str]) -> List[Sequence[JobReturn]]:
        """Compose every job (any error: nothing runs), save ``multirun.yaml``, launch; :class:`JobsFailed` if any failed."""
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        batch = job_overrides(parser.parse_overrides(arguments), self.literal)
        self.validate_batch_is_legal(batch)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        returns = self.launcher.launch(batch, initial_job_idx=0)
        failed = sum(job.status == JobStatus.FAILED for job in returns)
        if failed:
            raise JobsFailed(failed, len(returns), sweep_dir)
        return [returns]
