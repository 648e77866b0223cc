"""docs/grafana: the dashboard's SQL runs through ``python -m warehouse serve`` as Grafana's ClickHouse plugin runs it.

A real serve process with a token (as the provisioned data source passes it: the HTTP Basic password)
holds a 200k-tick demo loaded through it, plus a futures symbol with open interest and exchange times,
and files with bad rows (so ``rejects`` has reasons). Each panel's SQL is interpolated and its macros
expanded as the plugin does (tests/support/grafana.py), over the demo's time range (or the panel's
own relative range), then run with clickhouse-connect and as the plugin's own HTTP request.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime, timedelta, timezone

import clickhouse_connect
import pytest
import yaml

from support.brokers import run_cli
from support.grafana import (DASHBOARDS_YAML, DATASOURCE_YAML, PLUGIN_PROTOCOL_VERSION, PLUGIN_TYPE,
                             expand_macros, interpolate, load_dashboard, panel_interval, panel_range, panels,
                             plugin_post, read_native)
from support.serve import serve_process

TOKEN = "grafana-test-token-0123456789"
FUTURE = "NIFTYFUT"
QUOTE_START = datetime(2024, 1, 3, 4, 0, tzinfo=timezone.utc)
QUOTES = 60  # one every 10 s: two 5-minute buckets at the demo range's $__interval
LATENCY_MS = 20

# What each panel must return: its columns, in order ("time" first for time series).
EXPECTED = {
    "Price (close)": ["time", "close"],
    "Volume": ["time", "volume", "trades"],
    "Spread": ["time", "tw_spread", "last_spread"],
    "Open interest": ["time", "open_interest"],
    "Quote latency (exchange time to receipt)": ["time", "p50_ms", "max_ms"],
    "Ingest lag (newest tick to final bars)": ["time", "lag_s"],
    "Batches written": ["time", "final", "open"],
    "Open batches": ["open_batches"],
    "Rejects by reason": ["time", "reason", "rejects"],
    "Rejects in total": ["target", "code", "field", "rule", "rejects", "latest"],
}
DASHBOARD_PANELS = {panel["title"]: panel for panel in panels(load_dashboard())}


def _write_quotes(path):
    """NIFTYFUT quotes with rising open interest, stamped LATENCY_MS after the exchange; two bad rows."""
    with path.open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(["symbol", "ts", "exchange_ts", "bid_px_1", "ask_px_1", "bid_qty_1", "ask_qty_1", "oi"])
        for i in range(QUOTES):
            ts = QUOTE_START + timedelta(seconds=10 * i)
            out.writerow([FUTURE, ts.isoformat(), (ts - timedelta(milliseconds=LATENCY_MS)).isoformat(),
                          21700 + i, 21701 + i, 50, 75, 1000 + 10 * i])
        out.writerow([FUTURE, QUOTE_START.isoformat(), QUOTE_START.isoformat(), 21700, 21701, 50, 75, -5])
        out.writerow([FUTURE, QUOTE_START.isoformat(), QUOTE_START.isoformat(), -1, 21701, 50, 75, 1000])


def _write_ticks(path):
    """Three NIFTYFUT trades and three refused rows (bad_price, future_ts, missing_field)."""
    rows = [[FUTURE, (QUOTE_START + timedelta(seconds=5 + 10 * i)).isoformat(), 21700.5 + i, 75] for i in range(3)]
    rows += [[FUTURE, QUOTE_START.isoformat(), -3, 75], [FUTURE, "2099-01-01T00:00:00Z", 21700, 75],
             ["", QUOTE_START.isoformat(), 21700, 75]]
    with path.open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(["symbol", "ts", "price", "size"])
        out.writerows(rows)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """serve (with a token) over a warehouse loaded through it; yields (base url, DSN with the token, range)."""
    root = tmp_path_factory.mktemp("grafana")
    with serve_process(f"chdb://{root / 'warehouse'}", outputs=root / "outputs", token=TOKEN) as url:
        dsn = url.replace("http://", f"http://default:{TOKEN}@")
        _write_quotes(root / "futures_quotes.csv")
        _write_ticks(root / "futures_ticks.csv")
        for args in (("demo", "--ticks", "200k", "--no-nse"), ("load-quotes", str(root / "futures_quotes.csv")),
                     ("load", str(root / "futures_ticks.csv"))):
            loaded = run_cli(dsn, *args, timeout=300)
            assert loaded.returncode == 0, (args, loaded.stdout, loaded.stderr)
        client = clickhouse_connect.get_client(dsn=dsn)
        first, last = client.query("SELECT min(ts), max(ts) FROM ticks WHERE ts < now()").result_rows[0]
        start = first.replace(second=0, microsecond=0, tzinfo=timezone.utc)
        end = last.replace(second=0, microsecond=0, tzinfo=timezone.utc) + timedelta(minutes=1)
        yield url, dsn, (start, end)


def panel_sql(panel, symbol, start, end, now=None):
    """The SQL the plugin sends for ``panel`` with ``symbol`` chosen, over [start, end] (or the panel's own range)."""
    now = now or datetime.now(timezone.utc)
    start, end = panel_range(panel, start, end, now)
    raw = panel["targets"][0]["rawSql"]
    return expand_macros(interpolate(raw, {"symbol": symbol}), start=start, end=end,
                         interval_s=panel_interval(panel, start, end)), (start, end)


def _read_as_plugin(body):
    """The plugin's answer read as its driver reads it: Native at the plugin's protocol revision."""
    return read_native(body, PLUGIN_PROTOCOL_VERSION)


def _plain(value):
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


def test_the_dashboard_and_its_provisioning_fit_together():
    dashboard = load_dashboard()
    source = yaml.safe_load(DATASOURCE_YAML.read_text())["datasources"][0]
    assert source["type"] == PLUGIN_TYPE and source["jsonData"]["protocol"] == "http"
    assert (source["jsonData"]["host"], source["jsonData"]["port"]) == ("127.0.0.1", 8123)
    assert source["jsonData"]["username"] and source["secureJsonData"]["password"] == "$TICKHOUSE_TOKEN"
    provider = yaml.safe_load(DASHBOARDS_YAML.read_text())["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"] == "$TICKHOUSE_GRAFANA_DIR"
    wanted = {"type": PLUGIN_TYPE, "uid": source["uid"]}

    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    assert set(DASHBOARD_PANELS) == set(EXPECTED), "every panel needs its expected columns here (and only those)"
    for panel in DASHBOARD_PANELS.values():
        assert panel["datasource"] == wanted, panel["title"]
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"} and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["targets"], f"{panel['title']}: no query"
        for target in panel["targets"]:
            assert target["datasource"] == wanted and target["editorType"] == "sql", panel["title"]
            assert target["rawSql"].strip(), f"{panel['title']}: empty SQL"
            assert target["format"] == (0 if panel["type"] == "timeseries" else 1), panel["title"]
    variable, = dashboard["templating"]["list"]
    assert variable["name"] == "symbol" and variable["type"] == "query" and variable["datasource"] == wanted
    assert variable["query"]["rawSql"].strip() and not variable["multi"]


@pytest.mark.parametrize("title", sorted(EXPECTED))
def test_each_panel_expands_to_plain_sql(title):
    """Every ``$__`` is one of the plugin's macros and every ``$`` variable is the dashboard's."""
    start, end = datetime(2024, 1, 2, tzinfo=timezone.utc), datetime(2024, 1, 3, tzinfo=timezone.utc)
    sql, _ = panel_sql(DASHBOARD_PANELS[title], "AAPL", start, end)
    assert "$" not in sql and "[[" not in sql, sql
    if "$__timeFilter" in DASHBOARD_PANELS[title]["targets"][0]["rawSql"]:
        assert f">= toDateTime({int(start.timestamp())})" in sql or DASHBOARD_PANELS[title].get("timeFrom")


def test_the_symbol_variable_lists_the_symbols(served):
    _, dsn, _ = served
    variable = load_dashboard()["templating"]["list"][0]
    rows = clickhouse_connect.get_client(dsn=dsn).query(variable["query"]["rawSql"]).result_rows
    assert [symbol for symbol, in rows] == ["AAPL", "MSFT", FUTURE, "NVDA", "SPY", "TSLA"]


@pytest.mark.parametrize("title", sorted(EXPECTED))
def test_each_panel_returns_rows_and_its_columns(served, title):
    url, dsn, (start, end) = served
    panel = DASHBOARD_PANELS[title]
    sql, (lo, hi) = panel_sql(panel, "AAPL", start, end)
    result = clickhouse_connect.get_client(dsn=dsn).query(sql)
    assert list(result.column_names) == EXPECTED[title]
    assert len(result.result_rows) > 0, f"{title}: no rows over {lo} .. {hi}:\n{sql}"
    if panel["type"] == "timeseries":
        assert result.column_types[0].base_type == "DateTime", result.column_types[0].name
        times = [_plain(row[0]) for row in result.result_rows]
        assert times == sorted(times) and _plain(lo) - timedelta(days=1) <= times[0] and times[-1] <= _plain(hi)
        numeric = [i for i, kind in enumerate(result.column_types) if kind.python_type in (int, float)]
        assert numeric and all(any(row[i] is not None for row in result.result_rows) for i in numeric)

    # The same SQL as the plugin's driver sends it (Native, its settings, the token as Basic password).
    response = plugin_post(url, sql, password=TOKEN)
    assert response.status_code == 200, response.text
    assert response.headers["X-ClickHouse-Format"] == "Native"
    names, _, rows = _read_as_plugin(response.content)
    assert names == EXPECTED[title]
    assert [tuple(map(_plain, row)) for row in rows] == [tuple(map(_plain, row)) for row in result.result_rows]


def test_open_interest_and_quote_latency_of_a_futures_symbol(served):
    _, dsn, (start, end) = served
    client = clickhouse_connect.get_client(dsn=dsn)
    sql, _ = panel_sql(DASHBOARD_PANELS["Open interest"], FUTURE, start, end)
    rows = client.query(sql).result_rows
    buckets = int(panel_interval(DASHBOARD_PANELS["Open interest"], start, end))
    per_bucket = buckets // 10  # quotes every 10 s
    assert [oi for _, oi in rows] == [1000 + 10 * (min(QUOTES, k + per_bucket) - 1)
                                      for k in range(0, QUOTES, per_bucket)]
    sql, _ = panel_sql(DASHBOARD_PANELS["Quote latency (exchange time to receipt)"], FUTURE, start, end)
    assert {(p50, worst) for _, p50, worst in client.query(sql).result_rows} == {(LATENCY_MS, LATENCY_MS)}
    sql, _ = panel_sql(DASHBOARD_PANELS["Price (close)"], FUTURE, start, end)
    assert [close for _, close in client.query(sql).result_rows] == [21702.5]


def test_rejects_panels_show_every_reason(served):
    _, dsn, (start, end) = served
    client = clickhouse_connect.get_client(dsn=dsn)
    sql, _ = panel_sql(DASHBOARD_PANELS["Rejects by reason"], "AAPL", start, end)
    over_time = {}
    for _, reason, count in client.query(sql).result_rows:
        over_time[reason] = over_time.get(reason, 0) + count
    assert over_time == {"ticks: bad_price": 1, "ticks: future_ts": 1, "ticks: missing_field": 1,
                         "quotes: bad_price": 1, "quotes: bad_quantity": 1}
    sql, _ = panel_sql(DASHBOARD_PANELS["Rejects in total"], "AAPL", start, end)
    total = {(target, code, field): count for target, code, field, _, count, _ in client.query(sql).result_rows}
    assert total == {("ticks", "bad_price", "price"): 1, ("ticks", "future_ts", "ts"): 1,
                     ("ticks", "missing_field", "symbol"): 1, ("quotes", "bad_price", "bid_px_1"): 1,
                     ("quotes", "bad_quantity", "oi"): 1}


def test_ingest_panels_see_the_loads_just_made(served):
    _, dsn, (start, end) = served
    client = clickhouse_connect.get_client(dsn=dsn)
    sql, _ = panel_sql(DASHBOARD_PANELS["Batches written"], "AAPL", start, end)
    rows = client.query(sql).result_rows
    batches = client.query("SELECT uniqExact(batch_id) FROM load_journal").result_rows[0][0]
    assert batches >= 4  # the demo's ticks and quotes, the two files
    assert sum(final for _, final, _ in rows) == batches and sum(still for _, _, still in rows) == 0
    sql, _ = panel_sql(DASHBOARD_PANELS["Ingest lag (newest tick to final bars)"], "AAPL", start, end)
    lags = [lag for _, lag in client.query(sql).result_rows]
    now = datetime.now(timezone.utc)  # the ticks are from 2024 and were written just now: the lag is their age
    assert lags and all((now - end).total_seconds() - 3600 < lag < (now - start).total_seconds() for lag in lags)


def test_without_the_token_the_plugin_is_refused(served):
    url, _, _ = served
    assert plugin_post(url, "SELECT 1", password="").status_code == 401
    assert plugin_post(url, "SELECT 1", password=TOKEN).status_code == 200


def test_the_plugins_driver_can_read_the_answers(served):
    """clickhouse-go's first request on an HTTP connection, then every panel: it reads Native at its revision."""
    url, dsn, (start, end) = served
    response = plugin_post(url, "SELECT displayName(), version(), revision(), timezone()", password=TOKEN)
    assert response.status_code == 200
    _, _, rows = read_native(response.content, PLUGIN_PROTOCOL_VERSION)
    assert len(rows) == 1 and re.match(r"\d+\.\d+", rows[0][1])
    for title, panel in DASHBOARD_PANELS.items():
        sql, _ = panel_sql(panel, "AAPL", start, end)
        names, _, rows = read_native(plugin_post(url, sql, password=TOKEN).content, PLUGIN_PROTOCOL_VERSION)
        expected = clickhouse_connect.get_client(dsn=dsn).query(sql)
        assert names == list(expected.column_names), title
        assert [tuple(map(_plain, row)) for row in rows] == [tuple(map(_plain, row)) for row in expected.result_rows]
