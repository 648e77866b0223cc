"""Exact rebuilds of ``bars_1m`` from the deduplicated ticks, swapped in a month at a time.

``bars_1m`` is filled incrementally by its materialized view. When a correction
changes a trade that a bar already counted, or a writer died between its inserts
(:mod:`warehouse.ingest.journal`), the bars concerned are recomputed from
``ticks_dedup FINAL``: :func:`rebuild_minutes` for given (symbol, minute) bars,
:func:`rebuild_range` for symbols and a time range (``python -m warehouse rebuild-bars``).

A rebuild never deletes rows of ``bars_1m``. Per month (its partition) the bars
that stay are copied into ``bars_1m_staging``, the recomputed ones are added, and
``ALTER TABLE bars_1m REPLACE PARTITION`` swaps the whole month in one step. Every
reader (our client, a plain clickhouse-connect client, ``clickhouse client``,
Grafana) sees a month's old bars or its new ones, never a gap and never a bar
counted twice, with no setting and no mutation to wait for. A rebuild killed
before its swap leaves the old month in place; the journal has it redone.

Like :class:`warehouse.ingest.writer.TickWriter`, one writer per warehouse at a
time: bars another writer adds to a month between its copy and its swap would be
replaced by the copy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from warehouse.schema.ddl import BAR_STATES

_PAIRS = """(SELECT tupleElement(p, 1), tupleElement(p, 2)
    FROM (SELECT arrayJoin(arrayZip({symbols:Array(String)}, {minutes:Array(DateTime('UTC'))})) AS p))"""
_FINAL_BY_MONTH = {"do_not_merge_across_partitions_select_final": 1}


def _month(moment: datetime) -> int:
    return moment.year * 100 + moment.month


def _swap_month(client: Client, month: int, bars: str, ticks: str, params: dict) -> None:
    """Rebuild the bars of ``month`` matching ``bars`` from the ticks matching ``ticks``; swap the month in."""
    params = {**params, "month": month}
    client.command("TRUNCATE TABLE bars_1m_staging")
    client.command(f"INSERT INTO bars_1m_staging SELECT * FROM bars_1m "
                   f"WHERE toYYYYMM(minute) = {{month:UInt32}} AND NOT ({bars})", parameters=params)
    client.command(f"INSERT INTO bars_1m_staging SELECT {BAR_STATES} FROM ticks_dedup FINAL "
                   f"WHERE toYYYYMM(ts) = {{month:UInt32}} AND ({ticks}) GROUP BY symbol, minute",
                   parameters=params, settings=_FINAL_BY_MONTH)
    # the partition value is our own integer (YYYYMM), not user input
    if int(client.command("SELECT count() FROM bars_1m_staging")):
        client.command(f"ALTER TABLE bars_1m REPLACE PARTITION {int(month)} FROM bars_1m_staging")
    else:  # nothing left in the month: REPLACE refuses an empty source
        client.command(f"ALTER TABLE bars_1m DROP PARTITION {int(month)}")
    client.command("TRUNCATE TABLE bars_1m_staging")  # the swap copied its parts


def bar_minutes(ticks: pa.Table) -> pl.DataFrame:
    """The distinct (symbol, minute) bars ``ticks`` fall in, minutes as naive UTC minute starts.

    >>> from datetime import timezone
    >>> at = [datetime(2024, 1, 2, 14, 30, s, tzinfo=timezone.utc) for s in (1, 59, 0)]
    >>> ticks = pa.table({"symbol": ["A", "A", "B"], "ts": pa.array(at, pa.timestamp("us", "UTC"))})
    >>> bar_minutes(ticks).sort("symbol").rows()
    [('A', datetime.datetime(2024, 1, 2, 14, 30)), ('B', datetime.datetime(2024, 1, 2, 14, 30))]
    """
    frame = pl.from_arrow(ticks.select(["symbol", "ts"]))
    assert isinstance(frame, pl.DataFrame)
    return frame.select(pl.col("symbol").cast(pl.String),
                        pl.col("ts").dt.truncate("1m").dt.replace_time_zone(None).alias("minute")).unique()


def rebuild_minutes(client: Client, symbols: list[str], minutes: list[datetime]) -> int:
    """Recompute the bars of the given (symbol, minute) pairs; return how many.

    ``symbols[i]`` and ``minutes[i]`` name one bar; minutes are UTC minute starts.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> rebuild_minutes(client, ["NONE"], [datetime(2024, 1, 2, 14, 30)])
    1
    """
    by_month: dict[int, list[int]] = {}
    for i, minute in enumerate(minutes):
        by_month.setdefault(_month(minute), []).append(i)
    for month, rows in sorted(by_month.items()):
        params = {"symbols": [symbols[i] for i in rows], "minutes": [minutes[i] for i in rows]}
        _swap_month(client, month, f"(symbol, minute) IN {_PAIRS}",
                    f"symbol IN {{symbols:Array(String)}} AND (symbol, toStartOfMinute(ts)) IN {_PAIRS}", params)
    return len(symbols)


def rebuild_range(client: Client, symbols: list[str] | None = None,
                  start: datetime | None = None, end: datetime | None = None) -> int:
    """Recompute all bars of ``symbols`` (default all) whose minute overlaps [start, end); return bars written.

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
        where.append("{column} >= {lo:DateTime64(6, 'UTC')}")
        params["lo"] = start.replace(second=0, microsecond=0)
    if end:
        where.append("{column} < {hi:DateTime64(6, 'UTC')}")
        floor = end.replace(second=0, microsecond=0)
        params["hi"] = floor if floor == end else floor + timedelta(minutes=1)
    bars = " AND ".join(where).replace("{column}", "minute")
    ticks = " AND ".join(where).replace("{column}", "ts")
    months = client.query(f"SELECT DISTINCT toYYYYMM(minute) FROM bars_1m WHERE {bars} UNION DISTINCT "
                          f"SELECT DISTINCT toYYYYMM(ts) FROM ticks_dedup WHERE {ticks}", parameters=params)
    for (month,) in sorted(months.result_rows):
        _swap_month(client, int(month), bars, ticks, params)
    return int(client.command(f"SELECT count() FROM (SELECT 1 FROM bars_1m WHERE {bars} "
                              "GROUP BY symbol, minute)", parameters=params))
