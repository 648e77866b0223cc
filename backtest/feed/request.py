"""What a feed request asks for, checked: symbols, a ``[start, end)`` range in UTC, an interval, a source.

Every bad value is a :class:`FeedError` naming the field and the value.

>>> names, t0, t1 = request(["AAA", "AAA", "BBB"], "2024-01-02", "2024-01-03", None)
>>> names, t0.isoformat()
(['AAA', 'BBB'], '2024-01-02T00:00:00+00:00')
>>> use_rollup(Interval.parse("5m"), t0, t1, "auto"), use_rollup(Interval.parse("30s"), t0, t1, "auto")
(True, False)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from warehouse.errors import WarehouseError
from warehouse.ingest.bar_times import check_zone
from warehouse.sessions import SESSIONS, venue_of

SOURCES = ("auto", "raw", "rollup")

_INTERVAL = re.compile(r"([1-9][0-9]*)([smhd])")
_UNITS = {"s": ("second", 1), "m": ("minute", 60), "h": ("hour", 3600), "d": ("day", 86400)}
UNIT_SECONDS = {name: seconds for name, seconds in _UNITS.values()}  # bar times are multiples of their unit
_EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(2106, 1, 1, tzinfo=timezone.utc)  # DateTime('UTC') of bars_1m ends in 2106


class FeedError(WarehouseError, ValueError):
    """Bad input to the feed; the one-line message names the field and value.

    >>> str(FeedError("interval: '7q' is not like 1s, 5m, 1h or 1d"))
    "interval: '7q' is not like 1s, 5m, 1h or 1d"
    """


@dataclass(frozen=True)
class Interval:
    """A bar interval from ``1s`` to ``1d``: a count of s, m, h or d.

    >>> Interval.parse("5m")
    Interval(count=5, unit='m')
    >>> Interval.parse("120s").whole_minutes, Interval.parse("90s").whole_minutes
    (True, False)
    >>> Interval.parse("7q")
    Traceback (most recent call last):
    backtest.feed.request.FeedError: interval: '7q' is not like 1s, 5m, 1h or 1d (count + s, m, h or d)
    """

    count: int
    unit: str

    @classmethod
    def parse(cls, text: str) -> Interval:
        """Parse ``"<count><unit>"`` strictly; at most one day."""
        match = _INTERVAL.fullmatch(text) if isinstance(text, str) else None
        if not match:
            raise FeedError(f"interval: {text!r} is not like 1s, 5m, 1h or 1d (count + s, m, h or d)")
        interval = cls(int(match.group(1)), match.group(2))
        if interval.seconds > 86400:
            raise FeedError(f"interval: {text!r} is longer than 1d")
        return interval

    @property
    def seconds(self) -> int:
        """Length in seconds."""
        return self.count * _UNITS[self.unit][1]

    @property
    def whole_minutes(self) -> bool:
        """True when ``bars_1m`` can serve it."""
        return self.seconds % 60 == 0

    def sql_step(self, rollup: bool) -> tuple[int, str]:
        """``(count, unit name)`` for the query; seconds become minutes for the rollup."""
        if rollup and self.unit == "s":
            return self.seconds // 60, "minute"
        return self.count, _UNITS[self.unit][0]

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


def to_utc(value: datetime | date | str | np.datetime64, field: str = "time") -> datetime:
    """An aware UTC datetime from a naive (UTC) or aware datetime, a date or an ISO string.

    >>> to_utc("2024-01-02T10:00:00+02:00")
    datetime.datetime(2024, 1, 2, 8, 0, tzinfo=datetime.timezone.utc)
    >>> to_utc("2024-01-02")
    datetime.datetime(2024, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)
    >>> to_utc("yesterday", "start")
    Traceback (most recent call last):
    backtest.feed.request.FeedError: start: 'yesterday' is not an ISO date/time (like 2024-01-02 or 2024-01-02T14:30:00Z)
    """
    original = value
    if isinstance(value, str):
        text = value.strip()
        text = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise FeedError(
                f"{field}: {original!r} is not an ISO date/time (like 2024-01-02 or 2024-01-02T14:30:00Z)"
            ) from None
    elif isinstance(value, np.datetime64):
        value = value.astype("datetime64[us]").item()
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if not isinstance(value, datetime):
        raise FeedError(f"{field}: {original!r} is not a datetime, date or ISO string")
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if not _EARLIEST <= value < _LATEST:
        raise FeedError(f"{field}: {original!r} is outside 1970-01-01..2106-01-01")
    return value


def request(
    symbols: str | Iterable[str], start: datetime | date | str, end: datetime | date | str, tz: str | None
) -> tuple[list[str], datetime, datetime]:
    """``(symbols without repeats, start, end)`` in UTC; raises :class:`FeedError` on a bad value.

    >>> request("AAA", "2024-01-02", "2024-01-01", None)
    Traceback (most recent call last):
    backtest.feed.request.FeedError: start: 2024-01-02T00:00:00+00:00 is after end 2024-01-01T00:00:00+00:00
    """
    names = [symbols] if isinstance(symbols, str) else list(symbols) if isinstance(symbols, Iterable) else None
    if not names:
        raise FeedError(f"symbols: {symbols!r} names no symbol")
    for name in names:
        if not isinstance(name, str) or not name:
            raise FeedError(f"symbols: {name!r} is not a symbol name")
    t0, t1 = to_utc(start, "start"), to_utc(end, "end")
    if t0 > t1:
        raise FeedError(f"start: {t0.isoformat()} is after end {t1.isoformat()}")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise FeedError(f"tz: {tz!r} is not a known time zone") from None
    return list(dict.fromkeys(names)), t0, t1


def use_rollup(step: Interval, t0: datetime, t1: datetime, source: str) -> bool:
    """Whether ``bars_1m`` serves the request: ``source="auto"`` picks it when the interval and both ends
    are whole minutes; ``"rollup"`` insists on it (and says why it cannot), ``"raw"`` never uses it.

    >>> t = to_utc("2024-01-02T14:30:30")
    >>> use_rollup(Interval.parse("1m"), t, t, "rollup")
    Traceback (most recent call last):
    backtest.feed.request.FeedError: start: 2024-01-02T14:30:30+00:00 is not a whole minute, which source='rollup' needs
    """
    if source not in SOURCES:
        raise FeedError(f"source: {source!r} is not one of {', '.join(SOURCES)}")
    if source == "raw":
        return False
    unaligned = next((f for f, t in (("start", t0), ("end", t1)) if t.second or t.microsecond), None)
    if source == "rollup":
        if not step.whole_minutes:
            raise FeedError(f"interval: '{step}' is not whole minutes, which source='rollup' needs; use 'raw' or 'auto'")
        if unaligned:
            value = t0 if unaligned == "start" else t1
            raise FeedError(f"{unaligned}: {value.isoformat()} is not a whole minute, which source='rollup' needs")
    return step.whole_minutes and unaligned is None


class BarPlan(NamedTuple):
    """A checked bars request: the symbols and UTC range, the interval, how the query asks for it, and which
    part of each trading day it keeps (``session``: one of :data:`~warehouse.sessions.SESSIONS`)."""

    names: list[str]
    t0: datetime
    t1: datetime
    step: Interval
    rollup: bool  # read bars_1m (else deduplicated ticks)
    count: int  # the query's interval: count x unit
    unit: str
    session: str = "regular"


def plan_bars(symbols: str | Iterable[str], start: datetime | date | str, end: datetime | date | str,
              interval: str, source: str, tz: str | None = None, *, session: str = "regular") -> BarPlan:
    """Check a bars request (:func:`request`, :class:`Interval`, :func:`use_rollup`, the session) and say how
    to query it.

    >>> plan = plan_bars("AAA", "2024-01-02", "2024-01-03", "5m", "auto")
    >>> plan.names, plan.rollup, plan.count, plan.unit, plan.session
    (['AAA'], True, 5, 'minute', 'regular')
    >>> plan_bars("AAA", "2024-01-02", "2024-01-03", "5m", "auto", session="lunch")
    Traceback (most recent call last):
    backtest.feed.request.FeedError: session: 'lunch' is not one of regular, all, pre, post
    """
    names, t0, t1 = request(symbols, start, end, tz)
    check_session(session)
    step = Interval.parse(interval)
    rollup = use_rollup(step, t0, t1, source)
    return BarPlan(names, t0, t1, step, rollup, *step.sql_step(rollup), session)


def check_session(session: str) -> str:
    """``session`` if it is one of :data:`~warehouse.sessions.SESSIONS`, else a :class:`FeedError`.

    >>> check_session("pre")
    'pre'
    """
    if session not in SESSIONS:
        raise FeedError(f"session: {session!r} is not one of {', '.join(SESSIONS)}")
    return session


def check_exchange_time(*, session: str, tz: str | None = None, exchange: str | None = None) -> None:
    """A :class:`FeedError` naming the field when ``session``, ``tz`` or ``exchange`` is not one the feed can use.

    >>> check_exchange_time(session="regular", tz="Asia/Kolkata", exchange="NSE")
    >>> check_exchange_time(session="regular", tz="Mars/Base")
    Traceback (most recent call last):
    backtest.feed.request.FeedError: tz: 'Mars/Base' is not a known time zone (e.g. Asia/Kolkata, America/New_York, UTC)
    """
    check_session(session)
    try:
        if tz is not None:
            check_zone(tz, "tz")
        if exchange is not None:
            venue_of(exchange)
    except FeedError:
        raise
    except WarehouseError as exc:
        raise FeedError(str(exc)) from None
