"""Migration 9: ``instruments``, what a numeric instrument token or a symbol is.

One row per ``instrument_token`` (a broker's number for an instrument, Kite's in its
instruments CSV), ``ReplacingMergeTree(loaded_at)``: importing the file again replaces the
rows it holds. ``symbol`` is the name ticks and bars use (the trading symbol);
``exchange_tz`` is the exchange's time zone, which naive times of that symbol are read in
(:func:`warehouse.ingest.instruments.exchange_zones`). Loaded by
``python -m warehouse load-instruments`` (:mod:`warehouse.ingest.instruments`).

>>> "ReplacingMergeTree(loaded_at)" in instruments_ddl("", "ReplacingMergeTree(loaded_at)")[0]
True
"""

from __future__ import annotations


def instruments_ddl(on_cluster: str, engine: str) -> list[str]:
    """The statement of migration 9 (``on_cluster``: ``""`` or `` ON CLUSTER name``; ``engine``: rendered)."""
    return [f"""CREATE TABLE IF NOT EXISTS instruments{on_cluster} (
    instrument_token UInt64,
    exchange_token UInt64,
    symbol LowCardinality(String),
    tradingsymbol String,
    name String,
    exchange LowCardinality(String),
    segment LowCardinality(String),
    instrument_type LowCardinality(String),
    asset_class LowCardinality(String),
    sector LowCardinality(String),
    lot_size UInt32,
    tick_size Float64,
    expiry Nullable(Date),
    strike Float64,
    exchange_tz LowCardinality(String),
    loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {engine} ORDER BY instrument_token"""]
