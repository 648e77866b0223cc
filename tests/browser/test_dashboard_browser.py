"""The dashboard as a person sees it: ``python -m warehouse dashboard`` (``streamlit run`` headless) over a
real ``serve`` consuming a Redis stream, opened in headless Chromium: both charts drawn with marks, the tables
filled, no error on the page or in the console, nothing fetched but the dashboard itself; the page's
screenshot is saved as ``docs/screenshots/dashboard.png`` when ``TICKHOUSE_SCREENSHOTS=1``."""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from support.brokers import REPO, _stop, free_port, redis_server, run_cli, wait_for
from support.browser import Browser, find_chromium
from support.serve import serve_process

pytestmark = pytest.mark.browser
CHROMIUM = find_chromium()
SCREENSHOT = (REPO / "docs" / "screenshots" if os.environ.get("TICKHOUSE_SCREENSHOTS") else
              Path(tempfile.mkdtemp(prefix="dashboard-shot-"))) / "dashboard.png"  # docs/ only when asked
WIDTH = 1400
KITE_TICKS = 60_000  # 3 instruments, one tick a second each: 5.5 hours of the NSE session
BAD_ROWS = ("symbol,ts,price,size,side,trade_id\n"  # three rows the loader rejects: a rejects table to show
            "AAPL,2024-01-03T15:00:00,-5,100,buy,900001\n"
            "AAPL,not-a-time,185,100,buy,900002\n"
            "AAPL,2030-01-03T15:00:01,185,100,buy,900003\n")

# Per plotly chart: candlestick boxes and bars with a non-empty box.
CHARTS_JS = """
JSON.stringify([...document.querySelectorAll('.js-plotly-plot')].map(plot => {
  const drawn = selector => [...plot.querySelectorAll(selector)].filter(e => {
    const b = e.getBBox(); return b.width > 0 && b.height > 0; }).length;
  return {boxes: drawn('g.trace.boxes path'), bars: drawn('g.trace.bars path'),
          width: plot.getBoundingClientRect().width};
}))
"""
TABLES_JS = "document.querySelectorAll('[data-testid=stDataFrame]').length"  # rejects, book, trades, benchmark x2, runs
MAIN_HEIGHT_JS = "document.querySelector('[data-testid=stMain]').scrollHeight"
SIDEBAR_OPEN_JS = ("(() => { const box = document.querySelector('[data-testid=stSidebar]').getBoundingClientRect();"
                   " return box.left === 0 && box.width > 200; })()")
PROBLEMS_JS = ("[...document.querySelectorAll('[data-testid=stException], [data-testid=stAlertContentError]')]"
               ".map(e => e.innerText)")


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """The walkthrough: ``serve --ingest redis --format kite`` fed a Kite full-mode stream (NSE demo: depth, OI),
    plus the demo's US ticks and quotes, 3 rejected rows, a benchmark and a backtest; the dashboard over it.
    Yields the dashboard's URL."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    root = tmp_path_factory.mktemp("dashboard_browser")
    (root / "bad.csv").write_text(BAD_ROWS)
    with redis_server() as redis_url, serve_process(f"chdb://{root / 'warehouse'}", "--ingest", "redis", "--url",
                                                   redis_url, "--format", "kite", "--batch", "5000", "--linger",
                                                   "0.2", outputs=root / "outputs") as api:
        assert run_cli(api, "load-instruments", "--demo-nse").returncode == 0
        produced = run_cli(api, "produce", "redis", "--kite", "--url", redis_url, "--ticks", str(KITE_TICKS),
                           timeout=300)
        assert produced.returncode == 0, produced.stderr
        loaded = run_cli(api, "demo", "--ticks", "200k", timeout=300)
        assert loaded.returncode == 0, loaded.stderr
        assert "rejected 3" in run_cli(api, "load", str(root / "bad.csv")).stdout
        wait_for(lambda: httpx.get(f"{api}/api/ingest").json()["messages"] == KITE_TICKS, 120, "the stream written")
        assert httpx.post(f"{api}/api/benchmark", json={"symbol": "RELIANCE", "runs": 3},
                          timeout=120).status_code == 200
        run_id = httpx.post(f"{api}/api/backtests", json={"strategy": "sma_cross"}).json()["id"]
        wait_for(lambda: httpx.get(f"{api}/api/backtests/{run_id}").json()["state"] != "running", 240,
                 "the backtest to finish", every=0.5)
        port = free_port()
        process = subprocess.Popen([sys.executable, "-m", "warehouse", "dashboard", "--api", api, "--port", str(port)],
                                   cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _healthy(url, process), 60, "streamlit to answer")
            yield url
        finally:
            _stop(process)


def _healthy(url: str, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"the dashboard exited with {process.returncode}: {process.stdout.read()}")
    try:
        return httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _charts(browser: Browser) -> list[dict[str, float]]:
    return json.loads(browser.evaluate(CHARTS_JS))


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_dashboard_renders_in_chromium(dashboard):
    with Browser(CHROMIUM, width=WIDTH, height=1000) as browser:
        browser.open(dashboard)
        try:
            wait_for(lambda: len(_charts(browser)) == 2 and _charts(browser)[0]["boxes"] > 0
                     and browser.evaluate(TABLES_JS) == 6, 150, "the charts and tables to be drawn", every=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: charts {_charts(browser)}, {browser.evaluate(TABLES_JS)} tables, page:\n"
                                 f"{browser.evaluate('document.body.innerText')}") from None
        candles, benchmark = _charts(browser)
        assert candles["boxes"] >= 50 and candles["bars"] == candles["boxes"], candles  # a candle and a volume bar each
        assert benchmark["bars"] >= 10, benchmark  # raw and rollup, per window
        assert candles["width"] > 500 and benchmark["width"] > 400
        expected = ("Ingest", "ingest rate", "consumer lag", "60,000", "Rejects by reason · 3", " · 5m", "Book",
                    "live from the stream", "1m high", "Last trades",
                    "Scan vs rollup", "Run benchmark", "Recent runs · 1", "Start backtest")  # tables are canvases

        def missing() -> list[str]:  # a rerun redraws parts of the page: look until all are there at once
            page = browser.evaluate("document.body.innerText")
            return [shown for shown in expected if shown not in page]

        try:
            wait_for(lambda: not missing(), 60, "every panel's text", every=0.5)
        except AssertionError:
            raise AssertionError(f"not on the page: {missing()}") from None
        text = browser.evaluate("document.body.innerText")
        uptime = re.search(r"up ([\d,]+) s", text).group(1)  # the ingest panel refreshes on its own every 5 s
        wait_for(lambda: re.search(r"up ([\d,]+) s", browser.evaluate("document.body.innerText")).group(1) != uptime,
                 30, "the live panels to refresh", every=0.5)
        assert browser.evaluate(PROBLEMS_JS) == []
        assert browser.console_errors() == []
        assert {u.split("/")[2] for u in browser.requested_urls() if u.startswith("http")} == {dashboard.split("/")[2]}

        # Streamlit scrolls inside its main block: make the window as tall as the page (until the page stops
        # growing), then shoot the window as it is (a further resize would set the sidebar moving)
        height = 0
        while (tall := int(browser.evaluate(MAIN_HEIGHT_JS))) != height:
            height = tall
            browser.call("Emulation.setDeviceMetricsOverride",
                         {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False})
            time.sleep(2)  # plotly redraws at the new size
        wait_for(lambda: browser.evaluate(SIDEBAR_OPEN_JS), 30, "the sidebar to be open and still", every=0.5)
        shot = browser.call("Page.captureScreenshot", {"format": "png"})
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))
        width, shot_height = _png_size(SCREENSHOT)
        assert width == WIDTH and shot_height >= 2000
        assert browser.console_errors() == []
