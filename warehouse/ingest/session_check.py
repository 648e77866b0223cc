"""Exchange sessions at load: each row's session type from its symbol's calendar, and rows outside a required
session refused.

A :class:`SessionRule` places each symbol on its venue (:func:`warehouse.sessions.venue_of`): the exchange
given for the whole load (``--exchange``), else the symbol's exchange in ``instruments``. Per batch it lays
the venue's sessions over the days the batch touches (:func:`warehouse.sessions.day_table`) and types every
row in one vectorised pass (:func:`session_types`: ``searchsorted`` over the days' boundaries -- midnight,
open, break, resume, close -- and a gather of the type each one starts):

* ``closed``: a day without a session (a holiday, a weekend);
* ``pre``: before the open of a trading day; ``regular``: from the open to the close; ``post``: after the
  close; ``break``: in a lunch break (XTKS, XHKG). A venue without a calendar (MCX, CME: 24-hour days)
  is ``regular`` all day, every day.

With ``require="regular"`` a row of any other type is refused (code ``outside_session``, field ``ts``, the
time as given as value, the type in the reason); with ``require="extended"`` only ``closed`` rows are (pre-
and post-market of a trading day are kept). With a requirement, a symbol no exchange places is an error
naming it (load its instruments, or pass the exchange); without one (the session type of quotes,
:func:`warehouse.ingest.quote_check.clean_quotes`), its rows just get no type (``""``). Ticks keep no session
column: their session is derived at read time (``Feed.bars(..., session=...)``, :mod:`warehouse.feed_sessions`).

The instruments' listings are read once, at a rule's first batch (before any insert of the load runs).

>>> from datetime import datetime, timezone
>>> rule = session_rule(None, require="regular", exchange="NYSE")
>>> ts = pl.Series(["2024-07-03 13:00", "2024-07-03 18:00", "2024-07-04 15:00"]).str.to_datetime(time_zone="UTC")
>>> rule.type_names(pl.Series(["SPY"] * 3), ts).to_list()
['pre', 'post', 'closed']
>>> [(mask.to_list(), code, reason) for mask, code, reason in rule(pl.Series(["SPY"] * 3), ts)][0]
([True, False, False], 'outside_session', 'ts: before the open (regular session required)')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import polars as pl
from clickhouse_connect.driver.client import Client

from warehouse.errors import WarehouseError
from warehouse.sessions import DayTable, Venue, day_table, venue_of

REQUIRED_SESSIONS = {
    "regular": "the open to the close of a trading day (pre-/post-market, breaks, holidays, weekends refused)",
    "extended": "any time of a trading day (pre-market, regular, post-market); holidays and weekends refused",
}
"""What ``require_session`` (``--require-session``) keeps."""
SESSION_TYPES = ("closed", "pre", "regular", "post", "break")
"""A row's session type, indexed by :func:`session_types`' codes."""
CLOSED, PRE, REGULAR, POST, BREAK = range(len(SESSION_TYPES))
OUTSIDE = "outside_session"
_WHY = {CLOSED: "not a trading day", PRE: "before the open", POST: "after the close", BREAK: "in the lunch break"}
_REFUSED = {"regular": (PRE, POST, BREAK, CLOSED), "extended": (CLOSED,), "": ()}
_LISTINGS_SQL = "SELECT symbol, groupUniqArray((exchange, exchange_tz)) FROM instruments FINAL GROUP BY symbol"
_MICROS = 1_000_000
_DAY_US = 86_400 * _MICROS
_EARLIEST_US = 31_536_000 * _MICROS  # 1971-01-01: earlier times are refused before any session is looked up


def session_types(ts_us: np.ndarray, days: DayTable) -> np.ndarray:
    """The session type code (index of :data:`SESSION_TYPES`) of each time ``ts_us`` (epoch µs, inside ``days``).

    >>> from datetime import datetime, timezone
    >>> days = day_table(venue_of("NSE"), datetime(2024, 1, 25, tzinfo=timezone.utc),
    ...                  datetime(2024, 1, 27, tzinfo=timezone.utc))
    >>> ts = [datetime(2024, 1, 25, h, m, tzinfo=timezone.utc).timestamp() * 1e6 for h, m in ((3, 0), (4, 0), (10, 0))]
    >>> [SESSION_TYPES[code] for code in session_types(np.array(ts + [ts[1] + 86400e6], np.int64), days)]
    ['pre', 'regular', 'post', 'closed']
    """
    edges, kinds = _edges(days)
    return kinds[np.clip(np.searchsorted(edges, ts_us, side="right") - 1, 0, len(kinds) - 1)]


def _edges(days: DayTable) -> tuple[np.ndarray, np.ndarray]:
    """Every boundary of ``days`` in µs, ascending, with the session type that starts there (of equal ones, the
    last starts: a 24h day's open is its midnight)."""
    edges, kinds = [], []
    for midnight, *times in zip(days.midnights, *days[2:]):
        opens, closes, breaks, resumes = times
        for edge, kind in ((midnight, PRE if opens else CLOSED), (opens, REGULAR), (breaks, BREAK),
                           (resumes, REGULAR), (closes, POST)):
            if edge:
                edges.append(edge)
                kinds.append(kind)
    return np.asarray(edges, np.int64) * _MICROS, np.asarray(kinds, np.int8)


@dataclass
class SessionRule:
    """Places symbols on their venues and types (or screens) rows by their session; build it with
    :func:`session_rule`. Called with (symbols, UTC times) it returns the rows outside the required session
    as ``(broken per row, code, reason)`` rules, as :func:`warehouse.ingest.validate.clean_ticks` takes them."""

    client: Client | None
    require: str | None = None
    exchange: str | None = None
    _listings: dict[str, list[tuple[str, str]]] | None = field(default=None, repr=False)

    def __call__(self, symbols: pl.Series, ts: pl.Series) -> list[tuple[pl.Series, str, str]]:
        """The rows outside the required session, one rule per kind of outside (none without a requirement)."""
        return self.refusals(self.types(symbols, ts)) if self.require else []

    def refusals(self, types: np.ndarray) -> list[tuple[pl.Series, str, str]]:
        """The rules ``types`` (codes of :data:`SESSION_TYPES`) break: one per kind of outside that occurs.

        >>> [reason for _, _, reason in session_rule(None, require="extended").refusals(np.array([0, 1, 2, 3]))]
        ['ts: not a trading day (extended session required)']
        """
        return [(pl.Series(types == kind), OUTSIDE, reason) for kind, reason in self.reasons().items()
                if (types == kind).any()]

    def reasons(self) -> dict[int, str]:
        """The reason of each session type code (:data:`SESSION_TYPES`) the requirement refuses.

        >>> session_rule(None, require="extended").reasons()
        {0: 'ts: not a trading day (extended session required)'}
        """
        return {kind: f"ts: {_WHY[kind]} ({self.require} session required)" for kind in _REFUSED[self.require or ""]}

    def type_names(self, symbols: pl.Series, ts: pl.Series) -> pl.Series:
        """Each row's session type by name (:data:`SESSION_TYPES`; ``""`` where no exchange places the symbol)."""
        names = dict(enumerate(SESSION_TYPES))
        return pl.Series("session", self.types(symbols, ts)).replace_strict(names, default="", return_dtype=pl.String)

    def types(self, symbols: pl.Series, ts: pl.Series) -> np.ndarray:
        """Each row's session type code (:data:`SESSION_TYPES`), -1 where unknown (a null, early or unplaced row)."""
        micros = ts.dt.epoch("us").fill_null(0).to_numpy()
        out = np.full(len(micros), -1, np.int8)
        valid = (micros >= _EARLIEST_US) & (micros < _utc_now_us() + _DAY_US)  # later rows are future_ts rejects
        venues, codes = self._venue_codes(symbols)
        for index, venue in enumerate(venues):
            rows = valid if codes is None else valid & (codes == index)
            every = bool(rows.all())  # the common case: no copy in, none out
            picked = micros if every else micros[rows]
            if picked.size == 0:
                continue
            try:
                days = day_table(venue, *(_utc(int(edge)) for edge in (picked.min(), picked.max())))
            except WarehouseError:  # rows outside the years the calendar records (e.g. before XBOM's 1997)
                if self.require is not None:
                    raise
                continue  # typing only: these rows stay untyped rather than failing the load
            typed = session_types(picked, days)
            if every:
                return typed
            out[rows] = typed
        return out

    def _venue_codes(self, symbols: pl.Series) -> tuple[list[Venue], np.ndarray | None]:
        """The venues of ``symbols`` and each row's index among them (None: one venue holds every row)."""
        if self.exchange is not None:
            return [venue_of(self.exchange)], None
        placed = {name: self._venue(name) for name in symbols.drop_nulls().unique().sort().to_list() if name}
        venues = sorted({venue for venue in placed.values() if venue is not None}, key=str)
        if not venues:  # nothing placed: no row gets a type
            return [], None
        if len(venues) == 1 and None not in placed.values():
            return venues, None
        index = {name: venues.index(venue) if venue else -1 for name, venue in placed.items()}
        return venues, symbols.replace_strict(index, default=-1, return_dtype=pl.Int32).to_numpy()

    def _venue(self, symbol: str) -> Venue | None:
        """``symbol``'s venue from ``instruments`` (only asked when no ``exchange`` was given)."""
        if self._listings is None:
            self._listings = dict(self.client.query(_LISTINGS_SQL).result_rows) if self.client else {}
        listings = self._listings.get(symbol, [])
        listed = {(venue_of(where, zone or None, strict=False), where) for where, zone in listings}
        places = {venue for venue, _ in listed}
        if len(places) > 1:
            if self.require is None:  # typing only: an ambiguous symbol stays untyped
                return None
            raise WarehouseError(f"symbol: {symbol!r} is listed on {', '.join(sorted(w for _, w in listed))} in "
                                 "instruments, which keep different hours; pass --exchange (exchange=) to choose")
        if not places and self.require is not None:
            raise WarehouseError(f"symbol: {symbol!r} has no exchange in instruments, so its {self.require} session "
                                 "is unknown; load its instruments (load-instruments) or pass --exchange (exchange=)")
        return places.pop() if places else None


def session_rule(client: Client | None, *, require: str | None = None, exchange: str | None = None) -> SessionRule:
    """A rule that requires the ``require`` session (:data:`REQUIRED_SESSIONS`; None: types rows only) of each
    symbol's exchange: ``exchange`` for every symbol, else each one's in ``client``'s ``instruments``.

    >>> session_rule(None, require="weekly")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: require_session: 'weekly' is not regular or extended
    >>> session_rule(None, exchange="NSE").exchange
    'NSE'
    """
    if require is not None and require not in REQUIRED_SESSIONS:
        raise WarehouseError(f"require_session: {require!r} is not {' or '.join(REQUIRED_SESSIONS)}")
    if exchange is not None:
        venue_of(exchange)  # an unknown exchange fails here, before any row is read
    return SessionRule(client, require, exchange)


def _utc_now_us() -> int:
    return int(datetime.now(timezone.utc).timestamp() * _MICROS)


def _utc(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / _MICROS, timezone.utc)


__all__ = ["CLOSED", "OUTSIDE", "REGULAR", "REQUIRED_SESSIONS", "SESSION_TYPES", "SessionRule", "session_rule",
           "session_types"]
