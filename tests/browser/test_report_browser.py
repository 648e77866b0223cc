"""Reports as a person sees them: headless Chromium opens each page offline, logs no console error, asks for
nothing but the page's own files (a run report: itself and plotly.min.js beside it), and draws every chart with
visible marks; a run report's charts zoom (the time charts together), toggle log scale and hover; a screenshot of
each page is saved."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import polars as pl
import pytest

from support.browser import Browser, find_chromium
from support.report_runs import goog_feed, goog_run, goog_sweep, goog_walk_forward
from reports import write_failed_report
from reports.run_files import write_run_files
from reports.sweep_report import write_sweep_report

pytestmark = pytest.mark.browser
CHROMIUM = find_chromium()

RUN_CHARTS = {"equity", "rolling", "returns", "price-GOOG", "monthly"}
# Per plotly chart (run reports): its size, how many SVG paths with a non-empty box and a 'd' it drew.
PLOTLY_JS = """
JSON.stringify([...document.querySelectorAll('.plot[data-chart]')].map(plot => {
  const graph = plot.querySelector('.js-plotly-plot'), box = graph ? graph.getBoundingClientRect() : {};
  const marks = graph ? [...graph.querySelectorAll('.main-svg path')].filter(e => {
    const b = e.getBBox(); return (e.getAttribute('d') || '').length > 2 && (b.width > 0 || b.height > 0); }) : [];
  return {name: plot.dataset.chart, width: box.width, height: box.height, marks: marks.length,
          traces: graph ? graph.data.length : 0};
}))
"""
# Per SVG chart (sweep pages): its size on the page, and how many drawn marks (path/rect/line) have a non-empty box.
CHARTS_JS = """
JSON.stringify([...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll('path, rect, line')].filter(e => {
    const b = e.getBBox(); return b.width > 0 || b.height > 0; });
  return {name: svg.dataset.chart, width: box.width, height: box.height, marks: marks.length,
          lines: [...svg.querySelectorAll('path.line')].filter(e => e.getTotalLength() > 0).length};
}))
"""


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    with Browser(CHROMIUM) as instance:
        yield instance


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """A run with trades, a run without, a failed run and a sweep with walk-forward, all from real runs."""
    root = tmp_path_factory.mktemp("browser_reports")
    feed = goog_feed()
    sweep = goog_sweep(feed)
    return {
        "run": write_run_files(goog_run(feed), root / "run", benchmark_csv=None)[-1],
        "empty": write_run_files(goog_run(feed, start="2004-08-01", end="2004-09-20"), root / "empty",
                                 benchmark_csv=None)[-1],
        "failed": write_failed_report(root / "failed", {"data": {"symbols": ["NOPE"]}},
                                      "symbols: 'NOPE' not in the warehouse (no ticks)"),
        "sweep": write_sweep_report(sweep, root / "sweep", metric="sharpe", walk_forward=goog_walk_forward(feed)),
    }


def result_trades(page: Path) -> pl.DataFrame:
    """The run's trades.csv beside ``page``."""
    return pl.read_csv(page.parent / "trades.csv")


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG header."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _open(browser, page: Path, charts: int) -> None:
    """Load ``page`` and wait until plotly has drawn its ``charts`` (each graph div holds its SVG)."""
    browser.open(page.as_uri())
    _until(browser, f"(g => g.length === {charts} && g.every(d => d._fullLayout && d.querySelector('.main-svg')))"
                    "([...document.querySelectorAll('.plot .plotly-graph-div')])", timeout=30)


def _until(browser, expression: str, timeout: float = 20.0) -> None:
    """Wait until the JavaScript ``expression`` is true in the page (plotly redraws after its promises)."""
    deadline = time.monotonic() + timeout
    while not browser.evaluate(expression):
        assert time.monotonic() < deadline, f"not true after {timeout} s: {expression}"
        time.sleep(0.05)


def _offline(browser, page: Path) -> None:
    """Nothing asked for but the page's own folder (and data: URIs plotly makes in the page)."""
    folder = page.parent.as_uri() + "/"
    urls = browser.requested_urls()
    assert urls[0] == page.as_uri() and all(u.startswith((folder, "data:")) for u in urls), urls


@pytest.mark.parametrize("name, charts", [
    ("run", RUN_CHARTS),
    ("empty", RUN_CHARTS),
    ("failed", set()),
    ("sweep", {"sweep-heatmap", "sweep-distribution", "walk-forward"}),
])
def test_page_renders_in_chromium(browser, pages, name, charts, tmp_path):
    page = pages[name]
    plotly = name in ("run", "empty")
    _open(browser, page, len(charts) if plotly else 0)
    assert browser.console_errors() == []
    _offline(browser, page)
    if plotly:
        assert (page.parent / "plotly.min.js").as_uri() in browser.requested_urls()
        drawn = {c["name"]: c for c in json.loads(browser.evaluate(PLOTLY_JS))}
        assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 0
    else:
        drawn = {c["name"]: c for c in json.loads(browser.evaluate(CHARTS_JS))}
        assert "<script" not in page.read_text()  # pages without charts of plotly stay script-free
    assert set(drawn) == charts
    for chart in drawn.values():
        assert chart["width"] > 600 and chart["height"] > 40, chart
        assert chart["marks"] >= 5, chart
    for line_chart in charts & {"walk-forward"}:
        assert drawn[line_chart]["lines"] == 1, drawn[line_chart]
    if name == "run":
        assert drawn["equity"]["traces"] == 5 and drawn["price-GOOG"]["traces"] == 7  # band x2, close, markers x4
        assert browser.evaluate("document.querySelectorAll('#chart-price-GOOG .scatterlayer .point').length") > 100
    if name == "empty":
        assert "No trades" in browser.evaluate("document.getElementById('trades').innerText")
    if name == "failed":
        assert "not in the warehouse" in browser.evaluate("document.querySelector('.notice.error').innerText")
    shot = browser.screenshot(tmp_path / f"{name}.png")
    width, height = _png_size(shot)
    assert width == 1400 and height > 600


RANGE_JS = "JSON.stringify(['chart-equity', 'chart-rolling', 'chart-price-GOOG'].map(id => " \
           "document.getElementById(id).layout.xaxis.range.map(t => new Date(t.replace(' ', 'T') + 'Z').getTime())))"


def test_run_report_zooms_toggles_log_scale_and_hovers(browser, pages):
    page = pages["run"]
    _open(browser, page, len(RUN_CHARTS))
    before = json.loads(browser.evaluate(RANGE_JS))
    assert before[0] == before[1] == before[2]  # every time chart spans the run
    # a real drag across the middle of the equity plot: mouse down, move, up (plotly's zoom box)
    box = json.loads(browser.evaluate("JSON.stringify((() => { const area = document.querySelector("
                                      "'#chart-equity .nsewdrag'); area.scrollIntoView({block: 'center'}); "
                                      "const r = area.getBoundingClientRect(); "
                                      "return [r.left, r.top, r.width, r.height]; })())"))
    left, top, width, height = box
    y = top + height / 2
    start, end = left + width * 0.3, left + width * 0.6
    browser.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": start, "y": y})
    browser.call("Input.dispatchMouseEvent", {"type": "mousePressed", "x": start, "y": y, "button": "left",
                                              "clickCount": 1})
    for step in range(1, 11):
        browser.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": start + (end - start) * step / 10,
                                                  "y": y, "button": "left", "buttons": 1})
    browser.call("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": end, "y": y, "button": "left",
                                              "clickCount": 1})
    _until(browser, f"JSON.stringify(JSON.parse({RANGE_JS})[2]) !== '{json.dumps(before[2], separators=(',', ':'))}'")
    after = json.loads(browser.evaluate(RANGE_JS))
    span = before[0][1] - before[0][0]
    assert after[0][0] > before[0][0] + 0.2 * span and after[0][1] < before[0][1] - 0.3 * span, (before, after)
    assert after[1] == pytest.approx(after[0], abs=1) and after[2] == pytest.approx(after[0], abs=1)  # linked

    browser.evaluate("Plotly.relayout('chart-price-GOOG', {'xaxis.range': ['2008-01-01', '2009-01-01']})")
    _until(browser, "document.getElementById('chart-rolling').layout.xaxis.range[0].startsWith('2008-01-01')")
    year = json.loads(browser.evaluate(RANGE_JS))
    assert year[0] == year[1] == year[2] == [1199145600000, 1230768000000]

    browser.evaluate("document.querySelectorAll('#chart-equity .updatemenu-button')[1]"
                     ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    _until(browser, "document.getElementById('chart-equity').layout.yaxis.type === 'log'")

    browser.evaluate("Plotly.Fx.hover('chart-equity', [{curveNumber: 0, pointNumber: 1900}])")
    hover = browser.evaluate("document.querySelector('#chart-equity .hoverlayer').textContent")
    assert "Strategy equity" in hover and "Buy and hold" in hover
    lost = result_trades(page).filter(pl.col("pnl") <= 0).row(0, named=True)  # the first losing exit
    browser.evaluate("Plotly.Fx.hover('chart-price-GOOG', [{curveNumber: 6, pointNumber: 0}])")
    hover = browser.evaluate("document.querySelector('#chart-price-GOOG .hoverlayer').textContent")
    assert f"losing exit{lost['exit_price']:,.4f}pnl {lost['pnl']:,.2f} ({lost['return']:.2%})" in hover
    assert browser.console_errors() == []
    _offline(browser, page)


def test_the_check_catches_console_errors_and_fetches(browser, tmp_path):
    """The same checks fail on a page that logs an error and loads a remote image."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                    '<script>console.error("boom")</script></body></html>')
    browser.open(page.as_uri())
    assert any("boom" in e for e in browser.console_errors())
    assert "http://127.0.0.1:9/x.png" in browser.requested_urls()
