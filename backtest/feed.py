"""The data feed: symbols + time range + interval -> polars frames and numpy arrays.

``Feed(...).bars`` serves whole-minute intervals from the ``bars_1m`` rollup and
everything else from deduplicated ticks; ``.ticks`` and ``.ohlcv`` read trades
and imported bars. Every query's cost lands in ``Feed.stats``. The SQL lives in
:mod:`warehouse.feed_sql`.

Conventions:

* Times: ``start``/``end`` accept naive datetimes (taken as UTC), aware
  datetimes, dates and ISO strings; the range is ``[start, end)``. Output
  timestamps are UTC unless ``tz`` names a time zone.
* A bar is labelled by the start of its bucket (see :mod:`warehouse.feed_sql`
  for bucket alignment); the first/last bar is partial when ``start``/``end``
  are not on a bucket boundary.
* Several symbols come in one long frame aligned on one time index: every
  ``ts`` at which any requested symbol traded has one row per symbol, ordered
  by ``ts`` and then the symbols in the order asked. Times at which none
  traded are absent (no calendar is invented).
* Missing-bar rule: a symbol without trades in a bar gets its previous close
  carried forward as open/high/low/close, with volume 0, trades 0 and vwap
  null. Before its first trade in the range its prices are null (NaN in
  :func:`bar_arrays`). Prices are never filled from the future.
* Bad input (unknown symbol, start after end, bad interval, source or time
  zone) raises :class:`FeedError` naming the field and value; an empty range
  returns an empty frame with the usual columns.

A tour on a small example database:

>>> import datetime as dt
>>> from warehouse.client import connect
>>> from warehouse.schema.migrate import migrate
>>> client = connect(database="feed_tour")
>>> _ = migrate(client)
>>> feed = Feed(client)
>>> t0 = dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.timezone.utc)
>>> rows = [(s, t0 + dt.timedelta(seconds=10 * i), 100.0 + i % 7 + k, 1.0, 1, i, 0)
...         for k, s in enumerate(["AAA", "BBB"]) for i in range(360) if s == "AAA" or i >= 90]
>>> if not feed.symbols():
...     _ = client.insert("ticks", rows, column_names=["symbol", "ts", "price", "size", "side", "trade_id", "version"])
>>> bars = feed.bars(["AAA", "BBB"], "2024-01-02 14:30", "2024-01-02 15:30", "15m")
>>> bars.select("ts", "symbol", "close", "volume").head(3)
shape: (3, 4)
┌─────────────────────────┬────────┬───────┬────────┐
│ ts                      ┆ symbol ┆ close ┆ volume │
│ ---                     ┆ ---    ┆ ---   ┆ ---    │
│ datetime[μs, UTC]       ┆ str    ┆ f64   ┆ f64    │
╞═════════════════════════╪════════╪═══════╪════════╡
│ 2024-01-02 14:30:00 UTC ┆ AAA    ┆ 105.0 ┆ 90.0   │
│ 2024-01-02 14:30:00 UTC ┆ BBB    ┆ null  ┆ 0.0    │
│ 2024-01-02 14:45:00 UTC ┆ AAA    ┆ 104.0 ┆ 90.0   │
└─────────────────────────┴────────┴───────┴────────┘
>>> arrays = bar_arrays(bars)
>>> arrays.symbols, arrays.close.shape, arrays.close.dtype, arrays.close.flags.c_contiguous
(('AAA', 'BBB'), (4, 2), dtype('float64'), True)
>>> raw = feed.bars(["AAA", "BBB"], "2024-01-02 14:30", "2024-01-02 15:30", "15m", source="raw")
>>> raw.equals(bars)
True
>>> [(s.call, s.source) for s in feed.stats[-2:]]  # doctest: +NORMALIZE_WHITESPACE
[('bars 15m AAA,BBB 2024-01-02T14:30:00Z/2024-01-02T15:30:00Z', 'bars_1m'),
 ('bars 15m AAA,BBB 2024-01-02T14:30:00Z/2024-01-02T15:30:00Z', 'ticks_dedup')]
>>> feed.ticks("AAA", "2024-01-02 14:30", "2024-01-02 14:31", ["price"], tz="America/New_York")["ts"][0]
datetime.datetime(2024, 1, 2, 9, 30, tzinfo=zoneinfo.ZoneInfo(key='America/New_York'))
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client

from warehouse import feed_sql
from warehouse.client import connect
from warehouse.errors import WarehouseError
from warehouse.feed_sql import QueryCost
from warehouse.schema.ddl import TICK_COLUMNS

SOURCES = ("auto", "raw", "rollup")
PRICES = ("open", "high", "low", "close")
ARRAY_FIELDS = (*PRICES, "volume")

_INTERVAL = re.compile(r"([1-9][0-9]*)([smhd])")
_UNITS = {"s": ("second", 1), "m": ("minute", 60), "h": ("hour", 3600), "d": ("day", 86400)}
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
    backtest.feed.FeedError: interval: '7q' is not like 1s, 5m, 1h or 1d (count + s, m, h or d)
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


class BarArrays(NamedTuple):
    """Bars as contiguous float64 arrays of shape ``(n_bars, n_symbols)`` for the engine.

    ``index`` holds the bar times (``datetime64[us]``, UTC); missing values are NaN.
    """

    index: np.ndarray
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def to_utc(value: datetime | date | str | np.datetime64, field: str = "time") -> datetime:
    """An aware UTC datetime from a naive (UTC) or aware datetime, a date or an ISO string.

    >>> to_utc("2024-01-02T10:00:00+02:00")
    datetime.datetime(2024, 1, 2, 8, 0, tzinfo=datetime.timezone.utc)
    >>> to_utc("2024-01-02")
    datetime.datetime(2024, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)
    >>> to_utc("yesterday", "start")
    Traceback (most recent call last):
    backtest.feed.FeedError: start: 'yesterday' is not an ISO date/time (like 2024-01-02 or 2024-01-02T14:30:00Z)
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


def bar_arrays(frame: pl.DataFrame) -> BarArrays:
    """Pivot a long bar frame (``ts``, ``symbol``, OHLCV) into :class:`BarArrays`.

    Symbols keep their order of first appearance; a (ts, symbol) pair absent
    from the frame is NaN.

    >>> import datetime as dt
    >>> t = [dt.datetime(2024, 1, 2, h, tzinfo=dt.timezone.utc) for h in (9, 9, 10)]
    >>> frame = pl.DataFrame({"ts": t, "symbol": ["A", "B", "A"], "open": [1.0, 2.0, 3.0],
    ...     "high": [1.0, 2.0, 3.0], "low": [1.0, 2.0, 3.0], "close": [1.0, 2.0, 3.0], "volume": [5.0, 6.0, 7.0]})
    >>> bar_arrays(frame).close
    array([[ 1.,  2.],
           [ 3., nan]])
    """
    absent = [name for name in ("ts", "symbol", *ARRAY_FIELDS) if name not in frame.columns]
    if absent:
        raise FeedError(f"frame: missing column {absent[0]!r}; pass a frame from Feed.bars or Feed.ohlcv")
    symbols = tuple(frame["symbol"].unique(maintain_order=True).to_list())
    micros = frame["ts"].dt.epoch("us").to_numpy()
    index = np.unique(micros)
    rows = np.searchsorted(index, micros)
    cols = frame["symbol"].cast(pl.Enum(symbols)).to_physical().to_numpy().astype(np.intp)
    if len(np.unique(rows * len(symbols) + cols)) != frame.height:
        raise FeedError("frame: more than one row per (ts, symbol)")
    arrays = {}
    for name in ARRAY_FIELDS:
        values = np.full((len(index), len(symbols)), np.nan)
        values[rows, cols] = frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        arrays[name] = values
    return BarArrays(index.view("datetime64[us]"), symbols, **arrays)


class Feed:
    """Reads bars, ticks and imported OHLCV from a warehouse; records each query's cost.

    ``client_or_dsn`` is a clickhouse-connect client, a DSN, or None for
    ``$TICKHOUSE_DSN``/the default embedded warehouse. ``stats`` lists a
    :class:`~warehouse.feed_sql.QueryCost` per query (``pl.DataFrame(feed.stats)``
    tabulates them).

    >>> feed = Feed()
    >>> feed.stats
    []
    """

    def __init__(self, client_or_dsn: Client | str | None = None, database: str | None = None) -> None:
        if client_or_dsn is None or isinstance(client_or_dsn, str):
            self.client = connect(client_or_dsn, database)
        else:
            self.client = client_or_dsn
        self.stats: list[QueryCost] = []

    def bars(
        self,
        symbols: str | Iterable[str],
        start: datetime | date | str,
        end: datetime | date | str,
        interval: str = "1m",
        source: str = "auto",
        tz: str | None = None,
    ) -> pl.DataFrame:
        """OHLCV bars (plus vwap and trades) of ``interval`` in ``[start, end)``.

        ``source="auto"`` reads ``bars_1m`` when the interval is whole minutes and
        start/end are whole minutes, else deduplicated ticks; ``"rollup"`` and
        ``"raw"`` force one (the rollup cannot split a minute). Both give the same
        bars (``bars_1m`` is kept exact by the ingest path; rows inserted around it
        need ``python -m warehouse rebuild-bars``). Columns: ts, symbol, open,
        high, low, close, volume, vwap, trades.

        >>> Feed().bars("AAA", "2024-01-02", "2024-01-01")
        Traceback (most recent call last):
        backtest.feed.FeedError: start: 2024-01-02T00:00:00+00:00 is after end 2024-01-01T00:00:00+00:00
        >>> Feed().bars("AAA", "2024-01-01", "2024-01-02", "90s", source="rollup")
        Traceback (most recent call last):
        backtest.feed.FeedError: interval: '90s' is not whole minutes, which source='rollup' needs; use 'raw' or 'auto'
        """
        names, t0, t1 = _request(symbols, start, end, tz)
        step = Interval.parse(interval)
        rollup = _use_rollup(step, t0, t1, source)
        count, unit = step.sql_step(rollup)
        fetch = feed_sql.bars_from_rollup if rollup else feed_sql.bars_from_ticks
        table = self._run(f"bars {step}", names, t0, t1, fetch(self.client, names, t0, t1, count, unit))
        self._require_known(names, table)
        return _in_tz(_align(pl.from_arrow(table), names), tz)

    def ticks(
        self,
        symbols: str | Iterable[str],
        start: datetime | date | str,
        end: datetime | date | str,
        columns: Sequence[str] | None = None,
        tz: str | None = None,
        dedup: bool = True,
    ) -> pl.DataFrame:
        """Trades in ``[start, end)`` ordered by ts, symbol, trade_id.

        ``symbol`` and ``ts`` always come first; ``columns`` picks others (default
        all of price, size, side, trade_id, version). ``dedup=True`` reads each
        trade once at its latest version; ``dedup=False`` reads raw ``ticks``
        with redeliveries and superseded versions as they were stored.

        >>> Feed().ticks("AAA", "2024-01-01", "2024-01-02", columns=["bid"])
        Traceback (most recent call last):
        backtest.feed.FeedError: columns: 'bid' is not a tick column (symbol, ts, price, size, side, trade_id, version)
        """
        names, t0, t1 = _request(symbols, start, end, tz)
        chosen = TICK_COLUMNS if columns is None else ([columns] if isinstance(columns, str) else list(columns))
        for column in chosen:
            if column not in TICK_COLUMNS:
                raise FeedError(f"columns: {column!r} is not a tick column ({', '.join(TICK_COLUMNS)})")
        fetched = feed_sql.ticks(self.client, names, t0, t1, chosen, dedup)
        table = self._run("ticks", names, t0, t1, fetched)
        self._require_known(names, table)
        return _in_tz(pl.from_arrow(table), tz)

    def ohlcv(
        self,
        symbols: str | Iterable[str],
        start: datetime | date | str,
        end: datetime | date | str,
        interval: str = "1d",
        tz: str | None = None,
    ) -> pl.DataFrame:
        """Imported bars labelled ``interval`` (as loaded, e.g. ``1d``, ``1h``) in ``[start, end)``.

        Aligned like :meth:`bars` (same missing-bar rule); columns: ts, symbol,
        open, high, low, close, volume, oi (open interest, null where the file had none;
        carried forward over a missing bar like close).

        >>> Feed().ohlcv("GOOG", "2024-01-01", "2024-02-01", tz="Mars/Olympus")
        Traceback (most recent call last):
        backtest.feed.FeedError: tz: 'Mars/Olympus' is not a known time zone
        """
        names, t0, t1 = _request(symbols, start, end, tz)
        if not isinstance(interval, str) or not interval:
            raise FeedError(f"interval: {interval!r} is not an interval label like 1d")
        fetched = feed_sql.ohlcv(self.client, names, t0, t1, interval)
        table = self._run(f"ohlcv {interval}", names, t0, t1, fetched)
        self._require_ohlcv(names, table, interval)
        return _in_tz(_align(pl.from_arrow(table), names), tz)

    def symbols(self) -> list[str]:
        """Symbols with ticks in the warehouse, sorted (reads the whole symbol column).

        >>> from warehouse.client import connect
        >>> from warehouse.schema.migrate import migrate
        >>> client = connect(database="feed_empty_example")
        >>> _ = migrate(client)
        >>> Feed(client).symbols()
        []
        """
        fetched = feed_sql.known_symbols(self.client)
        self.stats.append(fetched.cost)
        return fetched.table.column("symbol").to_pylist()

    def _run(self, what: str, names: list[str], t0: datetime, t1: datetime, fetched: feed_sql.Fetched) -> pa.Table:
        shown = ",".join(names[:3]) + (f"+{len(names) - 3}" if len(names) > 3 else "")
        call = f"{what} {shown} {t0:%Y-%m-%dT%H:%M:%S}Z/{t1:%Y-%m-%dT%H:%M:%S}Z"
        self.stats.append(replace(fetched.cost, call=call))
        return fetched.table

    def _missing(self, names: list[str], table: pa.Table) -> list[str]:
        present = set(pc.unique(table.column("symbol")).to_pylist())
        return [name for name in names if name not in present]

    def _require_known(self, names: list[str], table: pa.Table) -> None:
        missing = self._missing(names, table)
        if not missing:
            return
        fetched = feed_sql.known_symbols(self.client, missing)
        self.stats.append(fetched.cost)
        known = set(fetched.table.column("symbol").to_pylist())
        unknown = [name for name in missing if name not in known]
        if unknown:
            raise FeedError(f"symbols: {', '.join(map(repr, unknown))} not in the warehouse (no ticks)")

    def _require_ohlcv(self, names: list[str], table: pa.Table, interval: str) -> None:
        missing = self._missing(names, table)
        if not missing:
            return
        fetched = feed_sql.known_symbols(self.client, missing, table="ohlcv")
        self.stats.append(fetched.cost)
        imported = dict(zip(fetched.table.column("symbol").to_pylist(), fetched.table.column("intervals").to_pylist()))
        for name in missing:
            if name not in imported:
                raise FeedError(f"symbols: {name!r} has no imported bars (ohlcv)")
            if interval not in imported[name]:
                raise FeedError(f"interval: {interval!r} is not imported for {name} (has {', '.join(imported[name])})")


def _request(
    symbols: str | Iterable[str], start: datetime | date | str, end: datetime | date | str, tz: str | None
) -> tuple[list[str], datetime, datetime]:
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


def _use_rollup(step: Interval, t0: datetime, t1: datetime, source: str) -> bool:
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


def _align(frame: pl.DataFrame, symbols: list[str]) -> pl.DataFrame:
    """One row per (ts, symbol) on the union of bar times; apply the missing-bar rule.

    One symbol whose bars all have a close is already aligned (the queries return
    one row per ts, in ts order), so it is returned as it is.
    """
    if len(symbols) == 1 and frame["close"].null_count() == 0:
        return frame
    grid = frame.select(pl.col("ts").unique().sort()).join(pl.DataFrame({"symbol": symbols}), how="cross")
    aligned = grid.join(frame, on=["ts", "symbol"], how="left", maintain_order="left")
    missing = pl.col("close").is_null()
    carried = pl.col("close").forward_fill().over("symbol")
    fills = [pl.when(missing).then(carried).otherwise(pl.col(name)).alias(name) for name in PRICES]
    fills.append(pl.col("volume").fill_null(0.0))
    if "oi" in aligned.columns:  # imported bars: open interest stands until the next bar
        fills.append(pl.when(missing).then(pl.col("oi").forward_fill().over("symbol")).otherwise(pl.col("oi")))
    if "trades" in aligned.columns:
        fills.append(pl.col("trades").fill_null(0))
    return aligned.with_columns(fills)


def _in_tz(frame: pl.DataFrame, tz: str | None) -> pl.DataFrame:
    return frame if tz is None else frame.with_columns(pl.col("ts").dt.convert_time_zone(tz))


__all__ = ["BarArrays", "Feed", "FeedError", "Interval", "QueryCost", "bar_arrays", "to_utc"]
