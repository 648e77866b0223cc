"""The duplicates invariant: redeliveries and corrections never corrupt bars.

Ticks with 5% redeliveries and 1% corrections are loaded in small batches (so
duplicates and corrections also cross batch boundaries); the bars served
afterwards must equal bars computed in polars from the deduplicated ticks.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest

from warehouse.demo.generate import DemoSpec
from warehouse.ingest.files import load_ticks
from warehouse.ingest.rollup import rebuild_range

from support.data import demo_ticks
from support.exact_bars import assert_bars_equal, deduplicated, reference_bars, served_bars


@pytest.fixture(scope="module")
def stream() -> pa.Table:
    spec = DemoSpec(ticks=120_000, duplicate_rate=0.05, correction_rate=0.01, seed=7, batch_rows=50_000)
    return demo_ticks(spec)


def test_bars_equal_polars_bars_of_deduplicated_ticks(fresh_client, stream):
    report = load_ticks(fresh_client, stream, batch_rows=7_000)
    ticks = pl.from_arrow(stream)
    expected = reference_bars(ticks)
    assert report.loaded == ticks.height
    assert report.written.redeliveries > 0.04 * ticks.height
    assert report.written.corrections > 0.008 * ticks.height
    assert report.written.rebuilt_bars > 0, "some corrections must cross a batch boundary"
    assert report.written.new_trades == deduplicated(ticks).height
    assert_bars_equal(served_bars(fresh_client), expected)
    dedup_rows = fresh_client.command("SELECT count() FROM ticks_dedup FINAL")
    assert dedup_rows == deduplicated(ticks).height
    assert fresh_client.command("SELECT count() FROM ticks") == ticks.height


def test_loading_everything_again_changes_no_bar(fresh_client, stream):
    load_ticks(fresh_client, stream, batch_rows=40_000)
    before = served_bars(fresh_client)
    again = load_ticks(fresh_client, stream, batch_rows=40_000)
    assert again.written.new_trades == 0
    assert served_bars(fresh_client).equals(before)
    assert fresh_client.command("SELECT count() FROM ticks") == 2 * stream.num_rows


def test_rebuild_range_reproduces_incremental_bars(fresh_client, stream):
    load_ticks(fresh_client, stream, batch_rows=20_000)
    incremental = served_bars(fresh_client)
    bars = rebuild_range(fresh_client)
    assert bars == incremental.height
    assert_bars_equal(served_bars(fresh_client), incremental)


@pytest.mark.parametrize("time_ordered", [True, False], ids=["time-ordered", "shuffled"])
def test_ties_keep_the_last_row_in_input_order(fresh_client, stream, time_ordered):
    """Same identity and version, different price: the later row wins, in ticks_dedup and in bars.

    The writer sorts each batch by identity before inserting; the sort must be stable
    (time-ordered input takes the O(n) path, shuffled input the full sort).
    """
    ticks = pl.from_arrow(stream).filter(pl.col("version") == 0).unique(["symbol", "ts", "trade_id"]).head(20_000)
    rival = ticks.sample(2_000, seed=3).with_columns(pl.col("price") + 0.05)
    batch = pl.concat([ticks, rival])
    if not time_ordered:
        batch = batch.sample(fraction=1.0, shuffle=True, seed=4)
    else:
        batch = batch.with_row_index("_i").sort("ts", maintain_order=True).drop("_i")
    load_ticks(fresh_client, batch)
    assert_bars_equal(served_bars(fresh_client), reference_bars(batch))
    kept = pl.from_arrow(fresh_client.query_arrow(
        "SELECT symbol, ts, trade_id, price FROM ticks_dedup FINAL ORDER BY symbol, ts, trade_id"))
    expected = deduplicated(batch).sort(["symbol", "ts", "trade_id"])
    assert kept["price"].to_list() == expected["price"].to_list()


def test_a_large_batch_goes_in_as_two_halves_without_splitting_an_identity(fresh_client, stream, monkeypatch):
    """Halves on two connections at once: an identity repeated across the middle stays in one half."""
    from warehouse.ingest import writer as ingest

    monkeypatch.setattr(ingest, "HALF_MIN_ROWS", 20_000)
    ticks = pl.from_arrow(stream).head(60_000)
    middle = ticks.sort(["symbol", "ts", "trade_id"]).row(30_000, named=True)
    rivals = pl.DataFrame([{**middle, "price": middle["price"] + 0.01 * i} for i in range(1, 40)],
                          schema=ticks.schema)
    batch = pl.concat([ticks, rivals])  # 39 same-version rivals: the last one in input order wins
    report = load_ticks(fresh_client, batch, batch_rows=batch.height)
    assert report.written.batches == 1
    parts = fresh_client.command("SELECT count() FROM system.parts WHERE active AND table = 'ticks' "
                                 "AND database = currentDatabase()")
    assert parts == 2 * len(batch["ts"].dt.strftime("%Y%m").unique())
    split_apart = fresh_client.command(
        "SELECT uniqExact(_part) FROM ticks WHERE symbol = {s:String} AND ts = {t:DateTime64(6, 'UTC')} "
        "AND trade_id = {i:UInt64}", parameters={"s": middle["symbol"], "t": middle["ts"], "i": middle["trade_id"]})
    assert split_apart == 1, "the rivals' identity must stay in one half"
    assert_bars_equal(served_bars(fresh_client), reference_bars(batch))
    kept = pl.from_arrow(fresh_client.query_arrow(
        "SELECT symbol, ts, trade_id, price FROM ticks_dedup FINAL ORDER BY symbol, ts, trade_id"))
    assert kept["price"].to_list() == deduplicated(batch).sort(["symbol", "ts", "trade_id"])["price"].to_list()
