"""Exchange time: which calendar and zone a symbol trades in, and its sessions as per-day numbers for the bar SQL.

A symbol's :class:`Venue` is its exchange's trading calendar (from ``exchange-calendars``, computed
locally: holidays, half days) and time zone. :data:`EXCHANGE_CALENDARS` is the one table that maps the
exchange names brokers and ``instruments`` use to calendar names (``NSE`` -> ``XBOM``, whose sessions and
holidays NSE shares; ``NYSE``/``NASDAQ`` -> ``XNYS``); an exchange-calendars name (``XLON``) is taken as
itself. An exchange the table maps to None (``MCX`` trades into the night, ``CME`` nearly round the
clock) and a symbol with no exchange trade in one 24-hour session per day of their zone.

:func:`day_table` lays a venue's sessions over the local days of a range: per day its midnight, its
regular session's open and close and its lunch break as epoch seconds (0 where there is none), which the
bar SQL (:mod:`warehouse.feed_sessions`) looks up by the day of each tick.

>>> venue = venue_of("NSE")
>>> venue
Venue(zone='Asia/Kolkata', calendar='XBOM')
>>> from datetime import datetime, timezone
>>> days = day_table(venue, datetime(2024, 1, 25, tzinfo=timezone.utc), datetime(2024, 1, 27, tzinfo=timezone.utc))
>>> days.first_day.isoformat(), days.opens[0] == days.midnights[0] + (9 * 60 + 15) * 60, days.opens[1:]
('2024-01-25', True, [0, 0])
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from warehouse.errors import WarehouseError
from warehouse.ingest.instruments import EXCHANGE_ZONES

if TYPE_CHECKING:
    from exchange_calendars import ExchangeCalendar

SESSIONS = ("regular", "all", "pre", "post")
"""What bars a session choice keeps: the regular session; everything; before the open; after the close."""

_XBOM = dict.fromkeys(("NSE", "BSE", "NFO", "BFO", "XNSE", "XBOM"), "XBOM")
_XNYS = dict.fromkeys(("NYSE", "NASDAQ", "ARCA", "AMEX", "BATS", "IEX", "US", "XNYS", "XNAS"), "XNYS")
EXCHANGE_CALENDARS: dict[str, str | None] = {
    **_XBOM,  # Indian cash and F&O segments: 09:15-15:30 IST, NSE's holidays (exchange-calendars' XBOM)
    **dict.fromkeys(("CDS", "BCD", "MCX", "NCO", "NSEIX"), None),  # currency/commodities: other hours, 24h days
    **_XNYS,  # US equities: 09:30-16:00 ET, NYSE holidays and half days
    **dict.fromkeys(("CBOE", "CME"), None),  # futures/options venues: nearly 24h, 24h days in their zone
    "LSE": "XLON", "XETRA": "XETR", "TSE": "XTKS", "HKEX": "XHKG",
}
"""Exchange name (as brokers and ``instruments`` spell it) -> exchange-calendars name; None: 24h days."""


class Venue(NamedTuple):
    """Where a symbol trades: the zone its days are counted in, its calendar (None: one 24h session a day)."""

    zone: str
    calendar: str | None


UTC_DAYS = Venue("UTC", None)
"""A symbol nothing places: 24-hour sessions on UTC days."""


def venue_of(exchange: str | None, zone: str | None = None, *, strict: bool = True) -> Venue:
    """The venue of a symbol listed on ``exchange`` (zone ``zone`` where no calendar fixes it).

    An exchange with a calendar trades in the calendar's zone; one without (or no exchange) in ``zone``,
    else the zone the exchange is known to use (:data:`warehouse.ingest.instruments.EXCHANGE_ZONES`), else UTC. An exchange neither :data:`EXCHANGE_CALENDARS` nor
    exchange-calendars knows is an error, or (``strict=False``, a row of ``instruments``) 24h days in ``zone``.

    >>> venue_of("NASDAQ"), venue_of("MCX"), venue_of(None, "Europe/Paris"), venue_of("XLON")
    (Venue(zone='America/New_York', calendar='XNYS'), Venue(zone='Asia/Kolkata', calendar=None), \
Venue(zone='Europe/Paris', calendar=None), Venue(zone='Europe/London', calendar='XLON'))
    >>> venue_of("LUNA", "Asia/Tokyo", strict=False)
    Venue(zone='Asia/Tokyo', calendar=None)
    >>> venue_of("LUNA")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: exchange: 'LUNA' has no known calendar (known: AMEX, ARCA, BATS, BCD, BFO, BSE, \
CBOE, CDS, CME, HKEX, IEX, LSE, MCX, NASDAQ, NCO, NFO, NSE, NSEIX, NYSE, TSE, US, XBOM, XETRA, XNAS, XNSE, XNYS, \
or an exchange-calendars name like XLON)
    """
    if not exchange:
        return Venue(zone or "UTC", None)
    key = exchange.upper()
    if key in EXCHANGE_CALENDARS:
        name = EXCHANGE_CALENDARS[key]
    elif key in _calendar_names():
        name = key
    elif not strict:
        name = None
    else:
        raise WarehouseError(f"exchange: {exchange!r} has no known calendar (known: "
                             f"{', '.join(sorted(EXCHANGE_CALENDARS))}, or an exchange-calendars name like XLON)")
    if name is None:
        return Venue(zone or EXCHANGE_ZONES.get(key, "UTC"), None)
    return Venue(str(_calendar(name, None).tz), name)


class DayTable(NamedTuple):
    """A venue's local days ``first_day, first_day + 1, ...``: per day its midnight, its regular session's open
    and close, and its break (a lunch break: XTKS, XHKG), as epoch seconds UTC; 0 where a day has no session
    (open = close = 0) or no break; ``midnights`` has one more entry, the last day's end.
    """

    first_day: date
    midnights: list[int]
    opens: list[int]
    closes: list[int]
    break_starts: list[int]
    break_ends: list[int]

    @property
    def days(self) -> list[date]:
        """The local dates, one per entry of ``opens``."""
        return [self.first_day + timedelta(days=i) for i in range(len(self.opens))]

    @property
    def whole_minutes(self) -> bool:
        """True when every boundary is a whole minute, so per-minute bars (``bars_1m``) can be bucketed."""
        return all(value % 60 == 0 for values in self[1:] for value in values)


def day_table(venue: Venue, start: datetime, end: datetime) -> DayTable:
    """The local days of ``venue`` that ``[start, end)`` touches, with their sessions.

    A 24h venue's session is the whole day. Half days close early, holidays have no session and lunch
    breaks are kept, as the calendar says; a calendar whose sessions cross local midnight is refused.

    >>> from datetime import datetime, timezone
    >>> days = day_table(Venue("America/New_York", "XNYS"), datetime(2024, 11, 28, tzinfo=timezone.utc),
    ...                  datetime(2024, 11, 30, tzinfo=timezone.utc))
    >>> [day.isoformat() for day in days.days], days.opens[0], (days.closes[2] - days.opens[2]) / 3600
    (['2024-11-27', '2024-11-28', '2024-11-29'], 1732717800, 3.5)
    >>> tokyo = day_table(venue_of("TSE"), datetime(2024, 3, 4, tzinfo=timezone.utc),
    ...                   datetime(2024, 3, 5, tzinfo=timezone.utc))
    >>> (tokyo.break_starts[0] - tokyo.opens[0]) / 3600, (tokyo.break_ends[0] - tokyo.break_starts[0]) / 3600
    (2.5, 1.0)
    """
    zone = ZoneInfo(venue.zone)
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 2)]
    midnights = [int(datetime.combine(day, time(), zone).timestamp()) for day in days]
    none = [0] * (len(days) - 1)
    if venue.calendar is None:
        return DayTable(first, midnights, midnights[:-1], midnights[1:], none, none)
    schedule = _calendar(venue.calendar, (first.year, last.year)).schedule
    sessions = schedule.loc[first.isoformat():last.isoformat()]
    columns = [_seconds(sessions[name]) for name in ("open", "close", "break_start", "break_end")]
    table = DayTable(first, midnights, none.copy(), none.copy(), none.copy(), none.copy())
    for times in zip(*columns):
        day = datetime.fromtimestamp(times[0], timezone.utc).astimezone(zone).date()
        index = (day - first).days
        if not 0 <= index < len(none) or times[1] > midnights[index + 1]:
            raise WarehouseError(f"exchange: {venue.calendar}'s session opening {day} runs past midnight "
                                 f"{venue.zone}, which session bars do not support")
        for values, value in zip(table[2:], times):
            values[index] = value
    return table


def _seconds(times: object) -> list[int]:
    """A schedule column (UTC timestamps, NaT where absent) as epoch seconds, 0 where absent."""
    values = times.dt.tz_convert(None).to_numpy()  # type: ignore[attr-defined]
    return np.where(np.isnat(values), 0, values.astype("datetime64[s]").astype(np.int64)).tolist()


# exchange_calendars (and pandas) is imported on first use: 0.5 s that importing the feed need not pay
@lru_cache(maxsize=1)
def _calendar_names() -> frozenset[str]:
    import exchange_calendars as xc

    return frozenset(xc.get_calendar_names(include_aliases=False))


@lru_cache(maxsize=32)
def _calendar(name: str, years: tuple[int, int] | None) -> ExchangeCalendar:
    """The calendar ``name`` covering ``years`` (first, last), with a year's margin where its holidays are
    recorded that far (XBOM's end with the current year); None: its default span.

    >>> _calendar("XBOM", (2026, 2026)).last_session.year >= 2026
    True
    """
    import exchange_calendars as xc

    if years is None:
        return xc.get_calendar(name)
    for end in (f"{years[1] + 1}-12-31", f"{years[1]}-12-31"):
        try:
            return xc.get_calendar(name, start=f"{years[0]}-01-01", end=end)
        except ValueError as exc:  # before the first year its holidays are recorded, or past its last
            error = exc
    raise WarehouseError(f"exchange: {name} cannot place {years[0]}-{years[1]}: "
                         f"{' '.join(str(error).split())}") from None


__all__ = ["EXCHANGE_CALENDARS", "SESSIONS", "UTC_DAYS", "DayTable", "Venue", "day_table", "venue_of"]
