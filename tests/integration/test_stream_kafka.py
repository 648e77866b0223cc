"""Kafka -> warehouse against a real Kafka-protocol broker (tansu): crash, rejects, outage, SIGTERM, lag."""

from __future__ import annotations

import random
import signal
import subprocess
import time

import pytest
from confluent_kafka import OFFSET_INVALID, Consumer, TopicPartition

from support.brokers import REPO, frozen, kill9, query, run_cli, start_cli, tansu_broker, wait_for, warehouse_cmd
from support.stream_checks import assert_exact, produced, rejects, spec_of
from warehouse.cli import main


@pytest.fixture(scope="module")
def brokers():
    with tansu_broker() as address:
        yield address


def _produce(brokers: str, topic: str, ticks: int, bad: float, *extra: str) -> None:
    done = run_cli("chdb:///unused", "produce", "kafka", "--brokers", brokers, "--topic", topic, "--ticks", str(ticks),
                   "--bad", str(bad), "--partitions", "3", *extra)
    assert done.returncode == 0, done.stderr


def _committed(brokers: str, topic: str, group: str = "tickhouse") -> int:
    """Committed offsets summed over the topic's 3 partitions (= messages acknowledged).

    (Not compared with ListOffsets: tansu answers it with the last batch's base offset.)
    """
    return sum(tp.offset for tp in _commits(brokers, topic, group) if tp.offset != OFFSET_INVALID)


def _commits(brokers: str, topic: str, group: str = "tickhouse") -> list[TopicPartition]:
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": group})
    try:
        return consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    finally:
        consumer.close()


def test_kill9_mid_stream_then_restart_gives_exact_ticks_bars_and_rejects(brokers, dsn):
    ticks = 200_000
    topic = f"crash-{ticks}"
    _produce(brokers, topic, ticks, 0.01)
    ingest = ("ingest", "kafka", "--brokers", brokers, "--topic", topic, "--batch", str(ticks // 10),
              "--linger", "0.5", "--status-every", "0")
    first = start_cli(dsn, *ingest)
    wait_for(lambda: _committed(brokers, topic) >= ticks // 5, 120, "two committed batches", every=0.3)
    time.sleep(random.uniform(0, 0.5))
    kill9(first)
    total = ticks + ticks // 100
    assert 0 < _committed(brokers, topic) < total, "the kill must land mid-stream"
    # "inflight<=0" everywhere: killed between batches. Otherwise a write-ahead mark says how many
    # messages were in flight, or (tansu keeps no commit metadata) nothing says: a batch-size replay.
    between_batches = all(tp.metadata == "inflight<=0" for tp in _commits(brokers, topic))
    done = run_cli(dsn, *ingest, "--until-idle", timeout=180)
    assert done.returncode == 0, done.stderr
    assert _committed(brokers, topic) == total
    assert (" 0 replayed" in done.stdout) == between_batches, "the batch in flight at the crash is replayed"
    produced_ticks, bad = produced(spec_of(ticks), 0.01)
    assert_exact(dsn, produced_ticks)
    stored = rejects(dsn)
    assert stored.height == len(bad) == ticks // 100, "each malformed message lands in rejects exactly once"
    assert sorted(stored["raw"].to_list()) == sorted(p.decode("utf-8", "backslashreplace") for p in bad)
    assert stored["position"].str.contains(rf"^{topic}/[0-2]/\d+$").all()
    assert set(stored["source"]) == {f"kafka:{topic}"}


def test_offsets_are_committed_only_after_the_insert_survives_an_outage(brokers, dsn, tmp_path):
    topic = "outage"
    assert run_cli(dsn, "init").returncode == 0
    _produce(brokers, topic, 2_000, 0.001)
    log = tmp_path / "ingest.log"
    with frozen(tmp_path / "warehouse"), log.open("w") as err:
        consumer = subprocess.Popen(warehouse_cmd(dsn, "ingest", "kafka", "--brokers", brokers, "--topic", topic,
                                                  "--linger", "0.2", "--status-every", "0.5"),
                                    cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True)
        wait_for(lambda: log.read_text().count("warehouse error") >= 2, 60, "failed, retried inserts")
        assert _committed(brokers, topic) == 0, "nothing may be committed while inserts fail"
    try:
        wait_for(lambda: _committed(brokers, topic) == 2_002, 60, "the commit after the outage", every=0.3)
        wait_for(lambda: "lag 0" in log.read_text(), 30, "a status line with lag 0")
    finally:
        consumer.send_signal(signal.SIGTERM)
        out, _ = consumer.communicate(timeout=60)
    assert consumer.returncode == 0, log.read_text()
    assert "2,002 messages" in out and "2 rejects" in out and " 0 retries" not in out
    ticks, _ = produced(spec_of(2_000), 0.0)
    assert_exact(dsn, ticks)


def test_sigterm_writes_and_commits_the_open_batch_and_exits_0(brokers, dsn, tmp_path):
    topic = "term"
    _produce(brokers, topic, 1_500, 0.0)
    log = tmp_path / "ingest.log"
    with log.open("w") as err:
        consumer = subprocess.Popen(warehouse_cmd(dsn, "ingest", "kafka", "--brokers", brokers, "--topic", topic,
                                                  "--linger", "600", "--status-every", "0"),
                                    cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True)
        wait_for(lambda: "assigned partitions" in log.read_text(), 60, "the group join")
        time.sleep(2)  # the batch fills; --linger 600 keeps it open
        assert _committed(brokers, topic) == 0
        consumer.send_signal(signal.SIGTERM)
        out, _ = consumer.communicate(timeout=60)
    assert consumer.returncode == 0, log.read_text()
    assert "1,500 messages in 1 batches" in out
    assert " 0 replayed" in out, "a group without commits has written nothing: the write-ahead mark comes first"
    assert _committed(brokers, topic) == 1_500
    assert query(dsn, "SELECT count() AS n FROM ticks")["n"][0] == 1_500


def test_bad_arguments_are_one_line_errors(brokers, capsys):
    """In-process, on the session warehouse: exit 2 and one line naming the field and value."""
    assert main(["ingest", "kafka", "--brokers", brokers, "--topic", "no-such-topic"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: topic: 'no-such-topic' does not exist on {brokers}; create it or start the producer first")
    assert main(["ingest", "kafka", "--linger", "-1"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: linger: -1.0 is not a number of seconds")
