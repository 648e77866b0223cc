"""Sweeps: the stats-only kernel equals full runs, random search is seeded, Dask equals local,
walk-forward stitches honestly, the CLI writes its files and refuses bad specs in one line."""

from __future__ import annotations

import subprocess
import sys
from html import escape
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import strategies
from backtest.cli import main
from backtest.engine.simulate import EngineConfig, run
from backtest.feed import BarArrays
from backtest.stats import STAT_NAMES, summarize
from backtest.sweep.local import sweep
from backtest.sweep.spec import SweepSpec, WalkForward
from backtest.sweep.walk_forward import walk_forward, windows
from reports.sweep_files import write_walk_forward_files

ROOT = Path(__file__).resolve().parents[2]


def _bars(n: int = 3000, k: int = 2, seed: int = 3) -> BarArrays:
    """Seeded OHLC random walks; the second column starts late and has holes (NaN bars)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, k)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.002, (n, k)))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, (n, k)))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, (n, k)))
    arrays = [open_, high, low, close]
    if k > 1:
        holes = rng.random(n) < 0.05
        for a in arrays:
            a[:200, 1] = np.nan
            a[holes, 1] = np.nan
    index = (np.datetime64("2024-01-02T14:30") + np.arange(n) * np.timedelta64(1, "m")).astype("datetime64[us]")
    return BarArrays(index, tuple("XY"[:k]), *arrays, np.ones((n, k)))


def _full_run_stats(bars: BarArrays, values: dict, engine: EngineConfig) -> np.ndarray:
    signal = strategies.signal_events(strategies.find("sma_cross")(**values), bars)
    sim = run(bars.open, bars.high, bars.low, bars.close, signal, engine)
    closed = sim.trades.filter(~sim.trades["is_open"])
    stats = summarize(sim.equity, engine.init_cash, closed["pnl"].to_numpy(), closed["return"].to_numpy(),
                      sim.exposure_bars, bars.index)
    return np.array([stats[name] for name in STAT_NAMES], dtype=float)


@pytest.mark.parametrize("engine", [
    EngineConfig(fees_bps=5, slippage_bps=2, size=0.5),
    EngineConfig(fill="close", direction="long_only", fees_bps=10, close_at_end=False),
    EngineConfig(stop_loss=0.01, take_profit=0.02, trailing_stop=0.015, whole_units=True, fee_fixed=1.0),
    EngineConfig(signals="direction", direction="short_only", fill="close", size_type="cash", size=3000),
], ids=["next_open", "close_long_only", "stops", "short_cash"])
def test_every_statistic_equals_a_full_run_of_the_same_set(engine):
    bars = _bars()
    spec = SweepSpec(params={"fast": "range(3,30,4)", "slow": "range(10,60,7)"}, metric="sharpe")
    result = sweep(bars, "sma_cross", spec, engine)
    assert result.frame.height + len(result.invalid) == 7 * 8
    assert result.frame.height == 47 and result.indicators == 15
    assert result.frame["trades"].max() > 10
    for row in result.frame.gather([0, 7, 22, 46]).iter_rows(named=True):
        expected = _full_run_stats(bars, {"fast": row["param_fast"], "slow": row["param_slow"]}, engine)
        np.testing.assert_array_equal([row[name] for name in STAT_NAMES], expected)
    sharpe = result.frame["sharpe"].fill_nan(None).drop_nulls()
    assert sharpe.to_list() == sorted(sharpe.to_list(), reverse=True)


def test_random_search_is_seeded_distinct_and_inside_the_grid():
    bars = _bars(k=1)
    params = {"fast": "range(2,40)", "slow": "range(5,80,5)"}
    first = sweep(bars, "sma_cross", SweepSpec(mode="random", params=params, n=60, seed=11), EngineConfig())
    again = sweep(bars, "sma_cross", SweepSpec(mode="random", params=params, n=60, seed=11), EngineConfig())
    other = sweep(bars, "sma_cross", SweepSpec(mode="random", params=params, n=60, seed=12), EngineConfig())
    assert first.frame.equals(again.frame)
    assert not first.frame.equals(other.frame)
    drawn = first.frame.select("param_fast", "param_slow").rows() + [
        (v["param_fast"], v["param_slow"]) for v in first.invalid.iter_rows(named=True)]
    assert len(drawn) == len(set(drawn)) == 60
    assert all(2 <= f < 40 and s in range(5, 80, 5) for f, s in drawn)


def test_dask_local_cluster_of_two_processes_gives_identical_results():
    pytest.importorskip("distributed")
    bars = _bars(n=1500)
    params = {"fast": "range(3,30,3)", "slow": "range(10,60,10)"}
    local = sweep(bars, "sma_cross", SweepSpec(params=params, chunk=7), EngineConfig(fees_bps=3))
    remote = sweep(bars, "sma_cross", SweepSpec(params=params, chunk=7, executor="dask", workers=2),
                   EngineConfig(fees_bps=3))
    assert local.frame.height == 36
    assert remote.frame.equals(local.frame)


def test_walk_forward_picks_the_train_best_and_stitches_the_test_windows(tmp_path):
    bars = _bars(n=2400, k=1)
    engine = EngineConfig(fees_bps=2)
    spec = SweepSpec(params={"fast": "3,6,12", "slow": "20,40"}, metric="sharpe",
                     walk_forward=WalkForward(train=800, test=400))
    result = walk_forward(bars, "sma_cross", spec, engine)
    assert result.folds.height == 4 and len(result.equity) == 1600
    assert result.index[0] == bars.index[800] and result.index[-1] == bars.index[-1]
    # each fold's choice is the best set of a plain sweep over its train window
    for fold, start in ((0, 0), (2, 800)):
        window = BarArrays(bars.index[start:start + 800], bars.symbols,
                           *(np.ascontiguousarray(a[start:start + 800]) for a in bars[2:]))
        best = sweep(window, "sma_cross", spec, engine).frame.row(0, named=True)
        chosen = result.folds.row(fold, named=True)
        assert (chosen["param_fast"], chosen["param_slow"]) == (best["param_fast"], best["param_slow"])
        assert chosen["train_sharpe"] == best["sharpe"]
    # the stitched curve compounds the test windows: each starts with the previous one's final equity
    growth = np.prod(1 + result.folds["test_return"].to_numpy())
    assert result.stats["total_return"] == pytest.approx(growth - 1, rel=1e-12)
    assert result.stats["final_equity"] == pytest.approx(engine.init_cash * growth, rel=1e-12)
    written = {p.name for p in write_walk_forward_files(result, tmp_path)}
    assert written == {"walk_forward.csv", "walk_forward_folds.csv", "walk_forward_metrics.csv", "walk_forward.html",
                       "plotly.min.js"}
    page = (tmp_path / "walk_forward.html").read_text()
    assert "Walk-forward by sharpe" in page and 'data-chart="walk-forward"' in page and "sweep.csv" not in page


def test_walk_forward_windows_in_bars_and_sessions():
    """Three sessions of 390 one-minute bars (nights between them), then a 24/7 day counted in UTC days."""
    day = np.arange(390) * np.timedelta64(1, "m")
    index = np.concatenate([np.datetime64(f"2024-01-0{d}T14:30") + day for d in (2, 3, 4)]).astype("datetime64[us]")
    assert windows(index, WalkForward(train="2s", test="1s")) == [(0, 780, 780, 1170)]
    assert windows(index, WalkForward(train="1s", test="1s")) == [(0, 390, 390, 780), (390, 780, 780, 1170)]
    assert windows(index, WalkForward(train="500b", test="300b")) == windows(index, WalkForward(train=500, test=300))
    assert windows(index, WalkForward(train="500b", test="300b")) == [(0, 500, 500, 800), (300, 800, 800, 1100),
                                                                       (600, 1100, 1100, 1170)]
    nonstop = (np.datetime64("2024-01-01") + np.arange(3 * 1440) * np.timedelta64(1, "m")).astype("datetime64[us]")
    assert windows(nonstop, WalkForward(train="2s", test="1s")) == [(0, 2880, 2880, 4320)]
    with pytest.raises(Exception, match="train '2s' and test 300 must both be bars, both sessions or both durations"):
        windows(index, WalkForward(train="2s", test=300))
    with pytest.raises(Exception, match=r"sweep.walk_forward.test: '0s' must be at least 1"):
        windows(index, WalkForward(train="2s", test="0s"))


@pytest.mark.parametrize("args, message", [
    (["sweep.params.fast=range(10,5)"], "error: sweep.params.fast: range(10,5) is empty"),
    (["sweep.params.fsat=1,2"], "error: sweep.params.fsat: unknown parameter of sma_cross (known: fast, slow)"),
    (["sweep.params.fast=range(1,500)", "sweep.params.slow=range(1,500)"],
     "error: sweep.max_sets: the grid has 249,001 sets, above 100,000; narrow sweep.params, raise sweep.max_sets "
     "or pass sweep.force=true"),
    (["sweep.params.fast=5,10", "sweep.metric=sharp"], "error: sweep.metric: 'sharp' is not a statistic (known: "),
    (["sweep.params.fast=interval(2,9)"], "error: sweep.params.fast: interval() needs random search (+sweep=random)"),
    (["sweep.params.fast=range(5,"], "error: sweep.params.fast=range(5,: no viable alternative at input 'range(5,'"),
    # Hydra reads hydra.mode (MULTIRUN, from +sweep=grid) from the composed config: when another override breaks
    # it, sweep syntax is refused as needing -m, so these use a list; with -m Hydra names the wrong key either way
    (["sweep.params.fast=[5,10]", "sweep.metirc=sharpe"],
     "error: Could not override 'sweep.metirc': Key 'metirc' not in 'SweepSpec' (known: mode, params, n, seed, "),
    (["sweep.params.fast=[5,10]", "sweep.top_k=best"],
     "error: Error merging override sweep.top_k=best: Value 'best' of type 'str' could not be converted to Integer"),
    (["sweep.params.fast=5,10", "sweep.metirc=sharpe"], "error: Ambiguous value for argument 'sweep.params.fast=5,10'"),
    (["-m", "sweep.params.fast=5,10", "sweep.metirc=sharpe"], "error: Could not override 'sweep.metirc': Key 'metirc'"),
])
def test_bad_sweep_specs_are_one_line_and_exit_2(args, message, tmp_path, capsys, monkeypatch):
    options = [a for a in args if a == "-m"]
    overrides = [a for a in args if a != "-m"]
    # the command line, as Hydra reads it
    monkeypatch.setattr(sys, "argv", ["backtest", *options, "+strategy=sma_cross", "+sweep=grid", *overrides,
                                      f"hydra.sweep.dir={tmp_path}"])
    assert main() == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and len(err.splitlines()) == 1, err


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backtest", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def goog(tmp_path_factory) -> list[str]:
    """Overrides reading GOOG daily bars from a warehouse of its own (another process opens it)."""
    import backtesting

    dsn = f"chdb://{tmp_path_factory.mktemp('sweep_wh')}/warehouse"
    csv = Path(backtesting.__file__).parent / "test" / "GOOG.csv"
    done = subprocess.run([sys.executable, "-m", "warehouse", "--dsn", dsn, "load-ohlcv", str(csv), "--interval", "1d"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [f"warehouse.dsn={dsn}", "data.symbols=[GOOG]", "data.source=ohlcv", "data.interval=1d",
            "data.start=2004-01-01", "data.end=2014-01-01"]


def test_cli_grid_writes_sweep_heatmap_invalid_and_top_equity(goog, tmp_path):
    """No -m: +sweep=grid makes a multirun of ONE job, which evaluates the whole grid (not a job per value)."""
    root = tmp_path / "multi"
    done = _cli("+strategy=sma_cross", "+sweep=grid", "sweep.params.fast=range(5,30,5)",
                "sweep.params.slow=range(10,50,10)", "sweep.metric=total_return", "sweep.top_k=2", *goog,
                f"hydra.sweep.dir={root}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "14 sets evaluated, 6 skipped as invalid" in done.stdout
    assert "sweep: 0 / 20 sets (0.0%)" in done.stderr  # off a terminal: status lines, no bar
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["0"]
    out = root / "0"
    assert "++sweep.params.fast='range(5,30,5)'" in (out / ".hydra" / "overrides.yaml").read_text()
    combined = pl.read_csv(root / "multirun.csv")
    assert combined["status"].to_list() == ["ok"] and combined["rank"].to_list() == [1]
    table = pl.read_csv(out / "sweep.csv")
    assert table.height == 14 and table["rank"].to_list() == list(range(1, 15))
    assert table["total_return"].to_list() == sorted(table["total_return"].to_list(), reverse=True)
    assert pl.read_parquet(out / "sweep.parquet").sort("param_fast", "param_slow").equals(
        table.drop("rank").sort("param_fast", "param_slow"))
    heat = pl.read_csv(out / "heatmap.csv")
    assert heat.columns == ["param_fast", "param_slow", "total_return", "sets"] and heat.height == 14
    assert pl.read_csv(out / "invalid.csv")["reason"][0].startswith("strategy.fast:")
    top = pl.read_csv(out / "top_equity.csv")
    assert top["rank"].unique().sort().to_list() == [1, 2]
    final = top.filter(pl.col("rank") == 1)["equity"][-1]
    assert final == pytest.approx(table["final_equity"][0], rel=1e-12)
    page = (out / "sweep.html").read_text()
    assert "total_return" in page and 'data-chart="sweep-heatmap"' in page and 'data-chart="top-equity"' in page
    views = pl.read_csv(out / "heatmap_views.csv")
    best = table.row(0, named=True)
    assert views.filter((pl.col("x") == best["param_slow"]) & (pl.col("y") == best["param_fast"]))[
        "value"].to_list() == [best["total_return"]]
    assert escape("fixed values</span><span>defaults") not in page and "data.interval" not in page
    assert escape("[2004-01-01, 2014-01-01)") in page and "GOOG" in page
    assert (root / "multirun.html").is_file()  # the one job, its best set


def test_cli_walk_forward_counts_sessions_and_writes_its_page(goog, tmp_path):
    root = tmp_path / "multi"
    done = _cli("+strategy=sma_cross", "+sweep=grid", "sweep.params.fast=5,10,20", "sweep.params.slow=30,60",
                "sweep.walk_forward.train=500s", "sweep.walk_forward.test=250s", *goog, f"hydra.sweep.dir={root}",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = root / "0"
    folds = pl.read_csv(out / "walk_forward_folds.csv")
    assert folds["train_bars"].unique().to_list() == [500] and folds["test_bars"][0] == 250  # a session per daily bar
    growth = np.prod(1 + folds["test_return"].to_numpy())
    assert pl.read_csv(out / "walk_forward.csv")["equity"][-1] == pytest.approx(10_000 * growth, rel=1e-9)
    assert f"report: {out / 'walk_forward.html'}" in done.stdout
    page = (out / "walk_forward.html").read_text()
    assert "train 500s, test 250s" in page and "sweep.csv" not in page and not (out / "sweep.html").exists()


def test_other_comma_values_give_one_job_each_and_every_job_sweeps_the_grid(goog, tmp_path):
    root = tmp_path / "multi"
    done = _cli("-m", "+strategy=sma_cross", "+sweep=grid", "sweep.params.fast=range(5,20,5)", "sweep.params.slow=40",
                "engine.fees_bps=0,20", *goog, f"hydra.sweep.dir={root}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("3 sets evaluated, 0 skipped as invalid") == 2
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["0", "1"]
    for job in ("0", "1"):
        assert pl.read_csv(root / job / "sweep.csv")["param_fast"].sort().to_list() == [5, 10, 15]
    combined = pl.read_csv(root / "multirun.csv")
    assert combined["status"].to_list() == ["ok", "ok"]
    assert ["engine.fees_bps=0" in o for o in combined["overrides"]] == [True, False]
    assert combined["total_return"][0] > combined["total_return"][1]  # the fee costs
    compared = pl.read_csv(root / "multirun_compare.csv")
    assert compared.columns == ["field", "kind", "job 0", "job 1", "difference"]  # two jobs: a - b too
    best_return = compared.filter(pl.col("field") == "total_return")
    assert [float(best_return[c][0]) for c in ("job 0", "job 1")] == combined["total_return"].to_list()
    page = (root / "multirun.html").read_text()
    assert "≠ overrides" in page and 'data-chart="compare-equity"' in page
    assert "<td>engine.fees_bps=0</td><td>engine.fees_bps=20</td>" in page  # the overrides that differ


def test_a_failed_sweep_job_is_one_line_and_exit_2(goog, tmp_path):
    done = _cli("+strategy=sma_cross", "+sweep=grid", "sweep.params.fast=5,10", "sweep.executor=nope", *goog,
                f"hydra.sweep.dir={tmp_path / 'multi'}", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == "error: sweep.executor: 'nope' is not one of local, dask\n"
    assert pl.read_csv(tmp_path / "multi" / "multirun.csv")["status"].to_list() == ["error"]


def test_multirun_combines_jobs_and_records_the_failed_one(goog, tmp_path):
    root = tmp_path / "multi"
    done = _cli("-m", "+strategy=sma_cross", "strategy.fast=5,40", "strategy.slow=30", *goog,
                f"hydra.sweep.dir={root}", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "error: strategy.fast: 40 must be < strategy.slow (30)" in done.stderr
    assert f"error: 1 of 2 jobs failed; see {root / 'multirun.csv'}" in done.stderr
    combined = pl.read_csv(root / "multirun.csv")
    assert combined["status"].to_list() == ["ok", "error"]
    assert combined["param_fast"][0] == 5 and combined["trades"][0] > 0
    assert combined["error"][1] == "strategy.fast: 40 must be < strategy.slow (30) (sma_cross)"
    assert "strategy.fast=40" in combined["overrides"][1]
    single = pl.read_csv(root / "0" / "metrics.csv")
    assert combined["sharpe"][0] == single["sharpe"][0]
    page = (root / "multirun.html").read_text()  # the job that ran, the failed one named
    assert "1 jobs compared; failed (see multirun.csv): 1" in page and 'data-chart="compare-equity"' in page
