"""The load journal: which tick batches a writer has open, so a crash mid-batch is repaired.

A batch touches three tables in turn (``ticks``, then the views' ``ticks_dedup``
and ``bars_1m``) and may need a bar rebuild after them; a writer killed in
between (kill -9, power loss) leaves trades in ``ticks_dedup`` that no bar counts,
or bar states for trades ``ticks_dedup`` lacks. A re-run cannot tell: its rows are
redeliveries of stored trades. So before its first insert a batch is recorded in
``load_journal`` with its symbols and time span (``done = 0``), and only once its
bars are final (rebuilt where it corrected stored trades) is it marked ``done = 1``.

:func:`repair` (run by every :class:`~warehouse.ingest.writer.TickWriter` when it
opens, and by ``python -m warehouse repair``) rebuilds the bars of every batch
left open from ``ticks_dedup`` (:func:`warehouse.ingest.rollup.rebuild_range`)
and closes it, so bars equal the deduplicated ticks before anything new is written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from clickhouse_connect.driver.client import Client

from warehouse.ingest.rollup import rebuild_range

_OPEN_SQL = """
SELECT batch_id, symbols, lo, hi, source, opened_at FROM load_journal FINAL
WHERE done = 0 AND NOT startsWith(source, 'quotes://') ORDER BY opened_at
"""  # quote batches (source quotes://...) are repaired by warehouse.ingest.quote_rollup.repair_quotes


@dataclass(frozen=True)
class OpenBatch:
    """A batch recorded as begun: the symbols and [lo, hi] time span its rows have, who wrote it and when."""

    batch_id: uuid.UUID
    symbols: list[str]
    lo: datetime
    hi: datetime
    source: str = ""
    opened_at: datetime | None = None  # None: now (an entry being opened)


def open_batch(client: Client, symbols: list[str], lo: datetime, hi: datetime, *, source: str = "") -> OpenBatch:
    """Record that a batch of ``symbols`` in [lo, hi] is about to be written; return its entry.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> entry = open_batch(client, ["DOC"], datetime(2024, 1, 2), datetime(2024, 1, 2, 1))
    >>> entry.batch_id in [b.batch_id for b in open_batches(client)]
    True
    >>> close_batches(client, [entry]); entry.batch_id in [b.batch_id for b in open_batches(client)]
    False
    """
    entry = OpenBatch(uuid.uuid4(), list(symbols), lo, hi, source, datetime.now(timezone.utc))
    client.insert("load_journal", [[entry.batch_id, entry.opened_at, source, entry.symbols, lo, hi, 0]],
                  column_names=["batch_id", "opened_at", "source", "symbols", "lo", "hi", "done"])
    return entry


def close_batches(client: Client, entries: list[OpenBatch]) -> None:
    """Mark ``entries`` done: their bars are final (the row that stays keeps the batch's source and opening time)."""
    if entries:
        now = datetime.now(timezone.utc)
        client.insert("load_journal", [[e.batch_id, e.opened_at or now, e.source, e.symbols, e.lo, e.hi, 1]
                                       for e in entries],
                      column_names=["batch_id", "opened_at", "source", "symbols", "lo", "hi", "done"])


def open_batches(client: Client) -> list[OpenBatch]:
    """Batches begun and never marked done (a writer died, or is writing now)."""
    return [OpenBatch(batch_id, list(symbols), lo, hi, source, opened_at)
            for batch_id, symbols, lo, hi, source, opened_at in client.query(_OPEN_SQL).result_rows]


def repair(client: Client) -> list[OpenBatch]:
    """Rebuild the bars of every batch left open, then close it; return the batches repaired.

    One rebuild covers them all: their symbols over the span from the first ``lo`` to the last
    ``hi`` (a month's bars are swapped in whole anyway, :mod:`warehouse.ingest.rollup`).

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> _ = open_batch(client, ["DOC"], datetime(2024, 1, 2), datetime(2024, 1, 2, 1))
    >>> len(repair(client)) >= 1, repair(client)
    (True, [])
    """
    entries = open_batches(client)
    if entries:
        symbols = sorted({symbol for entry in entries for symbol in entry.symbols})
        rebuild_range(client, symbols, min(e.lo for e in entries), max(e.hi for e in entries) + timedelta(microseconds=1))
        close_batches(client, entries)
    return entries
