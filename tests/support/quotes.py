"""``quotes_1m`` computed in polars from the quotes a test wrote (the reference the warehouse must equal),
and the rows a reader gets from the warehouse."""

from __future__ import annotations

import polars as pl

MINUTE_COLUMNS = ["symbol", "minute", "quotes", "crossed", "last_bid", "last_ask", "last_bid_qty", "last_ask_qty",
                  "mean_spread", "tw_spread", "spread_seconds", "last_oi", "imbalance", "mean_imbalance"]


def deduplicated_quotes(quotes: pl.DataFrame) -> pl.DataFrame:
    """Each (symbol, ts, seq) once, the last one written, in key order."""
    return quotes.unique(["symbol", "ts", "seq"], keep="last", maintain_order=True).sort(["symbol", "ts", "seq"])


def reference_minutes(quotes: pl.DataFrame) -> pl.DataFrame:
    """``quotes_1m`` of all ``quotes`` written (in write order), as :data:`MINUTE_COLUMNS`, by symbol and minute."""
    q = deduplicated_quotes(quotes)
    both = (pl.col("bid_px_1") > 0) & (pl.col("ask_px_1") > 0)
    bid_depth = pl.sum_horizontal([f"bid_qty_{k}" for k in range(1, 6)])
    ask_depth = pl.sum_horizontal([f"ask_qty_{k}" for k in range(1, 6)])
    q = q.with_columns(
        spread=pl.when(both).then(pl.col("ask_px_1") - pl.col("bid_px_1")),
        crossed=(both & (pl.col("bid_px_1") >= pl.col("ask_px_1"))).cast(pl.UInt32),
        imb=pl.when(bid_depth + ask_depth > 0).then((bid_depth - ask_depth) / (bid_depth + ask_depth)),
        minute=pl.col("ts").dt.truncate("1m"),
    ).with_columns(
        next_ts=pl.col("ts").shift(-1).over("symbol"),
        prev_spread=pl.col("spread").shift(1).over("symbol"),
        first_of_minute=pl.col("minute") != pl.col("minute").shift(1).over("symbol"),
    )
    minute_end = pl.col("minute") + pl.duration(minutes=1)
    own = (pl.min_horizontal(pl.col("next_ts").fill_null(minute_end), minute_end) - pl.col("ts")).dt.total_microseconds()
    carried = pl.when(pl.col("first_of_minute").fill_null(True) & pl.col("prev_spread").is_not_null()) \
        .then((pl.col("ts") - pl.col("minute")).dt.total_microseconds()).otherwise(0)
    q = q.with_columns(own_s=pl.when(pl.col("spread").is_not_null()).then(own / 1e6).otherwise(0.0),
                       carried_s=carried / 1e6)
    nan = float("nan")
    out = q.group_by(["symbol", "minute"], maintain_order=True).agg(
        quotes=pl.len().cast(pl.UInt32), crossed=pl.col("crossed").sum().cast(pl.UInt32),
        last_bid=pl.col("bid_px_1").last(), last_ask=pl.col("ask_px_1").last(),
        last_bid_qty=pl.col("bid_qty_1").last(), last_ask_qty=pl.col("ask_qty_1").last(),
        mean_spread=pl.col("spread").mean(),
        tw_sum=(pl.col("spread").fill_null(0) * pl.col("own_s")).sum()
        + (pl.col("prev_spread").fill_null(0) * pl.col("carried_s")).sum(),
        spread_seconds=pl.col("own_s").sum() + pl.col("carried_s").sum(),
        last_oi=pl.col("oi").last(), imbalance=pl.col("imb").last(), mean_imbalance=pl.col("imb").mean(),
    )
    return out.with_columns(
        last_bid=pl.when(pl.col("last_bid") > 0).then(pl.col("last_bid")).otherwise(nan),
        last_ask=pl.when(pl.col("last_ask") > 0).then(pl.col("last_ask")).otherwise(nan),
        tw_spread=pl.when(pl.col("spread_seconds") > 0).then(pl.col("tw_sum") / pl.col("spread_seconds")),
        minute=pl.col("minute").dt.replace_time_zone(None),
    ).select(MINUTE_COLUMNS).with_columns(pl.col(pl.Float64).fill_null(nan)).sort(["symbol", "minute"])


def served_minutes(client) -> pl.DataFrame:
    """What a reader gets from ``quotes_1m FINAL`` (any clickhouse-connect client), as :data:`MINUTE_COLUMNS`."""
    columns = ", ".join("toDateTime64(minute, 6, 'UTC') AS minute" if c == "minute" else c for c in MINUTE_COLUMNS)
    frame = pl.from_arrow(client.query_arrow(f"SELECT {columns} FROM quotes_1m FINAL ORDER BY symbol, minute"))
    return frame.with_columns(pl.col("symbol").cast(pl.String),
                              pl.col("minute").dt.replace_time_zone(None).dt.cast_time_unit("us"))


def assert_minutes_equal(served: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Same minutes, counts exactly equal, floats within 1e-9 relative (sums added in another order)."""
    assert served.height == expected.height, f"{served.height} minutes served, {expected.height} expected"
    keys = ["symbol", "minute", "quotes", "crossed"]
    assert served.select(keys).equals(expected.select(keys).with_columns(
        pl.col("minute").dt.cast_time_unit("us"))), "minutes or counts differ"
    for name in MINUTE_COLUMNS[4:]:
        a, b = served[name].to_numpy(), expected[name].to_numpy()
        same = (abs(a - b) <= 1e-9 * abs(b).clip(1.0)) | (a != a) & (b != b)
        assert same.all(), f"{name} differs in {int((~same).sum())} minutes, e.g. {a[~same][:3]} vs {b[~same][:3]}"
