"""Reports as a person sees them: headless Chromium opens each page offline, logs no console error, asks for
nothing but the page's own files (itself and plotly.min.js beside it), and draws every chart with visible marks;
a run report's charts zoom (the time charts together), toggle log scale and hover; a sweep page's heatmap switches
views and its equity chart zooms, as does a walk-forward page's; a screenshot of each page is saved (the sweep and
walk-forward pages' into docs/screenshots/)."""

from __future__ import annotations

import json
import os
import struct
import time
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from backtest.engine.simulate import EngineConfig
from support.browser import Browser, find_chromium
from support.report_runs import goog_feed, goog_run, goog_sweep_result, goog_walk_forward_files
from reports import write_failed_report
from reports.run_files import write_run_files
from reports.sweep_files import write_sweep_files

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
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
RSI_GRID = {"window": "7,14,21", "lower": "20,30", "upper": "70,80"}
RSI_ENGINE = EngineConfig(fees_bps=5, size=0.9, direction="long_only")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    with Browser(CHROMIUM) as instance:
        yield instance


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """A run with trades, a run without, a failed run, a sweep of three parameters and a walk-forward, all real."""
    root = tmp_path_factory.mktemp("browser_reports")
    feed = goog_feed()
    return {
        "run": write_run_files(goog_run(feed), root / "run", benchmark_csv=None)[-1],
        "empty": write_run_files(goog_run(feed, start="2004-08-01", end="2004-09-20"), root / "empty",
                                 benchmark_csv=None)[-1],
        "failed": write_failed_report(root / "failed", {"data": {"symbols": ["NOPE"]}},
                                      "symbols: 'NOPE' not in the warehouse (no ticks)"),
        "sweep": write_sweep_files(goog_sweep_result(feed, strategy="rsi_reversion", params=RSI_GRID,
                                                     engine=RSI_ENGINE), root / "sweep")[-1],
        "walk_forward": goog_walk_forward_files(feed, root / "walk_forward"),
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
    ("sweep", {"sweep-heatmap", "top-equity", "sweep-distribution"}),
    ("walk_forward", {"walk-forward"}),
])
def test_page_renders_in_chromium(browser, pages, name, charts, tmp_path):
    page = pages[name]
    browser.call("Emulation.clearDeviceMetricsOverride")  # the last screenshot's page height is not this page's
    _open(browser, page, len(charts))
    assert browser.console_errors() == []
    _offline(browser, page)
    drawn = {c["name"]: c for c in json.loads(browser.evaluate(PLOTLY_JS))}
    if charts:
        assert (page.parent / "plotly.min.js").as_uri() in browser.requested_urls()
    else:
        assert "<script" not in page.read_text()  # pages without charts stay script-free
    assert set(drawn) == charts
    for chart in drawn.values():
        assert chart["width"] > 600 and chart["height"] > 40, chart
        assert chart["marks"] >= 1 if chart["name"] == "walk-forward" else chart["marks"] >= 5, chart
    if name == "run":
        assert drawn["equity"]["traces"] == 5 and drawn["price-GOOG"]["traces"] == 7  # band x2, close, markers x4
        assert browser.evaluate("document.querySelectorAll('#chart-price-GOOG .scatterlayer .point').length") > 100
    if name == "empty":
        assert "No trades" in browser.evaluate("document.getElementById('trades').innerText")
    if name == "failed":
        assert "not in the warehouse" in browser.evaluate("document.querySelector('.notice.error').innerText")
    if name == "sweep":  # 3 pairs x 3 views, each a heatmap and its best-set star; 5 best sets' equity
        assert drawn["sweep-heatmap"]["traces"] == 18 and drawn["top-equity"]["traces"] == 5
    docs = name in ("sweep", "walk_forward") and os.environ.get("TICKHOUSE_SCREENSHOTS")  # docs/ only when asked
    shot = browser.screenshot((SCREENSHOTS if docs else tmp_path) / f"{_shot(name)}.png")
    width, height = _png_size(shot)
    assert width == 1400 and height > 600


def _shot(name: str) -> str:
    """The screenshot's file name: docs/screenshots/sweep_report.png and walk_forward.png for those pages."""
    return {"sweep": "sweep_report"}.get(name, name)


VISIBLE_HEAT_JS = ("JSON.stringify(document.getElementById('chart-sweep-heatmap').data"
                   ".map((t, i) => [i, t.visible]).filter(p => p[1] === true).map(p => p[0]))")


@pytest.mark.parametrize("name, chart", [("sweep", "top-equity"), ("walk_forward", "walk-forward")])
def test_sweep_and_walk_forward_pages_zoom(browser, pages, name, chart):
    page = pages[name]
    _open(browser, page, 3 if name == "sweep" else 1)
    ident = f"chart-{chart}"
    before = browser.evaluate(f"JSON.stringify(document.getElementById('{ident}')._fullLayout.xaxis.range)")
    _drag(browser, f"#{ident} .nsewdrag")
    _until(browser, f"JSON.stringify(document.getElementById('{ident}')._fullLayout.xaxis.range) !== '{before}'")
    old, new = (json.loads(r) for r in (before, browser.evaluate(
        f"JSON.stringify(document.getElementById('{ident}')._fullLayout.xaxis.range)")))
    assert _ms(new[0]) > _ms(old[0]) and _ms(new[1]) < _ms(old[1]), (old, new)
    if name == "sweep":  # the heatmap's menu: the second entry shows the best over the other parameter
        assert json.loads(browser.evaluate(VISIBLE_HEAT_JS)) == [0, 1]
        _click(browser, "#chart-sweep-heatmap .updatemenu-header")  # open the menu, as a person would
        _until(browser, "document.querySelectorAll('#chart-sweep-heatmap .updatemenu-dropdown-button').length === 9")
        _click(browser, "#chart-sweep-heatmap .updatemenu-dropdown-button", index=1)
        _until(browser, f"{VISIBLE_HEAT_JS} === '[2,3]'")
    assert browser.console_errors() == []
    _offline(browser, page)


def _ms(value: str) -> float:
    """A plotly date-axis value (``2008-01-01 12:00:00.5``) as epoch milliseconds."""
    text = value.replace(" ", "T")
    return float(datetime.fromisoformat(text if len(text) > 10 else text + "T00:00").replace(
        tzinfo=timezone.utc).timestamp() * 1000)


def _click(browser, selector: str, *, index: int = 0) -> None:
    """A real mouse click on the middle of the ``index``-th element matching ``selector``."""
    x, y = json.loads(browser.evaluate(f"JSON.stringify((() => {{ const e = document.querySelectorAll('{selector}')"
                                       f"[{index}]; e.scrollIntoView({{block: 'center'}}); "
                                       "const r = e.getBoundingClientRect(); "
                                       "return [r.left + r.width / 2, r.top + r.height / 2]; })())"))
    browser.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
    for kind in ("mousePressed", "mouseReleased"):
        browser.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})


def _drag(browser, selector: str) -> None:
    """A real mouse drag across the middle of the plot area ``selector`` (plotly's zoom box), from 30% to 60%."""
    box = json.loads(browser.evaluate(f"JSON.stringify((() => {{ const area = document.querySelector('{selector}'); "
                                      "area.scrollIntoView({block: 'center'}); const r = area.getBoundingClientRect(); "
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


RANGE_JS = "JSON.stringify(['chart-equity', 'chart-rolling', 'chart-price-GOOG'].map(id => " \
           "document.getElementById(id).layout.xaxis.range.map(t => new Date(t.replace(' ', 'T') + 'Z').getTime())))"


def test_run_report_zooms_toggles_log_scale_and_hovers(browser, pages):
    page = pages["run"]
    _open(browser, page, len(RUN_CHARTS))
    before = json.loads(browser.evaluate(RANGE_JS))
    assert before[0] == before[1] == before[2]  # every time chart spans the run
    _drag(browser, "#chart-equity .nsewdrag")  # a real drag across the middle of the equity plot
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
