"""Bars in exchange time: bucketed by a venue's sessions (:mod:`warehouse.sessions`), and where symbols trade.

:func:`session_bars` and :func:`session_bar_columns` aggregate ``ticks_dedup FINAL`` or re-aggregate
``bars_1m`` like :func:`warehouse.feed_sql.bars_from_ticks` / :func:`~warehouse.feed_sql.bars_from_rollup`,
but each tick (or minute) is placed by the session of its local day, looked up in a
:class:`~warehouse.sessions.DayTable` passed as array parameters:

* the day is split at its session's open and close into pre-market ``[midnight, open)``, the regular
  session ``[open, close)`` and post-market ``[close, next midnight)`` (a day without a session is one
  part from midnight; a 24h venue's whole day is its session); a lunch break (XTKS, XHKG) is a part of
  its own, outside the regular session;
* intraday bars lie on one grid per day anchored at the open, and after a lunch break at its end
  (75 minutes at NSE: 09:15, 10:30, 11:45, ...; 1h at Tokyo: 09:00, 10:00, 11:00, 12:30, 13:30, ...),
  and never straddle midnight, the open, a break or the close: a bar starts at its grid time or at the
  start of its part, whichever is later;
* a daily bar is one per session, labelled by its open (``session="all"``: one per day with trades,
  labelled by the local midnight; ``"pre"``: midnight; ``"post"``: the close);
* ``session`` keeps the regular session's ticks, all, or only the pre- or post-market ones
  (:func:`session_ticks` reads the trades themselves that way).

Every boundary is a whole minute in real zones, so per-minute rows of ``bars_1m`` land in the
bars their ticks land in: both sources give the same bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

import pyarrow as pa
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from warehouse.errors import WarehouseError
from warehouse.feed_sql import (_RAW_FIELDS, _ROLLUP_FIELDS, _SYMBOL_INDEX, _TS_WHERE, BAR_COLUMNS_SCHEMA, BAR_SCHEMA,
                                TICK_TYPES, Fetched, _fetch, _range_params, _rollup_interval, _rollup_range)
from warehouse.schema.ddl import TICK_COLUMNS
from warehouse.sessions import SESSIONS, DayTable

_KEEP = {  # which ticks a session choice keeps (sess_open = sess_close = 0 on a day without a session)
    "regular": "sess_t >= sess_open AND sess_t < sess_close AND NOT (sess_t >= sess_break AND sess_t < sess_resume)",
    "all": "1",
    "pre": "sess_t < sess_open",
    "post": "sess_close > 0 AND sess_t >= sess_close",
}
_DAILY = {"regular": "sess_open", "all": "sess_midnight", "pre": "sess_midnight", "post": "sess_close"}
_INTRADAY = "greatest(sess_part, sess_t - positiveModulo(sess_t - sess_anchor, {step:Int64}))"
_PLACE = """WITH toInt64(toUnixTimestamp({col})) AS sess_t,
    toInt64(toDate({col}, {{zone:String}})) - {{first_day:Int64}} + 1 AS sess_day,
    {{midnights:Array(Int64)}}[sess_day] AS sess_midnight,
    {{opens:Array(Int64)}}[sess_day] AS sess_open,
    {{closes:Array(Int64)}}[sess_day] AS sess_close,
    {{break_starts:Array(Int64)}}[sess_day] AS sess_break,
    {{break_ends:Array(Int64)}}[sess_day] AS sess_resume,
    multiIf(sess_close > 0 AND sess_t >= sess_close, sess_close, sess_resume > 0 AND sess_t >= sess_resume, sess_resume,
            sess_break > 0 AND sess_t >= sess_break, sess_break, sess_open > 0 AND sess_t >= sess_open, sess_open,
            sess_midnight) AS sess_part,
    multiIf(sess_resume > 0 AND sess_t >= sess_resume, sess_resume, sess_open > 0, sess_open, sess_midnight)
        AS sess_anchor,
    {bucket} AS bucket"""
_EXCHANGES_SQL = """SELECT symbol, exchange, exchange_tz FROM instruments FINAL
WHERE symbol IN {symbols:Array(String)} GROUP BY symbol, exchange, exchange_tz ORDER BY symbol, exchange"""


def session_bars(client: Client, symbols: Sequence[str], start: datetime, end: datetime, *, days: DayTable,
                 zone: str, step: int, daily: bool, session: str, rollup: bool) -> Fetched:
    """Bars of ``step`` seconds (``daily``: one per session) in ``[start, end)`` placed by ``days`` (local days
    of ``zone``), keeping ``session``'s ticks; from ``bars_1m`` (``rollup``) or ``ticks_dedup FINAL``.
    Ordered by ``ts`` then ``symbol``; the schema is :data:`~warehouse.feed_sql.BAR_SCHEMA`.

    >>> from datetime import timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> from warehouse.sessions import day_table, venue_of
    >>> client = connect(database="feed_sessions_example")
    >>> _ = migrate(client)
    >>> t0, t1 = datetime(2024, 1, 25, tzinfo=timezone.utc), datetime(2024, 1, 26, tzinfo=timezone.utc)
    >>> nse = venue_of("NSE")
    >>> session_bars(client, ["INFY"], t0, t1, days=day_table(nse, t0, t1), zone=nse.zone, step=4500, daily=False,
    ...              session="regular", rollup=True).cost.source
    'bars_1m'
    >>> session_bars(client, ["INFY"], t0, t1, days=day_table(nse, t0, t1), zone=nse.zone, step=4500, daily=False,
    ...              session="lunch", rollup=True)
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: session: 'lunch' is not one of regular, all, pre, post
    """
    query = _query(symbols, start, end, days=days, zone=zone, step=step, daily=daily, session=session,
                   rollup=rollup)
    sql = f"""{query.place}
SELECT toDateTime64(bucket, 6, 'UTC') AS bar_ts, symbol, {_fields(rollup)}
FROM {query.scan} AND {query.keep}
GROUP BY symbol, bar_ts
ORDER BY bar_ts, symbol"""
    return _fetch(client, "bars", query.source, sql, query.params, BAR_SCHEMA, scan=query.scan)


def session_bar_columns(client: Client, symbols: Sequence[str], start: datetime, end: datetime, *, days: DayTable,
                        zone: str, step: int, daily: bool, session: str, rollup: bool) -> Fetched:
    """The bars of :func:`session_bars` as numbers for the engine's arrays, in no particular order:
    :data:`~warehouse.feed_sql.BAR_COLUMNS_SCHEMA` (``ts`` epoch seconds, ``symbol_index`` in ``symbols``).

    >>> from datetime import timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> from warehouse.sessions import day_table, venue_of
    >>> client = connect(database="feed_sessions_example")
    >>> _ = migrate(client)
    >>> t0, t1 = datetime(2024, 1, 25, tzinfo=timezone.utc), datetime(2024, 1, 26, tzinfo=timezone.utc)
    >>> nse = venue_of("NSE")
    >>> session_bar_columns(client, ["INFY"], t0, t1, days=day_table(nse, t0, t1), zone=nse.zone, step=86400,
    ...                     daily=True, session="all", rollup=False).table.column_names
    ['ts', 'symbol_index', 'open', 'high', 'low', 'close', 'volume']
    """
    query = _query(symbols, start, end, days=days, zone=zone, step=step, daily=daily, session=session,
                   rollup=rollup)
    sql = f"""SELECT bucket AS bar_ts, {_SYMBOL_INDEX}, bar_open, bar_high, bar_low, bar_close, bar_volume
FROM ({query.place}
    SELECT bucket, symbol, {_fields(rollup)}
    FROM {query.scan} AND {query.keep}
    GROUP BY symbol, bucket)"""
    return _fetch(client, "bar columns", query.source, sql, query.params, BAR_COLUMNS_SCHEMA, scan=query.scan)


def session_ticks(client: Client, symbols: Sequence[str], start: datetime, end: datetime, *, days: DayTable,
                  zone: str, session: str, columns: Sequence[str] = TICK_COLUMNS, dedup: bool = True) -> Fetched:
    """The trades of :func:`warehouse.feed_sql.ticks` that ``session`` keeps, each placed by ``days`` (local days
    of ``zone``): ordered by ``ts, symbol, trade_id``, ``symbol`` and ``ts`` first, then ``columns``.

    >>> from datetime import timezone
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> from warehouse.sessions import day_table, venue_of
    >>> client = connect(database="feed_sessions_example")
    >>> _ = migrate(client)
    >>> t0, t1 = datetime(2024, 1, 25, tzinfo=timezone.utc), datetime(2024, 1, 26, tzinfo=timezone.utc)
    >>> nse = venue_of("NSE")
    >>> session_ticks(client, ["INFY"], t0, t1, days=day_table(nse, t0, t1), zone=nse.zone, session="pre",
    ...               columns=["price"]).table.column_names
    ['symbol', 'ts', 'price']
    """
    if session not in SESSIONS:
        raise WarehouseError(f"session: {session!r} is not one of {', '.join(SESSIONS)}")
    for column in columns:
        if column not in TICK_TYPES:
            raise WarehouseError(f"columns: {column!r} is not a tick column ({', '.join(TICK_COLUMNS)})")
    chosen = ["symbol", "ts"] + [c for c in dict.fromkeys(columns) if c not in ("symbol", "ts")]
    source = "ticks_dedup" if dedup else "ticks"
    scan = f"{source}{' FINAL' if dedup else ''} {_TS_WHERE}"
    sql = f"""{_PLACE.format(col="ts", bucket="sess_part")}
SELECT {', '.join(chosen)}
FROM {scan} AND {_KEEP[session]}
ORDER BY ts, symbol, trade_id"""
    params = {**_range_params(symbols, start, end), **_day_params(days, zone)}
    schema = pa.schema([(name, TICK_TYPES[name]) for name in chosen])
    return _fetch(client, "ticks", source, sql, params, schema, scan=scan)


def symbol_exchanges(client: Client, symbols: Sequence[str]) -> list[tuple[str, str, str]]:
    """The exchanges (and their zones) ``instruments`` lists each of ``symbols`` on: ``(symbol, exchange, zone)``
    per distinct pair (none on a warehouse whose schema predates ``instruments``). A lookup of a few rows
    before a read, so no cost estimate is planned for it (that cost 1.3-2.4 ms of every ``Feed.bars``).

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="feed_sessions_example")
    >>> _ = migrate(client)
    >>> symbol_exchanges(client, ["INFY"])
    []
    """
    try:
        return [tuple(row) for row in client.query(_EXCHANGES_SQL, parameters={"symbols": list(symbols)}).result_rows]
    except DatabaseError as exc:  # a warehouse from before migration 9 has no instruments: nothing is listed
        if "UNKNOWN_TABLE" not in str(exc):
            raise
        return []


def _fields(rollup: bool) -> str:
    return _ROLLUP_FIELDS if rollup else _RAW_FIELDS


class _Query(NamedTuple):
    place: str  # the WITH clause: each row's local day, session, part and bucket
    scan: str  # "<table> [FINAL] WHERE <range>": also what the estimate plans
    keep: str  # the session's condition
    params: dict[str, Any]
    source: str


def _query(symbols: Sequence[str], start: datetime, end: datetime, *, days: DayTable, zone: str, step: int,
           daily: bool, session: str, rollup: bool) -> _Query:
    """What both shapes share: each row placed, the scan, the session's condition, parameters and source."""
    if session not in SESSIONS:
        raise WarehouseError(f"session: {session!r} is not one of {', '.join(SESSIONS)}")
    bucket = _DAILY[session] if daily else _INTRADAY
    if rollup:
        if step % 60:
            raise WarehouseError(f"interval: bars_1m serves whole minutes, not {step} second(s)")
        _rollup_interval(1, "minute", start, end)
        if not days.whole_minutes:
            raise WarehouseError(f"tz: {zone}'s day or session boundaries are not whole minutes, which bars_1m needs")
        where, params = _rollup_range(symbols, start, end)
        col, table = "minute", "bars_1m"
    else:
        where, params = _TS_WHERE, _range_params(symbols, start, end)
        col, table = "ts", "ticks_dedup FINAL"
    params = {**params, **_day_params(days, zone), "step": step}
    return _Query(_PLACE.format(col=col, bucket=bucket), f"{table} {where}", _KEEP[session], params, table.split()[0])


def _day_params(days: DayTable, zone: str) -> dict[str, Any]:
    """The parameters ``_PLACE`` reads: the zone and the day table."""
    return {"zone": zone, "first_day": (days.first_day - date(1970, 1, 1)).days, "midnights": days.midnights,
            "opens": days.opens, "closes": days.closes, "break_starts": days.break_starts,
            "break_ends": days.break_ends}
