"""Vendors' bar files read into one frame of text columns, each row with its position and raw input.

Formats (found from the file, not its name):

* CSV/TSV with a header in any letter case, ``<DATE>``-style MT5 headers included:
  a time column (``ts``, ``timestamp``, ``datetime``, ``date``, ``time`` or the unnamed
  first column pandas writes) or separate ``date`` + ``time`` columns (MetaTrader),
  open/high/low/close, optional volume (``volume``, ``vol``, ``tickvol``), ``oi``, and
  an optional ``symbol``/``ticker`` column for files of many symbols;
* MetaTrader 4 history exports without a header (``2024.01.02,09:30,o,h,l,c,v``);
* yfinance ``download(...).to_csv()`` with its two header rows (``Price``/``Ticker``)
  and one column per field and ticker;
* Kite Connect historical candles as JSON (``{"data": {"candles": [[ts, o, h, l, c, v, oi]]}}``
  or the bare list);
* Parquet.

Positions: ``line N`` of a text file (the header is line 1), ``candle N`` of a JSON
file, ``row N`` of a Parquet file. Lines that cannot be split into the header's
fields come back as rejects; blank lines are not rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from warehouse.errors import WarehouseError
from warehouse.ingest.validate import REJECTS_SCHEMA, malformed_csv_rejects, rejects_table

FIELDS = ("open", "high", "low", "close")
_ALIASES = {"ticker": "symbol", "vol": "volume", "tickvol": "volume", "tick_volume": "volume",
            "real_volume": "volume", "open_interest": "oi", "openinterest": "oi"}
_VOLUME_PREFERENCE = ("volume", "vol", "real_volume", "tickvol", "tick_volume")
_TIME_NAMES = ("ts", "timestamp", "datetime", "date", "time", "")
_DATE = re.compile(r"^\d{4}[.\-/]\d{2}[.\-/]\d{2}$")
_CLOCK = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")


@dataclass(frozen=True)
class VendorBars:
    """Rows of one file: ``frame`` has text columns ``time``, open/high/low/close, ``volume``,
    ``oi`` and ``symbol`` (null when the file has none), plus ``position`` and ``raw`` (the
    input row as a struct of its columns)."""

    frame: pl.DataFrame
    malformed: pa.Table
    format: str
    has_symbols: bool


def read_vendor_bars(path: str | Path) -> VendorBars:
    """Read a bar file of any supported format (see the module docstring).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "EURUSD.csv")
    >>> _ = open(path, "w").write("2024.01.02,09:30,1.1,1.2,1.0,1.15,42\\n2024.01.02,09:31,1.1,1.2\\n")
    >>> bars = read_vendor_bars(path)
    >>> bars.format, bars.frame.select("time", "close", "position").row(0), bars.malformed["position"].to_pylist()
    ('metatrader', ('2024.01.02 09:30', '1.15', 'line 1'), ['line 2'])
    """
    path = Path(path)
    if not path.is_file():
        raise WarehouseError(f"path: {str(path)!r} is not a readable file")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return _parquet(path)
    head = path.open("rb").read(1 << 16)
    if suffix == ".json" or head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return _kite_json(path)
    return _text(path, head)


def _canonical(frame: pl.DataFrame, source: str, fmt: str, malformed: pa.Table) -> VendorBars:
    """Rename a frame's columns to the canonical ones; raise naming a missing price column."""
    names = {c: re.sub(r"[<>]", "", c).strip().lower().replace(" ", "_") for c in frame.columns
             if c not in ("position", "raw")}
    present = set(names.values())
    missing = [c for c in FIELDS if c not in present]
    if missing:
        shown = ", ".join(c for c in frame.columns if c not in ("position", "raw"))
        raise WarehouseError(f"columns: {source} has no {missing[0]!r} column (found: {shown})")
    by_name = {v: k for k, v in reversed(list(names.items()))}
    if "date" in by_name and "time" in by_name:
        time = pl.concat_str([pl.col(by_name["date"]).str.strip_chars(), pl.col(by_name["time"]).str.strip_chars()],
                             separator=" ", ignore_nulls=True)
    else:
        time = pl.col(next((by_name[n] for n in _TIME_NAMES if n in by_name), frame.columns[0]))
    volume = _volume_column(frame, by_name)
    symbol = next((by_name[n] for n in ("symbol", "ticker") if n in by_name), None)
    oi = next((by_name[n] for n in ("oi", "open_interest", "openinterest") if n in by_name), None)
    out = frame.select(
        time.alias("time"), *(pl.col(by_name[c]).alias(c) for c in FIELDS),
        (volume if volume is not None else pl.lit("0")).alias("volume"),  # no volume column: 0, as before
        (pl.col(oi) if oi else pl.lit(None, pl.String)).alias("oi"),
        (pl.col(symbol).str.strip_chars() if symbol else pl.lit(None, pl.String)).alias("symbol"),
        "position", "raw")
    return VendorBars(out, malformed, fmt, symbol is not None)


def _volume_column(frame: pl.DataFrame, by_name: dict[str, str]) -> pl.Expr | None:
    """Real volume if the file has any that is not all zero (MT5 ``<VOL>``), else tick volume."""
    found = [by_name[n] for n in _VOLUME_PREFERENCE if n in by_name]
    for column in found:
        numbers = frame[column].cast(pl.Float64, strict=False)
        if numbers.fill_null(0).abs().sum() > 0 or column == found[-1]:
            return pl.col(column)
    return None


def _with_position(frame: pl.DataFrame, positions: pl.Series) -> pl.DataFrame:
    """Add ``position`` and ``raw``: the input row as a struct (encoded to JSON only for rejects)."""
    return frame.with_columns(positions.alias("position"), pl.struct(pl.all()).alias("raw"))


def _parquet(path: Path) -> VendorBars:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise WarehouseError(f"path: {str(path)!r} could not be read ({str(exc).splitlines()[0]})") from None
    _unique_columns(table.column_names, path)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    times = [c for c in frame.columns if frame[c].dtype in (pl.Date,) or isinstance(frame[c].dtype, pl.Datetime)]
    text = frame.select(pl.all().cast(pl.String))
    positions = _numbered("row", frame.height)
    bars = _canonical(_with_position(text, positions), str(path), "parquet", REJECTS_SCHEMA.empty_table())
    if times:  # keep typed time columns typed (a zone in the type is exact)
        lowered = {c.strip().lower(): c for c in times}
        chosen = next((lowered[n] for n in _TIME_NAMES if n in lowered), times[0])
        bars = VendorBars(bars.frame.with_columns(frame[chosen].alias("time")), bars.malformed, bars.format,
                          bars.has_symbols)
    return bars


def _kite_json(path: Path) -> VendorBars:
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise WarehouseError(f"path: {str(path)!r} is not valid JSON ({exc})") from None
    candles = document.get("data", {}).get("candles") if isinstance(document, dict) else document
    if not isinstance(candles, list):
        raise WarehouseError(f"format: {path} is JSON without data.candles (Kite historical candles expected)")
    width = 7 if any(isinstance(c, list) and len(c) == 7 for c in candles[:1000]) else 6
    names = ["time", *FIELDS, "volume", "oi"][:width]
    shaped = [c if isinstance(c, list) and len(c) == width else None for c in candles]
    frame = pl.DataFrame({"row": shaped}, schema={"row": pl.List(pl.String)}, strict=False) if shaped else \
        pl.DataFrame({"row": []}, schema={"row": pl.List(pl.String)})
    frame = frame.select(pl.col("row").list.get(i, null_on_oob=True).alias(n) for i, n in enumerate(names))
    positions = _numbered("candle", len(candles))
    bad = np.flatnonzero([c is None for c in shaped])
    malformed = rejects_table([f"candle {i + 1}" for i in bad], "malformed", "candle",
                              [f"{len(candles[i])} items" if isinstance(candles[i], list) else type(candles[i]).__name__
                               for i in bad],
                              f"candle: not [ts, open, high, low, close, volume{', oi' * (width == 7)}]",
                              [json.dumps(candles[i])[:1000] for i in bad])
    frame = _with_position(frame, positions).filter(pl.Series([c is not None for c in shaped], dtype=pl.Boolean))
    return _canonical(frame, str(path), "kite json", malformed)


def _text(path: Path, head: bytes) -> VendorBars:
    encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf8"
    text = head.decode("utf-16" if encoding == "utf-16" else "utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()[:4] or [""]
    first = lines[0]
    delimiter = "\t" if "\t" in first else ";" if first.count(";") > first.count(",") else ","
    cells = [c.strip() for c in first.split(delimiter)]
    fmt, names = "csv", None
    if len(cells) >= 6 and _DATE.match(cells[0]) and _CLOCK.match(cells[1]):
        names = ["date", "time", *FIELDS, "volume", *(f"extra{i}" for i in range(1, len(cells) - 6))]
        fmt, names = "metatrader", names[:len(cells)]
    elif len(lines) >= 3 and {cells[0].lower(), lines[1].split(delimiter)[0].strip().lower()} == {"price", "ticker"}:
        return _yfinance(path, lines, delimiter, encoding)
    elif "<date>" in first.lower():
        fmt = "metatrader"
    read = pacsv.ReadOptions(use_threads=False, encoding=encoding, column_names=names)
    bars, malformed = _read_csv(path, read, delimiter)
    first_line = 1 if names else 2
    positions = _line_positions(bars.num_rows, malformed, first_line)
    frame = pl.from_arrow(bars)
    assert isinstance(frame, pl.DataFrame)
    frame = _with_position(frame, positions).filter(_not_blank(frame))
    return _canonical(frame, str(path), fmt, malformed_csv_rejects(malformed))


def _read_csv(path: Path, read: pacsv.ReadOptions, delimiter: str) -> tuple[pa.Table, list[pacsv.InvalidRow]]:
    """All columns as text, single-threaded so Arrow knows each bad line's number."""
    malformed: list[pacsv.InvalidRow] = []

    def keep(row: pacsv.InvalidRow) -> str:
        malformed.append(row)
        return "skip"

    parse = pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False, invalid_row_handler=keep)
    try:
        with pacsv.open_csv(path, read_options=read, parse_options=parse) as peek:
            columns = peek.schema.names
        malformed.clear()
        table = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in columns}, strings_can_be_null=False))
    except (pa.ArrowInvalid, OSError) as exc:
        raise WarehouseError(f"path: {str(path)!r} could not be read ({str(exc).splitlines()[0]})") from None
    _unique_columns(table.column_names, path)
    return table, malformed


def _unique_columns(names: list[str], path: Path) -> None:
    """A column named twice is ambiguous (which ``Open`` is the open?): a one-line error."""
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise WarehouseError(f"columns: {path} has the column {twice!r} more than once")


def _line_positions(rows: int, malformed: list[pacsv.InvalidRow], first_line: int) -> pl.Series:
    """``line N`` of each parsed row: the file's lines from ``first_line`` minus the lines Arrow refused."""
    refused = np.array([row.number or 0 for row in malformed], dtype=np.int64) - first_line
    lines = np.arange(first_line, first_line + rows + len(refused), dtype=np.int64)
    if len(refused):
        kept = np.ones(len(lines), dtype=bool)
        kept[refused[(refused >= 0) & (refused < len(lines))]] = False
        lines = lines[kept]
    return pl.select(pl.format("line {}", pl.lit(pl.Series(lines[:rows])))).to_series().rename("position")


def _numbered(word: str, count: int, first: int = 1) -> pl.Series:
    """``word 1``, ``word 2``, ... (vectorised).

    >>> _numbered("row", 2).to_list()
    ['row 1', 'row 2']
    """
    return pl.select(pl.format(f"{word} {{}}", pl.int_range(first, first + count, dtype=pl.Int64))).to_series()


def _not_blank(frame: pl.DataFrame) -> pl.Series:
    """False for rows that were blank lines (every field empty or null)."""
    if not frame.width:
        return pl.repeat(True, frame.height, eager=True)
    return frame.select(pl.any_horizontal(pl.all().fill_null("").str.strip_chars() != "")).to_series()


def _yfinance(path: Path, lines: list[str], delimiter: str, encoding: str) -> VendorBars:
    """``yf.download(...).to_csv()``: rows ``Price`` and ``Ticker`` (either order), then the index name row."""
    rows = {line.split(delimiter)[0].strip().lower(): [c.strip() for c in line.split(delimiter)]
            for line in lines[:2]}
    fields, tickers = rows["price"][1:], rows["ticker"][1:]
    names = ["time", *(f"{f}\x1f{t}" for f, t in zip(fields, tickers))]
    table, malformed = _read_csv(path, pacsv.ReadOptions(use_threads=False, encoding=encoding, column_names=names,
                                                         skip_rows=3), delimiter)
    wide = pl.from_arrow(table)
    assert isinstance(wide, pl.DataFrame)
    wide = wide.with_columns(_line_positions(wide.height, malformed, 4))
    parts = []
    for ticker in dict.fromkeys(tickers):
        own = {n.split("\x1f")[0]: n for n in names[1:] if n.split("\x1f")[1] == ticker}
        part = wide.select("time", *(pl.col(n).alias(f) for f, n in own.items()), "position")
        values = part.drop("time", "position")
        part = part.filter(_not_blank(values))  # another ticker's trading day, not a bar of this one
        part = _with_position(part.drop("position").with_columns(pl.lit(ticker).alias("symbol")), part["position"])
        parts.append(part)
    frame = pl.concat(parts, how="diagonal") if parts else wide
    return _canonical(frame, str(path), "yfinance", malformed_csv_rejects(malformed))
