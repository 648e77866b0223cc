"""The warehouse schema as versioned migrations, rendered for a deployment target.

One set of DDL serves three targets:

* embedded (chDB) and a single server: plain ``*MergeTree`` engines;
* a cluster (``Target(cluster=...)``): ``ON CLUSTER``, ``Replicated*`` engines and
  ``Distributed`` tables named ``<table>_all`` sharded by symbol;
* a server with Kafka (``Target(kafka=...)``): a ``Kafka``-engine table and
  materialized views into ``ticks_buffer`` (good rows) and ``rejects`` (bad rows).

Exact bars (the duplicates invariant): ``bars_1m_mv`` aggregates only rows with
``first_seen = 1``. The ingest layer sets that flag on exactly one row per new
trade identity and rebuilds the minutes a correction touches (``warehouse.ingest.rollup``:
a month of bars rebuilt in ``bars_1m_staging`` and swapped in whole), so redeliveries and
corrections never change bars. ``load_journal`` records every batch a writer has open, so
a writer killed mid-batch is repaired from ``ticks_dedup`` when the next one opens
(``warehouse.ingest.journal``). See docs/architecture.md.

Identifiers in DDL cannot be bound as query parameters, so every name that
reaches the SQL text is checked by :func:`identifier` first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from warehouse.errors import WarehouseError
from warehouse.schema.instruments_ddl import instruments_ddl
from warehouse.schema.news_ddl import news_ddl
from warehouse.schema.quotes_ddl import quotes_ddl, quotes_write_codecs
from warehouse.schema.rejects_ddl import KAFKA_REJECTS_SELECT, rejects_columns_ddl

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_BROKERS = re.compile(r"^[A-Za-z0-9_.\-]+:\d{1,5}(,[A-Za-z0-9_.\-]+:\d{1,5})*$")

TS_TYPE = "DateTime64(6, 'UTC')"
TICK_COLUMNS = ("symbol", "ts", "price", "size", "side", "trade_id", "version")

# Open/close order trades by (ts, trade_id), packed into one UInt128: argMin/argMax
# states over a UInt128 are about 7x cheaper to build than over a Tuple.
TRADE_ORDER = "bitShiftLeft(toUInt128(toUnixTimestamp64Micro(ts)), 64) + trade_id"
BAR_STATES = f"""symbol, toStartOfMinute(ts) AS minute,
    argMinState(price, {TRADE_ORDER}) AS open, max(price) AS high, min(price) AS low,
    argMaxState(price, {TRADE_ORDER}) AS close, sum(size) AS volume,
    sum(price * size) AS notional, toUInt64(count()) AS trades"""


@dataclass(frozen=True)
class KafkaSource:
    """Where the server-side ``Kafka`` engine reads ticks (JSONEachRow)."""

    brokers: str
    topic: str = "ticks"
    group: str = "tickhouse"


@dataclass(frozen=True)
class Target:
    """What the DDL is rendered for: embedded/single server, a cluster, Kafka."""

    cluster: str | None = None
    kafka: KafkaSource | None = None


@dataclass(frozen=True)
class Migration:
    """One schema version: its number, what it does, and its DDL for a target."""

    version: int
    description: str
    render: Callable[[Target], list[str]]


def identifier(value: str, field: str) -> str:
    """Return ``value`` if it is a safe SQL identifier, else raise naming ``field``.

    >>> identifier("prod_cluster", "cluster")
    'prod_cluster'
    >>> identifier("x; DROP", "cluster")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: cluster: 'x; DROP' is not a valid identifier (letters, digits, _)
    """
    if not _IDENT.match(value):
        raise WarehouseError(f"{field}: {value!r} is not a valid identifier (letters, digits, _)")
    return value


def _on_cluster(target: Target) -> str:
    return f" ON CLUSTER {identifier(target.cluster, 'cluster')}" if target.cluster else ""


def _engine(target: Target, family: str, table: str, args: str = "") -> str:
    """``MergeTree``-family engine, replicated when rendering for a cluster."""
    if not target.cluster:
        return f"{family}({args})" if args else family
    path = f"'/clickhouse/tables/{{shard}}/{{database}}/{table}', '{{replica}}'"
    return f"Replicated{family}({path}{', ' + args if args else ''})"


def _distributed(target: Target, table: str) -> list[str]:
    if not target.cluster:
        return []
    cluster = identifier(target.cluster, "cluster")
    return [
        f"CREATE TABLE IF NOT EXISTS {table}_all{_on_cluster(target)} AS {table} "
        f"ENGINE = Distributed({cluster}, currentDatabase(), {table}, cityHash64(symbol))"
    ]


def _tick_columns(with_flag: bool) -> str:
    """Tick columns as first created; codecs were the smallest per column in ``benchmarks/codecs.py``
    (``_v3_faster_ts_codec`` and ``_v4_write_cheap_raw_ticks`` later traded a little size for write speed)."""
    flag = ",\n    first_seen UInt8 DEFAULT 1 CODEC(ZSTD(1))" if with_flag else ""
    return f"""(
    symbol LowCardinality(String),
    ts {TS_TYPE} CODEC(ZSTD(3)),
    price Float64 CODEC(Delta, ZSTD(1)),
    size Float64 CODEC(ZSTD(1)),
    side Int8 CODEC(T64, ZSTD(1)),
    trade_id UInt64 CODEC(DoubleDelta, ZSTD(1)),
    version UInt32 CODEC(ZSTD(1)){flag}
)"""


_BAR_COLUMNS = """(
    symbol LowCardinality(String),
    minute DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    open AggregateFunction(argMin, Float64, UInt128),
    high SimpleAggregateFunction(max, Float64),
    low SimpleAggregateFunction(min, Float64),
    close AggregateFunction(argMax, Float64, UInt128),
    volume SimpleAggregateFunction(sum, Float64),
    notional SimpleAggregateFunction(sum, Float64),
    trades SimpleAggregateFunction(sum, UInt64)
)"""


def _bars_view(target: Target) -> str:
    return f"""CREATE MATERIALIZED VIEW IF NOT EXISTS bars_1m_mv{_on_cluster(target)} TO bars_1m AS
SELECT {BAR_STATES}
FROM ticks WHERE first_seen = 1 GROUP BY symbol, minute"""


def _v1_ticks_dedup_bars(target: Target) -> list[str]:
    oc = _on_cluster(target)
    return [
        f"""CREATE TABLE IF NOT EXISTS ticks{oc} {_tick_columns(with_flag=True)}
ENGINE = {_engine(target, 'MergeTree', 'ticks')}
PARTITION BY toYYYYMM(ts) ORDER BY (symbol, ts)""",
        f"""CREATE TABLE IF NOT EXISTS ticks_dedup{oc} {_tick_columns(with_flag=False)}
ENGINE = {_engine(target, 'ReplacingMergeTree', 'ticks_dedup', 'version')}
PARTITION BY toYYYYMM(ts) ORDER BY (symbol, ts, trade_id)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS ticks_dedup_mv{oc} TO ticks_dedup AS
SELECT {', '.join(TICK_COLUMNS)} FROM ticks""",
        f"""CREATE TABLE IF NOT EXISTS bars_1m{oc} {_BAR_COLUMNS}
ENGINE = {_engine(target, 'AggregatingMergeTree', 'bars_1m')}
PARTITION BY toYYYYMM(minute) ORDER BY (symbol, minute)""",
        _bars_view(target),
        *_distributed(target, "ticks"),
        *_distributed(target, "ticks_dedup"),
        *_distributed(target, "bars_1m"),
    ]


def _v2_buffer_ohlcv_rejects(target: Target) -> list[str]:
    oc = _on_cluster(target)
    return [
        f"""CREATE TABLE IF NOT EXISTS ticks_buffer{oc} AS ticks
ENGINE = Buffer(currentDatabase(), ticks, 4, 1, 10, 10000, 1000000, 10000000, 100000000)""",
        f"""CREATE TABLE IF NOT EXISTS ohlcv{oc} (
    symbol LowCardinality(String),
    interval LowCardinality(String),
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    open Float64 CODEC(Gorilla, ZSTD(1)),
    high Float64 CODEC(Gorilla, ZSTD(1)),
    low Float64 CODEC(Gorilla, ZSTD(1)),
    close Float64 CODEC(Gorilla, ZSTD(1)),
    volume Float64 CODEC(ZSTD(1))
)
ENGINE = {_engine(target, 'ReplacingMergeTree', 'ohlcv')}
PARTITION BY toYear(ts) ORDER BY (symbol, interval, ts)""",
        f"""CREATE TABLE IF NOT EXISTS rejects{oc} (
    rejected_at DateTime64(3, 'UTC') DEFAULT now64(3),
    target LowCardinality(String),
    source String,
    position String,
    reason String,
    raw String
)
ENGINE = {_engine(target, 'MergeTree', 'rejects')}
ORDER BY (target, rejected_at)""",
        *_distributed(target, "ohlcv"),
    ]


def _v3_faster_ts_codec(target: Target) -> list[str]:
    """``ts`` from ZSTD(3) to T64+ZSTD(1): 3.42 instead of 3.27 bytes a tick, written several
    times faster, in both tables every tick lands in (``benchmarks/codecs.py``, README).

    Parts written before keep their codec until a merge rewrites them.
    """
    oc = _on_cluster(target)
    return [f"ALTER TABLE {table}{oc} MODIFY COLUMN ts CODEC(T64, ZSTD(1))" for table in ("ticks", "ticks_dedup")]


def _v4_write_cheap_raw_ticks(target: Target) -> list[str]:
    """Raw ``ticks`` is written once per delivered row and read only for counts and audits
    (ticks queries and bar rebuilds read ``ticks_dedup``), so three of its columns trade a
    little size for write speed: ts T64+LZ4 (+0.25 B), size Gorilla (+0.55 B), side
    T64+LZ4 (+0.05 B). ``ticks_dedup`` keeps the compact codecs (``benchmarks/codecs.py``)."""
    oc = _on_cluster(target)
    codecs = {"ts": "T64, LZ4", "size": "Gorilla", "side": "T64, LZ4"}
    return [f"ALTER TABLE ticks{oc} MODIFY COLUMN {column} CODEC({codec})" for column, codec in codecs.items()]


def _v5_ohlcv_open_interest(target: Target) -> list[str]:
    """``ohlcv.oi``: open interest at the bar's close (Kite's historical candles carry it as their
    7th value); null where the file had none, so "not reported" differs from 0. A cluster's
    ``ohlcv_all`` gets the column too (a ``Distributed`` table reads only the columns it declares)."""
    oc = _on_cluster(target)
    column = "ADD COLUMN IF NOT EXISTS oi Nullable(Float64) CODEC(ZSTD(1)) AFTER volume"
    return [f"ALTER TABLE ohlcv{oc} {column}"] + ([f"ALTER TABLE ohlcv_all{oc} {column}"] if target.cluster else [])


def _v6_journal_and_bar_staging(target: Target) -> list[str]:
    """``load_journal``: one row per tick batch a writer opened (``done = 0``) and one when its
    bars are final (``done = 1``); a batch without the second is repaired by the next writer.
    ``bars_1m_staging``: where a month of bars is rebuilt before ``REPLACE PARTITION`` swaps it
    into ``bars_1m`` in one step (same columns, keys and settings, which the swap requires)."""
    oc = _on_cluster(target)
    return [
        f"""CREATE TABLE IF NOT EXISTS load_journal{oc} (
    batch_id UUID,
    opened_at DateTime64(3, 'UTC') DEFAULT now64(3),
    source String,
    symbols Array(String),
    lo {TS_TYPE},
    hi {TS_TYPE},
    done UInt8
)
ENGINE = {_engine(target, 'ReplacingMergeTree', 'load_journal', 'done')} ORDER BY batch_id""",
        f"""CREATE TABLE IF NOT EXISTS bars_1m_staging{oc} AS bars_1m
ENGINE = {_engine(target, 'AggregatingMergeTree', 'bars_1m_staging')}
PARTITION BY toYYYYMM(minute) ORDER BY (symbol, minute)""",
    ]


BAR_GRANULARITY = 256  # bars per index granule: ~2/3 of a session of one symbol's minutes


def _v7_fine_grained_bars(target: Target) -> list[str]:
    """``bars_1m`` (and its staging twin) rebuilt with ``index_granularity = 256`` instead of 8192:
    one granule held ~21 sessions of one symbol's minutes, so a read of 100 bars decoded thousands.
    The view stops while the bars are copied into the new table, which is then swapped in
    (``EXCHANGE TABLES``); every statement may run again after a crash. On a cluster the copy
    runs on the node that migrates: run ``INSERT INTO bars_1m SELECT ...`` or ``rebuild-bars``
    on each other shard."""
    oc = _on_cluster(target)
    fine = f"PARTITION BY toYYYYMM(minute) ORDER BY (symbol, minute) SETTINGS index_granularity = {BAR_GRANULARITY}"
    return [
        f"DROP VIEW IF EXISTS bars_1m_mv{oc}",
        f"CREATE TABLE IF NOT EXISTS bars_1m_next{oc} {_BAR_COLUMNS}\n"
        f"ENGINE = {_engine(target, 'AggregatingMergeTree', 'bars_1m_next')}\n{fine}",
        f"TRUNCATE TABLE bars_1m_next{oc}",
        "INSERT INTO bars_1m_next SELECT * FROM bars_1m",
        f"EXCHANGE TABLES bars_1m AND bars_1m_next{oc}",
        f"DROP TABLE IF EXISTS bars_1m_next{oc}",
        _bars_view(target),
        f"DROP TABLE IF EXISTS bars_1m_staging{oc}",
        f"CREATE TABLE bars_1m_staging{oc} {_BAR_COLUMNS}\n"
        f"ENGINE = {_engine(target, 'AggregatingMergeTree', 'bars_1m_staging')}\n{fine}",
    ]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "ticks, ticks_dedup, bars_1m and their materialized views", _v1_ticks_dedup_bars),
    Migration(2, "ticks_buffer, ohlcv, rejects", _v2_buffer_ohlcv_rejects),
    Migration(3, "ts codec T64+ZSTD(1) in ticks and ticks_dedup (faster writes)", _v3_faster_ts_codec),
    Migration(4, "write-cheap codecs for ts, size, side in raw ticks", _v4_write_cheap_raw_ticks),
    Migration(5, "ohlcv.oi: open interest of imported bars", _v5_ohlcv_open_interest),
    Migration(6, "load_journal and bars_1m_staging: crash-safe loads, bars swapped in by month",
              _v6_journal_and_bar_staging),
    Migration(7, "bars_1m with index_granularity 256 (short reads decode less)", _v7_fine_grained_bars),
    Migration(8, "rejects.code, field, value; reason LowCardinality without the value (warehouse.schema.rejects_ddl)",
              lambda target: rejects_columns_ddl(_on_cluster(target), kafka=target.kafka is not None)),
    Migration(9, "instruments: tokens, symbols, exchanges and their time zones (warehouse.schema.instruments_ddl)",
              lambda target: instruments_ddl(_on_cluster(target),
                                             _engine(target, "ReplacingMergeTree", "instruments", "loaded_at"))),
    Migration(10, "quotes (5-level depth, totals, last trade, OI, session) and quotes_1m (warehouse.schema.quotes_ddl)",
              lambda target: quotes_ddl(_on_cluster(target), _engine(target, "ReplacingMergeTree", "quotes"),
                                        _engine(target, "ReplacingMergeTree", "quotes_1m", "version"))
              + _distributed(target, "quotes") + _distributed(target, "quotes_1m")),
    Migration(11, "news (articles, their symbols, sentiment) and indices (index levels) (warehouse.schema.news_ddl)",
              lambda target: news_ddl(_on_cluster(target), _engine(target, "ReplacingMergeTree", "news", "loaded_at"),
                                      _engine(target, "ReplacingMergeTree", "indices", "loaded_at"),
                                      target.cluster and identifier(target.cluster, "cluster"))),
    Migration(12, "write-cheap codecs for quotes' times, quantities, order counts, totals and OI (faster loads)",
              lambda target: quotes_write_codecs(_on_cluster(target))),
)
LATEST_VERSION = MIGRATIONS[-1].version


def version_table_ddl(target: Target) -> str:
    """DDL of the table that records which migrations ran.

    >>> "schema_version" in version_table_ddl(Target())
    True
    """
    return f"""CREATE TABLE IF NOT EXISTS schema_version{_on_cluster(target)} (
    version UInt32, description String, applied_at DateTime('UTC') DEFAULT now()
)
ENGINE = {_engine(target, 'MergeTree', 'schema_version')} ORDER BY version"""


def kafka_ddl(target: Target) -> list[str]:
    """Server-only: a ``Kafka`` engine table and MVs into ``ticks_buffer``/``rejects``.

    Rows arrive with ``first_seen = 0`` because a materialized view cannot tell a
    redelivery from a new trade; bars for this path are built exactly by
    ``python -m warehouse rebuild-bars`` (schedule it), never double-counted.

    >>> sql = kafka_ddl(Target(kafka=KafkaSource("k1:9092,k2:9092")))
    >>> [s.split("IF NOT EXISTS ")[1].split()[0] for s in sql]
    ['ticks_kafka', 'ticks_kafka_mv', 'ticks_kafka_rejects_mv']
    """
    if target.kafka is None:
        return []
    kafka = target.kafka
    if not _BROKERS.match(kafka.brokers):
        raise WarehouseError(f"kafka.brokers: {kafka.brokers!r} is not a host:port[,host:port] list")
    topic = identifier(kafka.topic, "kafka.topic")
    group = identifier(kafka.group, "kafka.group")
    oc = _on_cluster(target)
    return [
        f"""CREATE TABLE IF NOT EXISTS ticks_kafka{oc} (
    symbol String, ts String, price Float64, size Float64, side Int8, trade_id UInt64, version UInt32
)
ENGINE = Kafka SETTINGS kafka_broker_list = '{kafka.brokers}', kafka_topic_list = '{topic}',
    kafka_group_name = '{group}', kafka_format = 'JSONEachRow', kafka_handle_error_mode = 'stream'""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS ticks_kafka_mv{oc} TO ticks_buffer AS
SELECT symbol, parseDateTime64BestEffort(ts, 6, 'UTC') AS ts, price, size, side, trade_id, version,
    toUInt8(0) AS first_seen
FROM ticks_kafka WHERE length(_error) = 0""",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS ticks_kafka_rejects_mv{oc} TO rejects AS\n{KAFKA_REJECTS_SELECT}",
    ]


def render(target: Target, from_version: int = 0, to_version: int = LATEST_VERSION) -> list[str]:
    """All DDL to bring a schema at ``from_version`` up to ``to_version``.

    >>> statements = render(Target(cluster="c1"))
    >>> any("ReplicatedAggregatingMergeTree" in s for s in statements)
    True
    >>> any("Distributed(c1" in s for s in statements)
    True
    """
    statements = [version_table_ddl(target)]
    for migration in MIGRATIONS:
        if from_version < migration.version <= to_version:
            statements.extend(migration.render(target))
    return statements + kafka_ddl(target)
