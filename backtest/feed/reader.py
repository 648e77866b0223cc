"""The :class:`Feed`: checks a request, runs its query (:mod:`warehouse.feed_sql`), records the cost,
and shapes the result (:mod:`backtest.feed.frames`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client

from backtest.feed.events import QuoteArrays, TradeArrays, quote_arrays, trade_arrays
from backtest.feed.frames import ARRAY_FIELDS, BarArrays, align, in_tz, scatter_bars
from backtest.feed.reference import ReferenceReads
from backtest.feed.request import FeedError, check_session, plan_bars, request, to_utc
from backtest.feed.venues import fetch_bars, session_ticks, venues
from warehouse import feed_quotes, feed_sql
from warehouse.client import hold, release
from warehouse.feed_sql import QueryCost
from warehouse.schema.ddl import TICK_COLUMNS


class Feed(ReferenceReads):
    """Reads bars, ticks, quotes and imported OHLCV from a warehouse (and instruments, news, index levels and
    trades with the quote in force: :class:`~backtest.feed.reference.ReferenceReads`); records each query's cost.

    ``client_or_dsn`` is a clickhouse-connect client, a DSN, or None for
    ``$TICKHOUSE_DSN``/the default embedded warehouse. ``stats`` lists a
    :class:`~warehouse.feed_sql.QueryCost` per query (``pl.DataFrame(feed.stats)``
    tabulates them).

    A Feed closes (:meth:`close`, or ``with Feed(...) as feed:``). A Feed that
    opened its own client (given a DSN or None) closes it: a server connection
    at once; this process's embedded warehouse once no other open Feed uses it
    (and no code took it from :func:`warehouse.client.connect`), so another
    process may then open the directory. A Feed given a client leaves it open:
    whoever opened it closes it.

    >>> with Feed() as feed:
    ...     feed.stats
    []
    >>> feed.symbols()
    Traceback (most recent call last):
    backtest.feed.request.FeedError: feed: closed; open a new Feed (or use one inside its with block)
    """

    def __init__(self, client_or_dsn: Client | str | None = None, database: str | None = None) -> None:
        self._owns = client_or_dsn is None or isinstance(client_or_dsn, str)
        self._client: Client | None = hold(client_or_dsn, database) if self._owns else client_or_dsn
        self.stats: list[QueryCost] = []

    @property
    def client(self) -> Client:
        """The clickhouse-connect client this Feed reads through (an error once the Feed is closed)."""
        if self._client is None:
            raise FeedError("feed: closed; open a new Feed (or use one inside its with block)")
        return self._client

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._client is None

    def close(self) -> None:
        """Close the client this Feed opened (a client it was given stays open); closing twice is harmless."""
        if self._client is not None and self._owns:
            release(self._client)
        self._client = None

    def __enter__(self) -> Feed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def bars(
        self,
        symbols: str | Iterable[str],
        start: datetime | date | str,
        end: datetime | date | str,
        interval: str = "1m",
        source: str = "auto",
        tz: str | None = None,
        *,
        session: str = "regular",
        exchange: str | None = None,
    ) -> pl.DataFrame:
        """OHLCV bars (plus vwap and trades) of ``interval`` in ``[start, end)``, in exchange time.

        ``source="auto"`` reads ``bars_1m`` when the interval is whole minutes and
        start/end are whole minutes, else deduplicated ticks; ``"rollup"`` and
        ``"raw"`` force one (the rollup cannot split a minute). Both give the same
        bars (``bars_1m`` is kept exact by the ingest path; rows inserted around it
        need ``python -m warehouse rebuild-bars``). Columns: ts, symbol, open,
        high, low, close, volume, vwap, trades.

        Each symbol is bucketed by its exchange's sessions (:mod:`warehouse.feed_sessions`): the
        exchange ``instruments`` lists it on (or ``exchange=``, e.g. ``"NSE"``, ``"NYSE"``, ``"XLON"``, for
        every symbol asked) gives its calendar and zone (:data:`warehouse.sessions.EXCHANGE_CALENDARS`).
        Intraday bars are anchored at the session open (NSE: 75-minute bars at 09:15, 10:30, ... IST),
        a ``1d`` bar is one session (holidays and weekends have none, half days are short), and
        ``session`` keeps the ``"regular"`` session's ticks, ``"all"`` of them, or only the ``"pre"``- or
        ``"post"``-market ones. A symbol without an exchange trades 24h days in ``tz`` (default UTC: buckets
        as ClickHouse's ``toStartOfInterval``). Times come labelled in ``tz`` (default UTC).

        >>> Feed().bars("AAA", "2024-01-02", "2024-01-01")
        Traceback (most recent call last):
        backtest.feed.request.FeedError: start: 2024-01-02T00:00:00+00:00 is after end 2024-01-01T00:00:00+00:00
        >>> Feed().bars("AAA", "2024-01-01", "2024-01-02", "90s", source="rollup")
        Traceback (most recent call last):
        backtest.feed.request.FeedError: interval: '90s' is not whole minutes, which source='rollup' needs; use 'raw' or 'auto'
        >>> Feed().bars("AAA", "2024-01-01", "2024-01-02", session="lunch")
        Traceback (most recent call last):
        backtest.feed.request.FeedError: session: 'lunch' is not one of regular, all, pre, post
        """
        plan = plan_bars(symbols, start, end, interval, source, tz, session=session)
        tables = [self._run(f"bars {plan.step}", group, plan.t0, plan.t1,
                            fetch_bars(self.client, plan, venue, group, columns=False)[0])
                  for venue, group in venues(self.client, plan.names, tz=tz, exchange=exchange).items()]
        table = tables[0] if len(tables) == 1 else \
            pa.concat_tables(tables).sort_by([("ts", "ascending"), ("symbol", "ascending")])
        self._require_known(self._missing(plan.names, table))
        return in_tz(align(pl.from_arrow(table), plan.names), tz)

    def arrays(
        self,
        symbols: str | Iterable[str],
        start: datetime | date | str,
        end: datetime | date | str,
        interval: str = "1m",
        source: str = "auto",
        *,
        tz: str | None = None,
        session: str = "regular",
        exchange: str | None = None,
    ) -> BarArrays:
        """The bars of :meth:`bars` as the engine's :class:`BarArrays` (symbols in the order asked), read
        as numbers and put in place without a frame: equal to ``bar_arrays(feed.bars(...))``, several
        times faster for many symbols (no symbol strings, no sort, no join).

        >>> Feed().arrays("AAA", "2024-01-02", "2024-01-01")
        Traceback (most recent call last):
        backtest.feed.request.FeedError: start: 2024-01-02T00:00:00+00:00 is after end 2024-01-01T00:00:00+00:00
        """
        plan = plan_bars(symbols, start, end, interval, source, tz, session=session)
        seconds, indices, fields, resolution = [], [], {name: [] for name in ARRAY_FIELDS}, 0
        for venue, group in venues(self.client, plan.names, tz=tz, exchange=exchange).items():
            fetched, step = fetch_bars(self.client, plan, venue, group, columns=True)
            table = self._run(f"arrays {plan.step}", group, plan.t0, plan.t1, fetched)
            seconds.append(table.column("ts").to_numpy())
            index = table.column("symbol_index").to_numpy()  # the position in group
            indices.append(index if group == plan.names else
                           np.array([plan.names.index(name) for name in group], np.int64)[index])
            for name in ARRAY_FIELDS:
                fields[name].append(table.column(name).to_numpy())
            resolution = math.gcd(resolution, step)
        index = _joined(indices)
        absent = np.ones(len(plan.names), np.bool_)
        absent[index] = False
        self._require_known([name for name, gone in zip(plan.names, absent) if gone])
        return scatter_bars(_joined(seconds), index, {name: _joined(parts) for name, parts in fields.items()},
                            tuple(plan.names), resolution=resolution)

    def ticks(
        self,
        symbols: str | Iterable[str],
        start: datetime | date | str,
        end: datetime | date | str,
        columns: Sequence[str] | None = None,
        tz: str | None = None,
        dedup: bool = True,
        *,
        session: str = "all",
        exchange: str | None = None,
    ) -> pl.DataFrame:
        """Trades in ``[start, end)`` ordered by ts, symbol, trade_id.

        ``symbol`` and ``ts`` always come first; ``columns`` picks others (default
        all of price, size, side, trade_id, version). ``dedup=True`` reads each
        trade once at its latest version; ``dedup=False`` reads raw ``ticks``
        with redeliveries and superseded versions as they were stored.
        ``session`` keeps every trade (``"all"``, the default) or those of the
        ``"regular"`` session, or the ``"pre"``- or ``"post"``-market ones, of each
        symbol's exchange as :meth:`bars` places them (``exchange``, ``tz`` likewise).

        >>> Feed().ticks("AAA", "2024-01-01", "2024-01-02", columns=["bid"])
        Traceback (most recent call last):
        backtest.feed.request.FeedError: columns: 'bid' is not a tick column (symbol, ts, price, size, side, trade_id, version)
        >>> Feed().ticks("AAA", "2024-01-01", "2024-01-02", session="night")
        Traceback (most recent call last):
        backtest.feed.request.FeedError: session: 'night' is not one of regular, all, pre, post
        """
        names, t0, t1 = request(symbols, start, end, tz)
        chosen = TICK_COLUMNS if columns is None else ([columns] if isinstance(columns, str) else list(columns))
        for column in chosen:
            if column not in TICK_COLUMNS:
                raise FeedError(f"columns: {column!r} is not a tick column ({', '.join(TICK_COLUMNS)})")
        check_session(session)
        if session == "all":
            table = self._run("ticks", names, t0, t1, feed_sql.ticks(self.client, names, t0, t1, chosen, dedup))
        else:
            tables = [self._run("ticks", group, t0, t1, fetched)
                      for group, fetched in session_ticks(self.client, names, t0, t1, tz=tz, exchange=exchange,
                                                          session=session, columns=chosen, dedup=dedup)]
            table = tables[0] if len(tables) == 1 else \
                pa.concat_tables(tables).sort_by([("ts", "ascending"), ("symbol", "ascending")])
        self._require_known(self._missing(names, table))
        return in_tz(pl.from_arrow(table), tz)

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
        backtest.feed.request.FeedError: tz: 'Mars/Olympus' is not a known time zone
        """
        names, t0, t1 = request(symbols, start, end, tz)
        if not isinstance(interval, str) or not interval:
            raise FeedError(f"interval: {interval!r} is not an interval label like 1d")
        fetched = feed_sql.ohlcv(self.client, names, t0, t1, interval)
        table = self._run(f"ohlcv {interval}", names, t0, t1, fetched)
        self._require_ohlcv(names, table, interval)
        return in_tz(align(pl.from_arrow(table), names), tz)

    def quotes(
        self,
        symbols: str | Iterable[str],
        start: datetime | date | str,
        end: datetime | date | str,
        levels: int = 5,
        tz: str | None = None,
    ) -> pl.DataFrame:
        """Quotes in ``[start, end)`` ordered by ts, symbol, seq: symbol, ts, exchange_ts, seq, then per side and
        level ``bid_px_1, bid_qty_1, bid_orders_1, ...`` for ``levels`` levels (null where a level is empty),
        total_buy_qty, total_sell_qty, last_price, last_qty, oi, oi_day_high, oi_day_low, session. Each quote
        once (a redelivered one is not repeated).

        >>> Feed().quotes("AAA", "2024-01-02", "2024-01-03", levels=0)
        Traceback (most recent call last):
        backtest.feed.request.FeedError: levels: 0 is not a whole number from 1 to 5
        """
        names, t0, t1 = request(symbols, start, end, tz)
        if isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= 5:
            raise FeedError(f"levels: {levels!r} is not a whole number from 1 to 5")
        table = self._run(f"quotes L{levels}", names, t0, t1, feed_quotes.quotes(self.client, names, t0, t1, levels))
        self._require_quoted(self._missing(names, table))
        return in_tz(pl.from_arrow(table), tz)

    def depth_at(self, symbol: str, ts: datetime | date | str) -> pl.DataFrame:
        """The book of ``symbol`` in force at ``ts``: its last quote at or before it, one row per level (1 = top):
        ts (the quote's time), level, bid_px, bid_qty, bid_orders, ask_px, ask_qty, ask_orders (null where a
        level is empty). No quote at or before ``ts``: an empty frame.

        >>> Feed().depth_at(["AAA"], "2024-01-02")
        Traceback (most recent call last):
        backtest.feed.request.FeedError: symbol: ['AAA'] is not one symbol name
        """
        if not isinstance(symbol, str) or not symbol:
            raise FeedError(f"symbol: {symbol!r} is not one symbol name")
        at = to_utc(ts, "ts")
        table = self._run("depth_at", [symbol], at, at, feed_quotes.depth_at(self.client, symbol, at))
        if table.num_rows == 0:
            self._require_quoted([symbol])
        return _book(pl.from_arrow(table))

    def quote_arrays(self, symbols: str | Iterable[str], start: datetime | date | str,
                     end: datetime | date | str, *, known: bool = False) -> QuoteArrays:
        """Quotes in ``[start, end)`` as the tick engine's :class:`~backtest.feed.events.QuoteArrays`: ordered by
        time across ``symbols``, ``column`` the index in ``symbols`` (as asked, without repeats), ``(n, 5)``
        prices and quantities with NaN for empty levels. Read a window at a time: memory follows the window.
        A symbol without quotes in the range is looked up and refused when it has none at all, unless
        ``known`` says the caller has checked the symbols already (window after window).

        >>> Feed().quote_arrays("AAA", "2024-01-03", "2024-01-02")
        Traceback (most recent call last):
        backtest.feed.request.FeedError: start: 2024-01-03T00:00:00+00:00 is after end 2024-01-02T00:00:00+00:00
        """
        names, t0, t1 = request(symbols, start, end, None)
        table = self._run("quote arrays", names, t0, t1, feed_quotes.quote_columns(self.client, names, t0, t1))
        if not known:
            self._require_quoted(self._absent(names, table))
        return quote_arrays(table)

    def trade_arrays(self, symbols: str | Iterable[str], start: datetime | date | str,
                     end: datetime | date | str, *, known: bool = False) -> TradeArrays:
        """Trades in ``[start, end)`` (the deduplicated ticks :meth:`ticks` reads) as the tick engine's
        :class:`~backtest.feed.events.TradeArrays`: ``ts`` ns, ``column`` the index in ``symbols``, price, size.
        ``known``: as for :meth:`quote_arrays` (a symbol with no ticks at all is refused unless it is set).

        >>> Feed().trade_arrays([], "2024-01-02", "2024-01-03")
        Traceback (most recent call last):
        backtest.feed.request.FeedError: symbols: [] names no symbol
        """
        names, t0, t1 = request(symbols, start, end, None)
        table = self._run("trade arrays", names, t0, t1, feed_quotes.trade_columns(self.client, names, t0, t1))
        if not known:
            self._require_known(self._absent(names, table))
        return trade_arrays(table)

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

    def _absent(self, names: list[str], table: pa.Table) -> list[str]:
        """The ``names`` no row of a numbers-only result (its ``column`` indices) belongs to."""
        present = np.zeros(len(names), np.bool_)
        present[np.unique(table.column("column").to_numpy())] = True
        return [name for name, here in zip(names, present) if not here]

    def _require_quoted(self, missing: list[str]) -> None:
        """Refuse the symbols among ``missing`` (no quotes in the range) that have no quotes at all."""
        self._require_stored(missing, feed_quotes.quoted_symbols, "quotes")

    def _require_known(self, missing: list[str]) -> None:
        """Refuse the symbols among ``missing`` (no bars in the range) that have no ticks at all."""
        self._require_stored(missing, feed_sql.known_symbols, "ticks")

    def _require_stored(self, missing: list[str], lookup: Callable[[Client, list[str]], feed_sql.Fetched],
                        what: str) -> None:
        """Refuse the symbols among ``missing`` that ``lookup`` finds nowhere in the warehouse (no ``what``)."""
        if not missing:
            return
        fetched = lookup(self.client, missing)
        self.stats.append(fetched.cost)
        known = set(fetched.table.column("symbol").to_pylist())
        unknown = [name for name in missing if name not in known]
        if unknown:
            raise FeedError(f"symbols: {', '.join(map(repr, unknown))} not in the warehouse (no {what})")

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


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """One array of ``parts`` (the one part itself, not a copy)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _book(quote: pl.DataFrame) -> pl.DataFrame:
    """One quote (``feed_quotes.DEPTH_SCHEMA``, 0 or 1 row) as one row per level."""
    fields = ("px", "qty", "orders")
    if quote.height == 0:
        return pl.DataFrame(schema={"ts": quote.schema["ts"], "level": pl.Int8,
                                    **{f"{side}_{f}": quote.schema[f"{side}_{f}_1"] for side in ("bid", "ask")
                                       for f in fields}})
    return pl.DataFrame({"ts": [quote["ts"][0]] * 5, "level": pl.Series(range(1, 6), dtype=pl.Int8),
                         **{f"{side}_{f}": pl.Series([quote[f"{side}_{f}_{k}"][0] for k in range(1, 6)],
                                                     dtype=quote.schema[f"{side}_{f}_1"])
                            for side in ("bid", "ask") for f in fields}})
