"""Turn an incoming batch of quotes into clean rows of the ``quotes`` schema plus rejected rows with their code.

Columns (names in any case; ``warehouse load-quotes`` documents them):

* ``symbol`` (or ``ticker``, ``tradingsymbol``) and ``ts`` (or ``timestamp``, ``time``): required; times as
  for ticks (ISO text, naive = UTC; Arrow times; epoch numbers in one unit per file);
* ``bid_px_1`` .. ``bid_px_5`` and ``ask_px_1`` .. ``ask_px_5`` (also ``bid_price_1``, ``buy_price_1``,
  ``sell_px_1``, ``offer_1``, ``bid1``; ``bid``, ``ask``, ``bid_size`` without a level are level 1), ``bid_qty_k`` / ``ask_qty_k`` (``_quantity``, ``_size``),
  ``bid_orders_k`` / ``ask_orders_k``; level 1 is the top of the book and its two prices are required;
  an empty level (empty cell, or price 0) is stored as price, quantity and orders 0;
* optional: ``exchange_ts`` (default ``ts``), ``seq`` (the feed's sequence number; default a hash of
  the row's content, so an exact redelivery is one quote), ``total_buy_qty``, ``total_sell_qty``,
  ``last_price``, ``last_qty``, ``oi``, ``oi_day_high``, ``oi_day_low`` (0 when absent), ``session``.

A row is rejected (first rule broken wins) when ``symbol``/``ts`` is missing, a field is unparseable,
``ts`` is outside [1971-01-01, now + 1 day], a price is NaN, infinite or negative (``bad_price``), a
quantity, order count or open interest is negative or not finite (``bad_quantity``), or a bid level
is not below the one above it / an ask level not above it, or follows an empty level (``bad_depth``).
A crossed top of book (bid >= ask) is kept: real feeds have them; it is counted (``quotes_1m.crossed``).

>>> t = pa.table({"symbol": ["A", "A", "A"], "ts": ["2024-01-02T14:30:00Z"] * 3, "bid_px_1": [10.0, 10.0, -1.0],
...               "bid_px_2": [9.9, 10.1, 9.0], "ask_px_1": [10.1, 10.1, 10.1], "bid_qty_1": [5, -5, 5]})
>>> out = clean_quotes(t, source="example")
>>> out.quotes.num_rows, [(r["code"], r["field"], r["value"]) for r in out.rejects.to_pylist()]
(1, [('bad_quantity', 'bid_qty_1', '-5.0'), ('bad_price', 'bid_px_1', '-1.0')])
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pyarrow as pa

from warehouse.errors import WarehouseError
from warehouse.ingest.session_check import SessionRule
from warehouse.ingest.validate import (MIN_TS, REJECTS_SCHEMA, _as_text, _mix, _parse_ts, _stable_hash,
                                       _stripped_symbols, rejects_table)
from warehouse.schema.quotes_ddl import LEVELS, OTHER_COLUMNS, level_columns

TS = pa.timestamp("us", tz="UTC")
QUOTES_SCHEMA = pa.schema([("symbol", pa.string()), ("ts", TS), ("exchange_ts", TS), ("seq", pa.uint64())]
                          + [(name, pa.uint32() if "_orders_" in name else pa.float64()) for name in level_columns()]
                          + [(name, pa.float64()) for name in OTHER_COLUMNS] + [("session", pa.string())])
"""A clean quote batch: the columns of ``quotes``, in its order."""

_ALIASES = {"symbol": ("symbol", "ticker", "sym", "instrument", "tradingsymbol"),
            "ts": ("ts", "timestamp", "time", "datetime"),
            "exchange_ts": ("exchange_ts", "exchange_timestamp", "exchange_time"),
            "seq": ("seq", "sequence", "seq_no", "seqno"),
            "total_buy_qty": ("total_buy_qty", "total_buy_quantity", "buy_quantity"),
            "total_sell_qty": ("total_sell_qty", "total_sell_quantity", "sell_quantity"),
            "last_price": ("last_price", "ltp", "last"), "last_qty": ("last_qty", "last_quantity", "ltq"),
            "oi": ("oi", "open_interest"), "oi_day_high": ("oi_day_high",), "oi_day_low": ("oi_day_low",),
            "session": ("session", "session_type")}
_LEVEL = re.compile(r"^(bid|buy|ask|sell|offer)_?(px|price|qty|quantity|size|orders|order_count)?_?([1-9])?$")
_SIDE = {"bid": "bid", "buy": "bid", "ask": "ask", "sell": "ask", "offer": "ask"}
_FIELD = {None: "px", "px": "px", "price": "px", "qty": "qty", "quantity": "qty", "size": "qty",
          "orders": "orders", "order_count": "orders"}
REQUIRED = ("symbol", "ts", "bid_px_1", "ask_px_1")
_PRICES = [name for name in level_columns(fields=("px",))] + ["last_price"]
_QUANTITIES = level_columns(fields=("qty", "orders")) + [c for c in OTHER_COLUMNS if c != "last_price"]
_HASHED = ["ts", *level_columns(fields=("px",)), "bid_qty_1", "ask_qty_1", *OTHER_COLUMNS]


@dataclass(frozen=True)
class CleanQuotes:
    """The outcome of validating one batch: good quotes (:data:`QUOTES_SCHEMA`) and rejects."""

    quotes: pa.Table
    rejects: pa.Table
    epoch_unit: str | None = None


def map_quote_columns(names: list[str], source: str) -> dict[str, str]:
    """Map the ``quotes`` columns to the input's column names, or raise naming what is missing.

    >>> map_quote_columns(["Ticker", "Timestamp", "bid1", "Ask_Price_1", "buy_qty_1"], "q.csv")
    {'symbol': 'Ticker', 'ts': 'Timestamp', 'bid_px_1': 'bid1', 'ask_px_1': 'Ask_Price_1', 'bid_qty_1': 'buy_qty_1'}
    >>> map_quote_columns(["symbol", "ts", "bid", "ask", "bid_size", "buy_quantity"], "taq.csv")  # doctest: +NORMALIZE_WHITESPACE
    {'symbol': 'symbol', 'ts': 'ts', 'bid_px_1': 'bid', 'ask_px_1': 'ask', 'bid_qty_1': 'bid_size',
     'total_buy_qty': 'buy_quantity'}
    >>> map_quote_columns(["symbol", "ts", "bid_px_1"], "q.csv")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: columns: q.csv has no 'ask_px_1' column (found: symbol, ts, bid_px_1)
    """
    mapping: dict[str, str] = {}
    for name in names:
        key = name.lower().strip()
        match = _LEVEL.match(key)
        alias = next((canonical for canonical, aliases in _ALIASES.items() if key in aliases), None)
        level = int(match[3] or 1) if match else 0
        field = alias or (f"{_SIDE[match[1]]}_{_FIELD[match[2]]}_{level}" if match and level <= LEVELS else None)
        if field and field not in mapping:
            mapping[field] = name
    for field in REQUIRED:
        if field not in mapping:
            raise WarehouseError(f"columns: {source} has no {field!r} column (found: {', '.join(names)})")
    return mapping


def clean_quotes(batch: pa.Table | pa.RecordBatch, *, source: str, first_row: int = 1, now: datetime | None = None,
                 epoch_unit: str | None = None, sessions: SessionRule | None = None) -> CleanQuotes:
    """Validate and convert one batch; good rows keep their input order.

    ``first_row`` numbers the batch's first row in its source (rejects say ``row N``); ``epoch_unit``
    reads epoch numbers in that unit (default: the batch's numbers decide, as for ticks). ``sessions``
    (:func:`warehouse.ingest.session_check.session_rule`) types each quote whose input has no ``session``
    (an empty one) by its exchange's calendar (``pre``, ``regular``, ``post``, ``closed``, ``break``), and
    refuses those outside a required session (``outside_session``); without it an absent session is ``""``.

    >>> from warehouse.ingest.session_check import session_rule
    >>> t = pa.table({"symbol": ["A", "A"], "ts": ["2024-01-02T14:00:00Z", "2024-01-02T15:00:00Z"],
    ...               "bid": [10.0, 10.0], "ask": [10.1, 10.1]})
    >>> out = clean_quotes(t, source="example", sessions=session_rule(None, require="regular", exchange="NYSE"))
    >>> out.quotes["session"].to_pylist(), out.rejects.select(["code", "value", "reason"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    (['regular'], [{'code': 'outside_session', 'value': '2024-01-02T14:00:00Z',
                    'reason': 'ts: before the open (regular session required)'}])
    """
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    mapping = map_quote_columns(table.column_names, source)
    frame = pl.from_arrow(table.select(list(mapping.values())).rename_columns(list(mapping)))
    assert isinstance(frame, pl.DataFrame)
    n = frame.height
    ceiling = (now or datetime.now(timezone.utc)) + timedelta(days=1)
    ts, epoch_unit = _parse_ts(frame["ts"], epoch_unit, ceiling)
    exchange_ts = _parse_ts(frame["exchange_ts"], epoch_unit, ceiling)[0] if "exchange_ts" in frame.columns else ts
    parsed: dict[str, pl.Series] = {"symbol": _stripped_symbols(frame["symbol"]), "ts": ts,
                                    "exchange_ts": exchange_ts}
    for name in [*level_columns(), *OTHER_COLUMNS]:
        parsed[name] = _number(frame[name]) if name in frame.columns else pl.Series(name, np.zeros(n))
    checks = _checks(frame, parsed, ceiling, epoch_unit)
    if sessions is not None:  # after the other rules: the first one a row breaks is its reason
        checks += [(mask, code, "ts", reason, _text(frame["ts"]))
                   for mask, code, reason in sessions(parsed["symbol"], ts)]
    masks = [mask.fill_null(False) if mask.null_count() else mask for mask, *_ in checks]
    bad = pl.select(pl.any_horizontal(masks)).to_series().to_numpy() if masks else np.zeros(n, bool)
    parsed["seq"] = (frame["seq"].cast(pl.UInt64, strict=False).fill_null(0) if "seq" in frame.columns
                     else _content_hash(parsed))
    session = _session(frame, parsed, sessions)
    for name in level_columns(fields=("orders",)):  # whole counts (a negative one is refused above)
        parsed[name] = parsed[name].round(0).cast(pl.UInt32, strict=False)
    clean = pl.DataFrame([(parsed[f.name] if f.name in ("symbol", "ts", "exchange_ts") else parsed[f.name].fill_null(0))
                          .alias(f.name) for f in QUOTES_SCHEMA if f.name != "session"])
    clean = clean.with_columns(session)
    if not bad.any():
        return CleanQuotes(clean.to_arrow().cast(QUOTES_SCHEMA), REJECTS_SCHEMA.empty_table(), epoch_unit)
    rows = np.flatnonzero(bad)
    first = np.column_stack([mask.gather(rows).to_numpy() for mask in masks]).argmax(axis=1)
    values = pl.Series("value", [None] * rows.size, pl.String)
    for j in np.unique(first):
        picked = np.flatnonzero(first == j)
        values = values.scatter(picked, checks[j][4](rows[picked]))
    raw = frame.filter(pl.Series(bad)).select(pl.all().cast(pl.String))
    payload = raw.select(pl.struct(pl.all()).struct.json_encode()).to_series()
    rejects = rejects_table([f"row {r + first_row}" for r in rows], [checks[j][1] for j in first],
                            [checks[j][2] for j in first], values, [checks[j][3] for j in first], payload)
    good = clean.filter(pl.Series(~bad))
    return CleanQuotes(good.to_arrow().cast(QUOTES_SCHEMA), rejects, epoch_unit)


Check = tuple[pl.Series, str, str, str, Callable[[np.ndarray], pl.Series]]


def _checks(raw: pl.DataFrame, parsed: dict[str, pl.Series], ceiling: datetime, epoch_unit: str | None) -> list[Check]:
    """Every rule as (broken per row, code, field, reason, the offending values of some rows)."""
    checks: list[Check] = []
    for field in ("symbol", "ts"):
        checks.append((_empty(parsed["symbol"] if field == "symbol" else raw[field]), "missing_field", field,
                       f"{field}: missing", _blank))
    for field in raw.columns:
        if field in parsed and field not in ("symbol",) and parsed[field].null_count():  # no nulls: none broken
            checks.append((parsed[field].is_null() & ~_empty(raw[field]), "unparseable", field,
                           f"{field}: unparseable", _text(raw[field])))
    as_epoch = f" as epoch {epoch_unit}" if epoch_unit else ""
    ts = parsed["ts"]
    checks.append((ts < MIN_TS, "early_ts", "ts", f"ts: before {MIN_TS:%Y-%m-%d}{as_epoch}", _text(raw["ts"])))
    checks.append((ts > ceiling, "future_ts", "ts", f"ts: after now + 1 day{as_epoch}", _text(raw["ts"])))
    for field in _PRICES:
        if field in raw.columns:
            value = parsed[field]
            checks.append((~value.is_finite() | (value < 0), "bad_price", field,
                           f"{field}: not a finite number >= 0", _text(value)))
    for field in _QUANTITIES:
        if field in raw.columns:
            value = parsed[field]
            checks.append((~value.is_finite() | (value < 0), "bad_quantity", field,
                           f"{field}: not a finite number >= 0", _text(value)))
    for k in range(2, LEVELS + 1):
        for side, ordered, words in (("bid", lambda up, down: up > down, "below"),
                                     ("ask", lambda up, down: (up > 0) & (up < down), "above")):
            field = f"{side}_px_{k}"
            if field in raw.columns:
                up, down = parsed[f"{side}_px_{k - 1}"].fill_null(0), parsed[field]
                checks.append(((down > 0) & ~ordered(up, down), "bad_depth", field,
                               f"{field}: not {words} level {k - 1} (or level {k - 1} is empty)", _text(down)))
    return checks


def _session(frame: pl.DataFrame, parsed: dict[str, pl.Series], sessions: SessionRule | None) -> pl.Series:
    """The session type of each row: the input's, else (where it is absent or empty) the calendar's, else ""."""
    given = (_as_text(frame["session"]).fill_null("").str.strip_chars() if "session" in frame.columns
             else pl.repeat("", frame.height, dtype=pl.String, eager=True)).alias("session")
    if sessions is None or not (given == "").any():
        return given
    return given.zip_with(given != "", sessions.type_names(parsed["symbol"], parsed["ts"]))


def _number(series: pl.Series) -> pl.Series:
    """Numbers of a column; an empty cell is 0 (an empty level), unparseable text is null."""
    if series.dtype.is_numeric():
        return series.cast(pl.Float64)
    text = _as_text(series).str.strip_chars()
    return pl.select(pl.when(text == "").then(0.0).otherwise(text.cast(pl.Float64, strict=False))).to_series() \
        .alias(series.name)


def _empty(series: pl.Series) -> pl.Series:
    if series.dtype != pl.String:
        return series.is_null()
    return series.is_null() | (series.str.strip_chars() == "")


def _text(series: pl.Series) -> Callable[[np.ndarray], pl.Series]:
    return lambda rows: _as_text(series.gather(rows)).fill_null("").str.strip_chars()


def _blank(rows: np.ndarray) -> pl.Series:
    return pl.repeat("", rows.size, dtype=pl.String, eager=True)


def _content_hash(parsed: dict[str, pl.Series]) -> pl.Series:
    """A ``seq`` from the row's content (symbol, time, prices, top quantities, totals): the same in every process."""
    symbols = parsed["symbol"].fill_null("")
    h = symbols.replace_strict({s: _stable_hash(s) for s in symbols.unique()}, return_dtype=pl.UInt64).to_numpy()
    h = h.astype(np.uint64)
    for name in _HASHED:
        values = parsed[name].cast(pl.Int64).fill_null(0) if name == "ts" else parsed[name].fill_null(0)
        h = _mix(h ^ np.ascontiguousarray(values.to_numpy()).view(np.uint64))
    return pl.Series("seq", h)
