"""Inline SVG building blocks: a plot area that maps data to pixels, axes with round ticks, paths.

Charts are plain SVG (no script, no external file), drawn in a ``viewBox`` so
they scale with the page; coordinates carry one decimal to keep files small.

>>> plot = Plot(width=200, height=100, x0=0, x1=10, y0=0, y1=1)
>>> plot.x(np.array([0, 10])).tolist(), plot.y(np.array([0, 1])).tolist()
([64.0, 188.0], [78.0, 8.0])
>>> path_data(np.array([1.0, 2.0]), np.array([3.0, 4.25]))
'M1.0 3.0 2.0 4.2'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

WIDTH = 1000
GRID = "#e3e6ea"
INK = "#59616b"


@dataclass(frozen=True)
class Plot:
    """A ``width`` x ``height`` chart whose inner area (inside the margins) shows ``[x0, x1] x [y0, y1]``."""

    width: int
    height: int
    x0: float
    x1: float
    y0: float
    y1: float
    left: int = 64
    right: int = 12
    top: int = 8
    bottom: int = 22

    def x(self, values: np.ndarray) -> np.ndarray:
        """Pixel x of data x ``values``."""
        span = (self.x1 - self.x0) or 1.0
        return self.left + (np.asarray(values, dtype=np.float64) - self.x0) / span * (self.width - self.left - self.right)

    def y(self, values: np.ndarray) -> np.ndarray:
        """Pixel y of data y ``values`` (up is larger)."""
        span = (self.y1 - self.y0) or 1.0
        inner = self.height - self.top - self.bottom
        return self.top + (1.0 - (np.asarray(values, dtype=np.float64) - self.y0) / span) * inner

    @property
    def inner_width(self) -> int:
        """Pixels between the left and right margins (one bucket per pixel when downsampling)."""
        return self.width - self.left - self.right


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round values covering ``[lo, hi]`` (1, 2, 2.5 or 5 times a power of ten).

    >>> nice_ticks(0.0, 1.0)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> nice_ticks(9580.0, 10310.0, 4)
    [9600.0, 9800.0, 10000.0, 10200.0]
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [round(k * step, 12) for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def padded_range(values: np.ndarray, pad: float = 0.04) -> tuple[float, float]:
    """``(lo, hi)`` of the finite ``values`` widened by ``pad`` of the span (or by 1 when flat).

    >>> padded_range(np.array([1.0, np.nan, 3.0]))
    (0.92, 3.08)
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    margin = (hi - lo) * pad if hi > lo else max(abs(lo) * 0.01, 1e-9)
    return lo - margin, hi + margin


def path_data(px: np.ndarray, py: np.ndarray) -> str:
    """``d`` of a polyline through pixel points (one moveto, then implicit linetos)."""
    if not len(px):
        return ""
    pairs = " ".join(f"{a:.1f} {b:.1f}" for a, b in zip(px.tolist(), py.tolist()))
    return "M" + pairs


def svg_open(name: str, plot: Plot, label: str) -> str:
    """The opening tag of chart ``name`` (``data-chart`` lets tests and styles find it)."""
    return (f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {plot.width} {plot.height}" '
            f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">')


def tick_format(ticks: Sequence[float]) -> Callable[[float], str]:
    """A formatter with just enough decimals to tell ``ticks`` apart.

    >>> tick_format([9600.0, 9800.0])(9600.0), tick_format([0.5, 0.75])(0.5)
    ('9,600', '0.50')
    """
    step = min((abs(b - a) for a, b in zip(ticks, ticks[1:]) if b != a), default=1.0)
    exponent = math.floor(math.log10(step))
    mantissa = round(step / 10.0 ** exponent, 6)
    decimals = min(8, max(0, -exponent + (mantissa != int(mantissa))))
    return f"{{:,.{decimals}f}}".format


def axes(plot: Plot, y_ticks: Sequence[float], y_format: Callable[[float], str] | None,
         x_ticks: Sequence[tuple[float, str]]) -> str:
    """Horizontal grid lines with y labels on the left (``y_format`` None: :func:`tick_format`), x labels below."""
    y_format = y_format or tick_format(y_ticks)
    parts = []
    right = plot.width - plot.right
    for value, py in zip(y_ticks, plot.y(np.asarray(y_ticks, dtype=np.float64)).tolist()):
        parts.append(f'<line x1="{plot.left}" x2="{right}" y1="{py:.1f}" y2="{py:.1f}" stroke="{GRID}"/>'
                     f'<text x="{plot.left - 6}" y="{py + 4:.1f}" text-anchor="end">{escape(y_format(value))}</text>')
    base = plot.height - plot.bottom
    parts.append(f'<line x1="{plot.left}" x2="{right}" y1="{base}" y2="{base}" stroke="{INK}"/>')
    for k, (position, text) in enumerate(x_ticks):
        px = float(plot.x(np.array([position]))[0])
        anchor = "start" if k == 0 and len(x_ticks) > 1 else "end" if k == len(x_ticks) - 1 > 0 else "middle"
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{base}" y2="{base + 4}" stroke="{INK}"/>'
                     f'<text x="{px:.1f}" y="{base + 16}" text-anchor="{anchor}">{escape(text)}</text>')
    return f'<g class="axes" font-size="11" fill="{INK}">{"".join(parts)}</g>'
