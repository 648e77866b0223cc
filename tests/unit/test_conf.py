"""The Hydra warehouse group selects the transport; the DSN resolves as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from warehouse.client import resolve_dsn

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.mark.parametrize("overrides, expected", [
    ([], lambda dsn: dsn.startswith("chdb:///") and dsn.endswith("/data/warehouse")),
    (["warehouse=server"], lambda dsn: dsn == "http://default:@localhost:8123/default"),
    (["warehouse.dsn=chdb:///srv/wh"], lambda dsn: dsn == "chdb:///srv/wh"),
])
def test_warehouse_group_resolves_dsn(monkeypatch, overrides, expected):
    monkeypatch.delenv("TICKHOUSE_DSN", raising=False)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    assert expected(resolve_dsn(cfg.warehouse.dsn))


def test_env_var_wins_over_the_default(monkeypatch):
    monkeypatch.setenv("TICKHOUSE_DSN", "https://u:p@ch.example:8443/ticks")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config")
    assert cfg.warehouse.dsn == "https://u:p@ch.example:8443/ticks"
