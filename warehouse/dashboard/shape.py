"""Pure helpers that turn the API's answers into the dashboard's tables (no Streamlit, no I/O).

>>> book_from_hot({"bids": [{"price": 185.1, "qty": 300.0, "orders": 2}],
...                "asks": [{"price": 185.12, "qty": 200.0, "orders": 1}, {"price": 185.13, "qty": 50.0, "orders": 1}]})
... # doctest: +NORMALIZE_WHITESPACE
[{'side': 'ask', 'level': 2, 'price': 185.13, 'qty': 50.0, 'orders': 1},
 {'side': 'ask', 'level': 1, 'price': 185.12, 'qty': 200.0, 'orders': 1},
 {'side': 'bid', 'level': 1, 'price': 185.1, 'qty': 300.0, 'orders': 2}]
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

LEVELS = 5
LADDER = ("side", "level", "price", "qty", "orders")
SIDES = {1: "buy", -1: "sell"}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SOURCES = {"ticks_dedup": "raw", "bars_1m": "rollup"}


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """The UTC span ``[first 00:00, last + 1 day 00:00)`` covering the days ``first`` to ``last``.

    >>> [t.isoformat() for t in day_range(date(2024, 1, 2), date(2024, 1, 3))]
    ['2024-01-02T00:00:00+00:00', '2024-01-04T00:00:00+00:00']
    """
    start = datetime.combine(first, time(), timezone.utc)
    return start, datetime.combine(last, time(), timezone.utc) + timedelta(days=1)


def interval_seconds(interval: str) -> int:
    """Seconds in an interval such as ``30s``, ``5m``, ``1h`` or ``1d``.

    >>> interval_seconds("5m"), interval_seconds("1d")
    (300, 86400)
    """
    return int(interval[:-1]) * _UNITS[interval[-1]]


def utc(text: str) -> datetime:
    """An ISO time from the API as an aware UTC datetime (naive = UTC).

    >>> utc("2024-01-05T14:47:21.353379")
    datetime.datetime(2024, 1, 5, 14, 47, 21, 353379, tzinfo=datetime.timezone.utc)
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def clock(text: str) -> str:
    """An API time as ``YYYY-MM-DD HH:MM:SS.mmm UTC`` for captions and tables.

    >>> clock("2024-01-05T14:47:21.061011+00:00")
    '2024-01-05 14:47:21.061 UTC'
    """
    return utc(text).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def book_from_hot(book: dict[str, Any]) -> list[dict[str, Any]]:
    """A live book (``GET /book/{symbol}``: ``bids`` / ``asks`` best first) as a ladder: the asks from the
    farthest to the best, then the bids from the best down, one row a level."""
    asks = [{"side": "ask", "level": n, **level} for n, level in enumerate(book.get("asks", []), 1)]
    bids = [{"side": "bid", "level": n, **level} for n, level in enumerate(book.get("bids", []), 1)]
    return [{key: row.get(key) for key in LADDER} for row in asks[::-1] + bids]


def book_from_depth(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A stored book (a row of ``GET /api/depth``: ``bid_px_1``... ``ask_orders_5``) as the same ladder; empty
    levels left out.

    >>> ladder = book_from_depth({"bid_px_1": 90.95, "bid_qty_1": 200.0, "bid_orders_1": 1,
    ...                           "ask_px_1": 90.97, "ask_qty_1": 300.0, "ask_orders_1": 1})
    >>> [(r["side"], r["price"]) for r in ladder]
    [('ask', 90.97), ('bid', 90.95)]
    """
    sides = {side: [{"price": row.get(f"{side}_px_{n}"), "qty": row.get(f"{side}_qty_{n}"),
                     "orders": row.get(f"{side}_orders_{n}")} for n in range(1, LEVELS + 1)
                    if row.get(f"{side}_px_{n}") or row.get(f"{side}_qty_{n}")]
             for side in ("bid", "ask")}
    return book_from_hot({"bids": sides["bid"], "asks": sides["ask"]})


def last_trades(ticks: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The last ``count`` trades of ``GET /api/ticks`` rows (in time order), newest first, for a table.

    >>> last_trades([{"ts": "2024-01-05T14:46:01.967216+00:00", "price": 90.97, "size": 77.0, "side": -1},
    ...              {"ts": "2024-01-05T14:46:02.714668+00:00", "price": 90.93, "size": 100.0, "side": 1}], 1)
    [{'time': '14:46:02.714', 'price': 90.93, 'size': 100.0, 'side': 'buy'}]
    """
    return [{"time": utc(t["ts"]).strftime("%H:%M:%S.%f")[:-3], "price": t["price"], "size": t["size"],
             "side": SIDES.get(t.get("side"), "")} for t in reversed(ticks[-count:])]


def busiest(hot: list[dict[str, Any]], symbols: list[str]) -> str:
    """The symbol to show first: the one of ``symbols`` with the most trades on the stream (``GET /state``'s
    ``symbols``), else the first.

    >>> busiest([{"symbol": "INFY", "trades": 10}, {"symbol": "RELIANCE", "trades": 12}], ["AAPL", "INFY", "RELIANCE"])
    'RELIANCE'
    >>> busiest([], ["AAPL", "INFY"])
    'AAPL'
    """
    live = [row for row in hot if row["symbol"] in symbols]
    return max(live, key=lambda row: row["trades"])["symbol"] if live else symbols[0]


def split_runs(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``benchmark.csv``'s rows grouped by benchmark run: a run ends where a query name comes round again.

    >>> rows = [{"query": "a"}, {"query": "b"}, {"query": "a"}, {"query": "b"}]
    >>> [len(run) for run in split_runs(rows)]
    [2, 2]
    """
    runs: list[list[dict[str, Any]]] = []
    seen: set[str] = set()
    for row in rows:
        if not runs or row["query"] in seen:
            runs.append([])
            seen = set()
        runs[-1].append(row)
        seen.add(row["query"])
    return runs


def raw_vs_rollup(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The windows a benchmark run read both ways (``<window>_raw`` from ``ticks_dedup``, ``<window>_rollup``
    from ``bars_1m``): median ms and rows read of each, and how many times faster the rollup was.

    >>> raw_vs_rollup([{"query": "bars_day_raw", "source": "ticks_dedup", "median_ms": "88.0", "rows_to_read": "24576"},
    ...                {"query": "bars_day_rollup", "source": "bars_1m", "median_ms": "17.6", "rows_to_read": "768"},
    ...                {"query": "count", "source": "ticks_dedup", "median_ms": "7.2", "rows_to_read": "0"}])
    [{'window': 'day', 'raw ms': 88.0, 'rollup ms': 17.6, 'speedup': 5.0,
      'raw rows read': 24576, 'rollup rows read': 768}]
    """
    timed: dict[str, dict[str, Any]] = {}
    for row in rows:
        name, _, way = row["query"].rpartition("_")
        if way != _SOURCES.get(row["source"]) or not name.startswith("bars_"):
            continue
        window = timed.setdefault(name.removeprefix("bars_"), {})
        window[f"{way} ms"] = float(row["median_ms"])
        window[f"{way} rows read"] = int(row["rows_to_read"])
    return [{"window": name, "raw ms": t["raw ms"], "rollup ms": t["rollup ms"],
             "speedup": round(t["raw ms"] / t["rollup ms"], 1) if t["rollup ms"] > 0 else None,
             "raw rows read": t["raw rows read"], "rollup rows read": t["rollup rows read"]}
            for name, t in timed.items() if "raw ms" in t and "rollup ms" in t]


def rate_text(ingest: dict[str, Any]) -> dict[str, str]:
    """The consumer's figures (``GET /api/ingest``) as the dashboard's metric labels and values.

    >>> rate_text({"rate_per_s": 51234.5, "lag": 1200, "pending": 3, "messages": 1000000, "ticks": 999000,
    ...            "rejects": 1000, "running": True, "source": "redis:ticks:stream"})
    {'ingest rate (msg/s)': '51,234', 'consumer lag (entries)': '1,200', 'pending': '3',
     'messages': '1,000,000', 'rejected': '1,000'}
    """
    lag = ingest.get("lag")
    pending = ingest.get("pending")
    return {"ingest rate (msg/s)": f"{ingest.get('rate_per_s', 0):,.0f}",
            "consumer lag (entries)": "n/a" if lag is None else f"{lag:,}",
            "pending": "n/a" if pending is None else f"{pending:,}",
            "messages": f"{ingest.get('messages', 0):,}",
            "rejected": f"{ingest.get('rejects', 0):,}"}
