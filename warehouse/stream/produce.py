"""A market-feed simulator: the demo generator's ticks as JSON messages on Kafka or Redis Streams.

``python -m warehouse produce kafka|redis --ticks 1M --rate N --duplicates 0.05 --bad 0.001``.
The ticks are exactly :func:`warehouse.demo.generate.generate`'s (same model, seed, redeliveries
and corrections), one JSON object per message::

    {"symbol":"AAPL","ts":1704205800123456,"price":185.12,"size":100.0,"side":"buy","trade_id":17,"version":0}

``ts`` is epoch microseconds (UTC): exact, and the consumers decode it without text
parsing. They accept the other forms too (ISO-8601 text, epoch s/ms/ns, aliases).

``bad`` adds that share (of ``ticks``) of malformed messages at seeded places, drawn
from :data:`MALFORMED` kinds (broken JSON, non-objects, missing or wrong fields, bad
values, non-UTF-8); every one of them must end up in ``rejects``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from warehouse.demo.generate import DemoSpec, generate
from warehouse.errors import WarehouseError

MALFORMED: tuple[str, ...] = ("truncated", "not-json", "array", "no-price", "price-text", "negative-price",
                              "bad-side", "bad-ts", "nan-size", "not-utf8")


@dataclass(frozen=True)
class Messages:
    """One chunk of the feed: payloads, their keys (symbol; ``b""`` for malformed), malformed count."""

    payloads: list[bytes]
    keys: list[bytes]
    malformed: int


def encode_ticks(batch: pa.RecordBatch | pa.Table) -> list[bytes]:
    """Ticks (``validate.TICKS_SCHEMA``) as JSON messages.

    >>> from warehouse.demo.generate import DemoSpec, generate
    >>> encode_ticks(next(generate(DemoSpec(ticks=1, seed=1))))[0]
    b'{"symbol":"TSLA","ts":1704205800278056,"price":344.27,"size":6.0,"side":"buy","trade_id":1,"version":0}'
    """
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    side = pl.col("side").replace_strict({1: "buy", -1: "sell"}, default="unknown", return_dtype=pl.String)
    encoded = frame.select(pl.struct(
        "symbol", pl.col("ts").dt.epoch("us"), "price", "size", side, "trade_id",
        "version").struct.json_encode())
    return encoded.to_series().cast(pl.Binary).to_list()


def malformed(kind: str, good: bytes, n: int) -> bytes:
    """A malformed message of ``kind`` derived from the good message ``good`` (``n`` makes it unique).

    >>> malformed("no-price", b'{"symbol":"A","price":1.5,"size":2.0}', 0)
    b'{"symbol":"A","size":2.0}'
    >>> malformed("not-json", b'{}', 7)
    b'garbage #7'
    """
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "not-json":
        return b"garbage #%d" % n
    if kind == "array":
        return b"[" + good + b"]"
    if kind == "no-price":
        return _replace_field(good, b"price", None)
    if kind == "price-text":
        return _replace_field(good, b"price", b'"n/a"')
    if kind == "negative-price":
        return _replace_field(good, b"price", b"-%d.5" % (n + 1))
    if kind == "bad-side":
        return _replace_field(good, b"side", b'"sideways"')
    if kind == "bad-ts":
        return _replace_field(good, b"ts", b'"not a time %d"' % n)
    if kind == "nan-size":
        return _replace_field(good, b"size", b'"NaN"')
    if kind == "not-utf8":
        return good.replace(b'"symbol":"', b'"symbol":"\xff\xfe', 1)
    raise WarehouseError(f"kind: {kind!r} is not one of {', '.join(MALFORMED)}")


def _replace_field(message: bytes, name: bytes, value: bytes | None) -> bytes:
    """Set (or, with ``value=None``, drop) one field of a flat JSON object without commas in values."""
    start = message.index(b'"' + name + b'":')
    comma = message.find(b",", start)
    end = len(message) - 1 if comma < 0 else comma
    if value is not None:
        return message[:start] + b'"' + name + b'":' + value + message[end:]
    return message[:start] + message[comma + 1:] if comma >= 0 else message[:start].rstrip(b",") + b"}"


def feed(spec: DemoSpec, bad_rate: float = 0.0) -> Iterator[Messages]:
    """The feed of ``spec`` in chunks of ``spec.batch_rows`` ticks, with ``bad_rate * ticks`` malformed messages.

    Seeded by ``spec.seed``: the same arguments give the same messages.

    >>> chunks = list(feed(DemoSpec(ticks=2000, batch_rows=1000), bad_rate=0.01))
    >>> [len(c.payloads) for c in chunks], sum(c.malformed for c in chunks)
    ([1010, 1010], 20)
    """
    if isinstance(bad_rate, bool) or not isinstance(bad_rate, (int, float)) or not 0 <= bad_rate <= 0.5:
        raise WarehouseError(f"bad: {bad_rate!r} is not in [0, 0.5]")
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(2,)))
    total_bad = math.floor(spec.ticks * bad_rate + 1e-9)
    done = made = 0
    for batch in generate(spec):
        good = encode_ticks(batch)
        keys = batch.column("symbol").cast(pa.binary()).to_pylist()
        done += len(good)
        count = done * total_bad // spec.ticks - made
        where = np.sort(rng.integers(0, len(good) + 1, count))
        kinds = rng.integers(0, len(MALFORMED), count)
        sources = rng.integers(0, len(good), count)
        payloads, out_keys, last = [], [], 0
        for i, (at, kind, source) in enumerate(zip(where, kinds, sources)):
            payloads += good[last:at]
            out_keys += keys[last:at]
            payloads.append(malformed(MALFORMED[kind], good[source], made + i))
            out_keys.append(b"")
            last = at
        payloads += good[last:]
        out_keys += keys[last:]
        made += count
        yield Messages(payloads, out_keys, count)


def check_rate(rate: object) -> None:
    """Raise unless ``rate`` is a finite number of messages per second >= 0.

    >>> check_rate(-5.0)
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: rate: -5.0 is not a number of messages per second >= 0
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (math.isfinite(rate) and rate >= 0):
        raise WarehouseError(f"rate: {rate!r} is not a number of messages per second >= 0")


@dataclass
class ProduceReport:
    """What a producer sent."""

    messages: int = 0
    malformed: int = 0
    seconds: float = 0.0

    def summary(self, target: str) -> str:
        """One line for the CLI."""
        rate = self.messages / self.seconds if self.seconds else 0.0
        return (f"{target}: published {self.messages:,} messages ({self.messages - self.malformed:,} ticks, "
                f"{self.malformed:,} malformed) in {self.seconds:.2f} s ({rate:,.0f}/s)")


def publish(chunks: Iterator[Messages], send: Callable[[list[bytes], list[bytes]], None], rate: float,
            flush: Callable[[], None] = lambda: None) -> ProduceReport:
    """Send ``chunks`` through ``send(payloads, keys)``, paced to ``rate`` messages/s (0: unpaced).

    >>> sent = []
    >>> report = publish(feed(DemoSpec(ticks=500)), lambda p, k: sent.extend(p), rate=0)
    >>> report.messages, len(sent)
    (500, 500)
    """
    check_rate(rate)
    report = ProduceReport()
    started = time.perf_counter()
    step = max(1, int(rate / 20)) if rate else None  # paced: about 20 sends per second
    for chunk in chunks:
        report.malformed += chunk.malformed
        for start in range(0, len(chunk.payloads), step or len(chunk.payloads)):
            end = start + (step or len(chunk.payloads))
            send(chunk.payloads[start:end], chunk.keys[start:end])
            report.messages += len(chunk.payloads[start:end])
            if rate:
                ahead = started + report.messages / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
    flush()
    report.seconds = time.perf_counter() - started
    return report


def kafka_sender(brokers: str, topic: str, partitions: int) -> tuple[Callable[[list[bytes], list[bytes]], None],
                                                                      Callable[[], None]]:
    """(send, flush) for a Kafka topic, created with ``partitions`` if missing; keys pick partitions."""
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    config = {"bootstrap.servers": brokers}
    admin = AdminClient(config)  # kept alive until the topic exists: its futures die with it
    try:
        topics = admin.list_topics(timeout=10).topics
    except KafkaException as exc:
        raise WarehouseError(f"brokers: cannot reach Kafka at {brokers!r} ({exc.args[0].str()})") from None
    if topic not in topics:
        created = admin.create_topics([NewTopic(topic, partitions, 1)])[topic]
        try:
            created.result(timeout=30)
        except KafkaException as exc:
            raise WarehouseError(f"topic: cannot create {topic!r} on {brokers} ({exc.args[0].str()})") from None
    producer = Producer({**config, "linger.ms": 20, "batch.num.messages": 10_000,
                         "queue.buffering.max.messages": 500_000})
    failures: list[str] = []

    def delivered(error: object, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    def send(payloads: list[bytes], keys: list[bytes]) -> None:
        for payload, key in zip(payloads, keys):
            while True:
                try:
                    producer.produce(topic, payload, key or None, on_delivery=delivered)
                    break
                except BufferError:  # local queue full: let librdkafka send
                    producer.poll(0.05)
        producer.poll(0)

    def flush() -> None:
        if producer.flush(60) or failures:
            raise WarehouseError(f"brokers: {len(failures):,} messages not delivered to {topic!r} "
                                 f"({failures[0] if failures else 'flush timed out'})")

    return send, flush


def redis_sender(url: str, stream: str, maxlen: int | None = None) -> Callable[[list[bytes], list[bytes]], None]:
    """send() for a Redis stream: one ``XADD stream * tick <json>`` per message, pipelined."""
    import redis

    try:
        client = redis.Redis.from_url(url)
        client.ping()
    except (ValueError, redis.RedisError) as exc:
        raise WarehouseError(f"url: cannot reach Redis at {url!r} ({exc})") from None

    def send(payloads: list[bytes], _keys: list[bytes]) -> None:
        for start in range(0, len(payloads), 5_000):
            with client.pipeline(transaction=False) as pipe:
                for payload in payloads[start:start + 5_000]:
                    pipe.xadd(stream, {"tick": payload}, maxlen=maxlen, approximate=True)
                pipe.execute()

    return send
