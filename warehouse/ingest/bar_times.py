"""Vendor bar timestamps to UTC, vectorised: offsets, ISO ``Z``, naive local times, epochs.

One rule per file, stated in the load summary (:attr:`ParsedTimes.how`):

* text with an offset (``2024-01-02 09:30:00-05:00``, ``...+0530``, ``...Z``) is exact;
* naive text (``2024-01-02 09:30``, MetaTrader's ``2024.01.02 09:30``) is read in the
  symbol's exchange zone when ``zone_for_symbol`` knows it, else in ``tz``, else as UTC;
  a local time that does not exist or is ambiguous there (a DST change) is a reject;
* a column of plain numbers is epoch time in one unit for the whole file (seconds,
  milliseconds, microseconds or nanoseconds: the unit under which most values fall in
  ``[1971-01-01, now + 1 day]``); a value outside that window in that unit is a reject
  with its value, never re-read in another unit.

Text times must lie in ``[1900-01-01, now + 1 day]`` (``ohlcv.ts`` is a ``DateTime64``).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import polars as pl

from warehouse.errors import WarehouseError
from warehouse.ingest.validate import EPOCH_UNITS, MIN_TS, epoch_unit_of

_TEXT_FLOOR = datetime(1900, 1, 1, tzinfo=timezone.utc)
_NUMBER = r"^-?\d+(\.\d+)?$"
_OFFSET = r"(?:\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})$"
_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d")


@dataclass(frozen=True)
class ParsedTimes:
    """UTC times (null where ``error`` says why, in words without the value, and ``code`` names the
    rule: a ``rejects.code``) and how they were read, for the summary."""

    ts: pl.Series
    error: pl.Series
    how: str
    code: pl.Series


def _first_rule(rules: list[tuple[pl.Expr, str, pl.Expr | str]],
                otherwise: ParsedTimes | None = None) -> tuple[pl.Series, pl.Series]:
    """(code, reason) of the first of ``rules`` (condition, code, reason) each row meets, else ``otherwise``'s."""
    code = pl.lit(otherwise.code) if otherwise else pl.lit(None, pl.String)
    reason = pl.lit(otherwise.error) if otherwise else pl.lit(None, pl.String)
    for condition, rule, words in reversed(rules):
        code = pl.when(condition).then(pl.lit(rule)).otherwise(code)
        reason = pl.when(condition).then(words if isinstance(words, pl.Expr) else pl.lit(words)).otherwise(reason)
    out = pl.select(code.cast(pl.String).alias("code"), reason.cast(pl.String).alias("error"))
    return out["code"], out["error"]


def check_zone(zone: str, field: str = "tz") -> str:
    """Return ``zone`` if it is an IANA time zone, else raise a one-line error naming it.

    >>> check_zone("Asia/Kolkata")
    'Asia/Kolkata'
    >>> check_zone("Mars/Olympus")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: tz: 'Mars/Olympus' is not a known time zone (e.g. Asia/Kolkata, America/New_York, UTC)
    """
    try:
        zoneinfo.ZoneInfo(zone)
        pl.Series([], dtype=pl.Datetime("ms")).dt.replace_time_zone(zone)  # polars' own zone database too
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, pl.exceptions.PolarsError):
        raise WarehouseError(f"{field}: {zone!r} is not a known time zone "
                             "(e.g. Asia/Kolkata, America/New_York, UTC)") from None
    return zone


def parse_times(values: pl.Series, symbols: pl.Series | None = None, *, tz: str | None = None,
                zone_for_symbol: Mapping[str, str] | None = None, now: datetime | None = None) -> ParsedTimes:
    """Read a time column (text, numbers, or Arrow timestamps) as UTC milliseconds.

    >>> parsed = parse_times(pl.Series(["2024-01-02 09:30:00-05:00", "2024-01-02T14:31:00Z"]))
    >>> parsed.ts.dt.to_string("%H:%M").to_list(), parsed.how
    (['14:30', '14:31'], 'times carried offsets')
    >>> parse_times(pl.Series(["2024.01.02 09:15"]), tz="Asia/Kolkata").ts.dt.to_string("%H:%M").item()
    '03:45'
    >>> parsed = parse_times(pl.Series(["1704205800", "1704205860", "253402300799"]))
    >>> parsed.ts.null_count(), parsed.code.drop_nulls().item(), parsed.error.drop_nulls().item(), parsed.how
    (1, 'future_ts', 'ts: after now + 1 day as epoch seconds', 'epoch seconds')
    """
    now = now or datetime.now(timezone.utc)
    ceiling = now + timedelta(days=1)
    if tz is not None:
        check_zone(tz)
    zones = dict(zone_for_symbol or {})
    for zone in set(zones.values()):
        check_zone(zone, "zone_for_symbol")
    if values.dtype == pl.Date:
        values = values.cast(pl.Datetime("ms"))
    if isinstance(values.dtype, pl.Datetime):
        if values.dtype.time_zone is not None:  # typed and zoned (Parquet): exact
            ts = values.dt.convert_time_zone("UTC").dt.cast_time_unit("ms")
            return _in_window(ts, values.cast(pl.String), None, _TEXT_FLOOR, ceiling, "times carried offsets")
        return _naive(values.dt.cast_time_unit("ms"), values.cast(pl.String), symbols, tz, zones, ceiling)
    text = values.cast(pl.String).str.strip_chars()
    numeric = text.str.contains(_NUMBER).fill_null(False)
    if numeric.sum() * 2 > text.drop_nulls().len() and not text.str.contains(r"^\d{8}$").fill_null(False).all():
        return _epoch(text, numeric, ceiling)
    iso = text  # to "YYYY-MM-DD HH:MM...": each rewrite only when some text needs it (a regex pass is costly)
    if text.str.contains(r"^\d{4}[./]\d", literal=False).any():
        iso = iso.str.replace(r"^(\d{4})[./](\d{2})[./](\d{2})", "${1}-${2}-${3}")
    if iso.str.contains(r"^\d{4}-\d{2}-\d{2}(?:T|\s\s)").any():
        iso = iso.str.replace(r"^(\d{4}-\d{2}-\d{2})(?:T|\s+)", "${1} ")
    offset = iso.str.extract(_OFFSET, 1)
    local = pl.select(pl.when(offset.is_not_null()).then(iso.str.replace(r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})$", ""))
                      .otherwise(iso)).to_series()
    naive = _first_format(local)
    sign = offset.str.slice(0, 1).replace_strict({"+": 1, "-": -1}, default=0, return_dtype=pl.Int64)
    minutes = sign * (offset.str.slice(1, 2).cast(pl.Int64, strict=False) * 60
                      + offset.str.slice(-2).cast(pl.Int64, strict=False)).fill_null(0)
    exact = (naive - (minutes * 60_000).cast(pl.Duration("ms"))).dt.replace_time_zone("UTC")
    has_offset = offset.is_not_null()
    local_part = _naive(naive.filter(~has_offset), text.filter(~has_offset),
                        None if symbols is None else symbols.filter(~has_offset), tz, zones, ceiling)
    ts = exact.scatter(has_offset.not_().arg_true(), local_part.ts) if local_part.ts.len() else exact
    error, code = _full(None, ts.len(), pl.String), _full(None, ts.len(), pl.String)
    if local_part.ts.len():
        error = error.scatter(has_offset.not_().arg_true(), local_part.error)
        code = code.scatter(has_offset.not_().arg_true(), local_part.code)
    offset_part = _in_window(exact.filter(has_offset), text.filter(has_offset), naive.filter(has_offset),
                             _TEXT_FLOOR, ceiling, "")
    if offset_part.ts.len():
        ts = ts.scatter(has_offset.arg_true(), offset_part.ts)
        error = error.scatter(has_offset.arg_true(), offset_part.error)
        code = code.scatter(has_offset.arg_true(), offset_part.code)
    kinds = [("times carried offsets", int(has_offset.sum())), (local_part.how, local_part.ts.len())]
    kinds = [(how, n) for how, n in kinds if n]
    how = "; ".join(how if len(kinds) == 1 else f"{how} ({n:,} row{'s' * (n != 1)})" for how, n in kinds) or "no rows"
    return ParsedTimes(ts.rename("ts"), error.rename("error"), how, code.rename("code"))


def _full(value: object, length: int, dtype: pl.DataType) -> pl.Series:
    return pl.repeat(value, length, dtype=dtype, eager=True)


def _first_format(local: pl.Series) -> pl.Series:
    """Each text parsed by the first of :data:`_FORMATS` that reads it; later formats see only the rest."""
    parsed = local.str.to_datetime(_FORMATS[0], strict=False, time_unit="ms")
    for fmt in _FORMATS[1:]:
        missing = (parsed.is_null() & local.is_not_null()).arg_true()
        if missing.len():
            parsed = parsed.scatter(missing, local.gather(missing).str.to_datetime(fmt, strict=False, time_unit="ms"))
    return parsed


def _naive(naive: pl.Series, text: pl.Series, symbols: pl.Series | None, tz: str | None,
           zones: dict[str, str], ceiling: datetime) -> ParsedTimes:
    """Naive times read in each row's zone: the symbol's, else ``tz``, else UTC."""
    fallback = tz or "UTC"
    zone = (symbols.replace_strict(zones, default=fallback, return_dtype=pl.String) if symbols is not None and zones
            else _full(fallback, naive.len(), pl.String))
    early, late = (_full(None, naive.len(), pl.Datetime("ms", "UTC")) for _ in range(2))
    for name in zone.unique().to_list():
        rows = (zone == name).arg_true()
        local = naive.gather(rows)
        for choice, into in (("earliest", early), ("latest", late)):  # scatter writes in place
            into.scatter(rows, local.dt.replace_time_zone(name, ambiguous=choice, non_existent="null")
                         .dt.convert_time_zone("UTC"))
    # A local time a DST change repeats: the first bar of a symbol at it is the earlier instant, the
    # second the later one (as the clock read them); one alone cannot be placed and is a reject.
    repeated = (early != late).fill_null(False)
    lone = repeated & False
    ts = early
    if repeated.any():
        key = pl.DataFrame({"symbol": symbols if symbols is not None else _full("", naive.len(), pl.String),
                            "naive": naive, "repeated": repeated})
        seen = key.select(pl.col("repeated"), pl.int_range(pl.len()).over("symbol", "naive").alias("n"),
                          pl.len().over("symbol", "naive").alias("of"))
        lone = seen.select(pl.col("repeated") & (pl.col("of") != 2)).to_series()
        second = seen.select(pl.col("repeated") & (pl.col("of") == 2) & (pl.col("n") == 1)).to_series()
        ts = pl.select(pl.when(pl.lit(lone)).then(None).when(pl.lit(second)).then(pl.lit(late))
                       .otherwise(pl.lit(early))).to_series()
    missing_local = naive.is_not_null() & early.is_null()
    how = (f"naive times read as {tz} (--tz)" if tz else "naive times read as UTC (no --tz)")
    present = set() if symbols is None or not zones else set(symbols.unique().to_list())
    by_symbol = sorted((s, z) for s, z in zones.items() if s in present)
    if by_symbol:
        shown = ", ".join(f"{s} {z}" for s, z in by_symbol[:3])
        shown += f", +{len(by_symbol) - 3}" if len(by_symbol) > 3 else ""
        how = f"naive times read in exchange zones ({shown}), others {how.removeprefix('naive times read ')}"
    parsed = _in_window(ts, text, naive, _TEXT_FLOOR, ceiling, how)
    code, error = _first_rule([
        (pl.lit(missing_local), "nonexistent_ts", pl.format("ts: does not exist in {} (skipped by a DST change)",
                                                             pl.lit(zone))),
        (pl.lit(lone), "ambiguous_ts", pl.format("ts: ambiguous in {} (repeated by a DST change; give times with "
                                                  "offsets)", pl.lit(zone)))], parsed)
    return ParsedTimes(parsed.ts, error, how, code)


def _in_window(ts: pl.Series, text: pl.Series, parsed: pl.Series | None, floor: datetime, ceiling: datetime,
               how: str) -> ParsedTimes:
    unparsed = ts.is_null() if parsed is None else parsed.is_null()
    code, error = _first_rule([
        (pl.lit(text).is_null() | (pl.lit(text) == ""), "missing_field", "ts: missing"),
        (pl.lit(unparsed), "unparseable", "ts: not a date/time"),
        (pl.lit(ts < floor).fill_null(False), "early_ts", f"ts: before {floor:%Y-%m-%d}"),
        (pl.lit(ts > ceiling).fill_null(False), "future_ts", "ts: after now + 1 day")])
    return ParsedTimes(pl.select(pl.when(error.is_null()).then(pl.lit(ts))).to_series(), error, how, code)


def _epoch(text: pl.Series, numeric: pl.Series, ceiling: datetime) -> ParsedTimes:
    """Numbers as epoch time in the one unit under which most of them are in range."""
    number = pl.select(pl.when(pl.lit(numeric)).then(pl.lit(text))).to_series().cast(pl.Float64)
    unit = epoch_unit_of(number, ceiling=ceiling)
    lo, hi = (moment.timestamp() * 1e9 / EPOCH_UNITS[unit] for moment in (MIN_TS, ceiling))
    good = (number >= lo) & (number <= hi)
    per_ms = EPOCH_UNITS[unit] / 1_000_000
    integral = ~text.str.contains(r"\.").fill_null(False)
    whole = text.cast(pl.Int64, strict=False)
    ms = pl.select(pl.when(pl.lit(integral) & pl.lit(whole).is_not_null())
                   .then(pl.lit(whole) * int(per_ms) if per_ms >= 1 else pl.lit(whole) // int(1 / per_ms))
                   .otherwise((pl.lit(number) * per_ms).round(0).cast(pl.Int64, strict=False))).to_series()
    ts = pl.select(pl.when(pl.lit(good).fill_null(False)).then(pl.lit(ms))).to_series().cast(pl.Datetime("ms", "UTC"))
    code, error = _first_rule([
        (pl.lit(text).is_null() | (pl.lit(text) == ""), "missing_field", "ts: missing"),
        (~pl.lit(numeric), "unparseable", f"ts: not an epoch number (this file is epoch {unit})"),
        (pl.lit(number < lo).fill_null(False), "early_ts", f"ts: before {MIN_TS:%Y-%m-%d} as epoch {unit}"),
        (~pl.lit(good).fill_null(False), "future_ts", f"ts: after now + 1 day as epoch {unit}")])
    return ParsedTimes(ts, error, f"epoch {unit}", code)
