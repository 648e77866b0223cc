"""Where a run's result came from: its trades grouped per symbol and per side (long vs short).

One row per group, then a total row (``group`` ``all``):

* ``trades``: trades in the group (open ones included), ``open``: still open at the end;
* ``win_rate``: share of its closed trades with pnl > 0 (NaN without closed trades);
* ``pnl``: summed trade pnl after fees (an open trade marked at the last close);
* ``contribution``: ``pnl`` over the initial cash, i.e. the group's share of the total return.

Each grouping covers every trade once, so per grouping the ``trades``, ``pnl``
and ``contribution`` add up to the total row, and the total ``contribution``
equals the run's total return whenever every position was closed or marked
(cash never changes outside trades).

>>> import polars as pl
>>> trades = pl.DataFrame({"column": [0, 1, 0], "direction": ["long", "short", "short"],
...                        "pnl": [30.0, -10.0, 5.0], "is_open": [False, False, True]})
>>> table = trade_breakdown(trades, symbols=("AAPL", "MSFT"), init_cash=1000.0)
>>> table.select("group", "key", "trades", "win_rate", "pnl", "contribution").rows()[:2]
[('symbol', 'AAPL', 2, 1.0, 35.0, 0.035), ('symbol', 'MSFT', 1, 0.0, -10.0, -0.01)]
>>> table.filter(pl.col("group") == "all").select("trades", "open", "pnl").row(0)
(3, 1, 25.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

__all__ = ["trade_breakdown"]

SIDES = ("long", "short")


def trade_breakdown(trades: pl.DataFrame, *, symbols: Sequence[str], init_cash: float) -> pl.DataFrame:
    """Trades, open trades, win rate, pnl and return contribution per symbol, per side, and in total.

    ``trades``: the engine's trade records (``column``, ``direction``, ``pnl``,
    ``is_open``); ``symbols``: the name of each column. Every symbol and both sides
    get a row, with zero trades when none happened.

    >>> import polars as pl
    >>> empty = pl.DataFrame(schema={"column": pl.Int64, "direction": pl.String, "pnl": pl.Float64,
    ...                              "is_open": pl.Boolean})
    >>> trade_breakdown(empty, symbols=("X",), init_cash=100.0).select("group", "key", "trades", "pnl").rows()
    [('symbol', 'X', 0, 0.0), ('side', 'long', 0, 0.0), ('side', 'short', 0, 0.0), ('all', 'all', 0, 0.0)]
    """
    names = pl.Series(list(symbols), dtype=pl.String)
    frame = trades.select(
        names.gather(trades["column"]).alias("symbol") if trades.height else pl.lit(None, pl.String).alias("symbol"),
        pl.col("direction").cast(pl.String).alias("side"), "pnl", "is_open")
    parts = [
        _grouped(frame, "symbol", list(symbols)),
        _grouped(frame, "side", list(SIDES)),
        _grouped(frame.with_columns(pl.lit("all").alias("all")), "all", ["all"]),
    ]
    return pl.concat(parts).with_columns((pl.col("pnl") / float(init_cash)).alias("contribution"))


def _grouped(frame: pl.DataFrame, by: str, keys: list[str]) -> pl.DataFrame:
    """One row per ``keys`` value of column ``by`` (in that order, zero rows filled in)."""
    closed = ~pl.col("is_open")
    stats = frame.group_by(by).agg(
        pl.len().cast(pl.Int64).alias("trades"),
        pl.col("is_open").sum().cast(pl.Int64).alias("open"),
        ((pl.col("pnl") > 0) & closed).sum().alias("won"),
        closed.sum().alias("closed"),
        pl.col("pnl").sum().alias("pnl"),
    )
    order = pl.DataFrame({by: keys}, schema={by: pl.String})
    joined = order.join(stats, on=by, how="left", maintain_order="left").fill_null(0)
    return joined.select(
        pl.lit(by).alias("group"), pl.col(by).alias("key"), "trades", "open",
        pl.when(pl.col("closed") > 0).then(pl.col("won") / pl.col("closed")).otherwise(float("nan"))
        .alias("win_rate"),
        pl.col("pnl").cast(pl.Float64),
    )
