"""Write validated ticks so that duplicates and corrections never corrupt bars.

Every writer (file loaders, demo data, stream consumers) goes through
:class:`TickWriter`. For each batch it

1. finds, per trade identity ``(symbol, ts, trade_id)``, the row that
   ``ticks_dedup`` will keep (highest ``version``, the last one on ties);
2. looks up the identities already stored (one range query on
   ``ticks_dedup FINAL``, pruned by the ``(symbol, ts)`` key);
3. inserts every row into ``ticks`` (raw is kept raw) with ``first_seen = 1``
   only on the kept row of an identity never seen before: that is the only
   row ``bars_1m_mv`` aggregates, so a redelivery adds nothing to bars;
4. when a batch changes an already-stored trade (a correction), deletes and
   recomputes exactly the affected minutes from ``ticks_dedup FINAL``.

One writer per warehouse at a time (the embedded warehouse has one process
anyway); concurrent writers of the same symbols on a server would each see
the other's rows as new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from warehouse.rollup import rebuild_minutes
from warehouse.validate import TICKS_SCHEMA

_IDENTITY = ["symbol", "ts", "trade_id"]

_STORED_SQL = """
SELECT symbol, ts, trade_id, version AS stored_version, price AS stored_price, size AS stored_size
FROM ticks_dedup FINAL
WHERE symbol IN {symbols:Array(String)} AND ts >= {lo:DateTime64(6, 'UTC')} AND ts <= {hi:DateTime64(6, 'UTC')}
"""

INSERT_SCHEMA = TICKS_SCHEMA.append(pa.field("first_seen", pa.uint8()))
# Both MVs run side by side, and their target blocks are not pre-merged on insert
# (reads merge anyway: FINAL / -Merge). Measured in benchmarks/bulk_load.py.
INSERT_SETTINGS = {"parallel_view_processing": 1, "optimize_on_insert": 0}


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


@dataclass
class TickWriter:
    """Inserts clean tick batches (``validate.TICKS_SCHEMA``) into the warehouse.

    >>> from datetime import datetime, timezone
    >>> from warehouse.client import connect
    >>> from warehouse.migrate import migrate
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

    def write(self, ticks: pa.Table) -> WriteStats:
        """Insert one batch; return (and accumulate) what it did."""
        batch = WriteStats(batches=1)
        if ticks.num_rows == 0:
            return batch
        frame = pl.from_arrow(ticks.cast(TICKS_SCHEMA))
        assert isinstance(frame, pl.DataFrame)
        frame = frame.with_row_index("_row")
        stored = self._stored(frame)
        # Fast path: a row whose identity hash is unique in the batch and absent
        # from the stored rows is a new trade. Hash collisions only send rows to
        # the exact path below, never the other way.
        key = _identity_hash(frame)
        suspect = key.is_duplicated() | key.is_in(_identity_hash(stored).implode())
        flags = (~suspect).cast(pl.UInt8).alias("first_seen")
        if suspect.any():
            exact = _classify(frame.filter(suspect), stored)
            flags = flags.scatter(exact.first_rows, 1)
            batch.corrections, batch.redeliveries = exact.corrections, exact.redeliveries
            batch.rebuilt_bars = exact.dirty.height
        self.client.insert_arrow("ticks", frame.drop("_row").with_columns(flags).to_arrow().cast(INSERT_SCHEMA),
                                 settings=INSERT_SETTINGS)
        if suspect.any():
            rebuild_minutes(self.client, exact.dirty["symbol"].to_list(), exact.dirty["minute"].to_list())
        batch.rows = frame.height
        batch.new_trades = int(flags.sum())
        self.stats.add(batch)
        return batch

    def _stored(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Stored versions of the identities in ``frame``'s symbols and time span."""
        params = {"symbols": frame["symbol"].unique().to_list(), "lo": frame["ts"].min(), "hi": frame["ts"].max()}
        table = self.client.query_arrow(_STORED_SQL, parameters=params)
        stored = pl.from_arrow(table)
        assert isinstance(stored, pl.DataFrame)
        return stored.with_columns(pl.col("symbol").cast(pl.String),
                                   pl.col("ts").dt.convert_time_zone("UTC").dt.cast_time_unit("us"))


@dataclass(frozen=True)
class _Classified:
    first_rows: pl.Series  # batch rows that are the kept row of a new identity
    dirty: pl.DataFrame  # (symbol, minute) bars a correction changed
    corrections: int
    redeliveries: int


def _identity_hash(frame: pl.DataFrame) -> pl.Series:
    return frame.select(pl.struct(_IDENTITY).hash(seed=0)).to_series()


def _classify(rows: pl.DataFrame, stored: pl.DataFrame) -> _Classified:
    """The exact path for rows whose identity repeats in the batch or is stored."""
    kept = rows.sort(["version", "_row"]).group_by(_IDENTITY).last()
    kept = kept.join(stored, on=_IDENTITY, how="left")
    is_new = kept["stored_version"].is_null()
    changed = ~is_new & (
        (kept["version"] > kept["stored_version"])
        | ((kept["version"] == kept["stored_version"])
           & ((kept["price"] != kept["stored_price"]) | (kept["size"] != kept["stored_size"]))))
    dirty = kept.filter(changed).select(
        "symbol", pl.col("ts").dt.truncate("1m").dt.replace_time_zone(None).alias("minute")).unique()
    versions = rows.select([*_IDENTITY, "version"]).unique()
    in_batch_corrections = versions.height - versions.select(_IDENTITY).unique().height
    return _Classified(kept.filter(is_new)["_row"], dirty, in_batch_corrections + int(changed.sum()),
                       _redeliveries(rows, stored))


def _redeliveries(frame: pl.DataFrame, stored: pl.DataFrame) -> int:
    """Rows identical (identity, version, price, size) to an earlier or stored row."""
    key = [*_IDENTITY, "version", "price", "size"]
    distinct = frame.select(key).unique()
    in_batch = frame.height - distinct.height
    if not stored.height:
        return in_batch
    previous = stored.rename({"stored_version": "version", "stored_price": "price", "stored_size": "size"})
    return in_batch + distinct.join(previous.select(key), on=key, how="semi").height
