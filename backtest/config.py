"""The typed settings of ``python -m backtest``: Hydra schemas for ``conf/`` and the data request.

``conf/`` holds values only. Each group's YAML extends a schema stored here in
Hydra's ConfigStore (Hydra docs: "Structured Configs / Config Store",
"Extending configs"), so Hydra itself refuses an unknown key or a value of the
wrong type, naming it:

* the root: :class:`BacktestConfig` (stored as ``backtest_schema``), values in ``conf/config.yaml``;
* ``warehouse``: :class:`WarehouseConfig` (``warehouse_schema``), ``conf/warehouse/*.yaml``;
* ``data``: :class:`DataSpec` (``data_schema``), ``conf/data/*.yaml``;
* ``engine``: ``EngineConfig`` (``engine_schema``), ``conf/engine/*.yaml``;
* ``sweep``: ``SweepSpec`` (``sweep_schema``), ``conf/sweep/*.yaml`` (``+sweep=grid|random``);
* ``strategy``: a free mapping (``+strategy=<name>``); the strategy class checks its fields. The
  options are not YAML files: the config source ``hydra_plugins.tickhouse_strategies`` (on the
  ``hydra.searchpath`` of ``conf/config.yaml``) answers ``strategy/<spec>`` for any class
  :func:`strategies.find` resolves, with ``name: <spec>`` and the class's defaults.

A group's YAML names its schema first in its defaults list
(``- /engine_schema@_here_``), then holds values.

The engine and sweep schemas are the runtime classes themselves
(:class:`~backtest.engine.simulate.EngineConfig`,
:class:`~backtest.sweep.spec.SweepSpec`); their field checks (a negative fee,
an unknown metric) run when the job builds them from the composed config.

>>> from hydra import compose, initialize_config_dir
>>> with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
...     cfg = compose(config_name="config", overrides=["+strategy=sma_cross", "engine.fees_bps=2"])
>>> cfg.engine.fees_bps, list(cfg.data.symbols), cfg.sweep
(2.0, ['AAPL'], None)
>>> with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
...     compose(config_name="config", overrides=["engine.fee=1"])
Traceback (most recent call last):
hydra.errors.ConfigCompositionException: Could not override 'engine.fee'.
To append to your config use +engine.fee=1
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.errors import MissingConfigException, OverrideParseException
from omegaconf import MISSING, Container, DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from backtest.engine.simulate import EngineConfig
from backtest.errors import BacktestError
from backtest.sweep.spec import SweepSpec
from backtest.feed.request import FeedError, check_exchange_time

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")
DATA_SOURCES = ("auto", "raw", "rollup", "ohlcv")


@dataclass(frozen=True)
class DataSpec:
    """Which bars a run reads (group ``data``): ``source`` is a feed source or ``ohlcv`` for imported bars.

    >>> DataSpec(symbols=["AAPL", "MSFT"]).symbols
    ('AAPL', 'MSFT')
    >>> DataSpec(symbols=())
    Traceback (most recent call last):
    backtest.errors.BacktestError: data.symbols: () is empty; name at least one symbol
    >>> DataSpec(session="lunch")
    Traceback (most recent call last):
    backtest.errors.BacktestError: data.session: 'lunch' is not one of regular, all, pre, post
    >>> DataSpec(tz="Mars/Base")
    Traceback (most recent call last):
    backtest.errors.BacktestError: data.tz: 'Mars/Base' is not a known time zone (e.g. Asia/Kolkata, America/New_York, UTC)
    """

    symbols: tuple[str, ...] = ("AAPL",)
    start: str = "2024-01-02"
    end: str = "2024-02-15"
    interval: str = "1m"
    source: str = "auto"
    tz: Optional[str] = None  # zone of days for symbols with no exchange (Feed.bars' tz)
    session: str = "regular"  # regular | all | pre | post: which ticks of a trading day make bars
    exchange: Optional[str] = None  # every symbol's exchange (NSE, NYSE, XLON, ...) instead of instruments'
    benchmark: Optional[str] = None  # the report's benchmark: buy and hold of this symbol (null: of the run's symbols)

    def __post_init__(self) -> None:
        if isinstance(self.symbols, str):
            object.__setattr__(self, "symbols", (self.symbols,))
        object.__setattr__(self, "symbols", tuple(self.symbols))
        if not self.symbols:
            raise BacktestError(f"data.symbols: {self.symbols!r} is empty; name at least one symbol")
        if self.source not in DATA_SOURCES:
            raise BacktestError(f"data.source: {self.source!r} is not one of {', '.join(DATA_SOURCES)}")
        try:
            check_exchange_time(session=self.session, tz=self.tz, exchange=self.exchange)
        except FeedError as exc:
            raise BacktestError(f"data.{exc}") from None

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DataSpec:
        """Build from a Hydra/dict node; values are kept as given (times as text).

        >>> DataSpec.from_mapping({"symbols": ["GOOG"], "interval": "1d", "source": "ohlcv"}).source
        'ohlcv'
        >>> DataSpec.from_mapping({"symbol": "GOOG"})
        Traceback (most recent call last):
        backtest.errors.BacktestError: data.symbol: unknown setting (known: symbols, start, end, interval, source, tz, session, exchange, benchmark)
        """
        known = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in known:
                raise BacktestError(f"data.{key}: unknown setting (known: {', '.join(known)})")
        given = dict(values)
        for key in ("start", "end", "interval"):
            if key in given:
                given[key] = str(given[key])
        if "symbols" in given and not isinstance(given["symbols"], str):
            given["symbols"] = tuple(str(s) for s in given["symbols"])
        return cls(**given)


@dataclass
class WarehouseConfig:
    """Where the bars come from (group ``warehouse``): a ``chdb://`` path or an ``http(s)://`` server.

    >>> WarehouseConfig().dsn
    'chdb://data/warehouse'
    """

    dsn: str = "chdb://data/warehouse"


@dataclass
class BacktestConfig:
    """The root config: one node per group; ``strategy`` is whatever ``+strategy=<name>`` loads.

    ``strategy`` stays a free mapping because each strategy has its own
    parameters; the strategy class refuses unknown ones in one line
    (``strategy.fsat: unknown parameter of sma_cross (known: fast, slow)``).
    ``sweep`` is null unless ``+sweep=grid|random`` is chosen. The group nodes
    are typed by their own schemas (each group's YAML starts from one), so the
    root only fixes which keys exist: typing them here too would make OmegaConf
    rebuild them from the frozen classes, read-only, at every merge.

    >>> sorted(f.name for f in dataclasses.fields(BacktestConfig))
    ['data', 'engine', 'strategy', 'sweep', 'warehouse']
    """

    warehouse: Any = MISSING
    data: Any = MISSING
    engine: Any = MISSING
    strategy: dict[str, Any] = MISSING
    sweep: Any = None


SCHEMAS: Mapping[str, type] = {"backtest_schema": BacktestConfig, "warehouse_schema": WarehouseConfig,
                               "data_schema": DataSpec, "engine_schema": EngineConfig, "sweep_schema": SweepSpec}


def schema(cls: type) -> DictConfig:
    """``cls`` as an OmegaConf structured node that overrides may change.

    OmegaConf marks the node of a frozen dataclass read-only; the runtime
    classes are frozen so that a run cannot change its settings, but Hydra must
    merge YAML values and command-line overrides into the schema, so the flag
    is cleared here (the types and the known keys stay).

    >>> node = schema(EngineConfig)
    >>> node.fees_bps = 2
    >>> node.fees_bps, OmegaConf.get_type(node).__name__
    (2.0, 'EngineConfig')
    """
    node = OmegaConf.structured(cls)
    _writable(node)
    return node


def _writable(node: Container) -> None:
    """Clear the read-only flag of ``node`` and of every container below it (tuples are lists here)."""
    OmegaConf.set_readonly(node, None)
    keys = node.keys() if isinstance(node, DictConfig) else range(len(node))
    for key in keys:
        if not OmegaConf.is_missing(node, key) and isinstance(node[key], Container):
            _writable(node[key])


def register_configs(store: ConfigStore | None = None) -> None:
    """Store the schemas in Hydra's ConfigStore (idempotent); ``conf/`` YAML files extend them.

    Importing this module calls it, so composing ``conf/`` works once
    :mod:`backtest.config` (or :mod:`backtest.runner`, which imports it) is imported.

    >>> register_configs()
    >>> sorted(name for name in ConfigStore.instance().list("") if name.endswith("_schema.yaml"))
    ['backtest_schema.yaml', 'data_schema.yaml', 'engine_schema.yaml', 'sweep_schema.yaml', 'warehouse_schema.yaml']
    """
    store = store or ConfigStore.instance()
    for name, cls in SCHEMAS.items():
        node = schema(cls)
        if cls is SweepSpec:  # any parameter of the strategy, no + needed; ParamSpace.parse names an unknown one
            OmegaConf.set_struct(node.params, False)
        store.store(name=name, node=node)


def error_line(exc: BaseException) -> str:
    """One line for an error of composing or running a config: Hydra's message, OmegaConf's reason, the known keys.

    Hydra reports a bad override over several lines (the failing override, then
    OmegaConf's reason with the full key and type); this keeps Hydra's first
    line and OmegaConf's, and for an unknown key lists the keys that exist.

    >>> from hydra import compose, initialize_config_dir
    >>> def compose_error(*overrides):
    ...     try:
    ...         with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
    ...             compose(config_name="config", overrides=list(overrides))
    ...     except Exception as exc:
    ...         return error_line(exc)
    >>> compose_error("engine.fee=1")
    "Could not override 'engine.fee': Key 'fee' not in 'EngineConfig' (known: init_cash, fill, fees_bps, ...)"
    >>> compose_error("engine.fees_bps=abc")
    "Error merging override engine.fees_bps=abc: Value 'abc' of type 'str' could not be converted to Float"
    >>> compose_error("engine=fast")
    "In 'config': Could not find 'engine/fast' (available: backtesting_py, default)"
    >>> error_line(BacktestError("data.symbols: () is empty"))
    'data.symbols: () is empty'
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0].rstrip(".") if lines else type(exc).__name__
    if isinstance(exc, OverrideParseException):
        return f"{exc.override}: {first}"
    if isinstance(exc, MissingConfigException) and exc.options:
        return f"{first} (available: {', '.join(exc.options)})"
    if isinstance(exc, OmegaConfBaseException) and exc.full_key:
        return f"{exc.full_key}: {first}"
    cause = exc.__cause__
    if not isinstance(cause, OmegaConfBaseException):
        return first
    reason = str(cause).splitlines()[0].strip()
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and isinstance(cause.parent_node, DictConfig):
        known = [str(key) for key in cause.parent_node.keys() if key != "hydra"]
        if known:
            reason += f" (known: {', '.join(known)})"
    return f"{first}: {reason}"


register_configs()
