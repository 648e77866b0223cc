"""``conf/`` holds values over the schemas of :mod:`backtest.config`: groups compose to typed nodes,
unknown keys and mistyped values fail in Hydra with the key named, the DSN resolves as documented."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from backtest.config import CONF_DIR, DataSpec, WarehouseConfig, error_line
from backtest.engine.simulate import EngineConfig
from backtest.sweep.spec import SweepSpec
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
    (["+strategy=nope"], "In 'config': Could not find 'strategy/nope' (available: bollinger_breakout, "),
    (["engine=fast"], "In 'config': Could not find 'engine/fast' (available: backtesting_py, default)"),
])
def test_unknown_keys_and_bad_values_fail_in_hydra_naming_them(overrides, line):
    with pytest.raises(ConfigCompositionException) as raised:
        _compose(*overrides)
    message = error_line(raised.value)
    assert message.startswith(line) and "\n" not in message, message
