"""Plotly figures as page fragments: one look for every chart, time axes, and what is drawn of long series.

Charts are drawn by plotly.js in the browser, from ``plotly.min.js`` written once
beside the page (:func:`write_plotly_js`; the wheel ships it, nothing is fetched)
and loaded with a relative ``<script src>``. Every fragment is a ``<div
class="plot" data-chart="NAME">`` holding the figure's ``div`` and its
``Plotly.newPlot`` call (:func:`figure_html`).

What is drawn stays small whatever the run's length (the statistics never
change): a time series is cut to the first, last, lowest and highest point of
each of :data:`BUCKETS` equal slices of bars (:func:`reports.downsample.m4`),
so a one-bar spike among a million bars still shows; times travel as epoch
milliseconds in plotly's base64 arrays. Closed hours (gaps over
:data:`GAP_FACTOR` times the usual bar spacing, up to :data:`MAX_BREAKS` of them)
are cut out of time axes.

Size budget: ``report.html`` of a run of 1,000,000 bars stays under 5 MB (measured: 1.4 MB for one
symbol and 62,721 trades, 2.1 MB for a 525,600-bar year; tests/integration/test_reports.py holds both
to 5 MB): each drawn series has at most 4 x 1,500 points, each symbol's chart marks at most 5,000
trades and the trades table shows 200 (the CSVs keep everything). ``plotly.min.js`` (4.6 MB) is
not in that budget: one copy per run folder, beside the page, rather than inlined, so the page
itself stays small and quick to reparse while a folder stays self-contained (copy the folder,
not only the page).

>>> import numpy as np, plotly.graph_objects as go
>>> index = np.arange("2024-01-01", "2024-03-01", dtype="datetime64[D]").astype("datetime64[us]")
>>> fig = go.Figure(time_line(index, np.linspace(100.0, 130.0, len(index)), name="Equity"))
>>> part = figure_html(fig, "equity", height=240)
>>> part.startswith('<div class="plot" data-chart="equity">'), 'id="chart-equity"' in part, "http" in part
(True, True, False)
"""

from __future__ import annotations

import os
import shutil
from html import escape
from pathlib import Path

import numpy as np
import plotly
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from reports.downsample import bucket_extremes, m4

PLOTLY_JS = "plotly.min.js"
BUCKETS = 1500
GAP_FACTOR = 5.0
MAX_BREAKS = 1000
BLUE, GREY, RED, GREEN, ORANGE = "#2b6cb0", "#718096", "#c53030", "#2f855a", "#dd6b20"
_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
_FONT = {"family": 'system-ui,-apple-system,"Segoe UI",Roboto,sans-serif', "size": 12, "color": "#2d3748"}
_AXIS = {"gridcolor": "#e3e6ea", "linecolor": "#a0aec0", "zeroline": False, "showline": True, "automargin": True}

# Gives every time chart (class js-time) the x range last zoomed, panned or reset on any of them.
LINK_SCRIPT = r"""
(function () {
  const charts = [...document.querySelectorAll('.js-time .plotly-graph-div')];
  let busy = false;
  function wanted(event) {
    for (const [key, value] of Object.entries(event)) {
      if (/^xaxis\d*\.autorange$/.test(key)) return {'xaxis.autorange': true};
      if (/^xaxis\d*\.range$/.test(key)) return {'xaxis.range': value};
      const edge = key.match(/^(xaxis\d*)\.range\[0\]$/);
      if (edge) return {'xaxis.range': [value, event[edge[1] + '.range[1]']]};
    }
    return null;
  }
  charts.forEach(source => source.on('plotly_relayout', event => {
    const update = busy ? null : wanted(event);
    if (!update) return;
    busy = true;
    Promise.all(charts.filter(c => c !== source).map(c => Plotly.relayout(c, update)))
      .finally(() => { busy = false; });
  }));
})();
"""


def write_plotly_js(out_dir: str | Path) -> Path:
    """Put plotly.js (the installed wheel's) into ``out_dir`` as :data:`PLOTLY_JS`; return its path.

    A hard link to the wheel's file where the file system allows (many run folders, one copy on
    disk; the folder still holds the whole file), else a copy; a file already there is kept when
    its size matches.

    >>> import tempfile
    >>> path = write_plotly_js(tempfile.mkdtemp())
    >>> path.name, path.read_text() == get_plotlyjs()
    ('plotly.min.js', True)
    """
    path = Path(out_dir) / PLOTLY_JS
    source = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    if source.is_file():
        if not (path.is_file() and path.stat().st_size == source.stat().st_size):
            path.unlink(missing_ok=True)
            try:
                os.link(source, path)
            except OSError:  # another file system, or links not allowed
                shutil.copyfile(source, path)
    else:  # a wheel read from a zip: only its text is at hand
        path.write_text(get_plotlyjs(), encoding="utf-8")
    return path


def figure_html(fig: go.Figure, name: str, *, height: int, time: bool = False, top: int = 34) -> str:
    """``fig`` in the report's look as a page fragment named ``name``; ``time`` links its x range to the others.

    ``top``: the margin above the plot area in pixels (legend, buttons and plotly's tool bar sit there).
    """
    fig.update_layout(template="none", height=height, font=_FONT, paper_bgcolor="white", plot_bgcolor="white",
                      margin={"l": 64, "r": 16, "t": top, "b": 36}, hoverlabel={"namelength": -1},
                      legend={"orientation": "h", "y": 1.02, "x": 0, "yanchor": "bottom", "traceorder": "normal"})
    fig.update_xaxes(**_AXIS)
    fig.update_yaxes(**_AXIS)
    body = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{name}", config=_CONFIG,
                       default_width="100%", default_height=f"{height}px")
    kind = "plot js-time" if time else "plot"
    return f'<div class="{kind}" data-chart="{escape(name)}">{body}</div>'


def epoch_ms(index: np.ndarray) -> np.ndarray:
    """Bar times as float milliseconds since 1970 (what a plotly date axis reads).

    >>> epoch_ms(np.array(["1970-01-01T00:00:01"], dtype="datetime64[s]")).tolist()
    [1000.0]
    """
    return np.asarray(index).astype("datetime64[us]").astype(np.int64) / 1000.0


def time_line(index: np.ndarray, values: np.ndarray, *, name: str, color: str = BLUE, fill: bool = False,
              hover: str = "%{y:,.2f}") -> go.Scatter:
    """A line over bar times, downsampled to :data:`BUCKETS` slices; ``fill`` shades it down to zero.

    >>> index = np.arange(100_000).astype("datetime64[m]")
    >>> line = time_line(index, np.sin(np.arange(100_000) / 500.0), name="wave")
    >>> len(line.x) <= 4 * BUCKETS, line.name
    (True, 'wave')
    """
    values = np.asarray(values, dtype=np.float64)
    keep = m4(values, BUCKETS)
    return go.Scatter(x=epoch_ms(np.asarray(index)[keep]), y=values[keep], name=name, mode="lines",
                      line={"color": color, "width": 1.3}, fill="tozeroy" if fill else None,
                      hovertemplate=f"{hover}<extra>{escape(name)}</extra>")


def time_band(index: np.ndarray, low: np.ndarray, high: np.ndarray, *, name: str) -> list[go.Scatter]:
    """The lowest ``low`` and highest ``high`` of each of :data:`BUCKETS` slices of bars, shaded between."""
    centre, lo, hi = bucket_extremes(low, high, BUCKETS)
    ok = np.isfinite(lo) & np.isfinite(hi)
    times = epoch_ms(np.asarray(index)[np.floor(centre[ok]).astype(np.int64)])
    edge = {"width": 0, "color": "#cbd5e0"}
    return [go.Scatter(x=times, y=lo[ok], mode="lines", line=edge, showlegend=False, hoverinfo="skip", name=name),
            go.Scatter(x=times, y=hi[ok], mode="lines", line=edge, fill="tonexty", fillcolor="rgba(160,174,192,0.35)",
                       name=name, hoverinfo="skip")]


def markers(index: np.ndarray, positions: np.ndarray, values: np.ndarray, *, name: str, symbol: str,
            color: str, outcome: tuple[np.ndarray, np.ndarray] | None = None) -> go.Scatter:
    """Points at bar numbers ``positions`` (entries, exits) with their prices on hover.

    ``outcome``: each point's trade pnl and return, shown on hover too (exits).
    """
    positions = np.asarray(positions, dtype=np.int64)
    hover = "%{y:,.4f}"
    extra = {}
    if outcome is not None:
        extra["customdata"] = np.column_stack([np.asarray(o, dtype=np.float64) for o in outcome])
        hover += "<br>pnl %{customdata[0]:,.2f} (%{customdata[1]:.2%})"
    return go.Scatter(x=epoch_ms(np.asarray(index)[positions]), y=np.asarray(values, dtype=np.float64),
                      mode="markers", name=name, marker={"symbol": symbol, "color": color, "size": 7,
                                                         "line": {"width": 1, "color": color}},
                      hovertemplate=f"{hover}<extra>{escape(name)}</extra>", **extra)


def time_axis(index: np.ndarray) -> dict[str, object]:
    """A date x axis over the first to the last bar of ``index``, closed hours cut out (see :func:`gap_breaks`).

    >>> time_axis(np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[D]"))["range"]
    ['2024-01-02T00:00:00.000000', '2024-01-03T00:00:00.000000']
    """
    times = np.asarray(index).astype("datetime64[us]")
    span = [str(t) for t in np.datetime_as_string(times[[0, -1]])] if len(times) else None
    return {"type": "date", "rangebreaks": gap_breaks(index), "hoverformat": "%Y-%m-%d %H:%M", "range": span}


def gap_breaks(index: np.ndarray) -> list[dict[str, list[str]]]:
    """Plotly ``rangebreaks`` for the gaps in ``index`` over :data:`GAP_FACTOR` times its median spacing.

    None when the bars have no such gaps (24/7 data, daily bars) or more than :data:`MAX_BREAKS`.

    >>> index = np.array(["2024-01-02T20:58", "2024-01-02T20:59", "2024-01-03T14:30", "2024-01-03T14:31"],
    ...                  dtype="datetime64[m]")
    >>> gap_breaks(index)
    [{'bounds': ['2024-01-02T21:00:00.000000', '2024-01-03T14:30:00.000000']}]
    """
    times = np.asarray(index).astype("datetime64[us]")
    if len(times) < 3:
        return []
    step = np.diff(times)
    usual = np.median(step.astype(np.int64)).astype("timedelta64[us]")
    gaps = np.flatnonzero(step > usual * GAP_FACTOR)
    if not len(gaps) or len(gaps) > MAX_BREAKS:
        return []
    starts = np.datetime_as_string(times[gaps] + usual)
    ends = np.datetime_as_string(times[gaps + 1])
    return [{"bounds": [str(a), str(b)]} for a, b in zip(starts, ends)]


def log_toggle(*, axis: str = "yaxis") -> dict[str, object]:
    """An ``updatemenus`` entry with two buttons that switch ``axis`` between linear and log scale."""
    buttons = [{"label": label, "method": "relayout", "args": [{f"{axis}.type": kind}]}
               for label, kind in (("linear", "linear"), ("log scale", "log"))]
    return {"type": "buttons", "direction": "right", "x": 1, "xanchor": "right", "y": 1.01, "yanchor": "bottom",
            "showactive": True, "buttons": buttons, "pad": {"r": 2, "t": 2}, "font": {"size": 11}}
