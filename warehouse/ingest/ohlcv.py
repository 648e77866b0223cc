"""Import vendors' bars of any interval (daily, hourly, ...) into ``ohlcv``.

Accepts CSV or Parquet with a time column (named ``ts``/``date``/``datetime``/
``time``, or the unnamed first column pandas writes, as in the ``backtesting``
package's GOOG.csv and EURUSD.csv) and Open/High/Low/Close[/Volume] in any
letter case. The interval is inferred from the most common spacing unless
given. Re-importing the same bars replaces them (``ReplacingMergeTree``).
Bad rows (unparseable, non-positive or non-finite prices, high < low,
negative volume) go to ``rejects``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from clickhouse_connect.driver.client import Client

from warehouse.errors import WarehouseError
from warehouse.ingest.files import write_rejects

PRICE_COLUMNS = ("open", "high", "low", "close")
_INTERVAL = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class OhlcvReport:
    """What one OHLCV import did."""

    symbol: str
    interval: str
    loaded: int
    rejected: int

    def summary(self) -> str:
        """One line for the CLI."""
        return f"{self.symbol} {self.interval}: loaded {self.loaded:,} bars, rejected {self.rejected:,}"


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


def load_ohlcv(client: Client, path: str | Path, *, symbol: str | None = None,
               interval: str | None = None) -> OhlcvReport:
    """Import one file of bars; the symbol defaults to the file name's stem.

    >>> import backtesting, os
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> goog = os.path.join(os.path.dirname(backtesting.__file__), "test", "GOOG.csv")
    >>> load_ohlcv(client, goog).summary()
    'GOOG 1d: loaded 2,148 bars, rejected 0'
    """
    path = Path(path)
    symbol = symbol or path.name.split(".")[0].upper()
    raw = _read(path)
    frame = _normalise(raw, str(path))
    reason = _reasons(frame)
    good = frame.filter(reason.is_null())
    interval = interval or _infer_interval(good["ts"], str(path))
    interval_seconds(interval)
    bad_rows = reason.is_not_null()
    rejects = pa.table({
        "position": [f"row {i + 1}" for i in bad_rows.arg_true().to_list()],
        "reason": reason.filter(bad_rows).to_list(),
        "raw": raw.filter(bad_rows).select(pl.struct(pl.all()).struct.json_encode()).to_series().to_list(),
    })
    rejected = write_rejects(client, rejects, target="ohlcv", source=str(path))
    table = good.select(pl.lit(symbol).alias("symbol"), pl.lit(interval).alias("interval"), "ts",
                        *PRICE_COLUMNS, "volume")
    if table.height:
        client.insert_arrow("ohlcv", table.to_arrow())
    return OhlcvReport(symbol, interval, table.height, rejected)


def _read(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise WarehouseError(f"path: {str(path)!r} is not a readable file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            table = pq.read_table(path)
        else:
            with pacsv.open_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)) as peek:
                names = peek.schema.names
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}))
    except (pa.ArrowInvalid, OSError) as exc:
        raise WarehouseError(f"path: {str(path)!r} could not be read ({str(exc).splitlines()[0]})") from None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.select(pl.all().cast(pl.String))


def _normalise(raw: pl.DataFrame, source: str) -> pl.DataFrame:
    lowered = {c.strip().lower(): c for c in raw.columns}
    time_column = next((lowered[c] for c in ("ts", "timestamp", "datetime", "date", "time", "")
                        if c in lowered), raw.columns[0])
    missing = [c for c in PRICE_COLUMNS if c not in lowered]
    if missing:
        raise WarehouseError(f"columns: {source} has no {missing[0]!r} column (found: {', '.join(raw.columns)})")
    text_ts = raw[time_column].str.strip_chars().str.replace(r"Z$", "").str.replace("T", " ")
    ts = text_ts.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="ms").fill_null(
        text_ts.str.to_datetime("%Y-%m-%d", strict=False, time_unit="ms"))
    columns = {c: raw[lowered[c]].cast(pl.Float64, strict=False) for c in PRICE_COLUMNS}
    volume = raw[lowered["volume"]].cast(pl.Float64, strict=False) if "volume" in lowered else pl.Series(
        [0.0] * raw.height)
    return pl.DataFrame({"ts": ts.dt.replace_time_zone("UTC"), **columns, "volume": volume})


def _reasons(frame: pl.DataFrame) -> pl.Series:
    """First failing rule per row, null for good rows."""
    rules = [(pl.col("ts").is_null(), pl.lit("ts: unparseable"))]
    for c in PRICE_COLUMNS:
        rules.append((pl.col(c).is_null(), pl.lit(f"{c}: missing or unparseable")))
        rules.append((~pl.col(c).is_finite() | (pl.col(c) <= 0),
                      pl.format(f"{c}: {{}} is not a positive finite number", pl.col(c))))
    rules += [
        (pl.col("high") < pl.col("low"), pl.format("high: {} is below low {}", pl.col("high"), pl.col("low"))),
        (pl.col("volume").is_null() | (pl.col("volume") < 0), pl.format("volume: {} is negative or missing",
                                                                         pl.col("volume"))),
    ]
    reason = pl.lit(None, dtype=pl.String)
    for condition, message in reversed(rules):
        reason = pl.when(condition.fill_null(False)).then(message).otherwise(reason)
    return frame.select(reason.alias("reason")).to_series()


def _infer_interval(ts: pl.Series, source: str) -> str:
    steps = ts.sort().diff().drop_nulls().dt.total_seconds()
    steps = steps.filter(steps > 0)
    if steps.len() == 0:
        raise WarehouseError(f"interval: cannot infer from {source} (fewer than 2 distinct times); pass --interval")
    common = int(steps.mode().min())
    if common >= 86400 and common < 7 * 86400:
        return "1d"  # weekends and holidays make daily data look longer
    for unit in ("w", "d", "h", "m", "s"):
        if common % _UNIT_SECONDS[unit] == 0:
            return f"{common // _UNIT_SECONDS[unit]}{unit}"
    return f"{common}s"
