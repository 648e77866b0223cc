"""Schema migrations: idempotent, versioned, upgradeable; server variants render."""

from __future__ import annotations

import os

import pytest

from warehouse.client import connect
from warehouse.errors import WarehouseError
from warehouse.schema.migrate import current_version, migrate
from warehouse.schema.ddl import LATEST_VERSION, KafkaSource, Target, render

TABLES = {"ticks", "ticks_dedup", "bars_1m", "ticks_buffer", "ohlcv", "rejects", "schema_version"}


def _tables(client) -> set[str]:
    return {row[0] for row in client.query("SHOW TABLES").result_rows}


def test_init_twice_changes_nothing(fresh_client):
    assert current_version(fresh_client) == LATEST_VERSION
    before = fresh_client.query("SELECT version, description FROM schema_version ORDER BY version").result_rows
    assert migrate(fresh_client) == []
    after = fresh_client.query("SELECT version, description FROM schema_version ORDER BY version").result_rows
    assert before == after and len(after) == LATEST_VERSION
    assert TABLES <= _tables(fresh_client)


def test_older_schema_is_upgraded():
    client = connect(database="t_upgrade_from_v1")
    assert migrate(client, to_version=1) == [1]
    assert "ohlcv" not in _tables(client) and current_version(client) == 1
    assert migrate(client) == list(range(2, LATEST_VERSION + 1))
    assert TABLES <= _tables(client)
    client.command("DROP DATABASE t_upgrade_from_v1")


def test_buffer_flushes_into_ticks_and_bars(fresh_client):
    fresh_client.command(
        "INSERT INTO ticks_buffer (symbol, ts, price, size, side, trade_id, version) "
        "VALUES ('BUF', '2024-01-02 14:30:00', 10, 1, 1, 1, 0)")
    fresh_client.command("OPTIMIZE TABLE ticks_buffer")  # flush now instead of after 10 s
    assert fresh_client.command("SELECT count() FROM ticks WHERE symbol = 'BUF'") == 1
    assert fresh_client.command("SELECT sum(trades) FROM bars_1m WHERE symbol = 'BUF'") == 1


def test_cluster_rendering_is_replicated_and_distributed():
    sql = "\n".join(render(Target(cluster="prod")))
    assert sql.count("ON CLUSTER prod") >= len(TABLES)
    for engine in ("ReplicatedMergeTree", "ReplicatedReplacingMergeTree", "ReplicatedAggregatingMergeTree"):
        assert engine in sql
    for table in ("ticks_all", "ticks_dedup_all", "bars_1m_all", "ohlcv_all"):
        assert f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER prod" in sql
    assert "Distributed(prod, currentDatabase(), ticks, cityHash64(symbol))" in sql


def test_kafka_rendering_feeds_buffer_and_rejects():
    sql = render(Target(kafka=KafkaSource("broker1:9092,broker2:9092", "ticks", "g1")))
    kafka = [s for s in sql if "kafka" in s.lower()]
    assert any("ENGINE = Kafka" in s and "'broker1:9092,broker2:9092'" in s for s in kafka)
    assert any("TO ticks_buffer" in s and "first_seen" in s for s in kafka)
    assert any("TO rejects" in s and "_raw_message" in s for s in kafka)


@pytest.mark.parametrize("target, field", [
    (Target(cluster="a;DROP TABLE x"), "cluster"),
    (Target(kafka=KafkaSource("broker:9092'--")), "kafka.brokers"),
    (Target(kafka=KafkaSource("b:9092", topic="t x")), "kafka.topic"),
])
def test_unsafe_names_are_refused(target, field):
    with pytest.raises(WarehouseError, match=f"^{field}: "):
        render(target)


@pytest.mark.skipif(not os.environ.get("CLICKHOUSE_URL"), reason="needs a ClickHouse server: set CLICKHOUSE_URL")
def test_server_schema_runs_for_real():
    from warehouse.client import connect as connect_server

    client = connect_server(os.environ["CLICKHOUSE_URL"], database="tickhouse_ci")
    migrate(client)
    assert migrate(client) == []
    assert TABLES <= _tables(client)
