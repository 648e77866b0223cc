"""The data feed: symbols + time range + interval -> polars frames and numpy arrays.

``Feed(...).bars`` serves whole-minute intervals from the ``bars_1m`` rollup and
everything else from deduplicated ticks; ``.ticks`` and ``.ohlcv`` read trades
and imported bars; ``.quotes`` and ``.depth_at`` read quotes (5-level depth) and the
book in force at a time; ``.trade_arrays`` and ``.quote_arrays`` hand the tick engine a
window of trades or quotes as numpy arrays (:mod:`~backtest.feed.events`). Every query's cost lands in ``Feed.stats``. The SQL lives in
:mod:`warehouse.feed_sql`; here, :mod:`~backtest.feed.request` checks what is
asked, :mod:`~backtest.feed.reader` holds the :class:`Feed`, and
:mod:`~backtest.feed.frames` aligns the results and pivots them into arrays.

Conventions:

* Times: ``start``/``end`` accept naive datetimes (taken as UTC), aware
  datetimes, dates and ISO strings; the range is ``[start, end)``. Output
  timestamps are UTC unless ``tz`` names a time zone.
* A bar is labelled by the start of its bucket; the first/last bar is partial
  when ``start``/``end`` are not on a bucket boundary.
* Exchange time: a symbol's exchange (``instruments``, or ``exchange=``) gives
  its trading calendar and zone (:mod:`warehouse.sessions`). Its bars lie on the
  session grid: intraday bars anchored at the open (NSE 75m: 09:15, 10:30, ...
  IST), one ``1d`` bar per session (no holidays or weekends, short half days),
  and ``session="regular"`` (default) leaves pre- and post-market ticks out
  (``"all"``, ``"pre"``, ``"post"`` ask for them; :mod:`warehouse.feed_sessions`).
  A symbol with no exchange trades 24h days in ``tz`` (UTC by default:
  ClickHouse's ``toStartOfInterval`` buckets, :mod:`warehouse.feed_sql`).
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

from backtest.feed.events import QuoteArrays, TradeArrays
from backtest.feed.frames import BarArrays, bar_arrays
from backtest.feed.reader import Feed
from backtest.feed.request import FeedError, Interval, to_utc
from warehouse.feed_sql import QueryCost

__all__ = ["BarArrays", "Feed", "FeedError", "Interval", "QueryCost", "QuoteArrays", "TradeArrays", "bar_arrays",
           "to_utc"]
