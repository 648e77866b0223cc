"""``conf/`` holds values over the schemas of :mod:`backtest.config`: groups compose to typed nodes,
unknown keys and mistyped values fail in Hydra with the key named, the DSN resolves as documented."""

from __future__ import annotations

import dataclasses
import textwrap
import warnings
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.plugins import Plugins
from hydra.errors import ConfigCompositionException
from hydra.plugins.config_source import ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf

from backtest.config import CONF_DIR, DataSpec, WarehouseConfig, error_line
from backtest.engine.simulate import EngineConfig
from backtest.sweep.spec import SweepSpec
from strategies.errors import StrategyError
from warehouse.client import resolve_dsn

CONF = Path(__file__).resolve().parents[2] / "conf"


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.mark.parametrize("overrides, expected", [
    ([], lambda dsn: dsn.startswith("chdb:///") and dsn.endswith("/data/warehouse")),
    (["warehouse=server"], lambda dsn: dsn == "http://default:@localhost:8123/default"),
    (["warehouse.dsn=chdb:///srv/wh"], lambda dsn: dsn == "chdb:///srv/wh"),
])
def test_warehouse_group_resolves_dsn(monkeypatch, overrides, expected):
    monkeypatch.delenv("TICKHOUSE_DSN", raising=False)
    assert expected(resolve_dsn(_compose(*overrides).warehouse.dsn))


def test_env_var_wins_over_the_default(monkeypatch):
    monkeypatch.setenv("TICKHOUSE_DSN", "https://u:p@ch.example:8443/ticks")
    assert _compose().warehouse.dsn == "https://u:p@ch.example:8443/ticks"


@pytest.mark.parametrize("group, option, schema", [
    ("warehouse", "embedded", WarehouseConfig), ("warehouse", "server", WarehouseConfig),
    ("data", "demo", DataSpec),
    ("engine", "default", EngineConfig), ("engine", "backtesting_py", EngineConfig),
    ("sweep", "grid", SweepSpec), ("sweep", "random", SweepSpec),
])
def test_every_group_option_is_typed_by_its_schema(group, option, schema):
    plus = "+" if group == "sweep" else ""
    node = _compose(f"{plus}{group}={option}")[group]
    assert OmegaConf.get_type(node) is schema
    assert list(node.keys()) == [f.name for f in dataclasses.fields(schema)]


def test_yaml_files_hold_values_only_and_name_their_schema():
    for path in CONF.glob("*/*.yaml"):
        if path.parent.name == "strategy":
            continue
        defaults = OmegaConf.load(path).get("defaults", [])
        group = path.parent.name
        # a group's own package, or the group's key in a _global_ one (the sweeps set hydra.mode too)
        own = {f"/{group}_schema@_here_", f"/{group}_schema@{group}"}
        assert own & set(d for d in defaults if isinstance(d, str)) or any(isinstance(d, str) and (CONF / path.parent.name / f"{d}.yaml").exists()
                                      for d in defaults), path


def test_the_runtime_classes_are_built_from_the_composed_nodes():
    cfg = _compose("+strategy=sma_cross", "+sweep=random", "engine=backtesting_py", "engine.fees_bps=20",
                   "data.symbols=[AAPL,MSFT]", "sweep.walk_forward.train=30d", "++sweep.params.fast='range(5,9)'")
    container = OmegaConf.to_container(cfg, resolve=True)
    engine = EngineConfig.from_mapping(container["engine"])
    assert engine.fees_bps == 20 and engine.whole_units and not engine.close_at_end
    assert DataSpec.from_mapping(container["data"]).symbols == ("AAPL", "MSFT")
    spec = SweepSpec.from_mapping(container["sweep"])
    assert (spec.mode, spec.n, spec.walk_forward.train, dict(spec.params)) == ("random", 100, "30d",
                                                                               {"fast": "range(5,9)"})
    assert container["strategy"] == {"name": "sma_cross", "fast": 10, "slow": 30}


@pytest.mark.parametrize("overrides, line", [
    (["engine.fee=1"], "Could not override 'engine.fee': Key 'fee' not in 'EngineConfig' (known: init_cash, fill, "),
    (["data.symbol=[A]"], "Could not override 'data.symbol': Key 'symbol' not in 'DataSpec' (known: symbols, "),
    (["+sweep=grid", "sweep.metrc=sharpe"], "Could not override 'sweep.metrc': Key 'metrc' not in 'SweepSpec'"),
    (["+sweep=grid", "sweep.walk_forward.tarin=5"], "Could not override 'sweep.walk_forward.tarin': Key 'tarin' "
                                                    "not in 'WalkForward' (known: train, test)"),
    (["warehouse.url=x"], "Could not override 'warehouse.url': Key 'url' not in 'WarehouseConfig' (known: dsn)"),
    (["enigne.size=1"], "Could not override 'enigne.size': Key 'enigne' not in 'BacktestConfig' (known: "
                        "warehouse, data, engine, strategy, sweep)"),
    (["+strategy=sma_cross", "strategy.fsat=3"], "Could not override 'strategy.fsat': Key 'fsat' is not in struct "
                                                 "(known: name, fast, slow)"),
    (["engine.fees_bps=abc"], "Error merging override engine.fees_bps=abc: Value 'abc' of type 'str' could not be "
                              "converted to Float"),
    (["engine.whole_units=maybe"], "Error merging override engine.whole_units=maybe: Value 'maybe' is not a valid "
                                   "bool"),
    (["+sweep=grid", "sweep.n=many"], "Error merging override sweep.n=many: Value 'many' of type 'str' could not be "
                                      "converted to Integer"),
    (["engine=fast"], "In 'config': Could not find 'engine/fast' (available: backtesting_py, default)"),
])
def test_unknown_keys_and_bad_values_fail_in_hydra_naming_them(overrides, line):
    with pytest.raises(ConfigCompositionException) as raised:
        _compose(*overrides)
    message = error_line(raised.value)
    assert message.startswith(line) and "\n" not in message, message


def test_hydra_finds_the_strategy_plugins_in_the_installed_namespace_package():
    sources = [f"{cls.__module__}.{cls.__name__}" for cls in Plugins.instance().discover(ConfigSource)]
    paths = [f"{cls.__module__}.{cls.__name__}" for cls in Plugins.instance().discover(SearchPathPlugin)]
    assert "hydra_plugins.tickhouse_strategies.StrategySource" in sources
    assert "hydra_plugins.tickhouse_strategies.StrategySearchPath" in paths


def test_only_our_conf_gets_the_strategy_group(tmp_path):
    (tmp_path / "config.yaml").write_text("x: 1\n")
    with initialize_config_dir(config_dir=str(tmp_path), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["+strategy=sma_cross"])
    assert OmegaConf.to_container(cfg) == {"x": 1, "strategy": "sma_cross"}  # a plain value: no group there


def test_the_strategy_group_holds_every_class_strategies_find_resolves(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mine.py").write_text(textwrap.dedent("""
        from strategies import Strategy, param

        class Mine(Strategy):
            window = param(20, min=2)

            def signals(self, bars):
                return bars.close * 0
    """))
    monkeypatch.chdir(tmp_path)
    absolute = f"{tmp_path}/sub/mine.py"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. Hydra's deprecated schema matching, if the ConfigStore held strategy/*
        for spec, defaults in [("sma_cross", {"fast": 10, "slow": 30}),
                               ("strategies.rsi_reversion:RsiReversion", {"window": 14, "lower": 30.0, "upper": 70.0}),
                               ("sub/mine.py:Mine", {"window": 20}), ("sub/mine.py", {"window": 20}),
                               (absolute, {"window": 20})]:
            node = _compose(f"+strategy={spec}", "strategy.window=5" if "mine" in spec else "data.interval=5m").strategy
            expected = {"name": spec, **defaults, **({"window": 5} if "mine" in spec else {})}
            assert OmegaConf.to_container(node) == expected


@pytest.mark.parametrize("spec, line", [
    ("nope", "strategy: 'nope' is not a strategy (available: bollinger_breakout, book_imbalance, donchian_breakout, "),
    ("gone/file.py:X", "strategy: 'gone/file.py:X': no file "),
    ("strategies.sma_cross:Nope", "strategy: 'strategies.sma_cross:Nope': strategies.sma_cross has no 'Nope'"),
    ("no_such_module:X", "strategy: 'no_such_module:X': cannot import 'no_such_module'"),
])
def test_a_strategy_that_leads_nowhere_fails_while_composing_saying_why(spec, line):
    with pytest.raises(StrategyError) as raised:
        _compose(f"+strategy={spec}")
    message = error_line(raised.value)
    assert message.startswith(line) and "\n" not in message, message
