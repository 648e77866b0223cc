"""Rejects keep a code, the field and the offending value in columns; reasons are few, whatever the rows."""

from __future__ import annotations

import uuid

import pyarrow as pa

from warehouse.client import connect
from warehouse.demo.generate import DemoSpec
from warehouse.ingest.files import load_ticks, write_rejects
from warehouse.ingest.validate import REJECT_CODES, clean_ticks
from warehouse.schema.ddl import KafkaSource, Target, kafka_ddl
from warehouse.schema.migrate import migrate
from warehouse.stream.decode import parse_messages
from warehouse.stream.produce import feed


def _columns(client) -> dict[str, str]:
    return dict(client.query("SELECT name, type FROM system.columns WHERE database = currentDatabase() "
                             "AND table = 'rejects'").result_rows)


def test_migration_8_adds_the_columns_and_keeps_old_rejects():
    client = connect(database=f"t_{uuid.uuid4().hex[:12]}")
    migrate(client, to_version=7)
    client.insert("rejects", [["ticks", "old.csv", "row 2", "price: -1.0 is not a positive finite number", "{}"]],
                  column_names=["target", "source", "position", "reason", "raw"])
    assert "code" not in _columns(client)
    assert migrate(client, to_version=8) == [8]
    columns = _columns(client)
    assert {name: columns[name] for name in ("code", "field", "value", "reason")} == {
        "code": "LowCardinality(String)", "field": "LowCardinality(String)", "value": "String",
        "reason": "LowCardinality(String)"}
    assert list(columns).index("code") == list(columns).index("position") + 1
    old = client.query("SELECT code, field, value, reason FROM rejects WHERE source = 'old.csv'").result_rows
    assert old == [("", "", "", "price: -1.0 is not a positive finite number")]
    bad = clean_ticks(pa.table({"symbol": ["A"], "ts": ["2024-01-02T14:30:00Z"], "price": [-1.0], "size": [1.0]}),
                      source="new").rejects
    assert write_rejects(client, bad, target="ticks", source="new.csv") == 1
    assert client.query("SELECT code, field, value, reason FROM rejects WHERE source = 'new.csv'").result_rows == [
        ("bad_price", "price", "-1.0", "price: not a positive finite number")]
    assert migrate(client, to_version=8) == []


def test_the_kafka_engine_view_writes_code_field_and_value(fresh_client):
    # chDB has no Kafka engine: a table with the engine's virtual columns stands in for it.
    fresh_client.command("CREATE TABLE ticks_kafka (_topic String, _partition UInt64, _offset UInt64, "
                         "_error String, _raw_message String) ENGINE = MergeTree ORDER BY tuple()")
    view = kafka_ddl(Target(kafka=KafkaSource("k1:9092")))[2]
    assert "TO rejects" in view
    fresh_client.command(view)
    fresh_client.insert("ticks_kafka", [["ticks", 3, 42, "Cannot parse input: expected '{'", "not json"],
                                        ["ticks", 3, 43, "", '{"symbol": "A"}']],
                        column_names=["_topic", "_partition", "_offset", "_error", "_raw_message"])
    rows = fresh_client.query("SELECT source, position, code, field, value, reason, raw FROM rejects").result_rows
    assert rows == [("kafka:ticks", "3:42", "malformed", "message", "Cannot parse input: expected '{'",
                     "message: not a JSONEachRow tick", "not json")]


def test_stream_rejects_carry_known_codes_and_few_reasons():
    spec = DemoSpec(ticks=20_000, batch_rows=20_000, seed=3)
    messages = next(iter(feed(spec, bad_rate=0.05)))
    positions = [f"s/{i}" for i in range(len(messages.payloads))]
    rejects = parse_messages(messages.payloads, positions, source="test").rejects
    assert rejects.num_rows == 1_000
    codes = set(rejects["code"].to_pylist())
    assert codes <= set(REJECT_CODES) and {"malformed", "unparseable", "missing_field"} <= codes
    assert all(reason.startswith(field + ":") for field, reason in zip(rejects["field"].to_pylist(),
                                                                      rejects["reason"].to_pylist()))
    assert len(set(rejects["reason"].to_pylist())) <= 20, "the reason is the rule, not the value"


def test_a_million_future_ticks_make_one_reason_and_one_code(fresh_client):
    future = pa.table({"symbol": ["F"] * 1_000_000, "ts": pa.array(range(4102444800, 4103444800), pa.int64()),
                       "price": [1.0] * 1_000_000, "size": [1.0] * 1_000_000})
    report = load_ticks(fresh_client, future, name="future")
    assert (report.loaded, report.rejected, dict(report.rejected_by_code)) == (0, 1_000_000, {"future_ts": 1_000_000})
    stats = fresh_client.query("SELECT uniqExact(reason), uniqExact(code), uniqExact(value), any(reason) "
                               "FROM rejects WHERE source = 'future'").result_rows[0]
    assert stats == (1, 1, 1_000_000, "ts: after now + 1 day as epoch seconds")
