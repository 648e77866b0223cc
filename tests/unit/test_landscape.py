"""Heatmap views and parameter stability of a sweep, against values worked out by hand."""

from __future__ import annotations

import math

import polars as pl
import pytest

from backtest.sweep.landscape import heatmap_views, stability

# a 2 x 2 x 2 grid; the best sharpe (0.9) is at a=1, b=10, c=100; one set has no value
FRAME = pl.DataFrame({
    "param_a": [1, 1, 1, 1, 2, 2, 2, 2],
    "param_b": [10, 10, 20, 20, 10, 10, 20, 20],
    "param_c": [100, 200, 100, 200, 100, 200, 100, 200],
    "sharpe": [0.9, 0.1, 0.5, float("nan"), 0.2, 0.4, -0.3, 0.6],
})


def _cell(views: pl.DataFrame, view: str, a: int, b: int) -> float | None:
    return views.filter((pl.col("view") == view) & (pl.col("param_a") == a) & (pl.col("param_b") == b))["value"][0]


def test_views_fix_the_others_at_the_best_set_take_their_best_or_their_mean():
    views = heatmap_views(FRAME, "sharpe", x="param_b", y="param_a")
    assert views["view"].unique(maintain_order=True).to_list() == ["at_best", "best", "mean"]
    assert [_cell(views, "at_best", a, b) for a, b in ((1, 10), (1, 20), (2, 10), (2, 20))] == [0.9, 0.5, 0.2, -0.3]
    assert [_cell(views, "best", a, b) for a, b in ((1, 10), (1, 20), (2, 10), (2, 20))] == [0.9, 0.5, 0.4, 0.6]
    assert _cell(views, "mean", 1, 10) == pytest.approx(0.5) and _cell(views, "mean", 1, 20) == 0.5  # NaN left out
    assert views.filter(pl.col("view") == "best")["sets"].to_list() == [2, 2, 2, 2]
    lowest = heatmap_views(FRAME, "sharpe", x="param_b", y="param_a", best="min")
    assert _cell(lowest, "best", 2, 10) == 0.2 and _cell(lowest, "at_best", 2, 10) == 0.2  # best: a=2 b=20 c=100
    assert _cell(lowest, "best", 1, 10) == 0.1 and _cell(lowest, "at_best", 1, 10) == 0.9
    with pytest.raises(Exception, match="params: 'd' is not a swept parameter"):
        heatmap_views(FRAME, "sharpe", x="param_d", y="param_a")


def test_stability_is_the_fall_to_the_neighbours_mean():
    summary, around = stability(FRAME, "sharpe")
    # every other set is one step away in a 2-value grid; the NaN one has no value
    assert summary["neighbours"] == 6 == around.height and around["sharpe"][0] == 0.6
    mean = (0.1 + 0.5 + 0.2 + 0.4 - 0.3 + 0.6) / 6
    assert summary["mean"] == pytest.approx(mean) and summary["worst"] == -0.3
    assert summary["drop"] == pytest.approx(0.9 - mean)
    assert summary["relative_drop"] == pytest.approx((0.9 - mean) / 0.9)
    wide = pl.DataFrame({"param_a": [1, 2, 3, 4], "sharpe": [0.1, 0.8, 0.7, 0.9]})
    summary, around = stability(wide, "sharpe")  # neighbours of a=4: a=3 only
    assert around["param_a"].to_list() == [3] and summary["drop"] == pytest.approx(0.2)
    alone, _ = stability(pl.DataFrame({"param_a": [1], "sharpe": [0.3]}), "sharpe")
    assert alone["neighbours"] == 0 and math.isnan(alone["drop"]) and math.isnan(alone["relative_drop"])
