"""Reports as a person sees them: headless Chromium opens each page offline, logs no console error, asks for
nothing but the file itself, and draws every chart with visible marks; a screenshot of each is saved."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from support.browser import Browser, find_chromium
from support.report_runs import goog_feed, goog_run, goog_sweep, goog_walk_forward
from reports import write_failed_report
from reports.run_files import write_run_files
from reports.sweep_report import write_sweep_report

pytestmark = pytest.mark.browser
CHROMIUM = find_chromium()

# Per chart: its size on the page, and how many drawn marks (path/rect/line) have a non-empty box.
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


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG header."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("name, charts", [
    ("run", {"equity", "drawdown", "price-GOOG", "monthly"}),
    ("empty", {"equity", "drawdown", "price-GOOG", "monthly"}),
    ("failed", set()),
    ("sweep", {"sweep-heatmap", "sweep-distribution", "walk-forward"}),
])
def test_page_renders_in_chromium(browser, pages, name, charts, tmp_path):
    page = pages[name]
    browser.open(page.as_uri())
    assert browser.console_errors() == []
    assert browser.requested_urls() == [page.as_uri()]  # offline: nothing fetched but the file itself
    drawn = {c["name"]: c for c in json.loads(browser.evaluate(CHARTS_JS))}
    assert set(drawn) == charts
    for chart in drawn.values():
        assert chart["width"] > 600 and chart["height"] > 40, chart
        assert chart["marks"] >= 5, chart
    for line_chart in charts & {"equity", "drawdown", "price-GOOG", "walk-forward"}:
        assert drawn[line_chart]["lines"] == 1, drawn[line_chart]
    if name == "run":
        assert browser.evaluate("document.querySelectorAll('path.markers').length") == 4
    if name == "empty":
        assert "No trades" in browser.evaluate("document.getElementById('trades').innerText")
    if name == "failed":
        assert "not in the warehouse" in browser.evaluate("document.querySelector('.notice.error').innerText")
    shot = browser.screenshot(tmp_path / f"{name}.png")
    width, height = _png_size(shot)
    assert width == 1400 and height > 600


def test_the_check_catches_console_errors_and_fetches(browser, tmp_path):
    """The same checks fail on a page that logs an error and loads a remote image."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                    '<script>console.error("boom")</script></body></html>')
    browser.open(page.as_uri())
    assert any("boom" in e for e in browser.console_errors())
    assert "http://127.0.0.1:9/x.png" in browser.requested_urls()
