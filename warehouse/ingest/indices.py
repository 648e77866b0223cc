"""Index levels into ``indices``: CSV or Parquet, every bad row in ``rejects`` with its code.

Columns (any letter case; aliases in :data:`INDEX_ALIASES`): ``index_name`` (``index``, ``name``, ``symbol``,
...), ``ts`` and ``value`` are required (without a value column, ``close`` is the value); ``open``, ``high``,
``low``, ``close`` are optional. Times with an offset or as epoch numbers are exact; naive times are read in
the exchange zone ``instruments`` knows for the index (Kite lists ``NIFTY 50`` on NSE), else in ``tz``, else
as UTC; the summary says which.

A row goes to ``rejects`` (``target = 'indices'``) with its position, code, field and value when its index
name is missing (``missing_field``), its time is missing, unparseable or out of range, its value is missing
or not a number, or a value or a price is not a positive finite number (``bad_value``), its high is below its
low (``high_below_low``), or it repeats an index and time of an earlier row (``duplicate_bar``: the first is
kept). Loading a file again replaces its rows (``ReplacingMergeTree`` keyed ``(index_name, ts)``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from clickhouse_connect.driver.client import Client

from warehouse.ingest.bar_times import check_zone, parse_times
from warehouse.ingest.files import write_rejects
from warehouse.ingest.instruments import exchange_zones
from warehouse.ingest.reference_files import REJECT_FIELDS, Rule, as_number, first_broken, number_rules, read_rows

INDEX_ALIASES = {
    "index_name": ("index_name", "index", "name", "symbol", "ticker", "instrument"),
    "ts": ("ts", "timestamp", "datetime", "time", "date"),
    "value": ("value", "level", "ltp", "last", "price"),
    "open": ("open",), "high": ("high",), "low": ("low",), "close": ("close",),
}
"""Each ``indices`` column and the file column names read as it (first match wins)."""
PRICES = ("open", "high", "low", "close")


@dataclass
class IndicesReport:
    """What one index-levels import did."""

    source: str
    by_index: dict[str, int] = field(default_factory=dict)  # rows loaded per index
    rejected_by_code: Counter[str] = field(default_factory=Counter)
    times: str = "no rows"
    seconds: float = 0.0

    @property
    def loaded(self) -> int:
        """Rows inserted, every index together."""
        return sum(self.by_index.values())

    @property
    def rejected(self) -> int:
        """Rows refused (in ``rejects``), all codes together."""
        return sum(self.rejected_by_code.values())

    def summary(self) -> str:
        """One line for the CLI.

        >>> IndicesReport("i.csv", {"NIFTY 50": 3}, Counter({"bad_value": 1}), "epoch seconds", 0.25).summary()
        'i.csv: loaded 3 index levels (NIFTY 50 3), rejected 1 (bad_value 1); epoch seconds; 0.25 s'
        """
        indices = ", ".join(f"{name} {n:,}" for name, n in sorted(self.by_index.items()))
        codes = ", ".join(f"{code} {n:,}" for code, n in sorted(self.rejected_by_code.items()))
        return (f"{Path(self.source).name}: loaded {self.loaded:,} index levels ({indices or 'none'}), "
                f"rejected {self.rejected:,}{f' ({codes})' if codes else ''}; {self.times}; {self.seconds:.2f} s")


def load_indices(client: Client, path: str | Path, *, tz: str | None = None) -> IndicesReport:
    """Import the index levels at ``path`` (CSV or Parquet) into ``indices``; naive times in the index's exchange
    zone (``instruments``), else ``tz``, else UTC.

    >>> import tempfile
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="indices_example"); _ = migrate(client)
    >>> path = Path(tempfile.mkdtemp()) / "levels.csv"
    >>> _ = path.write_text("index,ts,value\\nSPX,2024-01-02T21:00:00Z,4742.83\\nSPX,2024-01-03T21:00:00Z,-1\\n")
    >>> load_indices(client, path).summary()  # doctest: +ELLIPSIS
    'levels.csv: loaded 1 index levels (SPX 1), rejected 1 (bad_value 1); times carried offsets; ... s'
    """
    started = time.perf_counter()
    if tz is not None:
        check_zone(tz)
    rows = read_rows(path, INDEX_ALIASES, formats=("csv", "parquet"))
    frame = rows.frame.with_columns(pl.lit(None, pl.String).alias(name) for name in INDEX_ALIASES
                                    if name not in rows.frame.columns)
    if "value" not in rows.frame.columns:
        frame = frame.with_columns(pl.col("close").alias("value"))
    frame = frame.with_columns(pl.col("index_name").cast(pl.String).str.strip_chars())
    names = frame["index_name"].drop_nulls().unique().to_list()
    times = parse_times(frame["ts"], frame["index_name"], tz=tz, zone_for_symbol=exchange_zones(client, names))
    parsed = frame.with_columns(times.ts.alias("ts_utc"),
                                *(as_number(pl.col(name)).alias(f"{name}_number") for name in ("value", *PRICES)))
    judged = parsed.with_columns(first_broken(_rules(times.code, times.error)))
    judged = judged.with_columns(_duplicates())
    bad = judged.filter(pl.col("code").is_not_null())
    report = IndicesReport(str(path), times=times.how)
    write_rejects(client, rows.malformed, target="indices", source=str(path))
    write_rejects(client, bad.select("position", *REJECT_FIELDS, "raw").to_arrow(), target="indices", source=str(path))
    report.rejected_by_code.update(rows.malformed.column("code").to_pylist() + bad["code"].to_list())
    good = judged.filter(pl.col("code").is_null()).select(
        "index_name", pl.col("ts_utc").dt.cast_time_unit("us").alias("ts"), pl.col("value_number").alias("value"),
        *(pl.col(f"{name}_number").alias(name) for name in PRICES))
    if good.height:
        client.insert_arrow("indices", good.to_arrow())
    report.by_index = dict(good.group_by("index_name").len().iter_rows())
    report.seconds = time.perf_counter() - started
    return report


def _rules(ts_code: pl.Series, ts_error: pl.Series) -> list[Rule]:
    name = pl.col("index_name")
    rules: list[Rule] = [
        (name.is_null() | (name == ""), "missing_field", "index_name", "", "index_name: missing"),
        (pl.lit(ts_code).is_not_null(), pl.lit(ts_code), "ts", pl.col("ts").cast(pl.String).fill_null(""),
         pl.lit(ts_error)),
        *number_rules("value", pl.col("value"), pl.col("value_number"), required=True),
    ]
    for price in PRICES:
        rules += number_rules(price, pl.col(price), pl.col(f"{price}_number"))
    return rules + [(pl.col("high_number") < pl.col("low_number"), "high_below_low", "high",
                     pl.format("{} < {}", pl.col("high_number"), pl.col("low_number")), "high: below low")]


def _duplicates() -> list[pl.Expr]:
    """A second good row of an index at the same time is a reject (``duplicate_bar``); its value names the first."""
    ok = pl.col("code").is_null()
    key = [pl.col("index_name"), pl.when(ok).then(pl.col("ts_utc")).alias("good_ts")]
    repeat = ok & ~pl.struct(key).is_first_distinct()
    duplicate = {"code": pl.lit("duplicate_bar"), "field": pl.lit("ts"),
                 "value": pl.format("{}, {} kept", pl.col("ts").cast(pl.String), pl.col("position").first().over(key)),
                 "reason": pl.lit("ts: a second level of the index at this time (the first is kept)")}
    return [pl.when(repeat).then(expr).otherwise(pl.col(name)).alias(name) for name, expr in duplicate.items()]
