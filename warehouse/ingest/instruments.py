"""Instruments: a broker's instruments file into ``instruments``, and the exchange zone of a symbol.

The file is Kite's instruments CSV (``https://api.kite.trade/instruments`` saves it):
``instrument_token, exchange_token, tradingsymbol, name, last_price, expiry, strike,
tick_size, lot_size, instrument_type, segment, exchange``. Each row is checked; a bad row
goes to ``rejects`` (``target = 'instruments'``) with its code, field and value, and is
counted. ``symbol`` is the trading symbol; ``asset_class`` comes from the segment (INDICES
index) or the instrument type (EQ equity, FUT future, CE/PE option); ``exchange_tz`` from
:data:`EXCHANGE_ZONES`, or ``zones`` for exchanges it does not know (an exchange with no
zone is a reject: a symbol's naive times could not be placed).

:func:`exchange_zones` tells the zone of symbols the table knows; the OHLCV loader reads a
file's naive times in it (:func:`warehouse.ingest.ohlcv.load_ohlcv`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from clickhouse_connect.driver.client import Client

from warehouse.errors import WarehouseError
from warehouse.ingest.bar_times import check_zone
from warehouse.ingest.files import write_rejects
from warehouse.ingest.validate import rejects_table

KITE_COLUMNS = ("instrument_token", "exchange_token", "tradingsymbol", "name", "last_price", "expiry", "strike",
                "tick_size", "lot_size", "instrument_type", "segment", "exchange")
EXCHANGE_ZONES = {
    **dict.fromkeys(("NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX", "NCO", "NSEIX"), "Asia/Kolkata"),
    **dict.fromkeys(("NYSE", "NASDAQ", "ARCA", "AMEX", "BATS", "CBOE", "CME"), "America/New_York"),
    "LSE": "Europe/London", "XETRA": "Europe/Berlin", "TSE": "Asia/Tokyo", "HKEX": "Asia/Hong_Kong",
}
"""The time zone of an exchange, by the name brokers give it (Kite's Indian segments first)."""
_ASSET_CLASSES = {"EQ": "equity", "FUT": "future", "CE": "option", "PE": "option"}
_ZONES_SQL = """
SELECT symbol, groupUniqArray(exchange_tz) FROM instruments FINAL
WHERE symbol IN {symbols:Array(String)} GROUP BY symbol
"""


@dataclass
class InstrumentsReport:
    """What one instruments import did."""

    source: str
    loaded: int = 0
    by_exchange: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)  # per code
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the CLI."""
        exchanges = ", ".join(f"{name} {count:,}" for name, count in sorted(self.by_exchange.items()))
        refused = sum(self.rejected.values())
        codes = f" ({', '.join(f'{c} {n:,}' for c, n in sorted(self.rejected.items()))})" if refused else ""
        return (f"{Path(self.source).name}: loaded {self.loaded:,} instruments ({exchanges or 'none'}), "
                f"rejected {refused:,}{codes} in {self.seconds:.2f} s")


def load_instruments(client: Client, path: str | Path, *, zones: Mapping[str, str] | None = None) -> InstrumentsReport:
    """Import Kite's instruments CSV at ``path`` into ``instruments``; ``zones`` adds exchanges' time zones.

    >>> import tempfile
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="instruments_example"); _ = migrate(client)
    >>> path = Path(tempfile.mkdtemp()) / "instruments.csv"
    >>> _ = path.write_text(",".join(KITE_COLUMNS) + "\\n408065,1594,INFY,INFOSYS,0,,0,0.05,1,EQ,NSE,NSE\\n"
    ...     "9999,1,ZZZ,Z,0,,0,0.05,-1,EQ,NSE,NSE\\n")
    >>> load_instruments(client, path).summary()  # doctest: +ELLIPSIS
    'instruments.csv: loaded 1 instruments (NSE 1), rejected 1 (bad_value 1) in ... s'
    >>> exchange_zones(client, ["INFY", "NOPE"])
    {'INFY': 'Asia/Kolkata'}
    """
    started = time.perf_counter()
    known = {**EXCHANGE_ZONES, **{name: check_zone(zone, "zones") for name, zone in (zones or {}).items()}}
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise WarehouseError(f"path: cannot read {str(path)!r} as an instruments CSV ({exc})") from None
    absent = [name for name in KITE_COLUMNS if name not in raw.columns]
    if absent:
        raise WarehouseError(f"path: {str(path)!r} has no column {absent[0]!r}; Kite's instruments CSV has "
                             f"{', '.join(KITE_COLUMNS)}")
    raw = raw.select(pl.col(name).str.strip_chars().fill_null("") for name in KITE_COLUMNS)
    parsed = _parsed(raw, known)
    failures = _failures(raw, parsed)
    report = InstrumentsReport(str(path))
    if failures.height:
        rows = failures["row"].to_numpy()
        payload = raw[rows].select(pl.struct(pl.all()).struct.json_encode()).to_series()
        write_rejects(client, rejects_table("line " + (failures["row"] + 2).cast(pl.String), failures["code"],
                                            failures["field"], failures["value"], failures["reason"], payload),
                      target="instruments", source=str(path))
        report.rejected = dict(failures.group_by("code").len().iter_rows())
    keep = np.ones(parsed.height, np.bool_)
    keep[failures["row"].to_numpy()] = False
    good = parsed.filter(pl.Series(keep))
    if good.height:
        client.insert_arrow("instruments", good.to_arrow())
    report.loaded = good.height
    report.by_exchange = dict(good.group_by("exchange").len().iter_rows())
    report.seconds = time.perf_counter() - started
    return report


def exchange_zones(client: Client, symbols: Sequence[str]) -> dict[str, str]:
    """The exchange time zone of each of ``symbols`` that ``instruments`` holds on exchanges of one zone."""
    if not symbols:
        return {}
    rows = client.query(_ZONES_SQL, parameters={"symbols": list(symbols)}).result_rows
    return {symbol: zones[0] for symbol, zones in rows if len(zones) == 1}


def _parsed(raw: pl.DataFrame, zones: Mapping[str, str]) -> pl.DataFrame:
    """The file's columns as the table's types (nulls where a value does not parse)."""
    number = {name: pl.col(name).replace("", "0") for name in ("exchange_token", "strike", "lot_size")}
    return raw.select(
        pl.col("instrument_token").cast(pl.UInt64, strict=False),
        number["exchange_token"].cast(pl.UInt64, strict=False).alias("exchange_token"),
        pl.col("tradingsymbol").alias("symbol"),
        "tradingsymbol", "name", "exchange", "segment", "instrument_type",
        pl.when(pl.col("segment") == "INDICES").then(pl.lit("index"))
        .otherwise(pl.col("instrument_type").replace_strict(_ASSET_CLASSES, default="")).alias("asset_class"),
        pl.lit("").alias("sector"),
        number["lot_size"].cast(pl.Int64, strict=False).alias("lot_size"),
        pl.col("tick_size").cast(pl.Float64, strict=False),
        pl.when(pl.col("expiry") == "").then(None).otherwise(pl.col("expiry")).str.to_date("%Y-%m-%d", strict=False)
        .alias("expiry"),
        number["strike"].cast(pl.Float64, strict=False).alias("strike"),
        pl.col("exchange").replace_strict(dict(zones), default=None).alias("exchange_tz"),
    )


def _failures(raw: pl.DataFrame, parsed: pl.DataFrame) -> pl.DataFrame:
    """One row per refused line: its index, and the first rule it broke (code, field, value, reason)."""
    checks = [  # (broken?, code, field, reason)
        (pl.col("instrument_token") == "", "missing_field", "instrument_token", "instrument_token: missing"),
        (parsed["instrument_token"].is_null() | (parsed["instrument_token"] == 0), "unparseable", "instrument_token",
         "instrument_token: not a positive integer"),
        (pl.col("tradingsymbol") == "", "missing_field", "tradingsymbol", "tradingsymbol: missing"),
        (parsed["exchange_token"].is_null(), "unparseable", "exchange_token", "exchange_token: not an integer"),
        (parsed["lot_size"].is_null() | (parsed["lot_size"] < 0), "bad_value", "lot_size",
         "lot_size: not an integer >= 0"),
        (parsed["tick_size"].is_null() | ~parsed["tick_size"].is_finite() | (parsed["tick_size"] < 0), "bad_value",
         "tick_size", "tick_size: not a number >= 0"),
        (parsed["strike"].is_null() | ~parsed["strike"].is_finite() | (parsed["strike"] < 0), "bad_value", "strike",
         "strike: not a number >= 0"),
        ((pl.col("expiry") != "") & parsed["expiry"].is_null(), "unparseable", "expiry",
         "expiry: not a date like 2024-01-25"),
        (parsed["exchange_tz"].is_null(), "unknown_exchange", "exchange",
         "exchange: no time zone known; pass --zone EXCHANGE=Area/City"),
    ]
    code, column, reason = pl.lit(None, pl.String), pl.lit(None, pl.String), pl.lit(None, pl.String)
    for broken, name, field_name, text in reversed(checks):  # the first rule broken wins
        hit = broken if isinstance(broken, pl.Expr) else pl.lit(broken)
        code = pl.when(hit).then(pl.lit(name)).otherwise(code)
        column = pl.when(hit).then(pl.lit(field_name)).otherwise(column)
        reason = pl.when(hit).then(pl.lit(text)).otherwise(reason)
    judged = raw.with_row_index("row").with_columns(code=code, field=column, reason=reason)
    judged = judged.filter(pl.col("code").is_not_null())
    value = pl.lit(None, pl.String)
    for name in KITE_COLUMNS:  # the text of the field the row broke
        value = pl.when(pl.col("field") == name).then(pl.col(name)).otherwise(value)
    return judged.select(pl.col("row").cast(pl.Int64), "code", "field", value.alias("value"), "reason")
