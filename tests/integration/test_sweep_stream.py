"""Sweeps of any size: sets enumerated lazily, rows streamed to Parquet, a bounded ranking equal to the
head of the full one, binned heatmap cells that agree with every row, progress on stderr."""

from __future__ import annotations

import io
import time

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

import backtest
from backtest.engine.simulate import EngineConfig
from backtest.feed import BarArrays
from backtest.sweep import collect
from backtest.sweep.local import rerun, sweep
from backtest.sweep.progress import SweepProgress
from backtest.sweep.spec import ParamSpace, SweepSpec, iter_chunks
from reports.sweep_files import write_sweep_files

PARAMS = {"fast": "range(2,30)", "slow": "range(3,40)"}  # 1,036 sets, 378 refused (fast >= slow)


def _bars(n: int = 800) -> BarArrays:
    close = (100 * np.exp(np.cumsum(np.random.default_rng(5).normal(0, 0.01, n))))[:, None]
    index = (np.datetime64("2024-01-02T14:30") + np.arange(n) * np.timedelta64(1, "m")).astype("datetime64[us]")
    return BarArrays(index, ("X",), close, close, close, close, np.ones((n, 1)))


@pytest.fixture(scope="module")
def full():
    """The sweep with every row ranked in memory (as every sweep up to RANKED_ROWS sets is)."""
    return sweep(_bars(), "sma_cross", SweepSpec(params=PARAMS, chunk=16), EngineConfig(fill="close"))


def test_a_grid_of_a_trillion_sets_yields_its_first_chunk_at_once():
    spec = SweepSpec(params={"fast": "range(1,1000001)", "slow": "range(1,1000001)"}, force=True, chunk=4)
    space = ParamSpace.parse(spec.params, "sma_cross")
    started = time.perf_counter()
    first = next(iter_chunks(space, spec, {}))
    assert time.perf_counter() - started < 0.5
    assert [s.values for s in first.valid] == [{"fast": 1, "slow": s} for s in (2, 3, 4, 5)]
    assert first.invalid == [({"fast": 1, "slow": 1}, first.invalid[0][1])]


def test_a_sweep_larger_than_the_ranking_streams_every_row_and_keeps_the_best(full, tmp_path, monkeypatch):
    monkeypatch.setattr(collect, "RANKED_ROWS", 50)  # merged every 100 rows: many merges over 658 sets
    monkeypatch.setattr(collect, "ROW_GROUP", 64)
    monkeypatch.setattr(collect, "HEAT_AXIS", 10)
    path = tmp_path / "sweep.parquet"
    big = sweep(_bars(), "sma_cross", SweepSpec(params=PARAMS, chunk=16), EngineConfig(fill="close"), parquet=path)
    assert (big.evaluated, big.skipped) == (full.evaluated, full.skipped) == (658, 378)
    # the ranking is the head of the full one, ranks and ties included
    assert big.frame.equals(full.frame.head(50))
    # every row is on disk, in evaluation order, with the statistics of the in-memory sweep
    stored = pl.read_parquet(path)
    assert stored.height == 658 and pq.ParquetFile(path).num_row_groups == 11
    assert stored.sort("param_fast", "param_slow").equals(
        full.frame.drop("rank").sort("param_fast", "param_slow"))
    assert stored.select("param_fast", "param_slow").rows() == sorted(stored.select("param_fast", "param_slow").rows())
    assert big.invalid.height == 50 and big.invalid.equals(full.invalid.head(50))
    # 28 x 37 values binned into 10 x 10 cells (bins of 3 and 4 values), each the best of its bin's rows
    heat = big.heatmap
    assert heat["sets"].sum() == 658 and heat.height <= 100
    assert set(heat["param_fast"]) <= set(range(2, 30, 3)) and set(heat["param_slow"]) <= set(range(3, 40, 4))
    cell = full.frame.filter(pl.col("param_fast").is_between(5, 7), pl.col("param_slow").is_between(15, 18))
    got = heat.filter(pl.col("param_fast") == 5, pl.col("param_slow") == 15).row(0, named=True)
    assert (got["sets"], got["sharpe"]) == (cell.height, cell["sharpe"].fill_nan(None).max())
    assert rerun(big, 1).equity[-1] == full.frame["final_equity"][0]
    # files: sweep.csv holds the best 50, the page counts and plots every set
    written = {p.name for p in write_sweep_files(big, tmp_path)}
    assert {"sweep.parquet", "sweep.csv", "heatmap.csv", "sweep.html"} <= written
    assert pl.read_csv(tmp_path / "sweep.csv")["rank"].to_list() == list(range(1, 51))
    page = (tmp_path / "sweep.html").read_text()
    assert "658 parameter sets" in page and "the best 50 are in sweep.csv, all in sweep.parquet" in page
    assert "Long axes are binned" in page


def test_the_api_streams_every_row_to_the_parquet_file_it_is_given(full, tmp_path):
    bars = _bars()
    frame = pl.DataFrame({"ts": bars.index, "close": bars.close[:, 0]})
    table = backtest.sweep("sma_cross", frame, fast=range(2, 30), slow=range(3, 40), fill="close",
                           parquet=tmp_path / "all.parquet")
    assert table.equals(full.frame)
    assert pl.read_parquet(tmp_path / "all.parquet").height == table.height == 658


def test_random_draws_chunk_by_chunk_are_the_draws_of_one_pass(full):
    spec = SweepSpec(mode="random", params={"fast": "range(2,30)", "slow": "interval(3,40)"}, n=300, seed=4,
                     chunk=7)
    chunks = list(iter_chunks(ParamSpace.parse(spec.params, "sma_cross"), spec, {}))
    drawn = [s.values for c in chunks for s in c.valid] + [v for c in chunks for v, _ in c.invalid]
    rng = np.random.default_rng(4)
    fast, slow = rng.integers(0, 28, 300) + 2, rng.uniform(3, 40, 300)
    assert sorted((d["fast"], d["slow"]) for d in drawn) == sorted(zip(fast.tolist(), slow.tolist()))
    assert all(len(c.valid) == 7 for c in chunks[:-1])


def test_dask_streams_more_chunks_than_it_keeps_in_flight(full):
    pytest.importorskip("distributed")
    spec = SweepSpec(params=PARAMS, chunk=16, executor="dask", workers=2)  # 40 chunks, 8 in flight
    remote = sweep(_bars(), "sma_cross", spec, EngineConfig(fill="close"))
    assert remote.frame.equals(full.frame) and remote.heatmap.equals(full.heatmap)


def test_progress_prints_a_status_line_when_due_and_draws_no_bar_off_a_terminal():
    stream = io.StringIO()
    with SweepProgress(100, every=3600.0, stream=stream) as progress:
        for _ in range(4):
            progress.advance(25)
    assert stream.getvalue() == "sweep: 0 / 100 sets (0.0%), 0 sets/s, ETA ?\n"
    stream = io.StringIO()
    with SweepProgress(100, stream=stream) as progress:
        progress.advance(100)
    assert stream.getvalue() == ""
    stream = io.StringIO()
    with SweepProgress(100, bar=True, every=0.0, stream=stream) as progress:
        progress.advance(40)
    assert "0/100 [" in stream.getvalue() and "sets/s" not in stream.getvalue()  # the bar, no status line
