"""Redis Streams -> warehouse against a real redis-server: crash, rejects, SIGTERM, XAUTOCLAIM, outages."""

from __future__ import annotations

import random
import signal
import subprocess
import time

import polars as pl
import pytest
import redis

from support.brokers import REPO, frozen, kill9, query, redis_server, run_cli, start_cli, wait_for, warehouse_cmd
from support.stream_checks import assert_exact, produced, rejects, spec_of
from warehouse.cli import main


@pytest.fixture(scope="module")
def redis_url():
    with redis_server() as url:
        yield url


def _produce(url: str, stream: str, ticks: int, bad: float, *extra: str) -> None:
    done = run_cli("chdb:///unused", "produce", "redis", "--url", url, "--stream", stream, "--ticks", str(ticks),
                   "--bad", str(bad), *extra)
    assert done.returncode == 0, done.stderr


def _group(url: str, stream: str, group: str = "tickhouse") -> dict:
    """The group's XINFO GROUPS entry (zeros before the consumer created it)."""
    found = [g for g in redis.Redis.from_url(url).xinfo_groups(stream) if g["name"].decode() == group]
    return found[0] if found else {"entries-read": 0, "pending": 0, "lag": None}


def test_kill9_mid_stream_then_restart_gives_exact_ticks_bars_and_rejects(redis_url, dsn):
    ticks = 200_000
    stream = f"crash:{ticks}"
    _produce(redis_url, stream, ticks, 0.01)
    batch = ticks // 10
    ingest = ("ingest", "redis", "--url", redis_url, "--stream", stream, "--consumer", "c1", "--batch", str(batch),
              "--linger", "0.5", "--status-every", "0")
    first = start_cli(dsn, *ingest)
    wait_for(lambda: (_group(redis_url, stream)["entries-read"] or 0) - _group(redis_url, stream)["pending"] >= 2 * batch,
             90, "two acknowledged batches")
    time.sleep(random.uniform(0, 0.5))  # somewhere inside a later batch
    kill9(first)
    left = _group(redis_url, stream)
    assert 0 < left["entries-read"] - left["pending"] < ticks, "the kill must land mid-stream"
    done = run_cli(dsn, *ingest, "--until-idle")
    assert done.returncode == 0, done.stderr
    group = _group(redis_url, stream)
    assert group["pending"] == 0 and group["lag"] == 0
    if left["pending"]:
        assert "replayed batches, 0 retries" in done.stdout and " 0 replayed" not in done.stdout
    produced_ticks, bad = produced(spec_of(ticks), 0.01)
    assert_exact(dsn, produced_ticks)
    stored = rejects(dsn)
    assert len(bad) == ticks // 100
    assert stored.height == ticks // 100, "each malformed message lands in rejects exactly once"
    assert sorted(stored["raw"].to_list()) == sorted(p.decode("utf-8", "backslashreplace") for p in bad)


def test_malformed_messages_are_rejected_with_payload_reason_and_stream_id(redis_url, dsn):
    stream = "bad:stream"
    _produce(redis_url, stream, 5_000, 0.01)
    done = run_cli(dsn, "ingest", "redis", "--url", redis_url, "--stream", stream, "--until-idle")
    assert done.returncode == 0, done.stderr
    assert "5,000 ticks" in done.stdout and "50 rejects" in done.stdout
    _, bad = produced(spec_of(5_000), 0.01)
    entries = redis.Redis.from_url(redis_url).xrange(stream)
    expected = {f"{stream}/{i.decode()}": f[b"tick"].decode("utf-8", "backslashreplace")
                for i, f in entries if f[b"tick"] in set(bad)}
    stored = rejects(dsn)
    assert dict(zip(stored["position"], stored["raw"])) == expected
    assert set(stored["source"]) == {f"redis:{stream}"}
    reasons = stored["reason"].to_list()
    assert all(reasons) and {r.split(":")[0] for r in reasons} >= {"json", "payload", "price", "side", "ts", "size"}


def test_sigterm_writes_and_acknowledges_the_open_batch_and_exits_0(redis_url, dsn, tmp_path):
    stream = "term:stream"
    _produce(redis_url, stream, 3_000, 0.0)
    log = tmp_path / "ingest.log"
    with log.open("w") as err:
        consumer = subprocess.Popen(warehouse_cmd(dsn, "ingest", "redis", "--url", redis_url, "--stream", stream,
                                                  "--linger", "600", "--status-every", "0.2"),
                                    cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True)
        wait_for(lambda: _group(redis_url, stream)["pending"] == 3_000, 60, "the batch to be read, not acknowledged")
        wait_for(lambda: "pending 3,000" in log.read_text(), 30, "a status line with the pending count")
        consumer.send_signal(signal.SIGTERM)
        out, _ = consumer.communicate(timeout=60)
    assert consumer.returncode == 0, log.read_text()
    assert "3,000 messages in 1 batches" in out
    assert _group(redis_url, stream)["pending"] == 0
    assert query(dsn, "SELECT count() AS n FROM ticks")["n"][0] == 3_000
    assert "SIGTERM" in log.read_text() and "lag 0" in log.read_text()


def test_xautoclaim_takes_over_a_dead_consumers_pending_entries_and_trim(redis_url, dsn):
    stream = "claim:stream"
    _produce(redis_url, stream, 4_000, 0.0, "--duplicates", "0", "--corrections", "0")
    client = redis.Redis.from_url(redis_url)
    client.xgroup_create(stream, "tickhouse", id="0")
    client.xreadgroup("tickhouse", "dead", {stream: ">"}, count=1_500)  # read, then "died" without XACK
    time.sleep(0.3)
    done = run_cli(dsn, "ingest", "redis", "--url", redis_url, "--stream", stream, "--consumer", "alive",
                   "--claim-idle", "200", "--until-idle", "--trim")
    assert done.returncode == 0, done.stderr
    assert "claimed 1,500 entries" in done.stderr
    assert "4,000 messages" in done.stdout and " 0 replayed" not in done.stdout
    assert client.xpending(stream, "tickhouse")["pending"] == 0
    assert query(dsn, "SELECT count() AS n FROM ticks_dedup FINAL")["n"][0] == 4_000
    assert client.xlen(stream) <= 1, "--trim deletes what every group acknowledged"


def test_field_entries_and_entries_deleted_while_pending(redis_url, dsn):
    """Entries holding the tick's fields (not one ``tick`` field) take the hiredis path; entries deleted
    while pending in this consumer's list are acknowledged and skipped."""
    stream = "fields:stream"
    client = redis.Redis.from_url(redis_url)
    tick = {"symbol": "AAPL", "ts": "2024-01-02T14:30:00Z", "price": "185.5", "size": "10", "side": "buy"}
    ids = [client.xadd(stream, {"tick": b'{"symbol":"MSFT","ts":1704205800000000,"price":370.5,"size":1.0,'
                                        b'"side":"sell","trade_id":%d,"version":0}' % i}) for i in range(6)]
    client.xgroup_create(stream, "tickhouse", id="0")
    client.xreadgroup("tickhouse", "ingest-1", {stream: ">"}, count=6)  # pending in our own list, as after a crash
    client.xdel(stream, ids[1], ids[4])
    client.xadd(stream, {**tick, "trade_id": "1"})
    client.xadd(stream, {**tick, "trade_id": "2"})
    done = run_cli(dsn, "ingest", "redis", "--url", redis_url, "--stream", stream, "--until-idle")
    assert done.returncode == 0, done.stderr
    assert "6 messages" in done.stdout and "1 replayed" in done.stdout
    assert client.xpending(stream, "tickhouse")["pending"] == 0
    stored = query(dsn, "SELECT symbol, trade_id FROM ticks_dedup FINAL ORDER BY symbol, trade_id")
    assert stored.rows() == [("AAPL", 1), ("AAPL", 2), ("MSFT", 0), ("MSFT", 2), ("MSFT", 3), ("MSFT", 5)]


def test_warehouse_outage_is_retried_and_nothing_is_acknowledged_early(redis_url, dsn, tmp_path):
    stream = "outage:stream"
    _produce(redis_url, stream, 2_000, 0.0, "--seed", "1", "--start", "2024-01-02")
    log = tmp_path / "ingest.log"
    with log.open("w") as err:
        consumer = subprocess.Popen(warehouse_cmd(dsn, "ingest", "redis", "--url", redis_url, "--stream", stream,
                                                  "--batch", "1000", "--linger", "0.2", "--status-every", "0"),
                                    cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True)
        wait_for(lambda: _group(redis_url, stream)["entries-read"] == 2_000 and _group(redis_url, stream)[
            "pending"] == 0, 60, "the first messages to be written")
        with frozen(tmp_path / "warehouse"):
            _produce(redis_url, stream, 3_000, 0.0, "--seed", "2", "--start", "2024-03-04")
            wait_for(lambda: log.read_text().count("warehouse error") >= 2, 30, "failed, retried inserts")
            assert _group(redis_url, stream)["pending"] > 0, "a batch the warehouse refused must stay pending"
        wait_for(lambda: _group(redis_url, stream)["pending"] == 0 and _group(redis_url, stream)["lag"] == 0, 60,
                 "the batch to be written after the outage")
        consumer.send_signal(signal.SIGTERM)
        out, _ = consumer.communicate(timeout=60)
    assert consumer.returncode == 0, log.read_text()
    assert "5,000 messages" in out and " 0 retries" not in out
    first, _ = produced(spec_of(2_000, seed=1), 0.0)
    second, _ = produced(spec_of(3_000, seed=2, start="2024-03-04"), 0.0)
    assert_exact(dsn, pl.concat([first, second]))


def test_bad_arguments_are_one_line_errors(capsys):
    """In-process, on the session warehouse: exit 2 and one line naming the field and value."""
    assert main(["ingest", "redis", "--url", "redis://127.0.0.1:1/0"]) == 2
    assert capsys.readouterr().err.startswith("error: url: cannot reach Redis at 'redis://127.0.0.1:1/0'")
    assert main(["ingest", "redis", "--batch", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: batch: 0 is not an integer >= 1"
    assert main(["produce", "redis", "--rate", "-5"]) == 2
    assert capsys.readouterr().err.strip() == "error: rate: -5.0 is not a number of messages per second >= 0"
