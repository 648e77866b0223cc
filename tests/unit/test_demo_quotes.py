"""Demo quotes are consistent with the demo's trades: every original trade prints at the bid (a sell) or the
ask (a buy) of the quote in force, which has 5 ordered levels and covers the trade's size."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from warehouse.demo.generate import DemoSpec, generate
from warehouse.demo.quotes import demo_quotes
from warehouse.ingest.quote_check import clean_quotes


def test_each_original_trade_prints_at_the_bid_or_the_ask_of_the_quote_in_force():
    spec = DemoSpec(ticks=40_000, seed=3, batch_rows=15_000)
    trades = pl.from_arrow(pa.Table.from_batches(list(generate(spec))))
    quotes = pl.from_arrow(pa.concat_tables(demo_quotes(spec)))
    originals = trades.filter(pl.col("version") == 0).unique(["symbol", "trade_id"], keep="first").sort("ts")
    in_force = originals.join_asof(quotes.sort("ts"), on="ts", by="symbol", strategy="backward", check_sortedness=False)
    at_quote = pl.when(pl.col("side") > 0).then(pl.col("ask_px_1")).otherwise(pl.col("bid_px_1"))
    matched = in_force.select(((pl.col("price") - at_quote).abs() < 1e-9).mean()).item()
    assert matched > 0.999, f"only {matched:.4%} of trades at the bid/ask in force"
    covered = in_force.select((pl.when(pl.col("side") > 0).then(pl.col("ask_qty_1")).otherwise(pl.col("bid_qty_1"))
                               >= pl.col("size")).mean()).item()
    assert covered > 0.999
    assert quotes.height >= 0.99 * originals.height
    assert (quotes["ask_px_1"] > quotes["bid_px_1"]).all()
    assert clean_quotes(pa.concat_tables(demo_quotes(spec)), source="demo").rejects.num_rows == 0  # ordered levels
