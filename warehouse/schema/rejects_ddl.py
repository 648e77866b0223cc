"""Migration 8: ``rejects`` keeps what a row broke in columns, not in one long string per row.

``code`` (``LowCardinality``; the codes are :data:`warehouse.ingest.validate.REJECT_CODES`),
``field`` (``LowCardinality``) and ``value`` (the offending value as text) are new;
``reason`` becomes ``LowCardinality(String)`` and, from this version on, holds the rule in
words without the value (``price: not a positive finite number``): a few distinct texts
however many rows are refused. ``position`` and ``raw`` stay. Rows written before keep
their whole message in ``reason`` and an empty ``code``.

Read a reject as a sentence with ``concat(reason, ': ', value)``; count them with
``SELECT code, count() FROM rejects GROUP BY code``. A server's Kafka-engine rejects view is
renewed when the migration runs with the Kafka target (``init --kafka-brokers ...``); until
then it keeps writing whole messages into ``reason`` with an empty ``code``.

>>> [s.split()[0] for s in rejects_columns_ddl("", kafka=True)]
['ALTER', 'DROP']
"""

from __future__ import annotations

KAFKA_REJECTS_SELECT = """SELECT now64(3) AS rejected_at, 'ticks' AS target, concat('kafka:', _topic) AS source,
    concat(toString(_partition), ':', toString(_offset)) AS position, 'malformed' AS code, 'message' AS field,
    _error AS value, 'message: not a JSONEachRow tick' AS reason, _raw_message AS raw
FROM ticks_kafka WHERE length(_error) > 0"""
"""The server-side Kafka engine's refused messages as rejects (the parser's error is the value)."""


def rejects_columns_ddl(on_cluster: str, *, kafka: bool) -> list[str]:
    """The statements of migration 8 (``on_cluster``: ``""`` or `` ON CLUSTER name``); with ``kafka``, the
    Kafka rejects view is dropped so that ``kafka_ddl`` creates it again with the new columns.

    Every statement may run again (after a crash mid-migration).

    >>> print(rejects_columns_ddl("", kafka=False)[0])  # doctest: +NORMALIZE_WHITESPACE
    ALTER TABLE rejects ADD COLUMN IF NOT EXISTS code LowCardinality(String) AFTER position,
        ADD COLUMN IF NOT EXISTS field LowCardinality(String) AFTER code,
        ADD COLUMN IF NOT EXISTS value String AFTER field, MODIFY COLUMN reason LowCardinality(String)
    """
    columns = (f"ALTER TABLE rejects{on_cluster} ADD COLUMN IF NOT EXISTS code LowCardinality(String) AFTER position,"
               "\n    ADD COLUMN IF NOT EXISTS field LowCardinality(String) AFTER code,"
               "\n    ADD COLUMN IF NOT EXISTS value String AFTER field, MODIFY COLUMN reason LowCardinality(String)")
    return [columns] + ([f"DROP VIEW IF EXISTS ticks_kafka_rejects_mv{on_cluster}"] if kafka else [])
