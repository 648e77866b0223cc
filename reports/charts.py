"""The report's charts as inline SVG strings: line (with band, area and markers), heatmap, histogram.

Line charts take one value per bar and put bar number ``i`` at x = ``i`` (so
nights and weekends take no room); long series are downsampled with
:func:`reports.downsample.m4` to one bucket per pixel column.

>>> import numpy as np
>>> svg = line_chart("equity", np.linspace(100, 120, 50_000), label="Equity", x_ticks=[(0, "start")])
>>> svg.startswith('<svg class="chart" data-chart="equity"'), len(svg) < 40_000
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

from reports.downsample import bucket_extremes, m4
from reports.svg import WIDTH, Plot, axes, nice_ticks, padded_range, path_data, svg_open

BLUE = "#2b6cb0"
RED = "#c53030"
GREEN = "#2f855a"
BAND = "#cbd5e0"


@dataclass(frozen=True)
class Markers:
    """Points drawn over a line chart: bar numbers, values, ``shape`` (``up``, ``down``, ``ring``), colour."""

    label: str
    positions: np.ndarray
    values: np.ndarray
    shape: str
    color: str


_SHAPES = {
    "up": "M{x} {y}m0 -3l3 5h-6z",
    "down": "M{x} {y}m0 3l3 -5h-6z",
    "ring": "M{x} {y}m-2.5 0a2.5 2.5 0 1 0 5 0a2.5 2.5 0 1 0 -5 0",
}


def line_chart(name: str, values: np.ndarray, *, label: str, x_ticks: Sequence[tuple[float, str]],
               y_format: Callable[[float], str] | None = None, height: int = 240, color: str = BLUE,
               fill_to_zero: bool = False, band: tuple[np.ndarray, np.ndarray] | None = None,
               markers: Sequence[Markers] = (), vlines: Sequence[float] = ()) -> str:
    """A line through ``values`` (NaN skipped), optionally filled to 0, over a ``(low, high)`` band, with markers."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    extent = [values]
    if band is not None:
        extent += list(band)
    extent += [m.values for m in markers]
    lo, hi = padded_range(np.concatenate(extent) if n else values)
    if fill_to_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    plot = Plot(WIDTH, height, 0, max(n - 1, 1), lo, hi)
    parts = [svg_open(name, plot, label), axes(plot, nice_ticks(lo, hi, 5), y_format, x_ticks)]
    if band is not None:
        centre, low, high = bucket_extremes(band[0], band[1], plot.inner_width)
        ok = np.isfinite(low) & np.isfinite(high)
        xs = plot.x(np.r_[centre[ok], centre[ok][::-1]])
        ys = plot.y(np.r_[high[ok], low[ok][::-1]])
        if ok.any():
            parts.append(f'<path class="band" d="{path_data(xs, ys)}Z" fill="{BAND}" fill-opacity="0.6"/>')
    for position in vlines:
        px = float(plot.x(np.array([position]))[0])
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{plot.top}" y2="{height - plot.bottom}" '
                     f'stroke="#a0aec0" stroke-dasharray="3 3"/>')
    dense = sum(len(m.positions) for m in markers) > plot.inner_width // 3
    if dense:  # more markers than fit side by side: draw them faded, under the line
        parts += [_markers(plot, group, opacity=0.45) for group in markers]
    keep = m4(values, plot.inner_width)
    xs, ys = plot.x(keep), plot.y(values[keep])
    if fill_to_zero and len(keep):
        zero = float(plot.y(np.array([0.0]))[0])
        area = path_data(np.r_[xs[0], xs, xs[-1]], np.r_[zero, ys, zero])
        parts.append(f'<path class="area" d="{area}Z" fill="{color}" fill-opacity="0.25"/>')
    if len(keep):
        parts.append(f'<path class="line" d="{path_data(xs, ys)}" fill="none" stroke="{color}" '
                     f'stroke-width="1.2" stroke-linejoin="round"/>')
    if not dense:
        parts += [_markers(plot, group) for group in markers]
    parts.append("</svg>")
    return "".join(parts)


def _markers(plot: Plot, group: Markers, opacity: float = 1.0) -> str:
    """One path for a whole marker group; markers on the same pixel are drawn once."""
    ok = np.isfinite(group.values)
    if not ok.any():
        return ""
    points = np.unique(np.column_stack([np.rint(plot.x(group.positions[ok])),
                                        np.rint(plot.y(group.values[ok]))]).astype(np.int64), axis=0)
    shape = _SHAPES[group.shape]
    d = "".join(shape.format(x=x, y=y) for x, y in points.tolist())
    paint = (f'fill="none" stroke="{group.color}" stroke-width="1.3" stroke-opacity="{opacity}"'
             if group.shape == "ring" else f'fill="{group.color}" fill-opacity="{opacity}"')
    return (f'<path class="markers" data-markers="{escape(group.label)}" d="{d}" {paint}>'
            f'<title>{escape(group.label)}: {int(ok.sum()):,}</title></path>')


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
