"""How a run came to be: Hydra's saved overrides and config in ``<run>/.hydra/``, and a command that redoes it.

>>> from backtest.engine.simulate import EngineConfig
>>> from backtest.runner import DataSpec
>>> print(command_line(explicit_overrides("sma_cross", {"fast": 5, "slow": 20}, DataSpec(symbols=("AAPL", "MSFT")),
...                                       EngineConfig(stop_loss=0.02))[:5]))
python -m backtest +strategy=sma_cross strategy.fast=5 strategy.slow=20 'data.symbols=[AAPL,MSFT]' data.start=2024-01-02
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from omegaconf import OmegaConf

if TYPE_CHECKING:
    from backtest.engine.simulate import EngineConfig
    from backtest.runner import DataSpec


def hydra_overrides(run_dir: str | Path) -> list[str] | None:
    """The command-line overrides Hydra saved for the run in ``run_dir``, or None without ``.hydra/``.

    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp()); (run / ".hydra").mkdir()
    >>> _ = (run / ".hydra" / "overrides.yaml").write_text("- +strategy=sma_cross\\n- strategy.fast=5\\n")
    >>> hydra_overrides(run), hydra_overrides(tempfile.mkdtemp())
    (['+strategy=sma_cross', 'strategy.fast=5'], None)
    """
    path = Path(run_dir) / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return None
    loaded = yaml.safe_load(path.read_text()) or []
    return [str(item) for item in loaded]


def hydra_config(run_dir: str | Path) -> dict[str, Any] | None:
    """The config Hydra saved for the run in ``run_dir`` (``.hydra/config.yaml``), resolved now, or None."""
    path = Path(run_dir) / ".hydra" / "config.yaml"
    if not path.is_file():
        return None
    loaded = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    return loaded if isinstance(loaded, dict) else None


def _value(value: object) -> str:
    """A Hydra override value: null, true/false, lists in brackets, the rest as text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    return str(value)


def explicit_overrides(strategy: str, params: Any, data: DataSpec, engine: EngineConfig) -> list[str]:
    """Overrides naming every strategy, data and engine value, so the run does not depend on YAML defaults."""
    values: Mapping[str, Any] = dataclasses.asdict(params) if dataclasses.is_dataclass(params) else dict(params or {})
    items = [f"+strategy={strategy}"]
    items += [f"strategy.{k}={_value(v)}" for k, v in values.items() if k != "name"]
    items += [f"data.{k}={_value(v)}" for k, v in dataclasses.asdict(data).items()]
    items += [f"engine.{k}={_value(v)}" for k, v in dataclasses.asdict(engine).items()]
    return items


def command_line(overrides: Sequence[str]) -> str:
    """``python -m backtest`` with ``overrides`` quoted for a POSIX shell."""
    return " ".join(["python -m backtest", *(shlex.quote(o) for o in overrides)])
