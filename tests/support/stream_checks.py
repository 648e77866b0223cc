"""What the streaming tests compare: warehouse contents against the produced feed."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from support.brokers import query
from support.exact_bars import BARS_SQL, assert_bars_equal, deduplicated, reference_bars
from warehouse.demo.generate import DemoSpec, generate
from warehouse.stream.produce import encode_ticks, feed


def spec_of(ticks: int, seed: int = 42, start: str = "2024-01-02") -> DemoSpec:
    """The DemoSpec ``python -m warehouse produce --ticks N --seed S --start D`` publishes."""
    return DemoSpec(ticks=ticks, seed=seed, start=start, batch_rows=min(100_000, ticks))


def produced(spec: DemoSpec, bad: float) -> tuple[pl.DataFrame, list[bytes]]:
    """The good ticks of a produced feed (what was published, duplicates included) and its malformed payloads."""
    ticks = pl.from_arrow(pa.Table.from_batches(list(generate(spec))))
    assert isinstance(ticks, pl.DataFrame)
    good = {payload for batch in generate(spec) for payload in encode_ticks(batch)}
    bad_payloads = [p for chunk in feed(spec, bad) for p in chunk.payloads if p not in good]
    return ticks, bad_payloads


def assert_exact(dsn: str, ticks: pl.DataFrame) -> None:
    """ticks_dedup and bars_1m hold exactly the deduplicated produced ticks and their bars."""
    stored = query(dsn, "SELECT symbol, ts, trade_id, version, price, size FROM ticks_dedup FINAL")
    expected = deduplicated(ticks)
    assert stored.height == expected.height, "deduplicated tick count differs from what was produced"
    key = ["symbol", "ts", "trade_id"]
    stored = stored.with_columns(pl.col("symbol").cast(pl.String),
                                 pl.col("ts").dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
    joined = expected.select(*key, "version", "price", "size").join(stored, on=key, how="left", suffix="_db")
    assert joined["version_db"].null_count() == 0, "a produced trade is missing from ticks_dedup"
    assert (joined["version"] == joined["version_db"]).all() and (joined["price"] == joined["price_db"]).all()
    served = query(dsn, BARS_SQL).with_columns(pl.col("symbol").cast(pl.String),
                                               pl.from_epoch("minute", time_unit="s").dt.cast_time_unit("us"))
    assert_bars_equal(served, reference_bars(ticks))


def rejects(dsn: str) -> pl.DataFrame:
    return query(dsn, "SELECT source, position, reason, raw FROM rejects ORDER BY position")
