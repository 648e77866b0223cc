"""End-to-end streaming ingest speed: ticks already in the broker -> queryable in the warehouse.

Usage: python benchmarks/stream_ingest.py [--ticks 2M] [--broker redis|kafka|both] [--batch 50000]

Starts a throwaway redis-server and/or tansu broker (tests/brokers.py), publishes the
demo feed (`python -m warehouse produce`, 5% redeliveries, 1% corrections, no malformed
messages), then times, in the same run:
  * ours - `python -m warehouse ingest ... --until-idle` as a whole process (startup,
           group join, decode, validate, exact-bars writes, commits) into a fresh
           embedded warehouse;
  * peer - the broker's bare consume rate: the same client library reading every
           message (XREADGROUP + XACK / confluent-kafka consume) and doing nothing else.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from brokers import redis_server, tansu_broker, warehouse_cmd  # noqa: E402
from warehouse.demo import parse_count  # noqa: E402


def _cli(*args: str) -> str:
    done = subprocess.run(warehouse_cmd(f"chdb://{tempfile.mkdtemp(prefix='stream-bench-')}", *args), cwd=REPO,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return done.stdout.strip()


def _timed(*args: str) -> tuple[float, str]:
    started = time.perf_counter()
    out = _cli(*args)
    return time.perf_counter() - started, out


def _bare_redis(url: str, stream: str, batch: int) -> float:
    import redis
    client = redis.Redis.from_url(url)
    client.xgroup_create(stream, "bare", id="0")
    started = time.perf_counter()
    while True:
        reply = client.xreadgroup("bare", "b", {stream: ">"}, count=batch)
        if not reply:
            break
        client.xack(stream, "bare", *[entry_id for entry_id, _ in reply[0][1]])
    return time.perf_counter() - started


def _bare_kafka(brokers: str, topic: str, messages: int, batch: int) -> float:
    from confluent_kafka import Consumer
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": "bare", "auto.offset.reset": "earliest",
                         "session.timeout.ms": 6000, "enable.auto.commit": False})
    consumer.subscribe([topic])
    started, seen = time.perf_counter(), 0
    while seen < messages:
        seen += sum(1 for m in consumer.consume(batch, 1.0) if m.error() is None)
    consumer.commit(asynchronous=False)
    consumer.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", default="2M")
    parser.add_argument("--broker", choices=("redis", "kafka", "both"), default="both")
    parser.add_argument("--batch", type=int, default=50_000)
    args = parser.parse_args()
    ticks = parse_count(args.ticks)
    feed = ("--ticks", str(ticks), "--bad", "0")
    rows = []
    if args.broker in ("redis", "both"):
        with redis_server() as url:
            _cli("produce", "redis", "--url", url, *feed)
            bare = _bare_redis(url, "ticks:stream", args.batch)
            ours, summary = _timed("ingest", "redis", "--url", url, "--until-idle", "--batch", str(args.batch),
                                   "--status-every", "0")
            rows.append(("redis", bare, ours, summary))
    if args.broker in ("kafka", "both"):
        with tansu_broker() as brokers:
            _cli("produce", "kafka", "--brokers", brokers, *feed)
            bare = _bare_kafka(brokers, "ticks", ticks, args.batch)
            ours, summary = _timed("ingest", "kafka", "--brokers", brokers, "--until-idle", "--batch",
                                   str(args.batch), "--status-every", "0")
            rows.append(("kafka (tansu)", bare, ours, summary))
    print(f"{ticks:,} ticks in the broker -> queryable in the embedded warehouse (batches of {args.batch:,})\n")
    print("| broker | peer: bare consume s | peer ticks/s | ours: ingest --until-idle s | ours ticks/s | x peer time |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, bare, ours, _ in rows:
        print(f"| {name} | {bare:.2f} | {ticks / bare:,.0f} | {ours:.2f} | {ticks / ours:,.0f} | {ours / bare:.2f} |")
    for name, *_, summary in rows:
        print(f"\n{name}: {summary}")


if __name__ == "__main__":
    main()
