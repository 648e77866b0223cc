"""Bars are exact for every reader at every moment after a write returns, not only for our client.

The reader here is a bare ``clickhouse_connect.get_client(dsn=...)`` on the same warehouse (none of
our settings), as Grafana or ``clickhouse client`` would read it; the machine is kept busy by
CPU burners meanwhile (asynchronous work falls behind under load). With ``CLICKHOUSE_URL`` set the
same checks run against that server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import clickhouse_connect
import polars as pl
import pyarrow as pa
import pytest

from warehouse.client import connect, resolve_dsn
from warehouse.demo.generate import DemoSpec
from warehouse.ingest.rollup import rebuild_minutes, rebuild_range
from warehouse.ingest.writer import TickWriter
from warehouse.schema.migrate import migrate

from support.data import demo_ticks
from support.exact_bars import assert_bars_equal, reference_bars, served_bars

BATCH = 6_000
_TOTALS_SQL = "SELECT symbol, sum(trades), sum(volume) FROM bars_1m GROUP BY symbol ORDER BY symbol"


@pytest.fixture(scope="module")
def ticks() -> pa.Table:
    return demo_ticks(DemoSpec(ticks=60_000, duplicate_rate=0.05, correction_rate=0.02, seed=5, batch_rows=30_000))


@pytest.fixture()
def busy_machine() -> Iterator[None]:
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


@pytest.fixture(params=["embedded", "server"])
def writer_and_reader(request, busy_machine):
    """(our client on a new database, a plain clickhouse-connect client on the same database)."""
    database = f"t_{uuid.uuid4().hex[:12]}"
    if request.param == "server":
        url = os.environ.get("CLICKHOUSE_URL")
        if not url:
            pytest.skip("needs a ClickHouse server: set CLICKHOUSE_URL")
        client = connect(url, database=database)
        plain = clickhouse_connect.get_client(dsn=url, database=database)
    else:
        client = connect(database=database)
        plain = clickhouse_connect.get_client(dsn=resolve_dsn(), database=database)
    migrate(client)
    return client, plain


@pytest.mark.parametrize("deferred", [False, True], ids=["rebuild-per-batch", "deferred-rebuilds"])
def test_a_plain_client_reads_exact_bars_right_after_every_batch(writer_and_reader, ticks, deferred):
    client, plain = writer_and_reader
    writer = TickWriter(client, defer_rebuilds=deferred)
    for start in range(0, ticks.num_rows, BATCH):
        writer.write(ticks.slice(start, BATCH))
        writer.rebuild_deferred()
        written = pl.from_arrow(ticks.slice(0, start + BATCH))
        assert_bars_equal(served_bars(plain), reference_bars(written))
    assert writer.stats.rebuilt_bars > 0, "some corrections must change stored trades"


def test_a_plain_client_never_sees_a_rebuild_half_done(writer_and_reader, ticks):
    client, plain = writer_and_reader
    TickWriter(client).write(ticks)
    expected = plain.query(_TOTALS_SQL).result_rows
    bars = served_bars(plain)
    reads, wrong, done = [0], [], threading.Event()

    def read_continuously() -> None:
        while not done.is_set():
            totals = plain.query(_TOTALS_SQL).result_rows
            reads[0] += 1
            if totals != expected:
                wrong.append(totals)

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for _ in range(3):
            rebuild_range(client)
            rebuild_minutes(client, bars["symbol"].to_list()[::7], bars["minute"].to_list()[::7])
    finally:
        done.set()
        reader.join()
    assert reads[0] > 5 and not wrong, f"{len(wrong)} of {reads[0]} reads saw other totals, e.g. {wrong[:1]}"
    assert_bars_equal(served_bars(plain), reference_bars(pl.from_arrow(ticks)))
