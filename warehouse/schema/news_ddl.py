"""Migration 11: ``news`` (articles and the symbols they mention) and ``indices`` (index levels over time).

``news``: one row per article, ``ReplacingMergeTree(loaded_at)`` keyed ``(published_at, id)``, so loading a
file again replaces its articles (the latest load wins) instead of doubling them. The read it serves is
"news of these symbols in ``[start, end)``" (:func:`warehouse.feed_news.news`): ``symbols`` is an array (an
article mentions several symbols, or none), so it cannot lead the sort key; the time can, and the primary
index then cuts the range to the granules of ``[start, end)``, while a ``bloom_filter`` skip index on
``symbols`` (which ``hasAny(symbols, [...])`` uses) skips the granules of that range that mention none of the
symbols. ``index_granularity = 1024``: articles are wide rows (title and body), and small granules let the
bloom filter skip finely. ``sentiment`` (in [-1, 1]) and ``confidence`` (in [0, 1]) are null when the vendor
gave none, so "neutral" (0) differs from "not scored".

``indices``: one row per index and time (``ReplacingMergeTree(loaded_at)`` keyed ``(index_name, ts)``: a
re-load replaces), ``value`` the level, ``open``/``high``/``low``/``close`` the bar's when the file had them
(null otherwise). Loaded by ``python -m warehouse load-news`` / ``load-indices``
(:mod:`warehouse.ingest.news`, :mod:`warehouse.ingest.indices`).

>>> [s.split()[5] for s in news_ddl("", "ReplacingMergeTree(loaded_at)", "ReplacingMergeTree(loaded_at)")]
['news', 'indices']
"""

from __future__ import annotations

NEWS_GRANULARITY = 1024  # articles per index granule (wide rows; the bloom filter skips per granule)


def news_ddl(on_cluster: str, news_engine: str, indices_engine: str, cluster: str | None = None) -> list[str]:
    """The statements of migration 11 (``on_cluster``: ``""`` or `` ON CLUSTER name``; engines: rendered); with a
    ``cluster`` (a checked identifier), ``news_all`` sharded by article id and ``indices_all`` by index name.

    >>> news_ddl(" ON CLUSTER c1", "E", "E", "c1")[-1].split("ENGINE = ")[1]
    'Distributed(c1, currentDatabase(), indices, cityHash64(index_name))'
    """
    distributed = [] if cluster is None else [
        f"CREATE TABLE IF NOT EXISTS {table}_all{on_cluster} AS {table} "
        f"ENGINE = Distributed({cluster}, currentDatabase(), {table}, cityHash64({key}))"
        for table, key in (("news", "id"), ("indices", "index_name"))]
    return [
        f"""CREATE TABLE IF NOT EXISTS news{on_cluster} (
    id String,
    source LowCardinality(String),
    title String CODEC(ZSTD(3)),
    body String CODEC(ZSTD(3)),
    link String CODEC(ZSTD(3)),
    published_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    symbols Array(LowCardinality(String)),
    sentiment Nullable(Float32),
    confidence Nullable(Float32),
    categories Array(String),
    loaded_at DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX symbols_bloom symbols TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = {news_engine}
PARTITION BY toYYYYMM(published_at) ORDER BY (published_at, id)
SETTINGS index_granularity = {NEWS_GRANULARITY}""",
        f"""CREATE TABLE IF NOT EXISTS indices{on_cluster} (
    index_name LowCardinality(String),
    ts DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    value Float64 CODEC(Delta, ZSTD(1)),
    open Nullable(Float64),
    high Nullable(Float64),
    low Nullable(Float64),
    close Nullable(Float64),
    loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {indices_engine}
PARTITION BY toYear(ts) ORDER BY (index_name, ts)""",
        *distributed,
    ]
