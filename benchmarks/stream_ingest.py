"""End-to-end streaming ingest speed: ticks already in the broker -> queryable in the warehouse.

Usage: python benchmarks/stream_ingest.py [--ticks 2M] [--broker redis|kafka|both] [--batch 200000] [--repeat 3]

Starts a throwaway redis-server and/or tansu broker (tests/brokers.py), publishes the
demo feed once (`python -m warehouse produce`, 5% redeliveries, 1% corrections, no
malformed messages), then times, in the same run and ``--repeat`` times (each repeat
reads the whole stream again under new consumer-group names):
  * ours - `python -m warehouse ingest ... --until-idle` as a whole process (startup,
           group join, decode, validate, exact-bars writes, correction rebuilds,
           acknowledgements) into a fresh embedded warehouse, created with
           `warehouse init` just before the clock starts (as a consumer finds it);
  * peer - the broker's bare consume rate: the same client library reading every
           message in the plainest fast loop and doing nothing else (Redis:
           XREADGROUP COUNT=batch with raw hiredis replies + XACK; Kafka:
           confluent-kafka consume(batch) touching each value, one commit at the end, with
           our consumer's fetch.wait.max.ms).
Reports the median of the repeats. Last measured (``--ticks 2M --repeat 3``, 2 cores, no other job,
load ~0.8-1.3, each broker in its own run): redis ours 7.20 s = 277,898 ticks/s vs peer 10.63 s =
188,134/s (1.48); kafka (tansu) ours 14.70 s = 136,027/s vs peer 13.93 s = 143,621/s (0.95). The
round before: redis 139,507/s vs 206,378/s, kafka 0.82 of the peer. Where the time goes: README, "Streaming".
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from brokers import redis_server, tansu_broker, warehouse_cmd  # noqa: E402
from warehouse.stream.kafka_consumer import FETCH_WAIT_MAX_MS  # noqa: E402
from warehouse.demo.generate import parse_count  # noqa: E402
from warehouse.stream.sink import RunOptions  # noqa: E402


def _cli(*args: str, timed: bool = False) -> tuple[float, str]:
    """Run ``python -m warehouse *args`` on a fresh embedded warehouse; (seconds it took, stdout).

    ``timed``: the warehouse is created first (``init``, not timed), as a consumer finds it.
    """
    directory = tempfile.mkdtemp(prefix="stream-bench-")
    try:
        if timed:
            _run(warehouse_cmd(f"chdb://{directory}", "init"))
        started = time.perf_counter()
        out = _run(warehouse_cmd(f"chdb://{directory}", *args))
        return time.perf_counter() - started, out
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _run(command: list[str]) -> str:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return done.stdout.strip()


def _timed(*args: str) -> tuple[float, str]:
    return _cli(*args, timed=True)


def _bare_redis(url: str, stream: str, group: str, batch: int) -> float:
    import redis
    client = redis.Redis.from_url(url)
    client.xgroup_create(stream, group, id="0")
    client.response_callbacks.pop("XREADGROUP")  # raw hiredis replies: no dict per entry
    started = time.perf_counter()
    while True:
        reply = client.execute_command("XREADGROUP", "GROUP", group, "b", "COUNT", batch, "STREAMS", stream, ">")
        entries = (next(iter(reply.values())) if isinstance(reply, dict) else reply[0][1]) if reply else []
        if not entries:
            break
        client.execute_command("XACK", stream, group, *[entry_id for entry_id, _ in entries])
    return time.perf_counter() - started


def _bare_kafka(brokers: str, topic: str, group: str, messages: int, batch: int) -> float:
    from confluent_kafka import Consumer
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": group, "auto.offset.reset": "earliest",
                         "session.timeout.ms": 6000, "enable.auto.commit": False,
                         "fetch.wait.max.ms": FETCH_WAIT_MAX_MS})  # ours: its first fetch would start ~0.9 s later
    consumer.subscribe([topic])
    started, seen = time.perf_counter(), 0
    while seen < messages:
        seen += sum(1 for m in consumer.consume(batch, 1.0) if m.error() is None and m.value() is not None)
    consumer.commit(asynchronous=False)
    consumer.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", default="2M")
    parser.add_argument("--broker", choices=("redis", "kafka", "both"), default="both")
    parser.add_argument("--batch", type=int, default=RunOptions.batch)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ticks = parse_count(args.ticks)
    feed = ("--ticks", str(ticks), "--bad", "0")
    ingest = ("--until-idle", "--batch", str(args.batch), "--status-every", "0")
    rows = []
    if args.broker in ("redis", "both"):
        with redis_server() as url:
            _cli("produce", "redis", "--url", url, *feed)
            runs = [(_bare_redis(url, "ticks:stream", f"bare-{i}", args.batch),
                     *_timed("ingest", "redis", "--url", url, "--group", f"ours-{i}", *ingest))
                    for i in range(args.repeat)]
            rows.append(("redis", runs))
    if args.broker in ("kafka", "both"):
        with tansu_broker() as brokers:
            _cli("produce", "kafka", "--brokers", brokers, *feed)
            runs = [(_bare_kafka(brokers, "ticks", f"bare-{i}", ticks, args.batch),
                     *_timed("ingest", "kafka", "--brokers", brokers, "--group", f"ours-{i}", *ingest))
                    for i in range(args.repeat)]
            rows.append(("kafka (tansu)", runs))
    print(f"{ticks:,} ticks in the broker -> queryable in the embedded warehouse (batches of {args.batch:,}; "
          f"median of {args.repeat})\n")
    print("| broker | peer: bare consume s | peer ticks/s | ours: ingest --until-idle s | ours ticks/s "
          "| ours / peer rate |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, runs in rows:
        bare = statistics.median(r[0] for r in runs)
        ours = statistics.median(r[1] for r in runs)
        print(f"| {name} | {bare:.2f} | {ticks / bare:,.0f} | {ours:.2f} | {ticks / ours:,.0f} | {bare / ours:.2f} |")
    for name, runs in rows:
        print(f"\n{name}, each repeat (peer s, ours s):", ", ".join(f"({b:.2f}, {o:.2f})" for b, o, _ in runs))
        print(f"{name}: {runs[-1][2]}")


if __name__ == "__main__":
    main()
