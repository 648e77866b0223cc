"""Turn an incoming batch of ticks (any reasonable column types) into clean rows
of the ``ticks`` schema plus rejected rows with their reason.

A reject (:data:`REJECTS_SCHEMA`) names the first rule its row broke by a ``code`` from
:data:`REJECT_CODES`, the ``field`` and the offending ``value`` as text; its ``reason`` is the
rule in words without the value (``price: not a positive finite number``), so a warehouse
of millions of rejects holds a few distinct reasons (``LowCardinality``, migration 8).

Accepted input: columns ``symbol, ts, price, size`` (aliases such as
``timestamp``, ``qty``, ``ticker`` work) and optionally ``side``, ``trade_id``,
``version``. Timestamps may be Arrow timestamps (naive = UTC), ISO-8601
strings, or epoch numbers in one unit (s, ms, us or ns) per batch -- the unit under which
most of its numbers fall in [1971-01-01, now + 1 day], or the one a caller passes (a file
keeps its first batch's unit). A number out of range for that unit is a reject; it is never
read in another unit.
A row is rejected when a field is missing or unparseable, the price is not
finite or not positive, the size is negative or not finite, the side is not
buy/sell, or the timestamp lies outside [1971-01-01, now + 1 day] (or a ``screen``'s session).
Without a ``trade_id`` column, a stable id is derived from the row's content,
so identical rows (same symbol, ts, price, size, side) count as one trade.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from warehouse.errors import WarehouseError

TICKS_SCHEMA = pa.schema([
    ("symbol", pa.string()),
    ("ts", pa.timestamp("us", tz="UTC")),
    ("price", pa.float64()),
    ("size", pa.float64()),
    ("side", pa.int8()),
    ("trade_id", pa.uint64()),
    ("version", pa.uint32()),
])
REJECTS_SCHEMA = pa.schema([("position", pa.string()), ("code", pa.string()), ("field", pa.string()),
                            ("value", pa.string()), ("reason", pa.string()), ("raw", pa.string())])
REJECT_CODES = {
    "missing_field": "a required field is absent or empty",
    "unparseable": "a field's text is not a value of its type (a number, a time, a side)",
    "bad_price": "a price that is not a positive finite number",
    "bad_size": "a trade size that is negative or not finite",
    "bad_volume": "a bar's volume or open interest that is negative or not finite",
    "early_ts": "a time before the earliest accepted (1971-01-01; 1900-01-01 for bar files' text times)",
    "future_ts": "a time after now + 1 day",
    "nonexistent_ts": "a local time a DST change skipped",
    "ambiguous_ts": "a local time a DST change repeated, not placeable",
    "high_below_low": "a bar whose high is below its low",
    "duplicate_bar": "a second bar of a symbol at the same time (the first is kept)",
    "malformed": "input that is not a row at all: a CSV line of the wrong width, a message that is not JSON",
    "bad_value": "a number outside its allowed range (an instrument's lot size, tick size or strike below 0)",
    "unknown_exchange": "an instrument on an exchange whose time zone is not known",
    "unknown_token": "a broker tick whose instrument token is not in instruments (load-instruments first)",
    "outside_session": "a time outside its symbol's required exchange session (load --require-session)",
    "not_full_mode": "a broker tick without market depth (LTP or quote mode, or an index): not a quote",
}
"""Every ``rejects.code``, with what it means."""

ALIASES = {
    "symbol": ("symbol", "sym", "ticker", "instrument"),
    "ts": ("ts", "timestamp", "time", "datetime", "date"),
    "price": ("price", "px", "last"),
    "size": ("size", "qty", "quantity", "amount", "volume"),
    "side": ("side", "aggressor", "direction"),
    "trade_id": ("trade_id", "tradeid", "id", "trade"),
    "version": ("version", "ver", "revision"),
}
REQUIRED = ("symbol", "ts", "price", "size")
MIN_TS = datetime(1971, 1, 1, tzinfo=timezone.utc)
EPOCH_UNITS = {"seconds": 1_000_000_000, "milliseconds": 1_000_000, "microseconds": 1_000, "nanoseconds": 1}
"""Epoch units, coarse to fine, with their length in nanoseconds."""
_EPOCH_TEXT = r"^-?\d+(\.\d+)?$"  # a number written as text: an epoch time
Screen = Callable[[pl.Series, pl.Series], list[tuple[pl.Series, str, str]]]  # (symbols, ts) -> (mask, code, reason)
_SIDES = {"buy": 1, "b": 1, "1": 1, "+1": 1, "sell": -1, "s": -1, "-1": -1, "unknown": 0, "0": 0, "": 0}


@dataclass(frozen=True)
class CleanBatch:
    """The outcome of validating one batch: good rows and rejected rows."""

    ticks: pa.Table  # TICKS_SCHEMA
    rejects: pa.Table  # REJECTS_SCHEMA
    epoch_unit: str | None = None  # the unit epoch numbers were read in (None: there were none)


def map_columns(names: list[str], source: str) -> dict[str, str]:
    """Map canonical tick fields to the input's column names, or raise.

    >>> map_columns(["Timestamp", "Ticker", "Px", "Qty"], "f.csv")
    {'symbol': 'Ticker', 'ts': 'Timestamp', 'price': 'Px', 'size': 'Qty'}
    >>> map_columns(["ts", "price"], "f.csv")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: columns: f.csv has no 'symbol' column (found: ts, price)
    """
    lowered = {name.lower().strip(): name for name in names}
    mapping = {}
    for field, aliases in ALIASES.items():
        found = next((lowered[a] for a in aliases if a in lowered), None)
        if found is not None and found not in mapping.values():
            mapping[field] = found
    for field in REQUIRED:
        if field not in mapping:
            raise WarehouseError(f"columns: {source} has no {field!r} column (found: {', '.join(names)})")
    return mapping


def clean_ticks(batch: pa.Table | pa.RecordBatch, *, source: str, first_row: int = 1, now: datetime | None = None,
                epoch_unit: str | None = None, screen: Screen | None = None) -> CleanBatch:
    """Validate and convert one batch; rows keep their input order.

    ``first_row`` is the 1-based row number of the batch's first row in its
    source, used in each reject's ``position``. ``epoch_unit`` (one of
    :data:`EPOCH_UNITS`) reads epoch numbers in that unit; by default the batch's
    numbers decide it (:func:`epoch_unit_of`). ``screen`` adds rules on ``ts``, checked after the others
    (a required session: :class:`warehouse.ingest.session_check.SessionRule`).

    >>> t = pa.table({"symbol": ["A", "B"], "ts": ["2024-01-02T14:30:00Z", "soon"],
    ...               "price": [10.5, 11.0], "size": [100, 5]})
    >>> out = clean_ticks(t, source="example")
    >>> out.ticks.num_rows, out.rejects.drop_columns("raw").to_pylist()
    (1, [{'position': 'row 2', 'code': 'unparseable', 'field': 'ts', 'value': 'soon', 'reason': 'ts: unparseable'}])
    >>> epochs = pa.table({"symbol": ["A", "A"], "ts": [1704205800, 253402300799], "price": [1.0, 1.0], "size": [1, 1]})
    >>> out = clean_ticks(epochs, source="example")
    >>> out.epoch_unit, out.rejects.select(["code", "value", "reason"]).to_pylist()
    ('seconds', [{'code': 'future_ts', 'value': '253402300799', 'reason': 'ts: after now + 1 day as epoch seconds'}])
    """
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    mapping = map_columns(table.column_names, source)
    frame = pl.from_arrow(table.select(list(mapping.values())).rename_columns(list(mapping)))
    assert isinstance(frame, pl.DataFrame)
    n = frame.height
    now = now or datetime.now(timezone.utc)
    ts, epoch_unit = _parse_ts(frame["ts"], epoch_unit, now + timedelta(days=1))
    parsed = {
        "symbol": _stripped_symbols(frame["symbol"]),
        "ts": ts,
        "price": _parse_float(frame["price"]),
        "size": _parse_float(frame["size"]),
        "side": _parse_side(frame["side"]) if "side" in frame.columns else pl.Series("side", np.zeros(n, np.int8)),
        "version": _parse_uint(frame["version"], pl.UInt32) if "version" in frame.columns else pl.Series(
            "version", np.zeros(n, np.uint32)),
    }
    parsed["trade_id"] = (_parse_trade_id(frame["trade_id"]) if "trade_id" in frame.columns
                          else _derived_trade_id(parsed))
    extra = screen(parsed["symbol"], parsed["ts"]) if screen else []
    failures = _failures(frame, parsed, now + timedelta(days=1), epoch_unit, extra)
    ticks = pl.DataFrame([parsed[name].alias(name) for name in TICKS_SCHEMA.names])
    if failures.height == 0:  # all good: no copies
        return CleanBatch(ticks.to_arrow().cast(TICKS_SCHEMA), REJECTS_SCHEMA.empty_table(), epoch_unit)
    good = np.ones(n, bool)
    good[failures["row"].to_numpy()] = False
    raw = frame.filter(pl.Series(~good)).select(pl.all().cast(pl.String))
    payload = raw.select(pl.struct(pl.all()).struct.json_encode()).to_series()
    rejects = rejects_table("row " + (failures["row"] + first_row).cast(pl.String), failures["code"], failures["field"],
                            failures["value"], failures["reason"], payload)
    return CleanBatch(ticks.filter(pl.Series(good)).to_arrow().cast(TICKS_SCHEMA), rejects, epoch_unit)


def rejects_table(position: object, code: object, field: object, value: object, reason: object,
                  raw: object) -> pa.Table:
    """Rejected rows as :data:`REJECTS_SCHEMA`: each argument a sequence (list, polars or Arrow) or one
    text repeated for every row (the length comes from ``position``).

    >>> rejects_table(["line 4", "line 9"], "malformed", "csv", ["2", "7"], "csv: wrong number of fields (6 expected)",
    ...               ["a,b", "a,b,c,d,e,f,g"]).column("value").to_pylist()
    ['2', '7']
    """
    rows = len(position)  # type: ignore[arg-type]
    columns = [pa.array([item] * rows, pa.string()) if isinstance(item, str) else
               (item.to_arrow() if isinstance(item, pl.Series) else pa.array(item)).cast(pa.string())
               for item in (position, code, field, value, reason, raw)]
    return pa.Table.from_arrays(columns, schema=REJECTS_SCHEMA)


def malformed_csv_rejects(rows: list[pacsv.InvalidRow]) -> pa.Table:
    """Rejects of CSV lines of the wrong width (``line N``, header = line 1): the fields found as ``value``.

    >>> row = pacsv.InvalidRow(expected_columns=4, actual_columns=2, number=7, text="A,2024-01-02")
    >>> malformed_csv_rejects([row]).drop_columns("raw").to_pylist()  # doctest: +NORMALIZE_WHITESPACE
    [{'position': 'line 7', 'code': 'malformed', 'field': 'csv', 'value': '2 fields',
      'reason': 'csv: wrong number of fields (4 expected)'}]
    """
    if not rows:
        return REJECTS_SCHEMA.empty_table()
    return rejects_table([f"line {row.number}" if row.number else "line ?" for row in rows], "malformed", "csv",
                         [f"{row.actual_columns} fields" for row in rows],
                         [f"csv: wrong number of fields ({row.expected_columns} expected)" for row in rows],
                         [row.text or "" for row in rows])


def _failures(raw: pl.DataFrame, parsed: dict[str, pl.Series], max_ts: datetime, epoch_unit: str | None,
              extra: list[tuple[pl.Series, str, str]]) -> pl.DataFrame:
    """One row per invalid input row: its index ``row`` and the first rule it broke (code, field, value, reason).

    Masks are computed for every row; values only for the (few) bad rows.
    """
    checks: list[tuple[pl.Series, str, str, str, Callable[[np.ndarray], pl.Series]]] = []
    for field in TICKS_SCHEMA.names:
        if field not in raw.columns:
            continue
        value = raw[field]
        if field != "side":  # an empty side means unknown, not missing
            empty = value.is_null()
            if value.dtype == pl.String:  # the parsed symbol is the stripped text already
                stripped = parsed["symbol"] if field == "symbol" else value.str.strip_chars()
                empty = empty | (stripped == "")
            checks.append((empty, "missing_field", field, f"{field}: missing", _nothing))
        checks.append((parsed[field].is_null(), "unparseable", field, f"{field}: unparseable", _gather(value)))
    price, size, ts = parsed["price"], parsed["size"], parsed["ts"]
    as_epoch = f" as epoch {epoch_unit}" if epoch_unit else ""
    given_ts = _gather(raw["ts"], strip=True)
    checks += [
        (~price.is_finite() | (price <= 0), "bad_price", "price", "price: not a positive finite number",
         _gather(price)),
        (~size.is_finite() | (size < 0), "bad_size", "size", "size: not a non-negative finite number",
         _gather(size)),
        (ts < MIN_TS, "early_ts", "ts", f"ts: before {MIN_TS:%Y-%m-%d}{as_epoch}", given_ts),
        (ts > max_ts, "future_ts", "ts", f"ts: after now + 1 day{as_epoch}", given_ts),
    ] + [(mask, code, "ts", reason, given_ts) for mask, code, reason in extra]
    masks = [mask.fill_null(False) for mask, *_ in checks]
    bad = pl.select(pl.any_horizontal(masks)).to_series().to_numpy() if masks else np.zeros(raw.height, bool)
    rows = np.flatnonzero(bad)
    first = np.column_stack([mask.gather(rows).to_numpy() for mask in masks]).argmax(axis=1) if rows.size else rows
    value = pl.Series("value", [None] * rows.size, pl.String)
    for j in np.unique(first):
        picked = np.flatnonzero(first == j)
        value = value.scatter(picked, checks[j][4](rows[picked]))
    picked_rule = pl.Series(first, dtype=pl.UInt32)
    rules = {name: pl.Series(name, [check[i] for check in checks], pl.String).gather(picked_rule)
             for i, name in ((1, "code"), (2, "field"), (3, "reason"))}
    return pl.DataFrame([pl.Series("row", rows, pl.Int64), rules["code"], rules["field"], value, rules["reason"]])


def _gather(series: pl.Series, *, strip: bool = False) -> Callable[[np.ndarray], pl.Series]:
    """The values of some rows as text: converted only for the (few) rows rejected."""
    def text(rows: np.ndarray) -> pl.Series:
        picked = _as_text(series.gather(rows)).fill_null("")
        return picked.str.strip_chars() if strip else picked
    return text


def _nothing(rows: np.ndarray) -> pl.Series:
    return pl.repeat("", rows.size, dtype=pl.String, eager=True)


def _stripped_symbols(series: pl.Series) -> pl.Series:
    """Symbols without surrounding whitespace; checked on the few distinct values first.

    >>> _stripped_symbols(pl.Series(["A ", "A ", "B"])).to_list()
    ['A', 'A', 'B']
    """
    text = _as_text(series)
    distinct = text.unique()
    return text.str.strip_chars() if (distinct.str.strip_chars() != distinct).any() else text


def _as_text(series: pl.Series) -> pl.Series:
    return series if series.dtype == pl.String else series.cast(pl.String)


def _parse_float(series: pl.Series) -> pl.Series:
    if series.dtype.is_numeric():
        return series.cast(pl.Float64)
    return _as_text(series).str.strip_chars().cast(pl.Float64, strict=False)


def _parse_uint(series: pl.Series, dtype: type[pl.DataType]) -> pl.Series:
    if series.dtype.is_integer():
        return series.cast(dtype, strict=False)
    return _as_text(series).str.strip_chars().cast(pl.UInt64, strict=False).cast(dtype, strict=False)


def _parse_side(series: pl.Series) -> pl.Series:
    if series.dtype.is_integer():  # typed input: -1, 0, 1 as they are; null means unknown (0)
        in_range = series.is_between(-1, 1) | series.is_null()
        return pl.select(pl.when(pl.lit(in_range)).then(pl.lit(series).fill_null(0))
                         .cast(pl.Int8)).to_series().alias(series.name)
    text = _as_text(series).fill_null("").str.strip_chars().str.to_lowercase()
    return text.replace_strict(_SIDES, default=None, return_dtype=pl.Int8)


def _parse_trade_id(series: pl.Series) -> pl.Series:
    if series.dtype.is_integer():
        return series.cast(pl.UInt64, strict=False)
    text = _as_text(series).str.strip_chars()
    numeric = text.cast(pl.UInt64, strict=False)
    if numeric.null_count() == text.null_count():
        return numeric
    hashed = {value: _stable_hash(value) for value in text.filter(numeric.is_null()).drop_nulls().unique()}
    return numeric.fill_null(text.replace_strict(hashed, default=None, return_dtype=pl.UInt64))


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _derived_trade_id(parsed: dict[str, pl.Series]) -> pl.Series:
    """A content hash that is the same in every process and version (not polars' hash)."""
    symbols = parsed["symbol"].fill_null("")
    symbol_hash = symbols.replace_strict({s: _stable_hash(s) for s in symbols.unique()},
                                         return_dtype=pl.UInt64).to_numpy()
    h = symbol_hash.astype(np.uint64)
    for name in ("ts", "price", "size", "side"):
        values = parsed[name]
        raw = values.cast(pl.Int64).fill_null(0).to_numpy() if name == "ts" else values.fill_null(0).to_numpy()
        h = _mix(h ^ np.ascontiguousarray(raw).view(_uint_view(raw)).astype(np.uint64))
    return pl.Series("trade_id", h)


def _uint_view(values: np.ndarray) -> type:
    return {1: np.uint8, 8: np.uint64}[values.dtype.itemsize]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads bits so nearby inputs give unrelated ids."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _parse_ts(series: pl.Series, epoch_unit: str | None, ceiling: datetime) -> tuple[pl.Series, str | None]:
    """UTC timestamps of ``series``, and the unit its epoch numbers were read in (None: none were)."""
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime):
        out = series if dtype.time_zone else series.dt.replace_time_zone("UTC")
        return out.dt.convert_time_zone("UTC").dt.cast_time_unit("us"), None
    if isinstance(dtype, pl.Date):
        return series.cast(pl.Datetime("us")).dt.replace_time_zone("UTC"), None
    if dtype.is_numeric():
        unit = epoch_unit or epoch_unit_of(series.cast(pl.Float64), ceiling=ceiling)
        return _epoch_to_ts(series, unit), unit
    text = _as_text(series).str.strip_chars()
    epoch = text.str.contains(_EPOCH_TEXT).fill_null(False)
    if not epoch.any():
        return _iso_to_ts(text), None
    integral = text.str.contains(r"^-?\d+$").fill_null(False)
    numbers = text.cast(pl.Int64 if integral.all() else pl.Float64, strict=False)
    unit = epoch_unit or epoch_unit_of(numbers.filter(epoch).cast(pl.Float64), ceiling=ceiling)
    if epoch.all():
        return _epoch_to_ts(numbers, unit), unit
    return _epoch_to_ts(numbers, unit).zip_with(epoch, _iso_to_ts(text)), unit  # epoch numbers and ISO text


def epoch_unit_of(numbers: pl.Series, *, ceiling: datetime) -> str:
    """The unit of :data:`EPOCH_UNITS` under which most ``numbers`` fall in [1971-01-01, ``ceiling``].

    Ties go to the coarser unit.

    >>> epoch_unit_of(pl.Series([1704205800250.0, 253402300799.0]), ceiling=datetime(2025, 1, 1, tzinfo=timezone.utc))
    'milliseconds'
    >>> epoch_unit_of(pl.Series([1704205800.0, 253402300799.0]), ceiling=datetime(2025, 1, 1, tzinfo=timezone.utc))
    'seconds'
    """
    def fitting(unit: str) -> int:
        scale = 1e9 / EPOCH_UNITS[unit]  # numbers per second
        return int(((numbers >= MIN_TS.timestamp() * scale) & (numbers <= ceiling.timestamp() * scale)).sum())

    return max(EPOCH_UNITS, key=fitting)


def _iso_to_ts(text: pl.Series) -> pl.Series:
    normalized = text.str.replace(r"Z$", "+00:00").str.replace(" ", "T")
    has_offset = normalized.str.contains(r"[+-]\d\d:?\d\d$")
    aware = normalized.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us", time_zone="UTC")
    naive = normalized.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    date_only = normalized.str.to_datetime("%Y-%m-%d", strict=False, time_unit="us")
    naive = naive.fill_null(date_only).dt.replace_time_zone("UTC")
    return pl.select(pl.when(has_offset).then(aware).otherwise(naive)).to_series().alias("ts")


def _epoch_to_ts(numbers: pl.Series, unit: str) -> pl.Series:
    """Epoch ``numbers`` in ``unit`` to UTC timestamps (integers exactly); beyond what a timestamp holds: its limit.

    >>> _epoch_to_ts(pl.Series([1704205800.0, 1704205800.25]), "seconds").dt.to_string().to_list()
    ['2024-01-02 14:30:00.000000+00:00', '2024-01-02 14:30:00.250000+00:00']
    >>> _epoch_to_ts(pl.Series([1704205800123456789]), "nanoseconds").dt.to_string().to_list()
    ['2024-01-02 14:30:00.123456+00:00']
    """
    per_micro = EPOCH_UNITS[unit] / 1000  # microseconds in one unit
    limit = 9.2e18 / max(per_micro, 1.0)  # far out of range, still a time (the window check rejects it)
    if numbers.dtype.is_integer():
        held = pl.lit(numbers.cast(pl.Int64)).clip(-int(limit), int(limit))
        micros = held * int(per_micro) if per_micro >= 1 else held // int(1 / per_micro)
    else:
        value = pl.lit(numbers.cast(pl.Float64))
        micros = pl.when(value.is_nan()).then(None).otherwise((value.clip(-limit, limit) * per_micro).round(0))
    return pl.select(micros.cast(pl.Int64).cast(pl.Datetime("us", "UTC"))).to_series().alias("ts")
