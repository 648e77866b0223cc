"""``python -m warehouse serve``: other processes share the warehouse through it (real processes, real HTTP).

The served warehouse is filled through the server itself (``warehouse demo --dsn http://...``:
inserts over the ClickHouse HTTP interface), then read by a plain clickhouse-connect client,
the CLI, a backtest, ``Feed`` and the API; every reader sees the same bars.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time

import clickhouse_connect
import httpx
import polars as pl
import pyarrow as pa
import pytest

from support.brokers import REPO, run_cli, wait_for
from support.serve import serve_process

WINDOW = {"symbol": "AAPL", "start": "2024-01-02T14:30", "end": "2024-01-02T16:30"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A serve process over a demo warehouse loaded through it; yields (url, outputs folder)."""
    root = tmp_path_factory.mktemp("serve")
    with serve_process(f"chdb://{root / 'warehouse'}", outputs=root / "outputs") as url:
        loaded = run_cli(url, "demo", "--ticks", "200k", timeout=300)
        assert loaded.returncode == 0, loaded.stderr
        yield url, root / "outputs"


def test_a_plain_clickhouse_connect_client_queries_binds_and_inserts(served):
    url, _ = served
    client = clickhouse_connect.get_client(dsn=url)  # defaults: compressed inserts, Native reads
    assert client.command("SELECT {x:UInt32} * 2", parameters={"x": 21}) == 42
    client.command("CREATE TABLE IF NOT EXISTS plain_t (k UInt32, s String) ENGINE = MergeTree ORDER BY k")
    client.insert("plain_t", [[1, "it's"], [2, "b"]], column_names=["k", "s"])
    client.insert_arrow("plain_t", pa.table({"k": pa.array([3], pa.uint32()), "s": ["c"]}))
    assert client.query("SELECT k, s FROM plain_t WHERE k <= {k:UInt32} ORDER BY k",
                        parameters={"k": 2}).result_rows == [(1, "it's"), (2, "b")]
    assert client.query_arrow("SELECT count() AS n FROM plain_t")["n"].to_pylist() == [3]
    bars = client.query_df("SELECT count() AS n FROM bars_1m FINAL WHERE symbol = {s:String}", parameters={"s": "AAPL"})
    assert bars["n"][0] > 0


def test_errors_come_back_as_clickhouse_sends_them(served):
    url, _ = served
    syntax = httpx.post(url, content=b"SELEC 1")
    assert syntax.status_code == 400 and syntax.headers["X-ClickHouse-Exception-Code"] == "62"
    assert syntax.text.startswith("Code: 62. DB::Exception")
    unknown = httpx.post(url, content=b"SELECT * FROM no_such_table")
    assert unknown.status_code == 404 and unknown.headers["X-ClickHouse-Exception-Code"] == "60"
    read_only = httpx.get(url, params={"query": "CREATE TABLE by_get (x UInt8) ENGINE = Memory"})
    assert read_only.status_code == 403 and read_only.headers["X-ClickHouse-Exception-Code"] == "164"
    assert httpx.get(f"{url}/ping").text == "Ok.\n"


def test_cli_feed_api_and_a_plain_client_read_the_same_bars(served):
    url, _ = served
    status = run_cli(url, "status")
    assert status.returncode == 0, status.stderr
    assert "bars check: bars_1m equals ticks_dedup" in status.stdout
    feed_script = ("import sys; from backtest.feed import Feed\n"
                   "with Feed(sys.argv[1]) as feed:\n"
                   "    feed.bars('AAPL', '2024-01-02T14:30', '2024-01-02T16:30', '5m').write_csv(sys.stdout)\n")
    feed = subprocess.run([sys.executable, "-c", feed_script, url], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert feed.returncode == 0, feed.stderr
    from_feed = pl.read_csv(feed.stdout.encode())
    api = httpx.get(f"{url}/api/bars", params={**WINDOW, "interval": "5m"}, timeout=30).json()
    from_api = pl.DataFrame(api["data"])
    assert api["rows"] == from_feed.height == 24
    assert from_api["close"].to_list() == from_feed["close"].to_list()
    assert from_api["volume"].to_list() == from_feed["volume"].to_list()
    raw = httpx.get(f"{url}/api/bars", params={**WINDOW, "interval": "5m", "source": "raw"}, timeout=30).json()
    assert raw["cost"]["source"] == "ticks_dedup" and api["cost"]["source"] == "bars_1m"
    assert [r["close"] for r in raw["data"]] == from_api["close"].to_list()
    plain = clickhouse_connect.get_client(dsn=url).query(
        "SELECT sum(volume) FROM bars_1m FINAL WHERE symbol = 'AAPL' AND minute >= '2024-01-02 14:30:00' "
        "AND minute < '2024-01-02 16:30:00'").result_rows[0][0]
    assert plain == pytest.approx(from_feed["volume"].sum(), rel=1e-12)


def test_arrow_and_json_carry_the_same_rows(served):
    url, _ = served
    as_json = httpx.get(f"{url}/api/ticks", params={**WINDOW, "limit": 500}, timeout=30).json()
    as_arrow = httpx.get(f"{url}/api/ticks", params={**WINDOW, "limit": 500, "format": "arrow"}, timeout=30)
    table = pa.ipc.open_stream(as_arrow.content).read_all()
    assert as_json["rows"] == table.num_rows == 500 and as_json["cost"]["truncated"]
    assert [r["price"] for r in as_json["data"]] == table["price"].to_pylist()
    quotes = httpx.get(f"{url}/api/quotes", params={**WINDOW, "levels": 2, "limit": 10}, timeout=30).json()
    assert quotes["rows"] == 10 and "bid_px_2" in quotes["data"][0] and "bid_px_3" not in quotes["data"][0]


def test_bad_values_get_one_line_4xx_naming_the_field(served):
    url, _ = served
    cases = [({**WINDOW, "symbol": "NOPE"}, 404, "symbol: 'NOPE'"),
             ({**WINDOW, "start": "soon"}, 400, "start: 'soon'"),
             ({**WINDOW, "end": "2024-01-01"}, 400, "end: '2024-01-01' is not after start"),
             ({**WINDOW, "interval": "5x"}, 400, "interval: '5x'"),
             ({**WINDOW, "interval": "90s", "source": "rollup"}, 400, "source: 'rollup' serves whole minutes")]
    for params, code, message in cases:
        answer = httpx.get(f"{url}/api/bars", params=params, timeout=30)
        assert answer.status_code == code and answer.json()["detail"].startswith(message), answer.text


def test_a_backtest_runs_from_the_api_and_its_report_is_served(served):
    url, outputs = served
    started = httpx.post(f"{url}/api/backtests", json={"strategy": "sma_cross", "overrides": ["data.symbols=[AAPL]"]})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    state = wait_for(lambda: (s := httpx.get(f"{url}/api/backtests/{run_id}").json())["state"] != "running" and s,
                     180, "the API backtest to finish", every=0.5)
    assert state["state"] == "done", state["output_tail"]
    report = httpx.get(f"{url}{state['report']}")
    assert report.status_code == 200 and "<html" in report.text[:200].lower()
    assert any(run["folder"] == f"api/{run_id}" for run in httpx.get(f"{url}/api/runs").json())
    refused = httpx.post(f"{url}/api/backtests", json={"strategy": "sma_cross", "overrides": ["hydra.run.dir=/tmp"]})
    assert refused.status_code == 400 and "overrides: 'hydra.run.dir=/tmp'" in refused.json()["detail"]


def test_the_benchmark_endpoint_appends_raw_and_rollup_timings(served):
    url, outputs = served
    first = httpx.post(f"{url}/api/benchmark", json={"symbol": "SPY", "runs": 1}, timeout=120)
    assert first.status_code == 200, first.text
    sources = {row["source"] for row in first.json()}
    assert {"ticks_dedup", "bars_1m"} <= sources
    httpx.post(f"{url}/api/benchmark", json={"symbol": "SPY", "runs": 1}, timeout=120)
    with (outputs / "bench" / "benchmark.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * len(first.json())
    assert httpx.get(f"{url}/api/benchmark").json() == rows
    assert httpx.post(f"{url}/api/benchmark", json={"symbol": "NOPE"}, timeout=60).status_code == 404


def test_a_second_process_backtests_while_the_cli_reads(served, tmp_path):
    url, _ = served
    backtest = subprocess.Popen([sys.executable, "-m", "backtest", "+strategy=sma_cross", f"warehouse.dsn={url}",
                                 f"hydra.run.dir={tmp_path / 'run'}"], cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    started = time.monotonic()
    statuses = 0
    while backtest.poll() is None and time.monotonic() - started < 180:
        assert run_cli(url, "status").returncode == 0
        statuses += 1
    output = backtest.communicate(timeout=180)[0]
    assert backtest.returncode == 0, output
    assert statuses >= 1 and (tmp_path / "run" / "report.html").exists()


def test_native_at_the_clients_revision_reads_every_column_of_the_schema(served):
    """clickhouse-connect probes client_protocol_version and then reads Native framed for it (block info per
    block): every column type of every table comes back with the values JSON gives."""
    url, _ = served
    client = clickhouse_connect.get_client(dsn=url)
    assert client.protocol_version > 0
    columns = client.query("SELECT table, name, type FROM system.columns WHERE database = currentDatabase() "
                           "AND type NOT LIKE 'AggregateFunction%' ORDER BY table, position").result_rows
    tables: dict[str, list[str]] = {}
    for table, name, _ in columns:
        tables.setdefault(table, []).append(f"`{name}`")
    assert {"ticks", "quotes", "bars_1m", "rejects", "instruments"} <= set(tables)
    clickhouse_connect.common.set_setting("use_protocol_version", False)
    try:
        plain = clickhouse_connect.get_client(dsn=url)  # reads Native as for revision 0
    finally:
        clickhouse_connect.common.set_setting("use_protocol_version", True)
    assert plain.protocol_version == 0
    rows = 0
    for table, names in tables.items():
        sql = f"SELECT {', '.join(names)} FROM {table} ORDER BY ALL LIMIT 5"
        at_revision = client.query(sql).result_rows
        assert at_revision == plain.query(sql).result_rows, table
        rows += len(at_revision)
    assert rows > 20
    assert client.query("SELECT toLowCardinality('a') AS l, [1, 2] AS a, map('k', 1) AS m, (1, 'x') AS t, "
                        "CAST(NULL, 'Nullable(String)') AS n, toDecimal64(1.5, 2) AS d").result_rows == [
        ("a", [1, 2], {"k": 1}, (1, "x"), None, 1.5)]


def test_every_answer_says_its_time_in_the_server(served):
    url, _ = served
    for path in ("/ping", "/api/status", "/state"):
        timing = httpx.get(url + path).headers["server-timing"]
        assert timing.startswith("app;dur=") and float(timing.split("=")[1]) >= 0
