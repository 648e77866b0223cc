"""The sweep page's charts as inline SVG strings (no script): line with dashed marks, heatmap, histogram.

Run reports draw with plotly (:mod:`reports.plots`). Line charts take one value per bar
and put bar number ``i`` at x = ``i`` (so nights and weekends take no room), labelled by
:func:`time_ticks`; long series are downsampled with :func:`reports.downsample.m4` to one
bucket per pixel column.

>>> import numpy as np
>>> svg = line_chart("equity", np.linspace(100, 120, 50_000), label="Equity", x_ticks=[(0, "start")])
>>> svg.startswith('<svg class="chart" data-chart="equity"'), len(svg) < 40_000
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

import numpy as np

from reports.downsample import m4
from reports.svg import WIDTH, Plot, axes, nice_ticks, padded_range, path_data, svg_open

BLUE = "#2b6cb0"
RED = "#c53030"


def line_chart(name: str, values: np.ndarray, *, label: str, x_ticks: Sequence[tuple[float, str]],
               y_format: Callable[[float], str] | None = None, height: int = 240, color: str = BLUE,
               vlines: Sequence[float] = ()) -> str:
    """A line through ``values`` (NaN skipped) with dashed vertical lines at bar numbers ``vlines``."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    lo, hi = padded_range(values)
    plot = Plot(WIDTH, height, 0, max(n - 1, 1), lo, hi)
    parts = [svg_open(name, plot, label), axes(plot, nice_ticks(lo, hi, 5), y_format, x_ticks)]
    for position in vlines:
        px = float(plot.x(np.array([position]))[0])
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{plot.top}" y2="{height - plot.bottom}" '
                     f'stroke="#a0aec0" stroke-dasharray="3 3"/>')
    keep = m4(values, plot.inner_width)
    if len(keep):
        parts.append(f'<path class="line" d="{path_data(plot.x(keep), plot.y(values[keep]))}" fill="none" '
                     f'stroke="{color}" stroke-width="1.2" stroke-linejoin="round"/>')
    parts.append("</svg>")
    return "".join(parts)


def time_ticks(index: np.ndarray, count: int = 6) -> list[tuple[float, str]]:
    """About ``count`` x labels at bar numbers spread over ``index``: dates, or times within two days.

    >>> idx = np.array(["2024-01-02T14:30", "2024-01-02T15:00", "2024-01-03T21:00"], dtype="datetime64[us]")
    >>> time_ticks(idx, 2)
    [(0.0, '01-02 14:30'), (2.0, '01-03 21:00')]
    """
    if not len(index):
        return []
    positions = np.unique(np.linspace(0, len(index) - 1, count).round())
    days = (index[-1] - index[0]) >= np.timedelta64(2, "D")
    labels = np.datetime_as_string(index[positions.astype(np.int64)], unit="D" if days else "m")
    return [(float(p), str(t) if days else str(t)[5:].replace("T", " ")) for p, t in zip(positions, labels)]



def color_scale(value: float, lo: float, hi: float) -> str:
    """Fill for ``value``: red below 0 and green above when ``[lo, hi]`` spans 0, else light to dark blue.

    >>> color_scale(0.0, -1.0, 1.0), color_scale(1.0, -1.0, 1.0), color_scale(5.0, 0.0, 10.0)
    ('#ffffff', '#2f855a', '#8fadd8')
    """
    if not np.isfinite(value):
        return "#f1f3f5"
    if lo < 0 < hi:
        t = min(abs(value) / max(abs(lo), abs(hi)), 1.0)
        target = (0x2F, 0x85, 0x5A) if value > 0 else (0xC5, 0x30, 0x30)
    else:
        t = (value - lo) / (hi - lo) if hi > lo else 1.0
        target = (0x1F, 0x5B, 0xB0)
    rgb = (round(255 + (c - 255) * t) for c in target)
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _dark(color: str) -> bool:
    """Whether text on ``color`` (``#rrggbb``) reads better in white."""
    r, g, b = (int(color[k:k + 2], 16) for k in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b < 150


def heatmap(name: str, values: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], *,
            label: str, cell_format: Callable[[float], str], row_title: str = "", col_title: str = "") -> str:
    """A grid of coloured cells (rows x columns of ``values``; NaN cells grey), values written when they fit."""
    values = np.asarray(values, dtype=np.float64)
    rows, cols = values.shape
    left, top, cell_h = 80, 34, 24 if rows <= 30 else max(8, 720 // rows)
    cell_w = (WIDTH - left - 8) / max(cols, 1)
    height = top + rows * cell_h + 6
    plot = Plot(WIDTH, height, 0, 1, 0, 1)
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    parts = [svg_open(name, plot, label), '<g font-size="11" fill="#2d3748">']
    if col_title:
        parts.append(f'<text x="{left + (WIDTH - left) / 2:.0f}" y="11" text-anchor="middle" '
                     f'font-weight="600">{escape(col_title)}</text>')
    if row_title:
        parts.append(f'<text x="4" y="27" font-weight="600">{escape(row_title)}</text>')
    label_every = max(1, int(np.ceil(28 / cell_w)))
    for j, text in enumerate(col_labels):
        if j % label_every == 0:
            parts.append(f'<text x="{left + (j + 0.5) * cell_w:.1f}" y="{top - 5}" text-anchor="middle">'
                         f'{escape(text)}</text>')
    row_every = max(1, int(np.ceil(12 / cell_h)))
    for i, text in enumerate(row_labels):
        y = top + i * cell_h
        if i % row_every == 0:
            parts.append(f'<text x="{left - 6}" y="{y + cell_h / 2 + 4:.1f}" text-anchor="end">{escape(text)}</text>')
        for j in range(cols):
            value = float(values[i, j])
            shown = cell_format(value) if np.isfinite(value) else "n/a"
            parts.append(f'<rect x="{left + j * cell_w:.1f}" y="{y}" width="{cell_w - 1:.1f}" height="{cell_h - 1}" '
                         f'fill="{color_scale(value, lo, hi)}"><title>{escape(text)} / {escape(col_labels[j])}: '
                         f'{escape(shown)}</title></rect>')
            if np.isfinite(value) and cell_w >= 44 and cell_h >= 16:
                ink = ' fill="#fff"' if _dark(color_scale(value, lo, hi)) else ""
                parts.append(f'<text x="{left + (j + 0.5) * cell_w:.1f}" y="{y + cell_h / 2 + 4:.1f}" '
                             f'text-anchor="middle"{ink}>{escape(shown)}</text>')
    parts.append("</g></svg>")
    return "".join(parts)


def histogram(name: str, values: np.ndarray, *, label: str, value_format: Callable[[float], str],
              bins: int = 30, mark: float | None = None, height: int = 220) -> str:
    """Counts of the finite ``values`` in ``bins`` equal bins; ``mark`` draws a vertical line at a value."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    lo, hi = padded_range(finite, 0.0) if len(finite) else (0.0, 1.0)
    counts, edges = np.histogram(finite, bins=max(1, min(bins, len(finite))), range=(lo, hi))
    plot = Plot(WIDTH, height, float(edges[0]), float(edges[-1]), 0, max(int(counts.max(initial=0)), 1) * 1.08)
    x_ticks = [(t, value_format(t)) for t in nice_ticks(float(edges[0]), float(edges[-1]), 6)]
    y_ticks = [t for t in nice_ticks(0, plot.y1, 4) if t == int(t)]
    parts = [svg_open(name, plot, label), axes(plot, y_ticks, "{:,.0f}".format, x_ticks)]
    left, right, base = plot.x(edges[:-1]), plot.x(edges[1:]), plot.y(np.zeros(1))[0]
    for count, x0, x1, e0, e1 in zip(counts.tolist(), left.tolist(), right.tolist(), edges[:-1], edges[1:]):
        if count:
            top = float(plot.y(np.array([count]))[0])
            parts.append(f'<rect x="{x0 + 0.5:.1f}" y="{top:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" '
                         f'height="{base - top:.1f}" fill="{BLUE}" fill-opacity="0.75"><title>'
                         f'{escape(value_format(e0))} to {escape(value_format(e1))}: {count}</title></rect>')
    if mark is not None and np.isfinite(mark):
        px = float(plot.x(np.array([mark]))[0])
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{plot.top}" y2="{base:.1f}" stroke="{RED}" '
                     f'stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)
