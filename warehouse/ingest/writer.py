"""Write validated ticks so that duplicates and corrections never corrupt bars.

Every writer (file loaders, demo data, stream consumers) goes through
:class:`TickWriter`. For each batch it

1. puts the rows in the ``ticks_dedup`` key order ``(symbol, ts, trade_id)``
   (stable, :func:`sort_batch`): both tables then skip their sort on insert, and
   repeats of a trade identity within the batch are neighbours;
2. looks up the identities already stored (one range query on
   ``ticks_dedup FINAL``, pruned by the ``(symbol, ts)`` key, in key order);
3. finds, per identity, the row that ``ticks_dedup`` will keep (highest
   ``version``, the last one on ties) and whether it is new, repeats or changes
   the stored row: one merge walk of both sorted sides (:func:`warehouse.ingest.kernels.classify_nb`);
4. inserts every row into ``ticks`` (raw is kept raw) with ``first_seen = 1``
   only on the kept row of an identity never seen before: that is the only
   row ``bars_1m_mv`` aggregates, so a redelivery adds nothing to bars (a
   batch of at least ``2 * HALF_MIN_ROWS`` rows goes in as two halves at once,
   split where a new identity starts, on two connections: see :func:`_insert`);
5. when a batch changes an already-stored trade (a correction), recomputes
   exactly the affected minutes from ``ticks_dedup FINAL`` (:mod:`warehouse.ingest.rollup`;
   with ``defer_rebuilds``, later and for many batches at once: :meth:`TickWriter.rebuild_deferred`).

Each batch is recorded in ``load_journal`` before step 4 and marked done once its
bars are final; a writer repairs the batches a killed predecessor left open when
it starts (:mod:`warehouse.ingest.journal`).

Step 1 needs no warehouse, so a loader may run it for the next batch while
this one is inserted (:meth:`TickWriter.write_sorted`).

One writer per warehouse at a time (the embedded warehouse has one process
anyway); concurrent writers of the same symbols on a server would each see
the other's rows as new.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client

from warehouse.client import is_embedded, sibling
from warehouse.ingest.journal import OpenBatch, close_batches, open_batch, repair
from warehouse.ingest.kernels import classify_nb, grouped_order_nb
from warehouse.ingest.rollup import bar_minutes, rebuild_minutes
from warehouse.ingest.validate import TICKS_SCHEMA

_IDENTITY = ["symbol", "ts", "trade_id"]

_STORED_SQL = """
SELECT symbol, ts, trade_id, version, price, size
FROM ticks_dedup FINAL
WHERE symbol IN {symbols:Array(String)} AND ts >= {lo:DateTime64(6, 'UTC')} AND ts <= {hi:DateTime64(6, 'UTC')}
ORDER BY symbol, ts, trade_id
"""

INSERT_SCHEMA = TICKS_SCHEMA.append(pa.field("first_seen", pa.uint8()))
# What the writer hands ClickHouse: symbols dictionary-encoded (LowCardinality as is) and
# no nullable columns (no null maps to build and drop).
SORTED_SCHEMA = pa.schema([pa.field(f.name, pa.dictionary(pa.int32(), pa.string()) if f.name == "symbol" else f.type,
                                    nullable=False) for f in TICKS_SCHEMA])
_FIRST_SEEN = pa.field("first_seen", pa.uint8(), nullable=False)
# The MVs' target blocks are not pre-merged on insert (reads merge anyway: FINAL / -Merge);
# a server with spare threads may run the two MVs side by side (the embedded single-thread
# insert runs them one after the other: measured, wall time equals CPU time either way).
INSERT_SETTINGS = {"parallel_view_processing": 1, "optimize_on_insert": 0}
# Embedded: chDB reads the Arrow table in place (its Python() table function finds the
# local variable by name), instead of an Arrow IPC file written and parsed per batch.
# One reading thread keeps the rows in their (sorted) order: the sort is skipped, and
# ties of an identity keep their input order, as ReplacingMergeTree needs.
_EMBEDDED_INSERT = (f"INSERT INTO ticks ({', '.join(INSERT_SCHEMA.names)}) "
                    f"SELECT {', '.join(INSERT_SCHEMA.names)} FROM Python(_tickhouse_rows)")
_EMBEDDED_SETTINGS = {**INSERT_SETTINGS, "max_threads": 1}


@dataclass
class WriteStats:
    """Counts of what a writer did, summed over its batches."""

    rows: int = 0  # rows inserted into ticks (raw)
    new_trades: int = 0  # identities seen for the first time
    redeliveries: int = 0  # rows that repeated a stored or in-batch row exactly
    corrections: int = 0  # newer versions of a trade (in the batch or over a stored one)
    rebuilt_bars: int = 0  # (symbol, minute) bars recomputed because a stored trade changed
    batches: int = 0

    def add(self, other: WriteStats) -> None:
        """Accumulate ``other`` into this one."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class SortedBatch:
    """A batch in identity order (:func:`sort_batch`): what :meth:`TickWriter.write_sorted` takes."""

    ticks: pa.Table  # SORTED_SCHEMA: one chunk, sorted by (symbol, ts, trade_id), stable
    symbols: list[str]  # the distinct symbols, sorted: the symbol column's dictionary


def sort_batch(ticks: pa.Table) -> SortedBatch:
    """Put a clean batch in ``(symbol, ts, trade_id)`` order, keeping the input order of equal keys.

    O(n) when each symbol's rows already come in time order, a full sort otherwise.
    Nulls become the column defaults ClickHouse would store (``''``, 0).

    >>> from datetime import datetime, timezone
    >>> at = [datetime(2024, 1, 2, 14, 30, s, tzinfo=timezone.utc) for s in (1, 0, 1)]
    >>> rows = pa.table({"symbol": ["B", "A", "B"], "ts": at, "price": [1.0, 2.0, 3.0], "size": [1.0] * 3,
    ...                  "side": [1] * 3, "trade_id": [9, 8, 9], "version": [0, 0, 1]})
    >>> batch = sort_batch(rows)
    >>> batch.ticks["price"].to_pylist(), batch.ticks["symbol"].to_pylist()
    ([2.0, 1.0, 3.0], ['A', 'B', 'B'])
    """
    if ticks.num_rows == 0:
        return SortedBatch(SORTED_SCHEMA.empty_table(), [])
    table = _without_nulls(ticks.cast(TICKS_SCHEMA).combine_chunks())
    encoded = pc.dictionary_encode(table.column("symbol")).chunk(0)
    names = encoded.dictionary.to_pylist()
    rank = np.argsort(np.argsort(np.array(names, dtype=object))).astype(np.int32)
    codes = rank[encoded.indices.to_numpy()]
    ts = table.column("ts").chunk(0).to_numpy().view(np.int64)
    ids = table.column("trade_id").chunk(0).to_numpy()
    order = grouped_order_nb(codes, ts, ids, len(names))
    if order.size == 0:
        order = np.lexsort((ids, ts, codes))  # stable
    rest = table.drop_columns(["symbol"])
    if not np.array_equal(order, np.arange(order.size)):
        rest = rest.take(order)
    symbols = sorted(names)
    symbol = pa.DictionaryArray.from_arrays(pa.array(codes[order], pa.int32()), pa.array(symbols, pa.string()))
    return SortedBatch(rest.add_column(0, "symbol", symbol).cast(SORTED_SCHEMA), symbols)


def _without_nulls(table: pa.Table) -> pa.Table:
    """``table`` with nulls replaced by the defaults a non-Nullable ClickHouse column stores."""
    for i, column in enumerate(table.columns):
        if column.null_count:
            default = "" if pa.types.is_string(column.type) else pa.scalar(0, column.type)
            table = table.set_column(i, table.field(i), column.fill_null(default))
    return table


@dataclass
class TickWriter:
    """Inserts clean tick batches (``validate.TICKS_SCHEMA``) into the warehouse.

    >>> from datetime import datetime, timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> row = {"symbol": ["DOC"], "ts": [datetime(2024, 1, 2, 14, 30, tzinfo=timezone.utc)],
    ...        "price": [10.0], "size": [5.0], "side": [1], "trade_id": [7], "version": [0]}
    >>> batch = pa.table(row, schema=TICKS_SCHEMA)
    >>> writer = TickWriter(client)
    >>> writer.write(batch).new_trades, writer.write(batch).redeliveries
    (1, 1)
    """

    client: Client
    stats: WriteStats = field(default_factory=WriteStats)
    # True: a correction's bars are rebuilt by rebuild_deferred(), for many batches at once
    # (a stream consumer acknowledges those batches only after it).
    defer_rebuilds: bool = False
    deferred: list[pl.DataFrame] = field(default_factory=list)
    # journal entries of the batches whose bars wait for rebuild_deferred()
    unfinished: list[OpenBatch] = field(default_factory=list)
    source: str = ""  # recorded in load_journal with each batch

    def __post_init__(self) -> None:
        repair(self.client)

    def write(self, ticks: pa.Table) -> WriteStats:
        """Insert one batch; return (and accumulate) what it did."""
        return self.write_sorted(sort_batch(ticks))

    def write_sorted(self, sorted_batch: SortedBatch) -> WriteStats:
        """Insert one batch already put in order by :func:`sort_batch`; return (and accumulate) what it did."""
        batch = WriteStats(batches=1)
        table = sorted_batch.ticks
        if table.num_rows == 0:
            return batch
        lo, hi = (value.as_py() for value in pc.min_max(table.column("ts")).values())
        stored = self._stored(sorted_batch.symbols, lo, hi)
        flags, changed, batch.corrections, batch.redeliveries = classify_nb(
            *_identity_arrays(table), *_identity_arrays(stored))
        dirty = bar_minutes(table.take(changed))
        batch.rebuilt_bars = dirty.height
        entry = open_batch(self.client, sorted_batch.symbols, lo, hi, source=self.source)
        _insert(self.client, table.append_column(_FIRST_SEEN, pa.array(flags)))
        if batch.rebuilt_bars and self.defer_rebuilds:
            self.deferred.append(dirty)
            self.unfinished.append(entry)
        else:
            if batch.rebuilt_bars:
                rebuild_minutes(self.client, dirty["symbol"].to_list(), dirty["minute"].to_list())
            close_batches(self.client, [entry])
        batch.rows = table.num_rows
        batch.new_trades = int(flags.sum())
        self.stats.add(batch)
        return batch

    def rebuild_deferred(self) -> int:
        """Rebuild the bars of the corrections written since the last call (``defer_rebuilds``); return how many.

        >>> from warehouse.client import connect
        >>> from warehouse.schema.migrate import migrate
        >>> client = connect(); _ = migrate(client)
        >>> TickWriter(client, defer_rebuilds=True).rebuild_deferred()
        0
        """
        if not self.deferred:
            return 0
        dirty = pl.concat(self.deferred).unique()
        rebuild_minutes(self.client, dirty["symbol"].to_list(), dirty["minute"].to_list())
        close_batches(self.client, self.unfinished)
        self.deferred, self.unfinished = [], []
        return dirty.height

    def _stored(self, symbols: list[str], lo: object, hi: object) -> pa.Table:
        """The stored rows of the identities of ``symbols`` in [lo, hi], in identity order, symbols as
        codes into ``symbols``."""
        stored = self.client.query_arrow(_STORED_SQL, parameters={"symbols": symbols, "lo": lo, "hi": hi})
        codes = pc.index_in(stored.column("symbol").cast(pa.string()), value_set=pa.array(symbols, pa.string()))
        return stored.set_column(0, "symbol", codes)


def _identity_arrays(table: pa.Table) -> tuple[np.ndarray, ...]:
    """Symbol codes, ts (µs), trade_id, version, price, size of ``table`` as numpy arrays.

    Symbols are a dictionary column (its indices are the codes) or codes already.
    """
    symbol = table.column("symbol").combine_chunks()
    codes = symbol.indices if pa.types.is_dictionary(symbol.type) else symbol
    ts = table.column("ts").combine_chunks().cast(pa.timestamp("us", "UTC")).cast(pa.int64())
    return (codes.to_numpy(zero_copy_only=False).astype(np.int32), ts.to_numpy(),
            *(table.column(name).combine_chunks().to_numpy(zero_copy_only=False)
              for name in ("trade_id", "version", "price", "size")))


# The embedded insert runs on one core, its two views after the table: a batch of at least twice
# this many rows goes in as two halves on two connections at once (~35% less wall time on 2
# cores, benchmarks/bulk_load.py). Halves no smaller than this keep the parts as large as those
# of a plain batch (smaller parts set off merges that cost more than the halves save).
HALF_MIN_ROWS = 500_000


def _insert(client: Client, rows: pa.Table) -> None:
    """Insert ``rows`` (``SORTED_SCHEMA`` + ``first_seen``) into ``ticks``, in place on the embedded warehouse."""
    if not is_embedded(client):
        client.insert_arrow("ticks", rows, settings=INSERT_SETTINGS)
        return
    other_connection = sibling(client) if rows.num_rows >= 2 * HALF_MIN_ROWS else None
    half = identity_split(rows) if other_connection else 0
    if not half:
        _insert_embedded(client, rows)
        return
    # No identity spans the halves, so which half lands first cannot matter to ticks_dedup; a minute
    # split between them gets two partial bar states, which reads merge as they merge any two batches'.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tickhouse-insert") as other:
        second = other.submit(_insert_embedded, other_connection, rows.slice(half))
        _insert_embedded(client, rows.slice(0, half))
        second.result()


def _insert_embedded(client: Client, rows: pa.Table) -> None:
    """One embedded insert of ``rows``, read in place by chDB."""
    _tickhouse_rows = rows  # noqa: F841 -- read by name by the Python() table function
    client.command(_EMBEDDED_INSERT, settings=_EMBEDDED_SETTINGS)


def identity_split(rows: pa.Table) -> int:
    """The first row at or after the middle that starts a new ``(symbol, ts, trade_id)``; 0 if none.

    ``rows`` are in identity order (:func:`sort_batch`), so repeats of an identity are neighbours
    and never end up on both sides.

    >>> ticks = pa.table({"symbol": pa.array(["A", "A", "A", "B"]).dictionary_encode(), "ts": [1, 2, 2, 1],
    ...                   "trade_id": [1, 2, 2, 3]})
    >>> identity_split(ticks), identity_split(ticks.slice(1, 2))
    (3, 0)
    """
    rows = rows.combine_chunks()
    middle = rows.num_rows // 2
    if middle == 0:
        return 0
    starts = np.zeros(rows.num_rows - middle, np.bool_)
    for name in _IDENTITY:
        column = rows.column(name).chunk(0)
        values = (column.indices if pa.types.is_dictionary(column.type) else column).to_numpy()
        starts |= values[middle:] != values[middle - 1:-1]
    return middle + int(np.argmax(starts)) if starts.any() else 0
