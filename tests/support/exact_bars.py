"""Bars computed in polars from deduplicated ticks, and the check that served bars equal them."""

from __future__ import annotations

import polars as pl

BARS_SQL = """
SELECT symbol, minute, argMinMerge(open) AS open, max(high) AS high, min(low) AS low,
    argMaxMerge(close) AS close, sum(volume) AS volume, sum(notional) AS notional, sum(trades) AS trades
FROM bars_1m GROUP BY symbol, minute ORDER BY symbol, minute
"""


def deduplicated(ticks: pl.DataFrame) -> pl.DataFrame:
    """What ReplacingMergeTree(version) keeps: per identity the highest version, last on ties."""
    return (ticks.with_row_index("_row").sort(["version", "_row"])
            .group_by(["symbol", "ts", "trade_id"]).last().drop("_row"))


def reference_bars(ticks: pl.DataFrame) -> pl.DataFrame:
    return (deduplicated(ticks).sort(["symbol", "ts", "trade_id"])
            .group_by("symbol", pl.col("ts").dt.truncate("1m").dt.replace_time_zone(None).alias("minute"))
            .agg(open=pl.col("price").first(), high=pl.col("price").max(), low=pl.col("price").min(),
                 close=pl.col("price").last(), volume=pl.col("size").sum(),
                 notional=(pl.col("price") * pl.col("size")).sum(), trades=pl.len().cast(pl.UInt64))
            .sort(["symbol", "minute"]))


def served_bars(client) -> pl.DataFrame:
    served = pl.from_arrow(client.query_arrow(BARS_SQL))
    return served.with_columns(pl.col("symbol").cast(pl.String),
                               pl.from_epoch("minute", time_unit="s").dt.cast_time_unit("us"))


def assert_bars_equal(served: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert served.height == expected.height
    exact = ["symbol", "minute", "open", "high", "low", "close", "volume", "trades"]
    assert served.select(exact).equals(expected.select(exact))
    # notional is a float sum whose order differs between engines: equal to rounding
    ratio = (served["notional"] / expected["notional"] - 1).abs().max()
    assert ratio < 1e-12
