"""Import vendors' bars of any interval (daily, hourly, ...) into ``ohlcv``, every symbol kept.

Formats are read by :mod:`warehouse.ingest.ohlcv_formats` (CSV/TSV in any letter case,
MetaTrader, yfinance, Kite candle JSON, Parquet) and times by
:mod:`warehouse.ingest.bar_times` (offsets, naive local times, epochs). A file with a
``symbol``/``ticker`` column loads every symbol it holds; otherwise the symbol is
``symbol=`` or the file name's stem. The interval is inferred per symbol from its most
common spacing unless given. Re-importing the same bars replaces them
(``ReplacingMergeTree``).

Nothing is dropped silently: unreadable lines, bad times, missing or non-positive
prices, high < low, negative volume or OI, and a second bar of a symbol at the same
time each go to ``rejects`` with their position (``line N``, header = line 1), code,
field, offending value, reason and raw input, and are counted in the summary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from warehouse.errors import WarehouseError
from warehouse.ingest.bar_times import ParsedTimes, check_zone, parse_times
from warehouse.ingest.files import write_rejects
from warehouse.ingest.instruments import exchange_zones
from warehouse.ingest.ohlcv_formats import FIELDS, read_vendor_bars
from warehouse.ingest.session_check import CLOSED, OUTSIDE, REGULAR, SessionRule
from warehouse.sessions import venue_of

PRICE_COLUMNS = FIELDS
_INTERVAL = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SHOWN_SYMBOLS = 6
_REJECT_COLUMNS = ("code", "field", "value", "reason")


@dataclass(frozen=True)
class SymbolBars:
    """Bars loaded for one symbol of a file."""

    symbol: str
    interval: str
    loaded: int


@dataclass(frozen=True)
class OhlcvReport:
    """What one OHLCV import did: bars per symbol, rejects, and how times were read."""

    source: str
    symbols: tuple[SymbolBars, ...]
    rejected: int
    times: str
    format: str = "csv"

    @property
    def loaded(self) -> int:
        """Bars inserted, all symbols together."""
        return sum(s.loaded for s in self.symbols)

    @property
    def symbol(self) -> str:
        """The symbol of a one-symbol file (several: joined by commas)."""
        return ",".join(s.symbol for s in self.symbols)

    @property
    def interval(self) -> str:
        """The interval of every symbol (several different: joined by commas)."""
        return ",".join(dict.fromkeys(s.interval for s in self.symbols))

    @property
    def counts(self) -> dict[str, int]:
        """Bars loaded per symbol."""
        return {s.symbol: s.loaded for s in self.symbols}

    def summary(self) -> str:
        """One line for the CLI.

        >>> OhlcvReport("x.csv", (SymbolBars("A", "1d", 3), SymbolBars("B", "1h", 2)), 1, "epoch seconds").summary()
        'x.csv: loaded 5 bars of 2 symbols (A 1d 3, B 1h 2), rejected 1; epoch seconds'
        """
        if not self.symbols:
            head = f"{Path(self.source).name}: loaded 0 bars"
        elif len(self.symbols) == 1:
            one = self.symbols[0]
            head = f"{one.symbol} {one.interval}: loaded {_bars(one.loaded)}"
        else:
            same = len({s.interval for s in self.symbols}) == 1
            parts = [f"{s.symbol} {'' if same else s.interval + ' '}{s.loaded:,}" for s in self.symbols]
            more = len(parts) - _SHOWN_SYMBOLS
            listed = ", ".join(parts[:_SHOWN_SYMBOLS]) + (f", +{more} more" if more > 0 else "")
            shared = f" {self.symbols[0].interval}" if same and self.symbols else ""
            count = f"{len(self.symbols)} symbols{shared}"
            head = f"{Path(self.source).name}: loaded {_bars(self.loaded)} of {count} ({listed})"
        kind = "" if self.format == "csv" else f"{self.format}, "
        return f"{head}, rejected {self.rejected:,}; {kind}{self.times}"


def _bars(count: int) -> str:
    return f"{count:,} bar{'s' * (count != 1)}"


def interval_seconds(interval: str) -> int:
    """Seconds in an interval like ``1d``, ``4h``, ``15m``; raise on anything else.

    >>> interval_seconds("4h")
    14400
    >>> interval_seconds("7q")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: interval: '7q' is not like 30s, 5m, 1h, 1d or 1w
    """
    match = _INTERVAL.match(interval)
    if not match or int(match.group(1)) == 0:
        raise WarehouseError(f"interval: {interval!r} is not like 30s, 5m, 1h, 1d or 1w")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def load_ohlcv(client: Client, path: str | Path, *, symbol: str | None = None, interval: str | None = None,
               tz: str | None = None, zone_for_symbol: Mapping[str, str] | None = None,
               sessions: SessionRule | None = None) -> OhlcvReport:
    """Import one file of bars; every symbol of a multi-symbol file is kept.

    ``symbol`` names the symbol of a one-symbol file (default: the file name's stem);
    for a file with a symbol column it must agree with it. Naive times are read in
    ``zone_for_symbol[symbol]`` (default: the exchange zones ``instruments`` knows for the
    file's symbols, :func:`~warehouse.ingest.instruments.exchange_zones`), else in ``tz``,
    else as UTC; the summary says which. ``sessions`` (:func:`~warehouse.ingest.session_check.session_rule`)
    refuses bars outside their exchange's session (``outside_session``): an intraday bar by its start time, a
    bar of a day or more when its local day is not a trading day; its exchange also places naive times
    (without ``tz``). Bars before 1971 are not checked.

    >>> import backtesting, os, tempfile
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> goog = os.path.join(os.path.dirname(backtesting.__file__), "test", "GOOG.csv")
    >>> load_ohlcv(client, goog).summary()
    'GOOG 1d: loaded 2,148 bars, rejected 0; naive times read as UTC (no --tz)'
    >>> path = os.path.join(tempfile.mkdtemp(), "bars.csv")
    >>> _ = open(path, "w").write("Ticker,Date,Open,High,Low,Close,Volume\\n"
    ...     "AAA,2024-01-02,10,11,9,10.5,100\\nBBB,2024-01-02,20,21,19,20.5,50\\n"
    ...     "AAA,2024-01-03,10,11,9,10.5,100\\nBBB,2024-01-03,20,21,19,20.5,50\\nBBB,2024-01-04,20,19,21,20,5\\n")
    >>> load_ohlcv(client, path, tz="America/New_York").summary()
    'bars.csv: loaded 4 bars of 2 symbols 1d (AAA 2, BBB 2), rejected 1; naive times read as America/New_York (--tz)'
    """
    path = Path(path)
    if interval is not None:
        interval_seconds(interval)
    if tz is not None:
        check_zone(tz)
    bars = read_vendor_bars(path)
    frame = bars.frame.with_columns(_symbols(bars.frame, bars.has_symbols, symbol, path))
    if zone_for_symbol is None:
        names = frame["symbol"].unique().to_list()
        exchange = sessions.exchange if sessions is not None and tz is None else None
        zone_for_symbol = dict.fromkeys(names, venue_of(exchange).zone) if exchange else exchange_zones(client, names)
    times = parse_times(frame["time"], frame["symbol"], tz=tz, zone_for_symbol=zone_for_symbol)
    values = frame.select(
        "symbol", times.ts.alias("ts"),
        *(pl.col(c).str.strip_chars().cast(pl.Float64, strict=False).alias(c) for c in PRICE_COLUMNS),
        pl.col("volume").str.strip_chars().cast(pl.Float64, strict=False).alias("volume"),
        pl.col("oi").str.strip_chars().cast(pl.Float64, strict=False).alias("oi"),
        "position", "raw")
    values = values.with_columns(_failures(frame, values, times))
    values = values.with_columns(_duplicates())
    good = values.filter(pl.col("reason").is_null())
    intervals = _intervals(good, interval, str(path))
    if sessions is not None and sessions.require is not None:
        values = _outside_sessions(values, frame["time"], sessions, intervals)
        good = values.filter(pl.col("reason").is_null())
    bad = values.filter(pl.col("reason").is_not_null()).select(
        "position", *_REJECT_COLUMNS, pl.col("raw").struct.json_encode()).to_arrow()
    rejects = pa.concat_tables([bars.malformed, bad.cast(bars.malformed.schema)])
    rejected = write_rejects(client, rejects, target="ohlcv", source=str(path))
    table = good.select("symbol", pl.col("symbol").replace_strict(intervals, return_dtype=pl.String).alias("interval"),
                        "ts", *PRICE_COLUMNS, "volume", "oi")
    if table.height:
        client.insert_arrow("ohlcv", table.to_arrow())
    counts = table.group_by("symbol", maintain_order=True).len().sort("symbol").rows()
    loaded = tuple(SymbolBars(s, intervals[s], n) for s, n in counts)
    return OhlcvReport(str(path), loaded, rejected, times.how, bars.format)


def _symbols(frame: pl.DataFrame, has_symbols: bool, symbol: str | None, path: Path) -> pl.Series:
    """The symbol of each row: the file's column, else ``symbol``, else the file name's stem."""
    if not has_symbols:
        name = symbol or path.name.split(".")[0].upper()
        return pl.repeat(name, frame.height, dtype=pl.String, eager=True).alias("symbol")
    column = frame["symbol"]
    if symbol is not None:
        held = sorted(set(column.drop_nulls().unique().to_list()) - {""})
        if set(held) - {symbol}:
            shown = ", ".join(held[:5]) + (f" +{len(held) - 5} more" if len(held) > 5 else "")
            raise WarehouseError(f"symbol: --symbol {symbol!r} disagrees with the symbol column of {path} "
                                 f"(holds {shown}); leave --symbol out to load every symbol")
    return column


def _failures(frame: pl.DataFrame, values: pl.DataFrame, times: ParsedTimes) -> pl.DataFrame:
    """The first rule each row breaks: code, field, offending value (as text) and reason; nulls for good rows."""
    text = {c: pl.lit(frame[c]) for c in (*PRICE_COLUMNS, "volume", "oi")}
    ts_text = pl.lit(frame["time"].cast(pl.String)).fill_null("")
    rules = [(pl.lit(times.code).is_not_null(), pl.lit(times.code), "ts", ts_text, pl.lit(times.error)),
             (pl.col("symbol").is_null() | (pl.col("symbol") == ""), "missing_field", "symbol", "", "symbol: missing")]
    for c in PRICE_COLUMNS:
        rules.append((text[c].is_null() | (text[c].str.strip_chars() == ""), "missing_field", c, "", f"{c}: missing"))
        rules.append((pl.col(c).is_null(), "unparseable", c, text[c], f"{c}: not a number"))
        rules.append((~pl.col(c).is_finite() | (pl.col(c) <= 0), "bad_price", c, pl.col(c).cast(pl.String),
                      f"{c}: not a positive finite number"))
    rules += [
        (pl.col("high") < pl.col("low"), "high_below_low", "high",
         pl.format("{} < {}", pl.col("high"), pl.col("low")), "high: below low"),
        (pl.col("volume").is_null(), "unparseable", "volume", text["volume"].fill_null(""),
         "volume: missing or not a number"),
        (~pl.col("volume").is_finite() | (pl.col("volume") < 0), "bad_volume", "volume",
         pl.col("volume").cast(pl.String), "volume: negative or not finite"),
        (pl.col("oi").is_null() & (text["oi"].str.strip_chars() != ""), "unparseable", "oi", text["oi"],
         "oi: not a number"),
        (~pl.col("oi").is_finite() | (pl.col("oi") < 0), "bad_volume", "oi", pl.col("oi").cast(pl.String),
         "oi: negative or not finite"),
    ]
    chains = [pl.lit(None, dtype=pl.String)] * 4
    for condition, *parts in reversed(rules):
        chains = [pl.when(condition.fill_null(False)).then(part if isinstance(part, pl.Expr) else pl.lit(part))
                  .otherwise(chain) for part, chain in zip(parts, chains)]
    return values.select(chain.cast(pl.String).alias(name) for chain, name in zip(chains, _REJECT_COLUMNS))


def _outside_sessions(values: pl.DataFrame, given: pl.Series, sessions: SessionRule,
                      intervals: dict[str, str]) -> pl.DataFrame:
    """``values`` with the good bars outside their session made rejects (a bar of a day or more: only on a day
    without a session)."""
    good = values["reason"].is_null()
    picked = values.filter(good)
    types = sessions.types(picked["symbol"], picked["ts"])
    days = {name: interval_seconds(step) >= 86400 for name, step in intervals.items()}
    daily = picked["symbol"].replace_strict(days, default=False, return_dtype=pl.Boolean).to_numpy()
    types = np.where(daily & (types != CLOSED) & (types >= 0), REGULAR, types)
    why = pl.Series(types).replace_strict(sessions.reasons(), default=None, return_dtype=pl.String)
    reason = pl.Series("why", [None] * values.height, pl.String).scatter(good.arg_true(), why)
    hit, text = reason.is_not_null(), given.cast(pl.String).fill_null("").str.strip_chars()
    update = {"code": pl.lit(OUTSIDE), "field": pl.lit("ts"), "value": pl.lit(text), "reason": pl.lit(reason)}
    return values.with_columns(pl.when(hit).then(expr).otherwise(pl.col(name)).alias(name)
                               for name, expr in update.items())


def _duplicates() -> list[pl.Expr]:
    """A second good bar of a symbol at the same time is a reject; its value names the line kept (first wins)."""
    ok = pl.col("reason").is_null()
    key = [pl.col("symbol"), pl.when(ok).then(pl.col("ts")).alias("good_ts")]
    repeat = ok & ~pl.struct(key).is_first_distinct()
    kept = pl.col("position").first().over(key)
    value = pl.format("{}, {} kept", pl.col("ts").dt.to_string("%Y-%m-%dT%H:%M:%S%.3fZ"), kept)
    duplicate = {"code": pl.lit("duplicate_bar"), "field": pl.lit("ts"), "value": value,
                 "reason": pl.lit("ts: a second bar of the symbol at this time (the first is kept)")}
    return [pl.when(repeat).then(expr).otherwise(pl.col(name)).alias(name) for name, expr in duplicate.items()]


def _intervals(good: pl.DataFrame, interval: str | None, source: str) -> dict[str, str]:
    """Each symbol's interval: the one given, else its most common spacing."""
    symbols = good["symbol"].unique().sort().to_list()
    if interval is not None:
        return dict.fromkeys(symbols, interval)
    common = (good.select("symbol", "ts").sort("symbol", "ts")
              .with_columns(pl.col("ts").diff().over("symbol").dt.total_seconds().alias("step"))
              .filter(pl.col("step") > 0)
              .group_by("symbol").agg(pl.col("step").mode().min().alias("common")))
    found = {s: _label(int(c)) for s, c in common.iter_rows()}
    lonely = [s for s in symbols if s not in found]
    if lonely and len(set(found.values())) == 1:  # one bar of a symbol in a file of one interval
        found.update(dict.fromkeys(lonely, next(iter(found.values()))))
    elif lonely:
        seen = good.filter(pl.col("symbol") == lonely[0])["ts"].unique().sort().head(3)
        shown = ", ".join(seen.dt.to_string("%Y-%m-%dT%H:%M:%SZ").to_list())
        raise WarehouseError(f"interval: cannot infer for {lonely[0]} in {source} from fewer than 2 distinct times "
                             f"(saw {shown}); pass --interval")
    return found


def _label(seconds: int) -> str:
    if 86400 <= seconds < 7 * 86400:
        return "1d"  # weekends and holidays make daily data look longer
    for unit in ("w", "d", "h", "m", "s"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"
