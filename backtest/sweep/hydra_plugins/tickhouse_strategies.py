"""The config group ``strategy`` of ``conf/``: every class :func:`strategies.find` resolves is an option.

:class:`StrategySource` is a Hydra config source (Hydra docs: "Config Search
Path"; plugin type ``ConfigSource``) for the scheme ``tickhouse-strategies``.
The option ``strategy/<spec>`` is the config ``{name: <spec>, **cls.defaults()}``
of the class ``strategies.find(<spec>)``: a built-in or installed short name
(``sma_cross``), ``module:Class``, or a file (``dir/my_signals.py:EmaCross``,
relative to the working directory, or absolute). Hydra asks a source whether
``strategy/<spec>`` exists, then loads it; this one says yes to every spec and
lets :func:`strategies.find` decide while loading, so a spec that leads nowhere
fails while Hydra composes, with find's one-line
:class:`~strategies.errors.StrategyError` saying why (no such name, module,
file or class). Listing the group (``--help``) gives the short names,
:func:`strategies.available`.

:class:`StrategySearchPath` (plugin type ``SearchPathPlugin``) appends the
source to the search path of an app whose primary config folder is our
``conf/`` (``python -m backtest``, or ``initialize_config_dir`` on it), and of
no other app. It is a search path plugin rather than a ``hydra.searchpath``
entry in ``conf/config.yaml`` because Hydra's ``--help`` lists the groups of
the plugins' search path but not those of ``hydra.searchpath``.

Both are installed as ``hydra_plugins.tickhouse_strategies`` beside the
sweeper (``pyproject.toml``): Hydra uses a plugin only from a class its scan of
``hydra_plugins`` finds. Hydra imports every plugin for every app, so
:mod:`strategies` is imported when a strategy is looked up, not before, and the
search path plugin finds our ``conf/`` without importing :mod:`backtest`.

>>> source = StrategySource(provider="tickhouse", path="tickhouse-strategies://")
>>> source.list("", ObjectType.GROUP), source.list("strategy", ObjectType.CONFIG)[:2]
(['strategy'], ['bollinger_breakout', 'book_imbalance'])
>>> dict(source.load_config("strategy/strategies.sma_cross:SmaCross").config)
{'name': 'strategies.sma_cross:SmaCross', 'fast': 10, 'slow': 30}
>>> source.load_config("strategy/nope")
Traceback (most recent call last):
strategies.errors.StrategyError: strategy: 'nope' is not a strategy (available: bollinger_breakout, ..., vwap_reversion; or a class as module:Class or file.py:Class)
"""

import importlib.util
from pathlib import Path
from typing import List, Optional

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf

GROUP = "strategy"
SCHEME = "tickhouse-strategies"


class StrategySource(ConfigSource):
    """Answers for the group ``strategy`` and every ``strategy/<spec>`` in it; loading the spec decides."""

    @staticmethod
    def scheme() -> str:
        """``tickhouse-strategies``: the search path entry is ``tickhouse-strategies://``."""
        return SCHEME

    def available(self) -> bool:
        """Always: the source reads no folder."""
        return True

    def is_group(self, config_path: str) -> bool:
        """The root and ``strategy``; a file spec's folders belong to the option's name (``dir/file.py:Class``)."""
        return config_path.strip("/") in ("", GROUP)

    def is_config(self, config_path: str) -> bool:
        """Every ``strategy/<spec>``: :meth:`load_config` finds the class, or raises saying why there is none."""
        return config_path.startswith(GROUP + "/") and len(config_path) > len(GROUP) + 1

    def load_config(self, config_path: str) -> ConfigResult:
        """``{name: <spec>, **cls.defaults()}`` of ``strategies.find(<spec>)``; its StrategyError if none."""
        import strategies  # here: Hydra imports this module for every app, ours or not

        spec = config_path[len(GROUP) + 1:]
        node = OmegaConf.create({"name": spec, **strategies.find(spec).defaults()})
        return ConfigResult(provider=self.provider, path=self.full_path(), config=node, header={"package": None})

    def list(self, config_path: str, results_filter: Optional[ObjectType]) -> List[str]:
        """At the root, the group ``strategy``; in it, the short names (:func:`strategies.available`)."""
        import strategies

        path = config_path.strip("/")
        groups = [GROUP] if path == "" and results_filter != ObjectType.CONFIG else []
        configs = strategies.available() if path == GROUP and results_filter != ObjectType.GROUP else []
        return sorted(groups + configs)


def our_conf_dir() -> Optional[Path]:
    """The ``conf/`` folder beside the ``backtest`` package (found, not imported); None if there is none.

    >>> our_conf_dir().joinpath("config.yaml").is_file()
    True
    """
    spec = importlib.util.find_spec("backtest")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parents[1] / "conf"


class StrategySearchPath(SearchPathPlugin):
    """Appends ``tickhouse-strategies://`` to the search path whose primary config folder is :func:`our_conf_dir`."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        """Append the source after our ``conf/`` (its YAML wins a name clash); other apps' paths stay as they are."""
        conf = our_conf_dir()
        for element in search_path.get_path():
            path = element.path or ""
            folder = path[len("file://"):] if path.startswith("file://") else path
            if element.provider == "main" and conf is not None and "://" not in folder and Path(folder).resolve() == conf:
                search_path.append(provider="tickhouse", path=f"{SCHEME}://")
                return
