"""What a sweep or walk-forward covered, as label/value pairs for its page: strategy, grid, data, period, rules.

>>> import numpy as np
>>> from backtest.engine.simulate import EngineConfig
>>> from backtest.sweep.spec import SweepSpec
>>> index = np.array(["2024-01-02T14:30", "2024-01-05T21:00"], dtype="datetime64[us]")
>>> pairs = dict(sweep_context("sma_cross", SweepSpec(params={"fast": "5,10"}), EngineConfig(fees_bps=5), None,
...                            index, fixed={"slow": 30}))
>>> pairs["grid"], pairs["fixed values"], pairs["first / last bar"], pairs["rules"]
('fast: 5,10', 'slow = 30', '2024-01-02 14:30 / 2024-01-05 21:00 UTC (2 bars)', 'fees_bps = 5')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np

from backtest.config import DataSpec
from backtest.engine.simulate import EngineConfig
from backtest.sweep.spec import SweepSpec


def sweep_context(strategy: str, spec: SweepSpec, engine: EngineConfig, data: DataSpec | None, index: np.ndarray, *,
                  fixed: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """Label/value pairs: strategy, grid (as given), search, ranking, data, period, and the rules not at default."""
    search = (f"random, {spec.n} draws, seed {spec.seed}" if spec.mode == "random" else "grid (every combination)")
    pairs = [("strategy", strategy),
             ("grid", "; ".join(f"{k}: {v}" for k, v in spec.params.items())),
             ("fixed values", ", ".join(f"{k} = {v}" for k, v in (fixed or {}).items()
                                        if k not in spec.params and k != "name") or "defaults"),
             ("search", search),
             ("ranked by", f"{spec.metric} ({'higher' if spec.descending else 'lower'} is better)")]
    if spec.walk_forward.enabled:
        pairs.append(("walk-forward windows", f"train {spec.walk_forward.train}, test {spec.walk_forward.test}"))
    if data is None:
        pairs.append(("data", "bars given in memory"))
    else:
        pairs += [("symbols", ", ".join(data.symbols)), ("interval / source", f"{data.interval} / {data.source}"),
                  ("range", f"[{data.start}, {data.end})")]
    if len(index):
        first, last = (str(t).replace("T", " ") for t in np.datetime_as_string(index[[0, -1]], unit="m"))
        pairs.append(("first / last bar", f"{first} / {last} UTC ({len(index):,} bars)"))
    defaults = dataclasses.asdict(EngineConfig())
    rules = [f"{k} = {v.value if isinstance(v, Enum) else v}" for k, v in dataclasses.asdict(engine).items()
             if v != defaults[k]]
    pairs.append(("rules", ", ".join(rules) or "engine defaults"))
    return pairs
