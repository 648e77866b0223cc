"""End-to-end streaming ingest speed: ticks already in the broker -> queryable in the warehouse.

Usage: python benchmarks/stream_ingest.py [--ticks 2M] [--broker redis|kafka|both] [--batch 200000] [--repeat 3]
       python benchmarks/stream_ingest.py --kernels [--ticks 1M]

Starts a throwaway redis-server and/or tansu broker (tests/support/brokers.py), publishes the
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
Reports the median of the repeats. ``--kernels`` times the numba kernels alone on the demo
feed's messages (decode, parse an ``XREADGROUP`` reply, write ``XACK`` ids; median of 7), as
shipped and compiled with numba's defaults instead of ``warehouse.stream.numba_options``
(helpers as separate functions), and with numba's private ``_nrt=False`` which that
module replaced. Last measured (``--ticks 2M --repeat 3``, 2 cores, no other job,
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

from support.brokers import redis_server, tansu_broker, warehouse_cmd  # noqa: E402
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


def _kernel_variant(module: str, options: str):
    """``warehouse.stream.<module>`` compiled again (uncached) with ``options`` instead of numba_options'."""
    import types

    path = REPO / "warehouse" / "stream" / f"{module}.py"
    source = path.read_text().replace("from warehouse.stream.numba_options import INLINED, KERNEL\n", options)
    variant = types.ModuleType(f"{module}_variant")
    exec(compile(source, str(path), "exec"), variant.__dict__)
    return variant


def kernels(ticks: int) -> None:
    """Per-message time of the stream kernels under each set of numba options."""
    import numpy as np

    from warehouse.demo.generate import DemoSpec
    from warehouse.stream.messages import Messages
    from warehouse.stream.produce import feed

    payloads = [p for chunk in feed(DemoSpec(ticks=ticks, batch_rows=min(ticks, 100_000)), 0.0) for p in chunk.payloads]
    messages = Messages.of(payloads)
    reply = [b"*1\r\n*2\r\n$12\r\nticks:stream\r\n*%d\r\n" % len(payloads)]
    reply += [b"*2\r\n$15\r\n%d-0\r\n*2\r\n$4\r\ntick\r\n$%d\r\n%s\r\n" % (1700000000000 + i, len(p), p)
              for i, p in enumerate(payloads)]
    data, field = np.frombuffer(b"".join(reply), np.uint8), np.frombuffer(b"tick", np.uint8)
    plain = 'KERNEL = INLINED = {"nogil": True}\n'
    variants = {"as shipped (helpers inline=\"always\")": 'KERNEL = {"nogil": True}\nINLINED = {"nogil": True, "inline": "always"}\n',
                "numba defaults": plain,
                "private _nrt=False": 'KERNEL = {"nogil": True}\nINLINED = {"nogil": True, "_nrt": False}\n'}
    print(f"{len(payloads):,} messages; ns a message, median of 7 (after one warm-up call)\n")
    print("| numba options | decode_ticks_nb | resp_entries_nb | resp_bulk_args_nb |")
    print("| --- | ---: | ---: | ---: |")
    for name, options in variants.items():
        decode, resp = _kernel_variant("json_kernels", options), _kernel_variant("resp_kernels", options)

        def parse() -> None:
            out = np.empty((4, len(payloads)), np.int64)
            resp.resp_entries_nb(data, data.size, np.array([0, -1, 0], np.int64), *out, field)

        calls = (lambda: decode.decode_ticks_nb(messages.data, messages.starts, messages.ends), parse,
                 lambda: resp.resp_bulk_args_nb(messages.data, messages.starts, messages.ends))
        cells = []
        for call in calls:
            call()
            times = []
            for _ in range(7):
                started = time.perf_counter()
                call()
                times.append(time.perf_counter() - started)
            cells.append(f"{statistics.median(times) / len(payloads) * 1e9:.0f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", default="2M")
    parser.add_argument("--kernels", action="store_true", help="time the numba kernels alone (no broker)")
    parser.add_argument("--broker", choices=("redis", "kafka", "both"), default="both")
    parser.add_argument("--batch", type=int, default=RunOptions.batch)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ticks = parse_count(args.ticks)
    if args.kernels:
        kernels(ticks)
        return
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
