"""Plotly charts of sweep pages: the heatmap with its views as dropdown buttons, the metric's spread, equity lines.

The heatmap holds every view of every parameter pair as a trace; plotly's own
``updatemenus`` buttons show one at a time (no server, no script of ours).

>>> import polars as pl
>>> views = pl.DataFrame({"view": ["set", "set"], "param_fast": [5, 5], "param_slow": [20, 30], "value": [0.1, 0.4],
...                       "sets": [1, 1]})
>>> part = heatmap_html([("param_slow", "param_fast", views)], "sharpe", {"param_fast": 5, "param_slow": 30})
>>> part.startswith('<div class="plot" data-chart="sweep-heatmap">'), "updatemenus" in part
(True, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl

from backtest.sweep.collect import PARAM_PREFIX
from reports.format import PERCENT_STATS, number, stat_text
from reports.plots import BLUE, GREEN, GREY, ORANGE, RED, figure_html, time_axis, time_line

VIEW_LABELS = {"at_best": "others at the best set", "best": "best over the others", "mean": "mean over the others",
               "set": "each set"}
TEXT_CELLS = 400  # up to this many cells, each shows its value
LINE_COLORS = (BLUE, ORANGE, GREEN, RED, GREY, "#6b46c1", "#b7791f", "#2c7a7b")


def _short(name: str) -> str:
    """A parameter's name without ``param_``."""
    return name.removeprefix(PARAM_PREFIX)


def heatmap_html(pairs: Sequence[tuple[str, str, pl.DataFrame]], metric: str, top: dict[str, Any]) -> str:
    """The heatmap chart: per ``(x, y, views)`` of ``pairs`` (views: :func:`backtest.sweep.landscape.heatmap_views`)
    one trace per view and a marker on the best set ``top``; a dropdown picks pair and view when there are several."""
    fig = go.Figure()
    buttons: list[dict[str, Any]] = []
    groups: list[list[int]] = []
    z_format = "%{z:.2%}" if metric in PERCENT_STATS else "%{z:,.2f}"
    for x, y, views in pairs:
        xs = sorted(views[x].unique().to_list())
        ys = sorted(views[y].unique().to_list())
        x_text, y_text = [number(v) for v in xs], [number(v) for v in ys]
        for view in views["view"].unique(maintain_order=True).to_list():
            cells = views.filter(pl.col("view") == view)
            grid = np.full((len(ys), len(xs)), np.nan)
            for yv, xv, value in cells.select(y, x, "value").iter_rows():
                grid[ys.index(yv), xs.index(xv)] = np.nan if value is None else value
            small = grid.size <= TEXT_CELLS  # values written in the cells; larger grids show them on hover only
            text = [[stat_text(metric, float(v)) for v in row] for row in grid] if small else None
            groups.append([len(fig.data)])
            fig.add_trace(go.Heatmap(
                z=grid, x=x_text, y=y_text, text=text, texttemplate="%{text}" if small else None,
                colorscale="RdYlGn", colorbar={"title": {"text": metric}}, hoverongaps=False, visible=not buttons,
                name=f"{_short(y)} x {_short(x)}: {VIEW_LABELS[view]}",
                hovertemplate=f"{_short(x)} %{{x}}<br>{_short(y)} %{{y}}<br>{metric} {z_format}<extra></extra>"))
            groups[-1].append(len(fig.data))
            fig.add_trace(go.Scatter(x=[number(top[x])], y=[number(top[y])], mode="markers", name="best set",
                                     marker={"symbol": "star", "size": 16, "color": "black",
                                             "line": {"color": "white", "width": 1}},
                                     hovertemplate="best set<extra></extra>", visible=not buttons))
            buttons.append({"label": f"{_short(y)} x {_short(x)}: {VIEW_LABELS[view]}", "method": "update",
                            "args": [{"visible": []},
                                     {"xaxis.title.text": _short(x), "yaxis.title.text": _short(y)}]})
    for button, shown in zip(buttons, groups):
        button["args"][0]["visible"] = [i in shown for i in range(len(fig.data))]
    x0, y0, _ = pairs[0]
    fig.update_layout(xaxis={"type": "category", "title": {"text": _short(x0)}},
                      yaxis={"type": "category", "title": {"text": _short(y0)}}, showlegend=False)
    if len(buttons) > 1:
        fig.update_layout(updatemenus=[{"type": "dropdown", "buttons": buttons, "x": 0, "xanchor": "left", "y": 1.02,
                                        "yanchor": "bottom", "showactive": True, "font": {"size": 12}}])
    return figure_html(fig, "sweep-heatmap", height=460, top=48)


def histogram_html(values: np.ndarray, metric: str, best: float) -> str:
    """The distribution of ``metric`` over every set with a value; a red line at the best set's ``best``.

    The bins are counted here and drawn as bars, so a million sets cost the page 60 bars, not a million values.
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    counts, edges = np.histogram(finite, bins=min(60, max(10, len(finite) // 4)))
    hover = "%{customdata[0]:.2%} to %{customdata[1]:.2%}" if metric in PERCENT_STATS else \
        "%{customdata[0]:,.4g} to %{customdata[1]:,.4g}"
    fig = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges) * 0.95,
                           customdata=np.column_stack([edges[:-1], edges[1:]]), marker={"color": BLUE}, name=metric,
                           hovertemplate=f"{metric} {hover}<br>%{{y}} sets<extra></extra>"))
    fig.add_vline(x=best, line={"color": RED, "width": 2})
    fig.update_layout(xaxis={"title": {"text": metric}, "tickformat": ".0%" if metric in PERCENT_STATS else None},
                      yaxis={"title": {"text": "sets"}}, showlegend=False)
    return figure_html(fig, "sweep-distribution", height=260)


def equity_lines_html(name: str, curves: Sequence[tuple[str, np.ndarray, np.ndarray]], *,
                      boundaries: Sequence[np.datetime64] = (), y_title: str = "equity", percent: bool = False) -> str:
    """Curves ``(label, times, values)`` overlaid on one time chart; dashed lines at ``boundaries``.

    ``percent``: the values are fractions (drawdowns), shown as percent.
    """
    fig = go.Figure()
    hover = "%{y:.2%}" if percent else "%{y:,.2f}"
    for i, (label, index, values) in enumerate(curves):
        fig.add_trace(time_line(index, values, name=label, color=LINE_COLORS[i % len(LINE_COLORS)], hover=hover))
    for edge in boundaries:
        fig.add_vline(x=float(np.datetime64(edge, "us").astype(np.int64)) / 1000.0,
                      line={"color": GREY, "width": 1, "dash": "dash"})
    every = np.sort(np.concatenate([c[1] for c in curves])) if len(curves) > 1 else curves[0][1]
    fig.update_layout(xaxis=time_axis(every),
                      yaxis={"title": {"text": y_title}, "tickformat": ".0%" if percent else None})
    return figure_html(fig, name, height=340 if not percent else 260, time=True)
