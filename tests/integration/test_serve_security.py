"""``serve``'s gate: loopback by default, a token otherwise and then on every request; read endpoints cannot
change data, whatever their parameters hold (real serve processes, real HTTP)."""

from __future__ import annotations

import subprocess
import sys

import clickhouse_connect
import httpx
import pytest

from support.brokers import REPO, free_port, run_cli
from support.serve import serve_process

TOKEN = "t0ken-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD = {"symbol": "AAPL", "start": "2024-01-02T14:30", "end": "2024-01-02T15:30"}
HOSTILE = ["AAPL'; DROP TABLE ticks; --", "' OR 1=1 --", "AAPL\\' OR \\'1\\'=\\'1", "{symbol:String}",
           "AAPL) UNION ALL SELECT * FROM system.tables --", "../../../../etc/passwd", "AAPL\x00", "A" * 5000,
           "1; INSERT INTO ticks SELECT * FROM ticks", "file('/etc/passwd', 'LineAsString')", "ñ💥", "-1", "1e309",
           "2024-01-02T14:30'; DROP TABLE bars_1m; --", "%00%27", "SYSTEM SHUTDOWN"]
ENDPOINTS = {
    "/api/bars": {**GOOD, "interval": "5m", "source": "auto", "format": "json"},
    "/api/ticks": {**GOOD, "limit": "10", "format": "json"},
    "/api/quotes": {**GOOD, "levels": "2", "limit": "10", "format": "json"},
    "/api/depth": {"symbol": "AAPL", "at": "2024-01-02T15:00"},
}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """serve with a token, demo data loaded through it; yields its URL."""
    root = tmp_path_factory.mktemp("guarded")
    with serve_process(f"chdb://{root / 'warehouse'}", outputs=root / "outputs", token=TOKEN) as url:
        loaded = run_cli(url.replace("http://", f"http://default:{TOKEN}@"), "demo", "--ticks", "100k", timeout=300)
        assert loaded.returncode == 0, loaded.stderr
        yield url


def _serve_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warehouse", "serve", "--dsn", "chdb://:memory:",
                           "--port", str(free_port()), *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_binding_beyond_loopback_needs_a_token_and_a_real_one():
    bare = _serve_cli("--host", "0.0.0.0")
    assert bare.returncode == 2 and bare.stderr.strip().splitlines() == [
        "error: host: '0.0.0.0' is not a loopback address, which needs a token (--token or $TICKHOUSE_TOKEN)"]
    short = _serve_cli("--host", "0.0.0.0", "--token", "abc")
    assert short.returncode == 2 and short.stderr.startswith("error: token: 3 characters is too short")


def test_every_request_needs_the_token(guarded):
    for path in ("/", "/ping", "/api/status", "/docs", "/openapi.json", "/book/AAPL", "/runs/x/report.html"):
        assert httpx.get(guarded + path).status_code == 401, path
        assert httpx.get(guarded + path, headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert httpx.get(f"{guarded}/api/status", headers=AUTH).status_code == 200
    assert httpx.get(f"{guarded}/ping", auth=("default", TOKEN)).text == "Ok.\n"
    client = clickhouse_connect.get_client(dsn=guarded.replace("http://", f"http://default:{TOKEN}@"))
    assert client.command("SELECT count() > 0 FROM ticks") == 1
    refused = run_cli(guarded, "status")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "error: dsn:" in refused.stderr


def test_injection_in_any_parameter_is_a_4xx_and_changes_nothing(guarded):
    client = clickhouse_connect.get_client(dsn=guarded.replace("http://", f"http://default:{TOKEN}@"))
    sizes = "SELECT name, total_rows FROM system.tables WHERE database = currentDatabase() ORDER BY name"
    before = client.query(sizes).result_rows
    tried = 0
    for path, params in ENDPOINTS.items():
        for name in params:
            for value in HOSTILE:
                answer = httpx.get(guarded + path, params={**params, name: value}, headers=AUTH, timeout=30)
                tried += 1
                assert 400 <= answer.status_code < 500, (path, name, value, answer.status_code, answer.text[:300])
                assert "detail" in answer.json()
    for field in ("strategy", "overrides"):
        for value in HOSTILE:
            body = {"strategy": "sma_cross", "overrides": [], field: value if field == "strategy" else [value]}
            answer = httpx.post(f"{guarded}/api/backtests", json=body, headers=AUTH)
            tried += 1
            assert answer.status_code == 400, (field, value, answer.text)
    for value in HOSTILE:
        answer = httpx.post(f"{guarded}/api/benchmark", json={"symbol": value, "runs": 1}, headers=AUTH, timeout=60)
        tried += 1
        assert 400 <= answer.status_code < 500, (value, answer.text)
    assert tried > 250
    assert client.query(sizes).result_rows == before


def test_reads_cannot_write_get_requests_and_a_read_only_serve(guarded, tmp_path):
    for statement in ("CREATE TABLE by_get (x UInt8) ENGINE = Memory", "INSERT INTO rejects (code) VALUES ('x')",
                      "DROP TABLE ticks", "ALTER TABLE ticks DELETE WHERE 1", "OPTIMIZE TABLE ticks"):
        answer = httpx.get(guarded, params={"query": statement}, headers=AUTH)
        assert answer.status_code == 403 and answer.headers["X-ClickHouse-Exception-Code"] == "164", statement
    with serve_process(f"chdb://{tmp_path / 'warehouse'}", "--read-only") as url:
        client = clickhouse_connect.get_client(dsn=url)
        assert client.command("SELECT count() FROM ticks") == 0  # the schema was made before serving
        with pytest.raises(Exception, match="READONLY"):
            client.insert("rejects", [["x"]], column_names=["code"])
        with pytest.raises(Exception, match="READONLY"):
            client.command("DROP TABLE ticks")
