"""Where a request's symbols trade, and their bars read by venue: the exchange time behind :meth:`Feed.bars`.

A symbol's venue (:class:`~warehouse.sessions.Venue`: calendar and zone) is the exchange given for the
request, else its exchange in ``instruments``, else 24-hour days in the request's ``tz`` (UTC when none).
Symbols of one venue are read in one query: 24h UTC days by ClickHouse's interval buckets
(:mod:`warehouse.feed_sql`, as before exchange time), every other venue by its sessions
(:mod:`warehouse.feed_sessions`).

>>> from warehouse.client import connect
>>> from warehouse.schema.migrate import migrate
>>> client = connect(database="venues_example")
>>> _ = migrate(client)
>>> venues(client, ["AAA", "BBB"], tz=None, exchange=None)
{Venue(zone='UTC', calendar=None): ['AAA', 'BBB']}
>>> venues(client, ["AAA"], tz="Asia/Kolkata", exchange="NSE")
{Venue(zone='Asia/Kolkata', calendar='XBOM'): ['AAA']}
"""

from __future__ import annotations

import math
from datetime import datetime

from clickhouse_connect.driver.client import Client

from backtest.feed.request import UNIT_SECONDS, BarPlan, FeedError
from warehouse import feed_sessions, feed_sql
from warehouse.errors import WarehouseError
from warehouse.sessions import UTC_DAYS, Venue, day_table, venue_of


def venues(client: Client, names: list[str], *, tz: str | None, exchange: str | None) -> dict[Venue, list[str]]:
    """``names`` grouped by venue, in the order asked: ``exchange`` for all of them, else each one's exchange
    in ``instruments`` (one listed on exchanges that keep different hours is an error), else 24h days in ``tz``.
    The lookup reads a few rows of ``instruments`` and is not listed in ``Feed.stats``."""
    try:
        if exchange is not None:
            return {venue_of(exchange): names}
        listed: dict[str, set[tuple[Venue, str]]] = {}
        for name, where, zone in feed_sessions.symbol_exchanges(client, names):
            listed.setdefault(name, set()).add((venue_of(where, zone or None, strict=False), where))
    except WarehouseError as exc:
        raise FeedError(str(exc)) from None
    groups: dict[Venue, list[str]] = {}
    for name in names:
        places = {venue for venue, _ in listed.get(name, ())}
        if len(places) > 1:
            exchanges = ", ".join(sorted(where for _, where in listed[name]))
            raise FeedError(f"symbols: {name!r} is listed on {exchanges} in instruments, which keep different "
                            "hours; pass exchange= to choose")
        groups.setdefault(places.pop() if places else Venue(tz or "UTC", None), []).append(name)
    return groups


def fetch_bars(client: Client, plan: BarPlan, venue: Venue, group: list[str], *,
               columns: bool) -> tuple[feed_sql.Fetched, int]:
    """The bars of ``group`` (symbols of ``venue``) as a frame's table or as numbers (``columns``), and a
    step in seconds every bar time is a multiple of."""
    if venue == UTC_DAYS and plan.session in ("regular", "all"):  # 24h UTC days: ClickHouse's buckets
        if columns:
            fetched = feed_sql.bar_columns(client, group, plan.t0, plan.t1, plan.count, plan.unit,
                                           rollup=plan.rollup)
        else:
            fetch = feed_sql.bars_from_rollup if plan.rollup else feed_sql.bars_from_ticks
            fetched = fetch(client, group, plan.t0, plan.t1, plan.count, plan.unit)
        return fetched, UNIT_SECONDS[plan.unit]
    try:
        days = day_table(venue, plan.t0, plan.t1)
        fetch = feed_sessions.session_bar_columns if columns else feed_sessions.session_bars
        fetched = fetch(client, group, plan.t0, plan.t1, days=days, zone=venue.zone, step=plan.step.seconds,
                        daily=plan.step.unit == "d", session=plan.session,
                        rollup=plan.rollup and days.whole_minutes)
    except WarehouseError as exc:
        raise FeedError(str(exc)) from None
    return fetched, math.gcd(plan.step.seconds, 60) if days.whole_minutes else 1


def session_ticks(client: Client, names: list[str], start: datetime, end: datetime, *, tz: str | None,
                  exchange: str | None, session: str, columns: list[str],
                  dedup: bool) -> list[tuple[list[str], feed_sql.Fetched]]:
    """The trades ``session`` keeps, one query per venue of ``names`` (:func:`venues`): (symbols, result) pairs."""
    results = []
    for venue, group in venues(client, names, tz=tz, exchange=exchange).items():
        try:
            fetched = feed_sessions.session_ticks(client, group, start, end, days=day_table(venue, start, end),
                                                  zone=venue.zone, session=session, columns=columns, dedup=dedup)
        except WarehouseError as exc:
            raise FeedError(str(exc)) from None
        results.append((group, fetched))
    return results
