"""``quotes_1m`` kept exact: the minutes a quote batch touches are recomputed whole from the deduplicated quotes.

For a batch (sorted by ``(symbol, ts, seq)``) the writer reads what it needs of the stored quotes, cheaply
and by the sort keys, then merges and computes in numba (:mod:`warehouse.ingest.quote_kernels`):

1. the stored quotes of the batch's symbols from the start of its first minute to the end of its last
   (``quotes FINAL``: for a time-ordered feed, the part of the first minute already stored);
2. per symbol, the first minute with quotes after that window and its stored quotes (only when the batch
   fills in the past: the quote in force at that minute's start may have changed); from ``quotes_1m``;
3. per symbol, the top of book in force before the window: the last minute's last quote, from ``quotes_1m``.

The batch replaces stored rows of its identities (a redelivery changes nothing), and every touched minute
is written again whole with a newer ``version``: ``quotes_1m FINAL`` equals the minutes of the deduplicated
quotes for every reader once a write returns, with no setting and no mutation to wait for.
:func:`rebuild_quote_minutes` recomputes a range from ``quotes`` alone.

One writer per warehouse at a time, as for ticks.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client

from warehouse.ingest.journal import OpenBatch, close_batches, open_batch
from warehouse.ingest.quote_kernels import MINUTE_US, OUTPUTS, VALUES, merge_nb, minutes_nb
from warehouse.schema.quotes_ddl import level_columns

_DEPTH = {side: " + ".join(level_columns(sides=(side,), fields=("qty",))) for side in ("bid", "ask")}
_VALUE_SQL = f"bid_px_1, ask_px_1, bid_qty_1, ask_qty_1, {_DEPTH['bid']} AS bid_depth, {_DEPTH['ask']} AS ask_depth, oi"
_WINDOW_SQL = f"""SELECT symbol, toInt64(toUnixTimestamp64Micro(ts)) AS micros, seq, {_VALUE_SQL}
FROM quotes FINAL
WHERE symbol IN {{symbols:Array(String)}} AND ts >= {{lo:DateTime64(6, 'UTC')}} AND ts < {{hi:DateTime64(6, 'UTC')}}
    AND {{pairs}}
ORDER BY symbol, ts, seq"""
_NEXT_SQL = """SELECT symbol, min(minute) FROM quotes_1m
WHERE symbol IN {symbols:Array(String)} AND minute >= {hi:DateTime('UTC')} AND minute < {far:DateTime('UTC')}
GROUP BY symbol"""
_BEFORE_SQL = """SELECT symbol, argMax((last_bid, last_ask), (minute, version)) FROM quotes_1m
WHERE symbol IN {symbols:Array(String)} AND minute < {lo:DateTime('UTC')} AND minute >= {far:DateTime('UTC')}
GROUP BY symbol"""
# quotes_1m is searched near the batch first, then further: a symbol that quoted in the last few days
# (a weekend included) is found in a few granules, not in its whole history
_REACH_US = (4 * 86_400_000_000, 40 * 86_400_000_000, 1 << 62)
_LAST_MINUTE_US = 4_294_967_040_000_000  # the last minute DateTime('UTC') holds (2106-02-07 06:24)
_PAIRS = """(symbol, toStartOfMinute(ts)) IN (SELECT tupleElement(p, 1), tupleElement(p, 2)
    FROM (SELECT arrayJoin(arrayZip({next_symbols:Array(String)}, {next_minutes:Array(DateTime('UTC'))})) AS p))"""
_FINAL_BY_MONTH = {"do_not_merge_across_partitions_select_final": 1}
MINUTE_SCHEMA = pa.schema([("symbol", pa.string()), ("minute", pa.timestamp("s", "UTC")), ("quotes", pa.uint32()),
                           ("crossed", pa.uint32()), ("last_ts", pa.timestamp("us", "UTC")),
                           *[(name, pa.float64()) for name in OUTPUTS[3:]], ("version", pa.uint64())])


def _utc(micros: int, *, seconds: bool = False) -> str:
    """A time in µs as the text a ``DateTime64(6, 'UTC')`` (or, ``seconds``, ``DateTime('UTC')``) parameter takes."""
    moment = datetime(1970, 1, 1) + timedelta(microseconds=int(micros))
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M:%S.%f")


def _micros(moment: datetime) -> int:
    """µs since the epoch of a time read back from ClickHouse (naive ones are UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return int(aware.timestamp()) * 1_000_000 + aware.microsecond


def _stored(client: Client, symbols: list[str], lo: int, hi: int,
            pairs: tuple[list[str], list[int]] | None = None) -> tuple:
    """Stored quotes of ``symbols`` in [lo, hi) µs (and in the (symbol, minute µs) ``pairs``) as kernel arrays."""
    params: dict = {"symbols": symbols, "lo": _utc(lo), "hi": _utc(hi)}
    if pairs:
        params.update(next_symbols=pairs[0], next_minutes=[_utc(m, seconds=True) for m in pairs[1]])
    sql = _WINDOW_SQL.replace("{pairs}", _PAIRS if pairs else "1")
    table = client.query_arrow(sql, parameters=params, settings=_FINAL_BY_MONTH)
    columns = [table.column(i).to_numpy() for i in range(1, table.num_columns)]
    code = pc.index_in(table.column(0).cast(pa.string()), value_set=pa.array(symbols, pa.string()))
    return (code.to_numpy(zero_copy_only=False).astype(np.int32), columns[0].astype(np.int64),
            columns[1].astype(np.uint64), np.column_stack([c.astype(np.float64) for c in columns[2:]])
            if table.num_rows else np.empty((0, len(VALUES))))


def _nearest(client: Client, sql: str, symbols: list[str], bound: str, at: int, sign: int) -> list[tuple]:
    """Rows of ``sql`` (one per symbol found) searching ``quotes_1m`` from ``at`` µs outward, by ``_REACH_US``
    steps (``sign``: -1 back, +1 forward); ``bound`` names the parameter holding ``at``."""
    found: list[tuple] = []
    left = list(symbols)
    for reach in _REACH_US:
        far = min(max(at + sign * reach, 0), _LAST_MINUTE_US)
        rows = client.query(sql, parameters={"symbols": left, bound: _utc(at, seconds=True),
                                             "far": _utc(far, seconds=True)}).result_rows
        found += rows
        left = sorted(set(left) - {row[0] for row in rows})
        if not left:
            break
    return found


def _before(client: Client, symbols: list[str], lo: int) -> tuple[np.ndarray, np.ndarray]:
    """Per symbol, the top of book (bid, ask; NaN: none) in force at ``lo`` µs, from ``quotes_1m``."""
    bid, ask = np.full(len(symbols), np.nan), np.full(len(symbols), np.nan)
    for symbol, (last_bid, last_ask) in _nearest(client, _BEFORE_SQL, symbols, "lo", lo, -1):
        bid[symbols.index(symbol)], ask[symbols.index(symbol)] = last_bid, last_ask
    return bid, ask


def _concat(first: tuple, second: tuple) -> tuple:
    """Two sorted stored windows whose (symbol, minute) ranges do not overlap, as one sorted window."""
    code, ts = np.concatenate([first[0], second[0]]), np.concatenate([first[1], second[1]])
    order = np.lexsort((np.concatenate([first[2], second[2]]), ts, code))
    return code[order], ts[order], np.concatenate([first[2], second[2]])[order], \
        np.concatenate([first[3], second[3]])[order]


def minute_rows(client: Client, symbols: list[str], code: np.ndarray, ts: np.ndarray, seq: np.ndarray,
                values: np.ndarray) -> tuple[pa.Table, int]:
    """The ``quotes_1m`` rows a batch (kernel arrays, sorted, codes into ``symbols``) makes exact, and how many
    of its rows repeat a stored or batch identity. Reads the stored quotes it needs; writes nothing."""
    if code.size == 0:
        return MINUTE_SCHEMA.empty_table(), 0
    lo = int(ts.min()) // MINUTE_US * MINUTE_US
    hi = (int(ts.max()) // MINUTE_US + 1) * MINUTE_US
    stored = _stored(client, symbols, lo, hi)
    after = _nearest(client, _NEXT_SQL, symbols, "hi", hi, 1)
    if after:  # the batch fills in the past: the next stored minute of each symbol may change too
        minutes = [_micros(minute) for _, minute in after]
        extra = _stored(client, symbols, min(minutes), max(minutes) + MINUTE_US, ([s for s, _ in after], minutes))
        stored = _concat(stored, extra)
    pred_bid, pred_ask = _before(client, symbols, lo)
    merged_code, merged_ts, merged_values, touched, repeats = merge_nb(*stored, code, ts, seq, values)
    out_code, out_minute, out = minutes_nb(merged_code, merged_ts, merged_values, touched, pred_bid, pred_ask)
    return minute_table(symbols, out_code, out_minute, out), int(repeats)


def minute_table(symbols: list[str], codes: np.ndarray, minutes: np.ndarray, out: np.ndarray) -> pa.Table:
    """Kernel output as ``quotes_1m`` rows (:data:`MINUTE_SCHEMA`), all with one new ``version``."""
    version = time.time_ns()
    columns = [pa.array(symbols, pa.string()).take(pa.array(codes)), pa.array(minutes // 1_000_000,
                                                                                pa.timestamp("s", "UTC")),
               pa.array(out[:, 0].astype(np.uint32)), pa.array(out[:, 1].astype(np.uint32)),
               pa.array(out[:, 2].astype(np.int64), pa.timestamp("us", "UTC")),
               *[pa.array(np.ascontiguousarray(out[:, i])) for i in range(3, len(OUTPUTS))],
               pa.array(np.full(codes.size, version, np.uint64))]
    return pa.Table.from_arrays(columns, schema=MINUTE_SCHEMA)


def write_minutes(client: Client, rows: pa.Table) -> None:
    """Insert ``quotes_1m`` rows (a few per minute of quotes: one small insert)."""
    if rows.num_rows:
        client.insert_arrow("quotes_1m", rows)


def rebuild_quote_minutes(client: Client, symbols: list[str], start: datetime, end: datetime) -> int:
    """Recompute ``quotes_1m`` of ``symbols`` for the minutes in [start, end) from ``quotes``, and each symbol's next
    minute with quotes after them (the book in force at its start comes from them); return rows written.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> rebuild_quote_minutes(client, ["NONE"], datetime(2024, 1, 2, tzinfo=timezone.utc),
    ...                       datetime(2024, 1, 3, tzinfo=timezone.utc))
    0
    """
    symbols = sorted(set(symbols))
    lo = int(start.timestamp()) // 60 * MINUTE_US
    hi = -(-int(end.timestamp() * 1_000_000) // MINUTE_US) * MINUTE_US
    stored = _stored(client, symbols, lo, hi)
    after = _nearest(client, _NEXT_SQL, symbols, "hi", hi, 1)
    if after:  # the next minute's in-force book at its start may have changed too
        minutes = [_micros(minute) for _, minute in after]
        extra = _stored(client, symbols, min(minutes), max(minutes) + MINUTE_US, ([s for s, _ in after], minutes))
        stored = _concat(stored, extra)
    touched = _touched(stored, lo, hi)
    pred_bid, pred_ask = _before(client, symbols, lo)
    code, ts, _, values = stored
    out_code, out_minute, out = minutes_nb(code, ts, values, touched, pred_bid, pred_ask)
    rows = minute_table(symbols, out_code, out_minute, out)
    write_minutes(client, rows)
    return rows.num_rows


def _touched(stored: tuple, lo: int, hi: int) -> np.ndarray:
    """The rows of a stored window that lie in [lo, hi) µs (the rest: next minutes, recomputed as such)."""
    return (stored[1] >= lo) & (stored[1] < hi)


_OPEN_SQL = """SELECT batch_id, symbols, lo, hi, source, opened_at FROM load_journal FINAL
WHERE done = 0 AND startsWith(source, 'quotes://') ORDER BY opened_at"""
QUOTE_SOURCE = "quotes://"
"""``load_journal.source`` of a quote batch starts so (tick batches are repaired by ``journal.repair``)."""


def open_quote_batches(client: Client) -> list[OpenBatch]:
    """Quote batches begun and never marked done (a writer died between ``quotes`` and ``quotes_1m``)."""
    return [OpenBatch(batch_id, list(symbols), lo, hi, source, opened_at)
            for batch_id, symbols, lo, hi, source, opened_at in client.query(_OPEN_SQL).result_rows]


def repair_quotes(client: Client) -> list[OpenBatch]:
    """Recompute the minutes of every quote batch left open from ``quotes``, then close it; return them.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> entry = open_batch(client, ["DOCQ"], datetime(2024, 1, 2), datetime(2024, 1, 2, 1), source=QUOTE_SOURCE)
    >>> entry.batch_id in [b.batch_id for b in repair_quotes(client)], repair_quotes(client)
    (True, [])
    """
    entries = open_quote_batches(client)
    for entry in entries:
        lo, hi = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc) for moment in (entry.lo, entry.hi))
        rebuild_quote_minutes(client, entry.symbols, lo, hi + timedelta(microseconds=1))
    close_batches(client, entries)
    return entries
