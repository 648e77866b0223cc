"""The dashboard's plotly figures: candles with volume, and the scan-vs-rollup timings.

>>> bars = [{"ts": "2024-01-02T14:30:00+00:00", "open": 88.78, "high": 89.09, "low": 88.73, "close": 89.0,
...          "volume": 27167.0},
...         {"ts": "2024-01-02T14:35:00+00:00", "open": 89.0, "high": 89.11, "low": 88.91, "close": 88.95,
...          "volume": 39908.0}]
>>> fig = candles(bars, "AAPL")
>>> [trace.type for trace in fig.data], list(fig.data[0].close)
(['candlestick', 'bar'], [89.0, 88.95])
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from warehouse.dashboard.shape import utc

UP, DOWN = "#26a69a", "#ef5350"
RAW, ROLLUP = "#8d6e63", "#1e88e5"
GAP_FACTOR = 5
"""Gaps between bars longer than this many times the usual spacing (nights, weekends) are cut out of the axis."""
_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 30, "b": 10}, "showlegend": False, "hovermode": "x unified"}


def candles(bars: list[dict[str, Any]], symbol: str, *, height: int = 520) -> go.Figure:
    """Candlesticks over volume bars (green up, red down) of ``GET /api/bars`` rows; closed hours cut out."""
    times = [utc(row["ts"]).strftime("%Y-%m-%d %H:%M:%S") for row in bars]  # naive UTC: what plotly.js reads
    colors = [UP if row["close"] >= row["open"] else DOWN for row in bars]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.03)
    fig.add_trace(go.Candlestick(x=times, open=[r["open"] for r in bars], high=[r["high"] for r in bars],
                                 low=[r["low"] for r in bars], close=[r["close"] for r in bars], name=symbol,
                                 increasing_line_color=UP, decreasing_line_color=DOWN), row=1, col=1)
    fig.add_trace(go.Bar(x=times, y=[r["volume"] for r in bars], marker_color=colors, name="volume"), row=2, col=1)
    fig.update_layout(height=height, xaxis_rangeslider_visible=False, **_LAYOUT)
    fig.update_xaxes(rangebreaks=gap_breaks(times), nticks=12)
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text="volume", row=2, col=1)
    fig.update_xaxes(title_text="UTC", row=2, col=1)
    return fig


def gap_breaks(times: list[str]) -> list[dict[str, list[str]]]:
    """Plotly ``rangebreaks`` for the gaps between consecutive bar times over :data:`GAP_FACTOR` times the
    usual (median) spacing: each from one bar past the last before the gap to the first after it.

    >>> gap_breaks(["2024-01-02 15:58:00", "2024-01-02 15:59:00", "2024-01-03 14:30:00", "2024-01-03 14:31:00"])
    [{'bounds': ['2024-01-02 16:00:00', '2024-01-03 14:30:00']}]
    """
    moments = [datetime.fromisoformat(t) for t in times]
    steps = sorted(b - a for a, b in zip(moments, moments[1:]))
    if not steps:
        return []
    usual = steps[len(steps) // 2]
    return [{"bounds": [(a + usual).isoformat(" "), b.isoformat(" ")]}
            for a, b in zip(moments, moments[1:]) if b - a > GAP_FACTOR * usual]


def raw_vs_rollup_chart(windows: list[dict[str, Any]], *, height: int = 320) -> go.Figure:
    """Grouped bars of median milliseconds per window, raw scan (``ticks_dedup``) beside rollup (``bars_1m``),
    from :func:`warehouse.dashboard.shape.raw_vs_rollup` rows.

    >>> fig = raw_vs_rollup_chart([{"window": "day", "raw ms": 88.0, "rollup ms": 17.6}])
    >>> [(t.name, list(t.y)) for t in fig.data]
    [('raw scan (ticks_dedup)', [88.0]), ('rollup (bars_1m)', [17.6])]
    """
    names = [w["window"] for w in windows]
    fig = go.Figure([go.Bar(x=names, y=[w["raw ms"] for w in windows], name="raw scan (ticks_dedup)",
                            marker_color=RAW),
                     go.Bar(x=names, y=[w["rollup ms"] for w in windows], name="rollup (bars_1m)",
                            marker_color=ROLLUP)])
    fig.update_layout(height=height, barmode="group", yaxis_title="median ms", xaxis_title="window",
                      **{**_LAYOUT, "showlegend": True, "hovermode": "x"},
                      legend={"orientation": "h", "y": 1.12, "x": 0})
    return fig
