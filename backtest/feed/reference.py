"""The :class:`~backtest.feed.Feed`'s reads of reference data and trading costs: instruments, news, index levels,
and trades joined to the quote in force (queries in :mod:`warehouse.feed_news` and :mod:`warehouse.feed_spread`).

Each read records its cost in ``feed.stats`` like :meth:`~backtest.feed.Feed.bars`; a symbol the warehouse does not
know at all is refused with the one-line error the other reads give.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from backtest.feed.request import FeedError, request
from warehouse import feed_news, feed_spread
from warehouse.feed_sql import Fetched, QueryCost

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


class ReferenceReads:
    """Reads of instruments, news, index levels and trade costs, for :class:`~backtest.feed.Feed`."""

    if TYPE_CHECKING:  # provided by Feed
        stats: list[QueryCost]

        @property
        def client(self) -> Client: ...

        def _run(self, what: str, names: list[str], t0: datetime, t1: datetime, fetched: Fetched) -> pa.Table: ...

        def _missing(self, names: list[str], table: pa.Table) -> list[str]: ...

        def _require_known(self, missing: list[str]) -> None: ...

        def _require_stored(self, missing: list[str], lookup: Callable[[Client, list[str]], Fetched],
                            what: str) -> None: ...

    def instruments(self, symbols: str | Iterable[str] | None = None, *, exchange: str | None = None) -> pl.DataFrame:
        """Instruments (the latest row per instrument token): instrument_token, exchange_token, symbol,
        tradingsymbol, name, exchange, segment, instrument_type, asset_class, sector, lot_size, tick_size, expiry,
        strike, exchange_tz; of ``symbols`` (None: every one) on ``exchange`` (None: any), ordered by symbol,
        exchange, token. A symbol asked for that ``instruments`` does not list is refused.

        >>> from backtest.feed import Feed
        >>> from warehouse.client import connect
        >>> from warehouse.schema.migrate import migrate
        >>> client = connect(database="feed_reference_example"); _ = migrate(client)
        >>> Feed(client).instruments("NO_SUCH_SYMBOL", exchange="NSE")
        Traceback (most recent call last):
        backtest.feed.request.FeedError: symbols: 'NO_SUCH_SYMBOL' not in the warehouse (no instruments on NSE)
        """
        names = None if symbols is None else _names(symbols, "symbols")
        if exchange is not None and (not isinstance(exchange, str) or not exchange):
            raise FeedError(f"exchange: {exchange!r} is not an exchange name like NSE")
        fetched = feed_news.instruments(self.client, names, exchange)
        shown = "all" if names is None else ",".join(names[:3]) + (f"+{len(names) - 3}" if len(names) > 3 else "")
        self.stats.append(replace(fetched.cost, call=f"instruments {shown}{' ' + exchange if exchange else ''}"))
        unknown = [] if names is None else self._missing(names, fetched.table)
        if unknown:
            raise FeedError(f"symbols: {', '.join(map(repr, unknown))} not in the warehouse "
                            f"(no instruments{' on ' + exchange if exchange else ''})")
        return pl.from_arrow(fetched.table)  # type: ignore[return-value]

    def news(self, symbols: str | Iterable[str], start: datetime | date | str, end: datetime | date | str, *,
             tz: str | None = None) -> pl.DataFrame:
        """Articles published in ``[start, end)`` that mention any of ``symbols``, each once, newest last:
        published_at (shown in ``tz``, default UTC), id, source, title, body, link, symbols, sentiment (null: not
        scored), confidence, categories. A symbol the warehouse knows nowhere (no ticks, instruments or news) is
        refused; a known one without news in the range just adds nothing.

        >>> from backtest.feed import Feed
        >>> from warehouse.client import connect
        >>> from warehouse.schema.migrate import migrate
        >>> client = connect(database="feed_reference_example"); _ = migrate(client)
        >>> Feed(client).news("NO_SUCH_SYMBOL", "2024-01-02", "2024-01-03")
        Traceback (most recent call last):
        backtest.feed.request.FeedError: symbols: 'NO_SUCH_SYMBOL' not in the warehouse (no ticks, instruments or news)
        """
        names, t0, t1 = request(symbols, start, end, tz)
        table = self._run("news", names, t0, t1, feed_news.news(self.client, names, t0, t1))
        mentioned = set(pc.list_flatten(table.column("symbols")).to_pylist())
        self._require_stored([name for name in names if name not in mentioned], feed_news.known_names,
                             "ticks, instruments or news")
        frame: pl.DataFrame = pl.from_arrow(table)  # type: ignore[assignment]
        return frame if tz is None else frame.with_columns(pl.col("published_at").dt.convert_time_zone(tz))

    def indices(self, names: str | Iterable[str], start: datetime | date | str, end: datetime | date | str, *,
                tz: str | None = None) -> pl.DataFrame:
        """Levels of the indices ``names`` in ``[start, end)``, ordered by ts, index_name: ts (shown in ``tz``),
        index_name, value, open, high, low, close (null where the file had no bar). An index name with no level
        at all is refused.

        >>> from backtest.feed import Feed
        >>> from warehouse.client import connect
        >>> from warehouse.schema.migrate import migrate
        >>> client = connect(database="feed_reference_example"); _ = migrate(client)
        >>> Feed(client).indices("NO SUCH INDEX", "2024-01-02", "2024-01-03")
        Traceback (most recent call last):
        backtest.feed.request.FeedError: names: 'NO SUCH INDEX' not in the warehouse (no indices)
        """
        chosen, t0, t1 = request(_names(names, "names"), start, end, tz)
        table = self._run("indices", chosen, t0, t1, feed_news.indices(self.client, chosen, t0, t1))
        present = set(pc.unique(table.column("index_name")).to_pylist())
        missing = [name for name in chosen if name not in present]
        if missing:
            fetched = feed_news.known_indices(self.client, missing)
            self.stats.append(fetched.cost)
            known = set(fetched.table.column("symbol").to_pylist())
            unknown = [name for name in missing if name not in known]
            if unknown:
                raise FeedError(f"names: {', '.join(map(repr, unknown))} not in the warehouse (no indices)")
        frame: pl.DataFrame = pl.from_arrow(table)  # type: ignore[assignment]
        return frame if tz is None else frame.with_columns(pl.col("ts").dt.convert_time_zone(tz))

    def trades_with_quotes(self, symbols: str | Iterable[str], start: datetime | date | str,
                           end: datetime | date | str, *, tz: str | None = None) -> pl.DataFrame:
        """Each trade in ``[start, end)`` (deduplicated, as :meth:`~backtest.feed.Feed.ticks` reads them) joined to
        the quote in force at its time (the last at or before it: ``ASOF LEFT JOIN``), ordered by ts, symbol,
        trade_id: symbol, ts, price, size, side, trade_id, quote_ts, bid, ask, bid_qty, ask_qty, mid, spread
        (ask - bid), spread_paid (``|price - mid|``) and effective_spread (twice it), both signed by the trade's
        side where it has one (a buy above the mid pays, below it gains). Before a symbol's first quote, or where
        the quote's side is empty, those are null. ``ts`` and ``quote_ts`` are shown in ``tz`` (default UTC).

        >>> from backtest.feed import Feed
        >>> from warehouse.client import connect
        >>> from warehouse.schema.migrate import migrate
        >>> client = connect(database="feed_reference_example"); _ = migrate(client)
        >>> Feed(client).trades_with_quotes("NO_SUCH_SYMBOL", "2024-01-02", "2024-01-03")
        Traceback (most recent call last):
        backtest.feed.request.FeedError: symbols: 'NO_SUCH_SYMBOL' not in the warehouse (no ticks)
        """
        names, t0, t1 = request(symbols, start, end, tz)
        fetched = feed_spread.trades_with_quotes(self.client, names, t0, t1)
        table = self._run("trades with quotes", names, t0, t1, fetched)
        self._require_known(self._missing(names, table))
        frame: pl.DataFrame = pl.from_arrow(table)  # type: ignore[assignment]
        return frame if tz is None else frame.with_columns(pl.col("ts", "quote_ts").dt.convert_time_zone(tz))


def _names(values: str | Iterable[str], field: str) -> list[str]:
    """``values`` as a list of names without repeats; a one-line error naming ``field`` otherwise."""
    names = [values] if isinstance(values, str) else list(values) if isinstance(values, Iterable) else None
    if not names or not all(isinstance(name, str) and name for name in names):
        raise FeedError(f"{field}: {values!r} is not a name or a list of names")
    return list(dict.fromkeys(names))
