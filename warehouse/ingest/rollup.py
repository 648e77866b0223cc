"""Exact rebuilds of ``bars_1m`` from the deduplicated ticks.

``bars_1m`` is filled incrementally by its materialized view. When a correction
changes a trade that a bar already counted, the affected minutes are deleted
and recomputed from ``ticks_dedup FINAL`` (:func:`rebuild_minutes`). A whole
range can be rebuilt too (:func:`rebuild_range`, ``python -m warehouse
rebuild-bars``), e.g. after rows were inserted around the ingest layer.

On the embedded warehouse a minute's delete does not wait for its mutation to
be written into the parts (``lightweight_deletes_sync = 0``): the embedded
client reads with ``apply_mutations_on_fly`` (:func:`warehouse.client.connect`),
so every read sees the deleted rows gone and the rebuilt ones in place at once,
and a mutation cut short by a crash resumes when the warehouse is opened again.
Waiting cost 0.5-3 s per rebuild behind chDB's merges of ``bars_1m``; not
waiting costs ~0.07 s. A server waits as before.
"""

from __future__ import annotations

from datetime import datetime

from clickhouse_connect.driver.client import Client

from warehouse.client import is_embedded
from warehouse.schema.ddl import BAR_STATES

_DIRTY = """(symbol, minute) IN (
    SELECT tupleElement(p, 1), tupleElement(p, 2)
    FROM (SELECT arrayJoin(arrayZip({symbols:Array(String)}, {minutes:Array(DateTime('UTC'))})) AS p))"""


# The same pairs as a predicate without a subquery (a mutation read on the fly must be deterministic),
# led by the key's range so that parts outside it are skipped.
_DIRTY_BARS = """symbol IN {symbols:Array(String)}
    AND minute >= {lo:DateTime('UTC')} AND minute <= {hi:DateTime('UTC')}
    AND has(arrayZip({symbols:Array(String)}, {minutes:Array(DateTime('UTC'))}), (toString(symbol), minute))"""


def _delete_bars(client: Client, where: str, params: dict) -> None:
    """Delete the ``bars_1m`` rows matching ``where``; embedded: without waiting (see the module's notes)."""
    settings = {"lightweight_deletes_sync": 0} if is_embedded(client) else None
    client.command(f"DELETE FROM bars_1m WHERE {where}", parameters=params, settings=settings)


def rebuild_minutes(client: Client, symbols: list[str], minutes: list[datetime]) -> int:
    """Recompute the bars of the given (symbol, minute) pairs; return how many.

    ``symbols[i]`` and ``minutes[i]`` name one bar; minutes are UTC minute starts.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> rebuild_minutes(client, ["NONE"], [datetime(2024, 1, 2, 14, 30)])
    1
    """
    if not symbols:
        return 0
    params = {"symbols": symbols, "minutes": minutes, "lo": min(minutes), "hi": max(minutes)}
    _delete_bars(client, _DIRTY_BARS, params)
    client.command(
        f"""INSERT INTO bars_1m SELECT {BAR_STATES}
        FROM ticks_dedup FINAL
        WHERE symbol IN {{symbols:Array(String)}}
          AND ts >= {{lo:DateTime('UTC')}} AND ts < {{hi:DateTime('UTC')}} + INTERVAL 1 MINUTE
          AND {_DIRTY.replace('(symbol, minute)', '(symbol, toStartOfMinute(ts))')}
        GROUP BY symbol, minute""",
        parameters=params,
    )
    return len(symbols)


def rebuild_range(client: Client, symbols: list[str] | None = None,
                  start: datetime | None = None, end: datetime | None = None) -> int:
    """Recompute all bars of ``symbols`` (default all) in [start, end); return bars written.

    >>> from warehouse.client import connect
    >>> rebuild_range(connect(), ["NONE"])
    0
    """
    where = ["1"]
    params: dict = {}
    if symbols:
        where.append("symbol IN {symbols:Array(String)}")
        params["symbols"] = symbols
    if start:
        where.append("ts >= {start:DateTime64(6, 'UTC')}")
        params["start"] = start
    if end:
        where.append("ts < {end:DateTime64(6, 'UTC')}")
        params["end"] = end
    bar_where = " AND ".join(w.replace("ts ", "minute ") for w in where)
    _delete_bars(client, bar_where, params)
    client.command(f"INSERT INTO bars_1m SELECT {BAR_STATES} FROM ticks_dedup FINAL "
                   f"WHERE {' AND '.join(where)} GROUP BY symbol, minute", parameters=params)
    return int(client.command(f"SELECT count() FROM (SELECT 1 FROM bars_1m WHERE {bar_where} "
                              "GROUP BY symbol, minute)", parameters=params))
