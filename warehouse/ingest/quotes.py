"""Quotes in bulk: files (Parquet, CSV, ``.csv.gz``), Arrow tables, polars frames or batch streams into ``quotes``.

Input is read in batches of ``batch_rows`` rows and checked (:mod:`warehouse.ingest.quote_check`; the
columns are listed there); refused rows go to ``rejects`` (``target = 'quotes'``) with their code, field
and value, and are counted per code in the summary. Good rows go through :class:`QuoteWriter`, which
for each batch

1. puts the rows in the key order ``(symbol, ts, seq)`` (O(n) for a time-ordered feed);
2. computes the ``quotes_1m`` rows of the minutes the batch touches from the batch and the few stored
   quotes around it (:mod:`warehouse.ingest.quote_rollup`), so a redelivered batch changes nothing;
3. records the batch in ``load_journal`` (source ``quotes://...``), inserts it into ``quotes`` (in place
   on the embedded warehouse, without pre-merging the block: ``benchmarks/quotes_layout.py``), then the
   minutes into ``quotes_1m``, and marks it done; a writer killed in between leaves it open, and the next
   writer (or ``python -m warehouse repair``) recomputes its minutes from ``quotes``
   (:func:`~warehouse.ingest.quote_rollup.repair_quotes`).

A crossed top of book (bid >= ask) is kept and counted, here and in ``python -m warehouse status``.
As with ticks, reading, checking and ordering the next batch (:func:`prepare`) overlaps the insert of
this one; Parquet is decoded on that one thread (pyarrow's own threads fought the two inserts for the
cores: docs/performance.md, "Quotes (issue G)").
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client
from tqdm import tqdm

from warehouse.client import is_embedded, sibling
from warehouse.ingest.files import TickSource, _batches, _one_ahead, write_rejects
from warehouse.ingest.kernels import grouped_order_nb
from warehouse.ingest.quote_kernels import values_nb
from warehouse.ingest.quote_check import QUOTES_SCHEMA, clean_quotes, map_quote_columns
from warehouse.ingest.journal import close_batches, open_batch
from warehouse.ingest.quote_rollup import QUOTE_SOURCE, minute_rows, repair_quotes, write_minutes
from warehouse.ingest.session_check import SessionRule, session_rule
from warehouse.ingest.validate import REJECTS_SCHEMA
from warehouse.schema.quotes_ddl import level_columns

# Not pre-merged on insert (a ReplacingMergeTree block is otherwise merged on the way in: half the rate);
# one reading thread keeps the rows in their order, so the last of a repeated identity is the one kept.
INSERT_SETTINGS = {"optimize_on_insert": 0}
_EMBEDDED_INSERT = (f"INSERT INTO quotes ({', '.join(QUOTES_SCHEMA.names)}) "
                    f"SELECT {', '.join(QUOTES_SCHEMA.names)} FROM Python(_tickhouse_quotes)")
_EMBEDDED_SETTINGS = {**INSERT_SETTINGS, "max_threads": 1}
# A batch of at least twice this many rows goes in as two halves at once. Halves of 250k rows (a file's
# 500k-row batches cut in two) made twice the parts and set off merges: +3 CPU s per 4M quotes
# (docs/performance.md, "Quotes (issue G)"), so a file's batches go in whole, beside the next one's checks.
HALF_MIN_ROWS = 500_000
_DEPTH = {side: level_columns(sides=(side,), fields=("qty",)) for side in ("bid", "ask")}
INSERT_SCHEMA = pa.schema([pa.field(f.name, pa.dictionary(pa.int32(), pa.string()) if f.name in ("symbol", "session")
                                    else f.type, nullable=False) for f in QUOTES_SCHEMA])
"""What the writer hands ClickHouse: symbol and session dictionary-encoded (LowCardinality as they are), no
nullable columns (no null maps to build and drop): 4.68 -> 3.98 CPU s to insert 4M quotes in 1M-row inserts
(docs/performance.md, "Quotes (issue G)")."""


@dataclass
class QuoteStats:
    """Counts of what a quote writer did, summed over its batches."""

    rows: int = 0  # rows inserted into quotes
    repeats: int = 0  # rows whose (symbol, ts, seq) was stored already or repeated in their batch
    crossed: int = 0  # rows with a crossed top of book (bid >= ask), kept
    minutes: int = 0  # quotes_1m rows written (touched minutes, each whole)
    batches: int = 0

    def add(self, other: QuoteStats) -> None:
        """Accumulate ``other`` into this one."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class QuoteWriter:
    """Inserts clean quote batches (:data:`~warehouse.ingest.quote_check.QUOTES_SCHEMA`) and keeps ``quotes_1m`` exact.

    >>> from datetime import datetime, timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> row = {name: [0.0] for name in QUOTES_SCHEMA.names}
    >>> row.update(symbol=["DOCQ"], ts=[datetime(2024, 1, 2, 14, 30, tzinfo=timezone.utc)], bid_px_1=[9.9],
    ...            ask_px_1=[10.0], seq=[1], session=["regular"])
    >>> row["exchange_ts"] = row["ts"]
    >>> batch = pa.table(row).cast(QUOTES_SCHEMA)
    >>> writer = QuoteWriter(client)
    >>> _ = writer.write(batch)
    >>> writer.write(batch).repeats, writer.stats.rows  # the second is a redelivery: one quote, one minute
    (1, 2)
    """

    client: Client
    stats: QuoteStats = field(default_factory=QuoteStats)
    source: str = ""  # recorded in load_journal with each batch (as quotes://source)

    def __post_init__(self) -> None:
        repair_quotes(self.client)  # minutes a killed writer left behind its quotes

    def write(self, quotes: pa.Table) -> QuoteStats:
        """Insert one batch; return (and accumulate) what it did."""
        return self.write_prepared(prepare(quotes))

    def write_prepared(self, prepared: PreparedQuotes) -> QuoteStats:
        """Insert one batch put in key order by :func:`prepare`; return (and accumulate) what it did."""
        batch = QuoteStats(batches=1)
        if prepared.table.num_rows == 0:
            return batch
        p = prepared
        minutes, batch.repeats = minute_rows(self.client, p.symbols, p.code, p.ts, p.seq, p.values)
        entry = open_batch(self.client, p.symbols, _utc(int(p.ts.min())), _utc(int(p.ts.max())),
                           source=QUOTE_SOURCE + self.source)
        _insert(self.client, p.table, p.half)
        write_minutes(self.client, minutes)
        close_batches(self.client, [entry])
        batch.rows, batch.minutes = p.table.num_rows, minutes.num_rows
        batch.crossed = int(((p.values[:, 0] > 0) & (p.values[:, 1] > 0) & (p.values[:, 0] >= p.values[:, 1])).sum())
        self.stats.add(batch)
        return batch


@dataclass(frozen=True)
class PreparedQuotes:
    """A clean batch with its rollup inputs in key order (``(symbol, ts, seq)``): what the writer inserts."""

    table: pa.Table  # INSERT_SCHEMA, one chunk, rows as they came (ClickHouse sorts them on insert)
    symbols: list[str]  # sorted; ``code`` indexes them
    code: np.ndarray  # int32, in key order, as ts, seq and values
    ts: np.ndarray  # int64 µs
    seq: np.ndarray  # uint64
    values: np.ndarray  # (n, 7): quote_kernels.VALUES
    half: int  # where the insert may be cut in two (0: whole)


def prepare(quotes: pa.Table) -> PreparedQuotes:
    """Put a clean batch's rollup inputs in key order: the writer's warehouse-free work, which a loader does
    for the next batch while this one is inserted.

    >>> prepare(QUOTES_SCHEMA.empty_table()).half
    0
    """
    table = quotes.cast(QUOTES_SCHEMA)
    table = table if all(column.num_chunks == 1 for column in table.columns) else table.combine_chunks()
    if table.num_rows == 0:
        empty = np.empty(0, np.int64)
        return PreparedQuotes(INSERT_SCHEMA.empty_table(), [], empty.astype(np.int32), empty, empty.astype(np.uint64),
                              np.empty((0, 7)), 0)
    symbols, encoded, code, order = _key_order(table)
    ts = table.column("ts").chunk(0).cast(pa.int64()).to_numpy()[order]
    seq = table.column("seq").chunk(0).to_numpy()[order]
    code = code[order]
    return PreparedQuotes(_insert_table(table, encoded), symbols, code, ts, seq, _rollup_values(table, order),
                          _halves_at(code, ts, seq, order))


def _insert_table(table: pa.Table, symbol: pa.DictionaryArray) -> pa.Table:
    """``table`` (one chunk) as :data:`INSERT_SCHEMA`, with ``symbol`` its symbols dictionary-encoded; a null becomes
    the value ClickHouse stores for it in a non-Nullable column (0, ``''``).

    >>> t = pa.table({name: pa.array([None], f.type) for name, f in zip(QUOTES_SCHEMA.names, QUOTES_SCHEMA)})
    >>> row = _insert_table(t, pa.array([""]).dictionary_encode()).to_pylist()[0]
    >>> row["session"], row["bid_px_1"], row["ts"].year
    ('', 0.0, 1970)
    """
    columns = []
    for f in QUOTES_SCHEMA:
        column = symbol if f.name == "symbol" else table.column(f.name).chunk(0)
        if column.null_count:
            column = column.fill_null("" if pa.types.is_string(f.type) else pa.scalar(0, f.type))
        columns.append(pc.dictionary_encode(column) if f.name == "session" else column)
    return pa.Table.from_arrays(columns, schema=INSERT_SCHEMA)


def _utc(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)


def _key_order(table: pa.Table) -> tuple[list[str], pa.DictionaryArray, np.ndarray, np.ndarray]:
    """(sorted distinct symbols, the symbols dictionary-encoded, each row's code among the sorted ones, the stable
    order by (symbol, ts, seq))."""
    encoded = pc.dictionary_encode(table.column("symbol")).chunk(0)
    names = encoded.dictionary.to_pylist()
    rank = np.argsort(np.argsort(np.array(names, dtype=object))).astype(np.int32)
    code = rank[encoded.indices.to_numpy()]
    ts = table.column("ts").chunk(0).cast(pa.int64()).to_numpy()
    seq = table.column("seq").chunk(0).to_numpy()
    order = grouped_order_nb(code, ts, seq, len(names))
    if order.size == 0:
        order = np.lexsort((seq, ts, code))  # stable
    return sorted(names), encoded, code, order


def _halves_at(code: np.ndarray, ts: np.ndarray, seq: np.ndarray, order: np.ndarray) -> int:
    """The row where a batch may be cut into two inserts: its middle, unless a repeated identity has rows on
    both sides (which of them ``quotes`` keeps would then depend on which insert ends last); 0: insert whole.

    Arguments are in key order (``order``: each one's row in the batch).

    >>> one = np.zeros(4, np.int64)
    >>> _halves_at(one, np.array([1, 2, 3, 4]), one.astype(np.uint64), np.arange(4)) == 0  # small batch
    True
    """
    middle = order.size // 2
    if middle < HALF_MIN_ROWS:
        return 0
    repeat = np.flatnonzero((code[1:] == code[:-1]) & (ts[1:] == ts[:-1]) & (seq[1:] == seq[:-1]))
    crossing = (order[repeat] < middle) != (order[repeat + 1] < middle)
    return 0 if crossing.any() else middle


def _rollup_values(table: pa.Table, order: np.ndarray) -> np.ndarray:
    """The kernel's value columns (``quote_kernels.VALUES``) of ``table``'s rows in ``order``."""
    names = ["bid_px_1", "ask_px_1", *_DEPTH["bid"], *_DEPTH["ask"], "oi"]
    return values_nb(order, tuple(table.column(name).chunk(0).to_numpy() for name in names))


def _insert(client: Client, rows: pa.Table, half: int = 0) -> None:
    """Insert ``rows`` into ``quotes``, read in place by chDB on the embedded warehouse; with ``half``, as two
    zero-copy slices on two connections at once (an embedded insert runs on one core; benchmarks/quotes_load.py)."""
    if not is_embedded(client):
        client.insert_arrow("quotes", rows, settings=INSERT_SETTINGS)
        return
    other_connection = sibling(client) if half else None
    if other_connection is None:
        _insert_embedded(client, rows)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tickhouse-quotes") as other:
        second = other.submit(_insert_embedded, other_connection, rows.slice(half))
        _insert_embedded(client, rows.slice(0, half))
        second.result()


def _insert_embedded(client: Client, rows: pa.Table) -> None:
    _tickhouse_quotes = rows  # noqa: F841 -- read by name by the Python() table function
    client.command(_EMBEDDED_INSERT, settings=_EMBEDDED_SETTINGS)


@dataclass
class QuoteLoadReport:
    """What one quote load did: rows read, loaded, rejected (per code), and the writer's counts."""

    source: str
    read: int = 0
    rejected: int = 0
    seconds: float = 0.0
    written: QuoteStats = field(default_factory=QuoteStats)
    epoch_unit: str | None = None
    rejected_by_code: Counter[str] = field(default_factory=Counter)

    @property
    def loaded(self) -> int:
        """Rows that passed the checks and were inserted into ``quotes``."""
        return self.written.rows

    def summary(self) -> str:
        """One line for the CLI.

        >>> QuoteLoadReport("q.csv", read=3, rejected=1, seconds=1.0, rejected_by_code=Counter(bad_depth=1)).summary()
        'q.csv: loaded 0 quotes, rejected 1 (bad_depth 1; repeats 0, crossed kept 0, minutes written 0) in 1.00 s (3 rows/s)'
        """
        rate = self.read / self.seconds if self.seconds else 0.0
        w = self.written
        codes = "".join(f"{code} {count:,}, " for code, count in
                        sorted(self.rejected_by_code.items(), key=lambda item: (-item[1], item[0])))
        return (f"{self.source}: loaded {self.loaded:,} quotes, rejected {self.rejected:,} "
                f"({codes[:-2] + '; ' if codes else ''}repeats {w.repeats:,}, crossed kept {w.crossed:,}, "
                f"minutes written {w.minutes:,}) in {self.seconds:.2f} s ({rate:,.0f} rows/s)"
                + (f"; times as epoch {self.epoch_unit}" if self.epoch_unit else ""))


def load_quotes(client: Client, source: TickSource, *, batch_rows: int | None = None, name: str | None = None,
                progress: bool | None = None, sessions: SessionRule | None = None) -> QuoteLoadReport:
    """Load quotes from a file (.parquet, .csv, .csv.gz), an Arrow table, a polars frame or a stream of
    Arrow tables / record batches (e.g. :func:`warehouse.demo.quotes.demo_quotes`).

    A quote without a ``session`` gets its type from its exchange's calendar (``sessions``, by default each
    symbol's exchange in ``instruments``: :func:`warehouse.ingest.session_check.session_rule`); a rule with
    ``require=`` also refuses quotes outside that session (``outside_session``).

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> frame = pl.DataFrame({"symbol": ["DOCQ", "DOCQ"], "ts": ["2024-01-03T15:00:00Z", "2024-01-03T15:00:01Z"],
    ...                       "bid_px_1": [10.0, float("nan")], "ask_px_1": [10.1, 10.1]})
    >>> report = load_quotes(client, frame, name="doctest-quotes")
    >>> report.loaded, report.rejected, dict(report.rejected_by_code)
    (1, 1, {'bad_price': 1})
    """
    label = name or (str(source) if isinstance(source, str | Path) else type(source).__name__)
    report = QuoteLoadReport(label)
    writer = QuoteWriter(client, source=label)
    started = time.perf_counter()
    # Parquet decoded on the reading thread alone: pyarrow's threads fight the two inserts for 2 cores
    # (3M quotes: 0.39-0.55 s single-threaded, 0.44-1.6 s threaded, read beside nothing else)
    batches, total = _batches(source, batch_rows, map_quote_columns, parquet_threads=False)
    sessions = sessions or session_rule(client)
    with tqdm(total=total, unit="row", unit_scale=True, disable=None if progress is None else not progress,
              desc=f"loading {Path(label).name}", leave=False) as bar:
        for read, rejects, quotes, epoch_unit in _one_ahead(_checked(batches, label, sessions)):
            report.epoch_unit = epoch_unit
            report.rejected += write_rejects(client, rejects, target="quotes", source=label)
            report.rejected_by_code.update(dict(pl.from_arrow(rejects["code"]).value_counts().iter_rows()))
            writer.write_prepared(quotes)
            report.read += read
            bar.update(read)
    report.written = writer.stats
    report.seconds = time.perf_counter() - started
    return report


def _checked(batches: Iterator[tuple[int, pa.Table, pa.Table]], source: str,
             sessions: SessionRule) -> Iterator[tuple]:
    """(rows read, rejects, clean quotes in key order, epoch unit so far) per batch: the warehouse-free work."""
    epoch_unit = None
    for first_row, batch, unreadable in batches:
        clean = clean_quotes(batch, source=source, first_row=first_row, epoch_unit=epoch_unit, sessions=sessions)
        epoch_unit = epoch_unit or clean.epoch_unit
        yield batch.num_rows, pa.concat_tables([unreadable.cast(REJECTS_SCHEMA), clean.rejects]), \
            prepare(clean.quotes), epoch_unit
