"""The engine's rules as one record: modes by name, OmegaConf parsing, kernel numbers, stat names once."""

from __future__ import annotations

import dataclasses
import math

import pytest
from omegaconf import OmegaConf, ValidationError

import backtest.stats
from backtest.engine import EngineConfig as PackageEngineConfig
from backtest.engine import run as package_run
from backtest.engine.kernels.records import STAT, STAT_NAMES, Rules
from backtest.engine.modes import Direction, Fill, Reason, Signals, SizeType
from backtest.engine.rules import EngineConfig, kernel_rules
from backtest.engine.simulate import REASONS, run
from backtest.errors import BacktestError


def test_the_package_and_the_python_layer_export_the_same_names():
    assert PackageEngineConfig is EngineConfig and package_run is run


def test_modes_given_by_name_become_members_and_print_as_their_name():
    config = EngineConfig(fill="close", signals="target", direction="long_only", size_type="units")
    assert (config.fill, config.signals, config.direction, config.size_type) == (
        Fill.close, Signals.target, Direction.long_only, SizeType.units)
    assert [str(v) for v in (config.fill, config.direction)] == ["close", "long_only"]
    assert EngineConfig(fill=Fill.close) == EngineConfig(fill="close")
    assert dataclasses.replace(config, init_cash=5.0).fill is Fill.close


@pytest.mark.parametrize(("name", "value", "choices"), [
    ("fill", "open", "next_open, close"),
    ("signals", 1, "direction, target"),
    ("direction", Fill.close, "long_only, short_only, both"),
    ("size_type", "Cash", "equity_fraction, cash, units"),
])
def test_a_mode_outside_its_enum_is_one_line_naming_the_choices(name, value, choices):
    with pytest.raises(BacktestError) as caught:
        EngineConfig(**{name: value})
    assert str(caught.value) == f"engine.{name}: {value!r} is not one of {choices}"


def test_omegaconf_parses_the_modes_by_name_from_yaml_and_overrides():
    schema = OmegaConf.structured(EngineConfig)
    node = OmegaConf.merge(schema, OmegaConf.create("fill: close\ndirection: long_only"),
                           OmegaConf.from_dotlist(["size_type=cash"]))
    config = OmegaConf.to_object(node)
    assert (config.fill, config.direction, config.size_type) == (Fill.close, Direction.long_only, SizeType.cash)
    assert OmegaConf.to_container(node, enum_to_str=True)["fill"] == "close"
    with pytest.raises(ValidationError, match="next_open, close"):
        OmegaConf.merge(schema, OmegaConf.from_dotlist(["fill=open"]))


def test_kernel_rules_are_numbers_by_name():
    rules = kernel_rules(EngineConfig(fill="close", fees_bps=10, slippage_bps=5, direction="short_only",
                                      size_type="cash", size=50.0, take_profit=0.1))
    assert isinstance(rules, Rules)
    assert rules._asdict() == {**rules._asdict(), "fill_at_close": True, "fee_rate": 0.001, "slippage": 0.0005,
                               "direction": Direction.short_only.value, "size_type": SizeType.cash.value,
                               "size": 50.0, "take_profit": 0.1}
    assert math.isnan(rules.stop_loss) and math.isnan(rules.trailing_stop)


def test_stat_and_reason_names_are_defined_once():
    assert backtest.stats.STAT_NAMES is STAT_NAMES
    assert [STAT_NAMES[i] for i in STAT] == list(STAT._fields) == list(STAT_NAMES)
    assert REASONS == tuple(r.name for r in Reason)


def test_target_weights_on_direction_signals_is_refused_by_the_kernel_rules():
    import pytest

    from backtest.errors import BacktestError

    with pytest.raises(BacktestError, match="engine.allocation: target_weights reads the signals as target weights"):
        kernel_rules(EngineConfig(allocation="target_weights"))
    assert kernel_rules(EngineConfig(allocation="target_weights", signals="target")).signals == 1
