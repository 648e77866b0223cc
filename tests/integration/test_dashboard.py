"""The dashboard (``warehouse/dashboard/app.py``) run by Streamlit's ``AppTest`` against real ``serve`` processes.

The served warehouse holds the demo's ticks and quotes (loaded through serve) and a few rejected rows;
every number the page shows is checked against the API it reads. Also: the benchmark button appends
to ``benchmark.csv``, the backtest form starts a run whose report is listed, a consumer's rate and the
hot path's state show while ``serve --ingest redis`` runs, and an unreachable or token-guarded API is
one error line (the app and ``python -m warehouse dashboard``), never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from support.brokers import REPO, free_port, redis_server, run_cli, wait_for
from support.serve import serve_process

TOKEN = "dashboard-test-token-0123456789"
BAD_ROWS = ("symbol,ts,price,size,side,trade_id\n"
            "AAPL,2024-01-03T15:00:00,-5,100,buy,900001\n"
            "AAPL,not-a-time,185,100,buy,900002\n"
            "AAPL,2030-01-03T15:00:01,185,100,buy,900003\n")


@pytest.fixture(autouse=True, scope="module")
def _streamlit_leaves_main_as_it_found_it():
    """AppTest makes its temporary script the process's ``__main__``: later tests would inherit it (Dask's
    spawned workers re-run ``__main__`` and fail on it)."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def _dashboard(url: str, token: str | None) -> None:  # AppTest runs this function's body as the script
    from warehouse.dashboard.app import render

    render(url, token)


def run_app(url: str, token: str | None = None) -> AppTest:
    """The dashboard drawn once for the serve at ``url``."""
    app = AppTest.from_function(_dashboard, args=(url, token), default_timeout=120)
    return app.run()


def figure(app: AppTest, key: str) -> dict[str, Any]:
    """The plotly figure (data and layout) of the chart drawn with ``key`` (kept at the end of its id)."""
    charts = [chart for chart in app.get("plotly_chart") if chart.proto.id.endswith(f"-{key}")]
    assert len(charts) == 1, [chart.proto.id for chart in app.get("plotly_chart")]
    return json.loads(charts[0].proto.spec)


def table(app: AppTest, column: str) -> Any:
    """The one table (a pandas frame) of the page with a column named ``column``."""
    found = [frame.value for frame in app.dataframe if column in frame.value.columns]
    assert len(found) == 1, [list(frame.value.columns) for frame in app.dataframe]
    return found[0]


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def assert_clean(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A serve over the demo warehouse (200k ticks with quotes, loaded through it) and 3 rejected rows."""
    root = tmp_path_factory.mktemp("dashboard")
    (root / "bad.csv").write_text(BAD_ROWS)
    with serve_process(f"chdb://{root / 'warehouse'}", outputs=root / "outputs") as url:
        loaded = run_cli(url, "demo", "--ticks", "200k", "--no-nse", timeout=300)
        assert loaded.returncode == 0, loaded.stderr
        rejected = run_cli(url, "load", str(root / "bad.csv"))
        assert "rejected 3" in rejected.stdout, rejected.stdout + rejected.stderr
        yield url


def test_the_page_shows_the_served_warehouse(served):
    app = run_app(served)
    assert_clean(app)
    symbols = httpx.get(f"{served}/api/symbols").json()
    assert app.sidebar.selectbox[0].options == [s["symbol"] for s in symbols] == ["AAPL", "MSFT", "NVDA", "SPY", "TSLA"]
    assert app.sidebar.selectbox[0].value == "AAPL" and app.sidebar.selectbox[1].value == "5m"
    assert "no consumer" in app.info[0].value

    # candles: the last 3 days of AAPL, exactly the API's bars
    last = datetime.fromisoformat(symbols[0]["last"]).date()
    start = datetime.combine(last - timedelta(days=2), time(), timezone.utc)
    end = datetime.combine(last + timedelta(days=1), time(), timezone.utc)
    bars = httpx.get(f"{served}/api/bars", params={"symbol": "AAPL", "start": start.isoformat(),
                                                   "end": end.isoformat(), "interval": "5m"}).json()["data"]
    assert len(bars) > 100
    candles, volume = figure(app, "candles")["data"]
    assert candles["type"] == "candlestick" and volume["type"] == "bar"
    assert candles["close"] == [b["close"] for b in bars] and candles["high"] == [b["high"] for b in bars]
    assert volume["y"] == [b["volume"] for b in bars]
    assert candles["x"][0] == bars[0]["ts"][:19].replace("T", " ")

    # rejects by reason
    rejects = table(app, "code")
    assert sorted(zip(rejects["code"], rejects["count"])) == [("bad_price", 1), ("future_ts", 1), ("unparseable", 1)]
    assert "Rejects by reason · 3" in [h.value for h in app.subheader]

    # the stored book in force now (no hot path without --ingest) and the last trades before AAPL's last one
    depth = httpx.get(f"{served}/api/depth", params={"symbol": "AAPL", "at": datetime.now(timezone.utc).isoformat()})
    quote = depth.json()["data"][0]
    book = table(app, "orders")  # a ladder: asks from the 5th level to the best, then bids from the best down
    assert list(book["side"]) == ["ask"] * 5 + ["bid"] * 5 and list(book["level"]) == [5, 4, 3, 2, 1, 1, 2, 3, 4, 5]
    assert list(book["price"]) == [quote[f"ask_px_{n}"] for n in range(5, 0, -1)] + \
        [quote[f"bid_px_{n}"] for n in range(1, 6)]
    assert list(book["qty"]) == [quote[f"ask_qty_{n}"] for n in range(5, 0, -1)] + \
        [quote[f"bid_qty_{n}"] for n in range(1, 6)]
    assert list(book["price"]) == sorted(book["price"], reverse=True)
    last_trade = datetime.fromisoformat(symbols[0]["last"]).replace(tzinfo=timezone.utc)
    ticks = httpx.get(f"{served}/api/ticks", params={
        "symbol": "AAPL", "start": (last_trade - timedelta(minutes=1)).isoformat(),
        "end": (last_trade + timedelta(milliseconds=1)).isoformat()}).json()["data"]
    trades = table(app, "size")
    assert len(trades) == 15 and list(trades["price"]) == [t["price"] for t in ticks[::-1][:15]]
    assert set(trades["side"]) <= {"buy", "sell"}


def test_another_symbol_interval_and_range_redraw_the_candles(served):
    app = run_app(served)
    app.sidebar.selectbox[0].select("MSFT").run()
    app.sidebar.selectbox[1].select("1h").run()
    app.sidebar.date_input[0].set_value(date(2024, 1, 2)).run()
    app.sidebar.date_input[1].set_value(date(2024, 1, 3)).run()
    assert_clean(app)
    assert app.header[0].value == "MSFT · 1h"
    bars = httpx.get(f"{served}/api/bars", params={"symbol": "MSFT", "start": "2024-01-02", "end": "2024-01-04",
                                                   "interval": "1h"}).json()["data"]
    candles = figure(app, "candles")["data"][0]
    assert len(bars) == 14 and candles["open"] == [b["open"] for b in bars]
    app.sidebar.date_input[1].set_value(date(2024, 1, 2)).run()
    app.sidebar.date_input[0].set_value(date(2024, 1, 3)).run()
    assert [e.value for e in app.error] == ["to: 2024-01-02 is before from 2024-01-03"]


def test_the_benchmark_button_runs_it_and_the_table_grows(served):
    before = len(httpx.get(f"{served}/api/benchmark").json())
    app = run_app(served)
    assert_clean(app)
    [button] = [b for b in app.button if b.label == "Run benchmark"]
    button.click().run()
    assert_clean(app)
    added = int(re.fullmatch(r"appended (\d+) rows to benchmark.csv", app.success[0].value).group(1))
    rows = httpx.get(f"{served}/api/benchmark").json()
    assert added > 0 and len(rows) == before + added
    assert app.expander[-1].label == f"benchmark.csv: {len(rows)} rows, {before // added + 1} runs"
    assert len(app.expander[-1].dataframe[0].value) == len(rows)
    windows = table(app, "speedup")
    assert {"1bar", "100min", "day"} <= set(windows["window"])
    raw, rollup = figure(app, "benchmark-chart")["data"]
    assert raw["y"] == list(windows["raw ms"]) and rollup["y"] == list(windows["rollup ms"])
    assert all(v > 0 for v in raw["y"] + rollup["y"])
    assert "latest run: AAPL" in " ".join(c.value for c in app.caption)


def test_the_form_starts_a_backtest_and_its_report_is_listed(served):
    app = run_app(served)
    app.text_area[0].input("strategy.fast=5\nstrategy.slow=20")  # a form sends its values on submit
    [submit] = [b for b in app.button if b.label == "Start backtest"]
    submit.click().run()
    assert_clean(app)
    run_id = app.session_state["backtest_id"]
    state = wait_for(lambda: (s := httpx.get(f"{served}/api/backtests/{run_id}").json())["state"] != "running" and s,
                     240, "the dashboard's backtest to finish", every=0.5)
    assert state["state"] == "done", state["output_tail"]
    assert "strategy.fast=5" in state["command"] and "data.symbols=[AAPL]" in state["command"]
    app.run()
    assert_clean(app)
    assert app.success[-1].value.startswith(f"backtest {run_id} done in ")
    runs = table(app, "folder")
    assert list(runs["folder"]).count(f"api/{run_id}") == 1
    link = runs["report"][list(runs["folder"]).index(f"api/{run_id}")]
    assert link == f"{served}/runs/api/{run_id}/report.html" and httpx.get(link).status_code == 200


def test_the_form_says_what_the_api_refused(served):
    app = run_app(served)
    app.text_area[0].input("hydra.run.dir=/tmp")
    [submit] = [b for b in app.button if b.label == "Start backtest"]
    submit.click().run()
    assert not app.exception and "backtest_id" not in app.session_state
    assert [e.value for e in app.error] == [
        "api: POST /api/backtests: overrides: 'hydra.run.dir=/tmp' is not KEY=VALUE with a data., engine. or "
        "strategy. key and a plain value (400)"]
    app.multiselect[0].unselect("AAPL")
    app.text_area[0].input("")
    [submit] = [b for b in app.button if b.label == "Start backtest"]
    submit.click().run()
    assert [e.value for e in app.error] == ["symbols: choose at least one"]


def test_ingest_rate_and_the_hot_path_show_while_serve_consumes(tmp_path):
    with redis_server() as redis_url, serve_process(f"chdb://{tmp_path / 'warehouse'}", "--ingest", "redis",
                                                   "--url", redis_url, "--batch", "5000", "--linger", "0.2",
                                                   outputs=tmp_path / "outputs") as url:
        produced = run_cli(url, "produce", "redis", "--url", redis_url, "--ticks", "20k", "--rate", "0",
                           "--bad", "0.005", timeout=120)
        assert produced.returncode == 0, produced.stderr
        published = int(re.search(r"published ([\d,]+) messages", produced.stdout + produced.stderr)
                        .group(1).replace(",", ""))
        wait_for(lambda: httpx.get(f"{url}/api/ingest").json()["messages"] == published, 120, "the stream written")
        app = run_app(url)
        assert_clean(app)
        ingest = httpx.get(f"{url}/api/ingest").json()
        shown = metrics(app)
        assert shown["messages"] == f"{published:,}" and shown["rejected"] == f"{ingest['rejects']:,}"
        assert ingest["rejects"] > 0 and shown["consumer lag (entries)"] == "0"
        busiest = max(httpx.get(f"{url}/state").json()["symbols"], key=lambda row: row["trades"])["symbol"]
        assert app.header[0].value == f"{busiest} · 5m"  # the symbol trading most on the stream comes first
        state = httpx.get(f"{url}/state/{busiest}").json()
        assert float(shown["last"]) == state["last_trade"]["price"]
        assert float(shown["1m high"]) == state["window"]["high"] and float(shown["1m low"]) == state["window"]["low"]
        assert "no quote stored" in [c.value for c in app.caption]  # the stream carries trades only
        rejects = table(app, "code")
        assert sum(rejects["count"]) == ingest["rejects"]


def test_the_live_book_comes_from_the_hot_path(tmp_path):
    """A Kite full-mode stream (5-level depth, OI) through ``serve --ingest redis --format kite``: the book shown is
    serve's ``/book``, the last price and 1-minute high/low its ``/state``."""
    with redis_server() as redis_url, serve_process(f"chdb://{tmp_path / 'warehouse'}", "--ingest", "redis", "--url",
                                                   redis_url, "--format", "kite", "--batch", "2000",
                                                   "--linger", "0.2") as url:
        assert run_cli(url, "load-instruments", "--demo-nse").returncode == 0
        produced = run_cli(url, "produce", "redis", "--kite", "--url", redis_url, "--ticks", "3000", "--seed", "5")
        assert produced.returncode == 0, produced.stderr
        wait_for(lambda: httpx.get(f"{url}/api/ingest").json()["messages"] == 3000, 120, "the stream written")
        app = run_app(url)
        app.sidebar.selectbox[0].select("RELIANCE24JANFUT").run()
        assert_clean(app)
        book = httpx.get(f"{url}/book/RELIANCE24JANFUT").json()
        state = httpx.get(f"{url}/state/RELIANCE24JANFUT").json()
        shown = table(app, "orders")
        assert list(shown["price"]) == [level["price"] for level in book["asks"][::-1] + book["bids"]]
        assert list(shown["qty"]) == [level["qty"] for level in book["asks"][::-1] + book["bids"]]
        assert list(shown["orders"]) == [level["orders"] for level in book["asks"][::-1] + book["bids"]]
        assert len(shown) == 10
        captions = [c.value for c in app.caption]
        assert f"live from the stream, {book['ts'][:23].replace('T', ' ')} UTC · OI {book['oi']:,.0f}" in captions
        assert float(metrics(app)["last"]) == state["last_trade"]["price"]
        assert float(metrics(app)["1m high"]) == state["window"]["high"]


def test_an_unreachable_api_is_one_error_line():
    port = free_port()
    app = run_app(f"http://127.0.0.1:{port}")
    assert not app.exception
    assert [e.value for e in app.error] == [
        f"api: http://127.0.0.1:{port} does not answer ([Errno 111] Connection refused); "
        f"is python -m warehouse serve running there?"]
    assert not app.dataframe and not app.get("plotly_chart")
    app = run_app("localhost:8123")
    assert [e.value for e in app.error] == ["api: 'localhost:8123' is not an http(s) URL like http://127.0.0.1:8123"]


def test_a_token_guarded_api(tmp_path):
    with serve_process(f"chdb://{tmp_path / 'warehouse'}", token=TOKEN) as url:
        refused = run_app(url)
        assert not refused.exception
        assert [e.value for e in refused.error] == [
            f"api: {url} refused the token (401); pass serve's token with --token or $TICKHOUSE_TOKEN"]
        empty = run_app(url, TOKEN)
        assert_clean(empty)
        assert empty.warning[0].value.startswith("The warehouse has no trades yet")
        cli = _dashboard_cli("--api", url, "--port", str(free_port()))
        assert (cli.returncode, cli.stderr) == (2, f"error: api: {url} refused the token (401); pass serve's "
                                                   f"token with --token or $TICKHOUSE_TOKEN\n")


def test_the_script_takes_the_api_and_token_from_its_arguments_or_the_environment(monkeypatch):
    from warehouse.dashboard.app import parse_args

    monkeypatch.setenv("TICKHOUSE_API", "http://127.0.0.1:9001")
    monkeypatch.setenv("TICKHOUSE_TOKEN", TOKEN)
    assert vars(parse_args([])) == {"api": "http://127.0.0.1:9001", "token": TOKEN}
    assert vars(parse_args(["--api", "http://127.0.0.1:9002", "--token", "t" * 16])) == {
        "api": "http://127.0.0.1:9002", "token": "t" * 16}


def _dashboard_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warehouse", "dashboard", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env=env)


def test_the_command_checks_the_api_before_starting_streamlit(served, tmp_path):
    port = free_port()
    cases = [(f"http://127.0.0.1:{port}", f"error: api: http://127.0.0.1:{port} does not answer "),
             ("127.0.0.1:8123", "error: api: '127.0.0.1:8123' is not an http(s) URL like http://127.0.0.1:8123"),
             (f"{served}/ping", f"error: api: {served}/ping has no tickhouse /api/status; is it python -m warehouse "
                                f"serve's base URL (e.g. http://127.0.0.1:8123)?")]
    for api, message in cases:
        done = _dashboard_cli("--api", api)
        assert done.returncode == 2 and done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
        assert done.stdout == ""
    exposed = _dashboard_cli("--api", served, "--host", "0.0.0.0")
    assert exposed.returncode == 2 and exposed.stderr.startswith("error: host: '0.0.0.0' is not a loopback address"), \
        exposed.stderr
    busy = _dashboard_cli("--api", served, "--port", served.rsplit(":", 1)[1])
    assert busy.returncode == 2 and busy.stderr.startswith("error: port: cannot listen on 127.0.0.1:"), busy.stderr
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['streamlit'] = None\n")
    core = _dashboard_cli("--api", served, env={**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{REPO}"})
    assert (core.returncode, core.stderr) == (2, "error: dashboard needs Streamlit and httpx (streamlit is missing): "
                                                 "pip install 'tickhouse[dashboard]'\n")
