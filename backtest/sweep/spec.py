"""What a sweep evaluates: the ``sweep`` config node, the parameter space and its sets.

Parameter values use Hydra's own sweep grammar, so a grid reads like a
multirun line but runs in one process::

    python -m backtest +strategy=sma_cross +sweep=grid \\
        sweep.params.fast='range(5,100,5)' sweep.params.slow='range(10,200,10)'

The command line's sweep syntax reaches the job unexpanded: the sweeper
``hydra/sweeper: tickhouse`` hands each ``sweep.params.*`` value to the one
job as text (``'range(5,100,5)'``), parsed here.

A value is ``range(start,stop[,step])`` (stop excluded, as in Python),
``choice(a,b,...)`` or ``a,b,...``, a list ``[a,b]``, a single value, or --
random search only -- ``interval(low,high)`` (uniform floats). Parameters not
named keep the ``strategy.*`` value. Grid: every combination; random: ``n``
draws (seeded by ``seed``) from the same space, distinct combinations when
the space is finite. A combination the strategy refuses (fast >= slow) is
skipped and counted, not an error.

>>> spec = SweepSpec.from_mapping({"params": {"fast": "range(5,20,5)", "slow": "10,20"}})
>>> space = ParamSpace.parse(spec.params, "sma_cross")
>>> space.names, space.size
(('fast', 'slow'), 6)
>>> [s.values for s in enumerate_sets(space, spec, {"name": "sma_cross"}).valid]
[{'fast': 5, 'slow': 10}, {'fast': 5, 'slow': 20}, {'fast': 10, 'slow': 20}, {'fast': 15, 'slow': 20}]
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep
from hydra.errors import HydraException

import strategies
from backtest.errors import BacktestError
from strategies.errors import StrategyError
from backtest.stats import STAT_NAMES

MODES = ("grid", "random")
EXECUTORS = ("local", "dask")
LOWER_IS_BETTER = frozenset({"volatility", "max_drawdown_bars"})


@dataclass(frozen=True)
class WalkForward:
    """Rolling windows: ``train`` and ``test`` lengths in bars (``5000``, ``5000b``), sessions (``3s``) or durations
    (``30d``, ``12h``, ``90m``, ``2w``)."""

    train: int | str | None = None
    test: int | str | None = None

    @property
    def enabled(self) -> bool:
        """Whether both lengths are set."""
        return self.train is not None and self.test is not None


@dataclass(frozen=True)
class SweepSpec:
    """The ``sweep`` node (``conf/sweep/grid.yaml``, ``random.yaml``); checked on construction.

    >>> SweepSpec(metric="sharp")
    Traceback (most recent call last):
    backtest.errors.BacktestError: sweep.metric: 'sharp' is not a statistic (known: total_return, cagr, volatility, sharpe, sortino, calmar, max_drawdown, max_drawdown_bars, win_rate, profit_factor, expectancy, avg_trade_return, best_trade_return, worst_trade_return, exposure, trades, sqn, final_equity)
    """

    mode: str = "grid"
    params: dict[str, Any] = field(default_factory=dict)
    n: int = 100
    seed: int = 0
    metric: str = "sharpe"
    top_k: int = 5
    max_sets: int = 100_000
    force: bool = False
    executor: str = "local"
    address: str | None = None
    workers: int = 2
    chunk: int = 256
    walk_forward: WalkForward = WalkForward()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise BacktestError(f"sweep.mode: {self.mode!r} is not one of {', '.join(MODES)}")
        if self.executor not in EXECUTORS:
            raise BacktestError(f"sweep.executor: {self.executor!r} is not one of {', '.join(EXECUTORS)}")
        if self.metric not in STAT_NAMES:
            raise BacktestError(f"sweep.metric: {self.metric!r} is not a statistic (known: {', '.join(STAT_NAMES)})")
        for name in ("n", "max_sets", "workers", "chunk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BacktestError(f"sweep.{name}: {value!r} must be an integer >= 1")
        for name in ("seed", "top_k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BacktestError(f"sweep.{name}: {value!r} must be an integer >= 0")
        if not isinstance(self.force, bool):
            raise BacktestError(f"sweep.force: {self.force!r} is not true or false")
        if not self.params:
            raise BacktestError("sweep.params: none given; name at least one, e.g. sweep.params.fast='range(5,50,5)'")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SweepSpec:
        """Build from the Hydra/dict node; unknown keys are an error naming them."""
        known = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in known:
                raise BacktestError(f"sweep.{key}: unknown setting (known: {', '.join(known)})")
        given = dict(values)
        walk = dict(given.pop("walk_forward", None) or {})
        for key in walk:
            if key not in ("train", "test"):
                raise BacktestError(f"sweep.walk_forward.{key}: unknown setting (known: train, test)")
        return cls(**given, walk_forward=WalkForward(**walk))

    @property
    def descending(self) -> bool:
        """Whether a higher ``metric`` is better."""
        return self.metric not in LOWER_IS_BETTER


@dataclass(frozen=True)
class Dimension:
    """One swept parameter: its finite ``values``, or ``interval`` bounds for random draws."""

    name: str
    values: tuple[Any, ...] = ()
    interval: tuple[float, float] | None = None


@dataclass(frozen=True)
class ParamSpace:
    """The swept parameters of one strategy, in the order given."""

    strategy: type[strategies.Strategy]
    dimensions: tuple[Dimension, ...]
    label: str  # the strategy's name as given (a short name, module:Class, file.py:Class)

    @property
    def names(self) -> tuple[str, ...]:
        """Swept parameter names."""
        return tuple(d.name for d in self.dimensions)

    @property
    def size(self) -> float:
        """Number of grid combinations (``inf`` with an interval)."""
        return math.prod(math.inf if d.interval else len(d.values) for d in self.dimensions)

    @classmethod
    def parse(cls, params: Mapping[str, Any], strategy: str | type[strategies.Strategy]) -> ParamSpace:
        """Parse ``sweep.params`` for ``strategy``; unknown names and empty ranges are one-line errors.

        >>> ParamSpace.parse({"fsat": "1,2"}, "sma_cross")
        Traceback (most recent call last):
        backtest.errors.BacktestError: sweep.params.fsat: unknown parameter of sma_cross (known: fast, slow)
        >>> ParamSpace.parse({"fast": "range(10,5)"}, "sma_cross")
        Traceback (most recent call last):
        backtest.errors.BacktestError: sweep.params.fast: range(10,5) is empty
        """
        found = strategies.find(strategy)
        label = strategy if isinstance(strategy, str) else found.name
        known = list(found.params())
        dims = []
        for name, spec in params.items():
            if name not in known:
                raise BacktestError(f"sweep.params.{name}: unknown parameter of {label} (known: {', '.join(known)})")
            dims.append(_dimension(name, spec))
        return cls(found, tuple(dims), label)


def _dimension(name: str, spec: Any) -> Dimension:
    """A :class:`Dimension` from Hydra sweep text, a list or a single value."""
    if isinstance(spec, str):
        try:
            override = OverridesParser.create().parse_override(f"x={spec}")
        except HydraException as exc:
            raise BacktestError(f"sweep.params.{name}: {spec!r} is not a value, list, range(), choice() or "
                                f"interval() ({str(exc).splitlines()[0]})") from None
        value = override.value()
        if isinstance(value, IntervalSweep):
            if not value.start < value.end:
                raise BacktestError(f"sweep.params.{name}: {spec} is empty")
            return Dimension(name, interval=(float(value.start), float(value.end)))
        values = list(override.sweep_iterator()) if override.is_sweep_override() else value
    else:
        values = spec
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    if not values:
        raise BacktestError(f"sweep.params.{name}: {spec} is empty")
    if any(isinstance(v, (dict, list)) for v in values):
        raise BacktestError(f"sweep.params.{name}: {spec!r} holds a nested list")
    # range(0.1,0.5,0.1) steps by float addition: 0.30000000000000004 becomes 0.3
    values = [round(v, 12) if isinstance(v, float) else v for v in values]
    return Dimension(name, tuple(dict.fromkeys(values)))


@dataclass(frozen=True)
class ParamSet:
    """One evaluated combination: the swept ``values`` and the strategy made with them (``params``)."""

    values: dict[str, Any]
    params: strategies.Strategy


@dataclass(frozen=True)
class Sets:
    """The combinations of a sweep: ``valid`` ones to evaluate, ``invalid`` ones with the strategy's reason."""

    valid: list[ParamSet]
    invalid: list[tuple[dict[str, Any], str]]


def count_sets(space: ParamSpace, spec: SweepSpec) -> int:
    """How many combinations the sweep draws (grid size, or random draws); checks ``sweep.max_sets``.

    >>> spec = SweepSpec(params={"fast": "range(1,1000)", "slow": "range(1,1000)"}, max_sets=1000)
    >>> count_sets(ParamSpace.parse(spec.params, "sma_cross"), spec)
    Traceback (most recent call last):
    backtest.errors.BacktestError: sweep.max_sets: the grid has 998,001 sets, above 1,000; narrow sweep.params, raise sweep.max_sets or pass sweep.force=true
    >>> count_sets(ParamSpace.parse(spec.params, "sma_cross"), dataclasses.replace(spec, force=True))
    998001
    """
    if spec.mode == "grid":
        interval = next((d.name for d in space.dimensions if d.interval), None)
        if interval:
            raise BacktestError(f"sweep.params.{interval}: interval() needs random search (+sweep=random)")
        count = int(space.size)
        if count > spec.max_sets and not spec.force:
            raise BacktestError(f"sweep.max_sets: the grid has {count:,} sets, above {spec.max_sets:,}; narrow "
                                "sweep.params, raise sweep.max_sets or pass sweep.force=true")
        return count
    if spec.n > spec.max_sets and not spec.force:
        raise BacktestError(f"sweep.n: {spec.n:,} draws are above sweep.max_sets ({spec.max_sets:,}); "
                            "raise sweep.max_sets or pass sweep.force=true")
    return min(spec.n, int(space.size)) if math.isfinite(space.size) else spec.n


def iter_chunks(space: ParamSpace, spec: SweepSpec, strategy_values: Mapping[str, Any]) -> Iterator[Sets]:
    """The combinations in order, ``spec.chunk`` valid sets at a time (the last chunk may hold fewer).

    Nothing is built ahead: a grid is walked as a cartesian product, random
    draws are kept as index arrays (8 bytes per draw and parameter). Each
    chunk carries the refused combinations met since the previous one.

    >>> spec = SweepSpec(params={"fast": "range(5,20,5)", "slow": "10,20"}, chunk=2)
    >>> [(len(c.valid), len(c.invalid)) for c in iter_chunks(ParamSpace.parse(spec.params, "sma_cross"), spec, {})]
    [(2, 0), (2, 2)]
    """
    count_sets(space, spec)
    combos = itertools.product(*(d.values for d in space.dimensions)) if spec.mode == "grid" else \
        _draws(space, spec.n, spec.seed)
    fixed = {k: v for k, v in strategy_values.items() if k != "name"}
    valid: list[ParamSet] = []
    invalid: list[tuple[dict[str, Any], str]] = []
    for combo in combos:
        values = dict(zip(space.names, combo))
        try:
            valid.append(ParamSet(values, space.strategy(**{**fixed, **values})))
        except StrategyError as exc:
            invalid.append((values, str(exc)))
        if len(valid) == spec.chunk:
            yield Sets(valid, invalid)
            valid, invalid = [], []
    if valid or invalid:
        yield Sets(valid, invalid)


def enumerate_sets(space: ParamSpace, spec: SweepSpec, strategy_values: Mapping[str, Any]) -> Sets:
    """Every grid combination, or ``spec.n`` seeded random draws, in one list; refused ones kept with the reason.

    For sweeps small enough to hold (walk-forward evaluates every set on each
    window); :func:`iter_chunks` walks a sweep of any size.
    """
    valid, invalid = [], []
    for chunk in iter_chunks(space, spec, strategy_values):
        valid += chunk.valid
        invalid += chunk.invalid
    return Sets(valid, invalid)


def _draws(space: ParamSpace, n: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """``n`` seeded draws: distinct grid combinations when the space is finite, else independent per dimension."""
    rng = np.random.default_rng(seed)
    columns: list[np.ndarray] = []
    if math.isfinite(space.size):
        sizes = [len(d.values) for d in space.dimensions]
        columns = list(np.unravel_index(rng.choice(int(space.size), size=min(n, int(space.size)), replace=False),
                                        sizes))
    else:
        for d in space.dimensions:
            columns.append(rng.uniform(d.interval[0], d.interval[1], n) if d.interval else
                           rng.integers(0, len(d.values), n))
    for k in range(len(columns[0])):
        yield tuple(float(c[k]) if d.interval else d.values[int(c[k])] for d, c in zip(space.dimensions, columns))
