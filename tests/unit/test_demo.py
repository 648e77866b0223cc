"""The demo tick generator: exact shape, reproducibility, realistic faults and market properties."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from support.data import demo_ticks
from warehouse.demo.generate import CLOSE_MINUTE, OPEN_MINUTE, SCHEMA, DemoSpec, generate, parse_count, write_parquet
from warehouse.errors import WarehouseError

# Enough originals for three internal chunks, so faults cross chunk and batch boundaries.
SPEC = DemoSpec(ticks=600_000, batch_rows=100_000)
IDENTITY = ["symbol", "ts", "trade_id"]


@pytest.fixture(scope="module")
def ticks() -> pl.DataFrame:
    """The stream of SPEC with its position (``pos``) and each row's first position (``first``)."""
    frame = pl.from_arrow(demo_ticks(SPEC)).with_row_index("pos")
    return frame.with_columns(first=pl.col("pos").min().over(SCHEMA.names))


@pytest.fixture(scope="module")
def originals(ticks: pl.DataFrame) -> pl.DataFrame:
    return ticks.filter((pl.col("version") == 0) & (pl.col("pos") == pl.col("first")))


def test_exact_row_count_batch_sizes_and_schema(ticks: pl.DataFrame) -> None:
    assert ticks.height == SPEC.ticks
    batches = list(generate(DemoSpec(ticks=250_001, batch_rows=60_000)))
    assert [b.num_rows for b in batches] == [60_000] * 4 + [10_001]
    assert all(b.schema == SCHEMA for b in batches)
    assert SCHEMA.names == ["symbol", "ts", "price", "size", "side", "trade_id", "version"]
    assert SCHEMA.field("ts").type == pa.timestamp("us", tz="UTC")


def test_deterministic_and_independent_of_batch_rows(ticks: pl.DataFrame) -> None:
    again = pl.from_arrow(demo_ticks(DemoSpec(ticks=SPEC.ticks, batch_rows=77_777)))
    assert again.equals(ticks.drop("pos", "first"))
    other_seed = pl.from_arrow(demo_ticks(DemoSpec(ticks=10_000, seed=7)))
    assert not other_seed.equals(pl.from_arrow(demo_ticks(DemoSpec(ticks=10_000))))


@pytest.mark.parametrize(("duplicate_rate", "correction_rate"), [(0.05, 0.01), (0.3, 0.1), (0.0, 0.0)])
def test_fault_fractions_match_the_requested_rates(duplicate_rate: float, correction_rate: float) -> None:
    spec = DemoSpec(ticks=200_000, duplicate_rate=duplicate_rate, correction_rate=correction_rate)
    frame = pl.from_arrow(demo_ticks(spec))
    distinct = frame.unique()
    redelivered = (frame.height - distinct.height) / frame.height
    corrected = distinct.filter(pl.col("version") > 0).height / frame.height
    assert frame.height == spec.ticks
    assert redelivered == pytest.approx(duplicate_rate, rel=0.2, abs=1e-9)
    assert corrected == pytest.approx(correction_rate, rel=0.2, abs=1e-9)


def test_originals_are_in_time_order_with_increasing_trade_ids(originals: pl.DataFrame) -> None:
    assert originals["ts"].is_sorted()
    steps = originals.select(pl.col("trade_id").diff().over("symbol").drop_nulls())["trade_id"]
    assert steps.min() == steps.max() == 1
    assert originals.select(pl.col("trade_id").min().over("symbol") == 1).to_series().all()


def test_every_redelivery_copies_an_earlier_row_a_little_earlier(ticks: pl.DataFrame) -> None:
    copies = ticks.filter(pl.col("pos") > pl.col("first"))
    assert copies.height > 0.04 * ticks.height
    lag = copies["pos"] - copies["first"]
    assert lag.min() >= 1 and lag.max() <= 5_000 and lag.median() > 10
    # Some redeliveries land in the next batch, as a real feed's would.
    assert (copies["pos"] // SPEC.batch_rows > copies["first"] // SPEC.batch_rows).any()


def test_every_correction_follows_the_version_it_corrects(ticks: pl.DataFrame) -> None:
    firsts = ticks.filter(pl.col("pos") == pl.col("first"))
    assert firsts.select(IDENTITY + ["version"]).is_unique().all(), "two different rows share identity and version"
    corrections = firsts.filter(pl.col("version") > 0).with_columns(previous=pl.col("version") - 1)
    before = firsts.select(*IDENTITY, previous="version", before_pos="pos", before_price="price")
    joined = corrections.join(before, on=IDENTITY + ["previous"], how="left")
    assert corrections.height > 0.008 * ticks.height and joined.height == corrections.height
    assert joined["before_pos"].null_count() == 0
    assert (joined["before_pos"] < joined["pos"]).all()
    moved = ((joined["price"] - joined["before_price"]).abs() * 100).round()
    assert moved.min() >= 1 and moved.max() <= 5
    assert joined["version"].max() >= 2


def test_prices_sizes_and_sides_are_valid(ticks: pl.DataFrame, originals: pl.DataFrame) -> None:
    price, size = ticks["price"].to_numpy(), ticks["size"].to_numpy()
    assert price.min() > 0
    assert np.abs(price * 100 - np.round(price * 100)).max() < 1e-6
    assert size.min() >= 1 and (size == np.round(size)).all()
    assert size.max() > 20 * np.median(size), "sizes should be heavy-tailed"
    assert set(ticks["side"].unique()) == {-1, 1}
    same_side = originals.select((pl.col("side") == pl.col("side").shift().over("symbol")).mean()).item()
    assert 0.6 < same_side < 0.8, "sides should persist"
    levels = ticks.group_by("symbol").agg(pl.col("price").median())["price"]
    assert levels.min() > 10 and levels.max() < 2_000 and levels.max() > 1.5 * levels.min()


def test_trades_happen_in_weekday_sessions_busiest_at_the_open(originals: pl.DataFrame) -> None:
    ts = originals["ts"]
    minute = (ts.dt.hour().cast(pl.Int32) * 60 + ts.dt.minute().cast(pl.Int32)).to_numpy()
    assert (ts.dt.weekday() <= 5).all()
    assert minute.min() >= OPEN_MINUTE and minute.max() < CLOSE_MINUTE
    assert ts.min().date().isoformat() == SPEC.start
    assert ts.dt.date().n_unique() >= 5
    per_minute = np.bincount(minute - OPEN_MINUTE)
    assert per_minute[:15].mean() > 1.5 * per_minute[120:240].mean()


def test_volatility_clusters(originals: pl.DataFrame) -> None:
    bars = (originals.filter(pl.col("symbol") == "NVDA")
            .group_by_dynamic("ts", every="1m").agg(pl.col("price").last())
            .with_columns(pl.col("price").log().diff().over(pl.col("ts").dt.date()).abs().alias("move"))
            .drop_nulls("move"))
    move = bars["move"].to_numpy()
    assert move.size > 2_000
    assert np.corrcoef(move[:-1], move[1:])[0, 1] > 0.08


@pytest.mark.parametrize(("text", "count"), [
    ("100M", 100_000_000), ("2.5m", 2_500_000), ("10k", 10_000), ("1000", 1000), (" 1_000 ", 1000), ("1B", 10**9),
])
def test_parse_count(text: str, count: int) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize("text", ["", "lots", "1.5", "2x", "-5", "1e6", "1.2345k"])
def test_parse_count_rejects_non_counts(text: str) -> None:
    with pytest.raises(WarehouseError, match=r"^ticks: .* is not a count like 2M, 500k or 1000$"):
        parse_count(text)


@pytest.mark.parametrize(("fields", "message"), [
    ({"ticks": 0}, "ticks: 0 is not an integer >= 1"),
    ({"ticks": 2.5}, "ticks: 2.5 is not an integer >= 1"),
    ({"duplicate_rate": 1.5}, "duplicate_rate: 1.5 is not in [0, 0.5]"),
    ({"correction_rate": -0.1}, "correction_rate: -0.1 is not in [0, 0.2]"),
    ({"symbols": ()}, "symbols: () is not a non-empty list of symbol names"),
    ({"symbols": "AAPL"}, "symbols: 'AAPL' is not a non-empty list of symbol names"),
    ({"symbols": ("AAPL", "AAPL")}, "symbols: 'AAPL' is listed twice"),
    ({"start": "2024-13-01"}, "start: '2024-13-01' is not a date like 2024-01-02"),
    ({"seed": -1}, "seed: -1 is not an integer >= 0"),
    ({"batch_rows": 0}, "batch_rows: 0 is not an integer >= 1"),
])
def test_spec_validation_names_field_and_value(fields: dict, message: str) -> None:
    with pytest.raises(WarehouseError) as error:
        DemoSpec(**fields)
    assert str(error.value) == message


def test_spec_accepts_a_list_of_symbols_and_a_weekend_start() -> None:
    spec = DemoSpec(ticks=2_000, symbols=["ABC", "XYZ"], start="2024-01-06")
    frame = pl.from_arrow(demo_ticks(spec))
    assert spec.symbols == ("ABC", "XYZ") and set(frame["symbol"]) == {"ABC", "XYZ"}
    assert frame["ts"].min().date().isoformat() == "2024-01-08"


def test_write_parquet_round_trip(tmp_path) -> None:
    spec = DemoSpec(ticks=5_000, batch_rows=1_500)
    path = tmp_path / "ticks.parquet"
    assert write_parquet(spec, str(path)) == 5_000
    assert pq.read_metadata(path).num_rows == 5_000
    assert pq.read_table(path).equals(demo_ticks(spec))
    with pytest.raises(WarehouseError, match="^path: directory .* does not exist$"):
        write_parquet(spec, tmp_path / "missing" / "ticks.parquet")
