"""Reading the files of reference data (news, index levels) as text columns, and judging their rows.

:func:`read_rows` reads JSON lines (``.jsonl``, ``.ndjson``, ``.json``: one object a line, or one JSON array of
objects), CSV (``.csv``, ``.csv.gz``, ``.txt``; quoted fields may span lines) or Parquet into a frame with the
canonical column names a loader asks for (matched case-insensitively through its aliases), every value as text
(a JSON array as its JSON text; Parquet's typed time columns stay typed), plus ``position`` (``line N`` of a
JSON-lines file, ``item N`` of a JSON array, ``row N`` of a CSV or Parquet file's records) and ``raw`` (the
input row as JSON text, for ``rejects``). Lines that are not a row (not a JSON object, a CSV line of the wrong
width) come back as ``malformed`` rejects.

:func:`first_broken` turns a loader's rules into each row's code, field, value and reason (the first rule
broken wins), as every loader's rejects name them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from warehouse.errors import WarehouseError
from warehouse.ingest.validate import REJECTS_SCHEMA, malformed_csv_rejects, rejects_table

Rule = tuple[pl.Expr, pl.Expr | str, pl.Expr | str, pl.Expr | str, pl.Expr | str]
"""(broken?, code, field, offending value, reason) of one check: texts or per-row expressions."""
REJECT_FIELDS = ("code", "field", "value", "reason")
_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class RawRows:
    """A file's rows (``frame``: the canonical columns found, as text, plus ``position`` and ``raw``), its
    lines that were not rows (``malformed``, :data:`~warehouse.ingest.validate.REJECTS_SCHEMA`) and its format."""

    frame: pl.DataFrame
    malformed: pa.Table
    format: str


def read_rows(path: str | Path, aliases: Mapping[str, Sequence[str]], *, formats: Sequence[str]) -> RawRows:
    """Read ``path`` (one of ``formats``: ``"json"``, ``"csv"``, ``"parquet"``) with its columns renamed to the keys of
    ``aliases`` (each key's names, first match wins, any letter case); columns none of them name are left out.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "n.jsonl"
    >>> _ = path.write_text('{"ID": 7, "tickers": ["A", "B"]}\\nnot json\\n')
    >>> rows = read_rows(path, {"id": ("id",), "symbols": ("symbols", "tickers")}, formats=("json",))
    >>> rows.frame.select("id", "symbols", "position").rows(), rows.malformed.column("position").to_pylist()
    ([('7', '["A", "B"]', 'line 1')], ['line 2'])
    >>> _ = path.write_text('[{"id": 1},\\n 5]')
    >>> rows = read_rows(path, {"id": ("id",)}, formats=("json",))
    >>> rows.frame["position"].to_list(), rows.malformed.select(["position", "value"]).to_pylist()
    (['item 1'], [{'position': 'item 2', 'value': '5'}])
    """
    path = Path(path)
    if not path.is_file():
        raise WarehouseError(f"path: {str(path)!r} is not a readable file")
    suffixes = "".join(path.suffixes[-2:]).lower()
    kind = ("json" if suffixes.endswith(_JSON_SUFFIXES) else "parquet" if suffixes.endswith((".parquet", ".pq"))
            else "csv" if ".csv" in suffixes or suffixes.endswith(".txt") else None)
    if kind not in formats:
        shown = {"json": ".jsonl", "csv": ".csv", "parquet": ".parquet"}
        raise WarehouseError(f"path: {str(path)!r} has an unknown type; use {', '.join(shown[f] for f in formats)}")
    frame, malformed = {"json": _json_lines, "csv": _csv, "parquet": _parquet}[kind](path)
    lowered: dict[str, str] = {}
    for name in frame.columns:
        lowered.setdefault(name.strip().lower(), name)
    chosen = {}
    for canonical, names in aliases.items():
        found = next((lowered[n] for n in names if n in lowered and lowered[n] not in chosen.values()), None)
        if found is not None:
            chosen[canonical] = found
    raw = frame.select(pl.struct(pl.all()).struct.json_encode().alias("raw")) if kind != "json" else \
        frame.select(pl.col("_raw").alias("raw"))
    picked = frame.select([pl.col(name).alias(canonical) for canonical, name in chosen.items()])
    return RawRows(picked.with_columns(frame["_position"].alias("position"), raw["raw"]), malformed, kind)


def _json_lines(path: Path) -> tuple[pl.DataFrame, pa.Table]:
    """One JSON object a line (``line N``); a file that is one JSON array of objects reads as its items (``item N``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise WarehouseError(f"path: {str(path)!r} could not be read as UTF-8 text ({exc})") from None
    entries = [(f"line {number}", line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, list):
            entries = [(f"item {number}", json.dumps(item)) for number, item in enumerate(items, start=1)]
    records: list[dict[str, str | None]] = []
    positions, raws, bad = [], [], []
    for position, line in entries:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            bad.append((position, line))
            continue
        records.append({str(key): _text(value) for key, value in record.items()})
        positions.append(position)
        raws.append(line)
    names = list(dict.fromkeys(key for record in records for key in record))
    frame = pl.DataFrame({name: [record.get(name) for record in records] for name in names},
                         schema={name: pl.String for name in names})
    frame = frame.with_columns(pl.Series("_position", positions, pl.String), pl.Series("_raw", raws, pl.String))
    malformed = rejects_table([p for p, _ in bad], "malformed", "json", [line[:200] for _, line in bad],
                              "json: not a JSON object", [line for _, line in bad]) if bad else \
        REJECTS_SCHEMA.empty_table()
    return frame, malformed


def _text(value: object) -> str | None:
    """A JSON value as text: strings as they are, arrays and objects as JSON, null as null."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _csv(path: Path) -> tuple[pl.DataFrame, pa.Table]:
    malformed: list[pacsv.InvalidRow] = []

    def keep(row: pacsv.InvalidRow) -> str:
        malformed.append(row)
        return "skip"

    read = pacsv.ReadOptions(use_threads=False)
    parse = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=keep)
    try:
        with pacsv.open_csv(path, read_options=read, parse_options=parse) as peek:
            names = peek.schema.names
        malformed.clear()
        table = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names}, strings_can_be_null=False))
    except (pa.ArrowInvalid, OSError) as exc:
        raise WarehouseError(f"path: {str(path)!r} could not be read as CSV ({str(exc).splitlines()[0]})") from None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return _numbered(frame), malformed_csv_rejects(malformed)


def _parquet(path: Path) -> tuple[pl.DataFrame, pa.Table]:
    try:
        frame = pl.from_arrow(pq.read_table(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise WarehouseError(f"path: {str(path)!r} could not be read as Parquet ({str(exc).splitlines()[0]})") from None
    assert isinstance(frame, pl.DataFrame)
    typed_times = [c for c, t in frame.schema.items() if t == pl.Date or isinstance(t, pl.Datetime)]
    return _numbered(frame.with_columns(pl.all().exclude(typed_times).cast(pl.String))), REJECTS_SCHEMA.empty_table()


def _numbered(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.format("row {}", pl.int_range(1, frame.height + 1, dtype=pl.Int64)).alias("_position"))


def first_broken(rules: Sequence[Rule]) -> list[pl.Expr]:
    """Expressions ``code, field, value, reason``: those of the first of ``rules`` a row breaks, nulls when none.

    >>> frame = pl.DataFrame({"x": [1.0, -2.0, None]})
    >>> rules = [(pl.col("x").is_null(), "missing_field", "x", "", "x: missing"),
    ...          (pl.col("x") < 0, "bad_value", "x", pl.col("x").cast(pl.String), "x: below 0")]
    >>> frame.select(first_broken(rules)).rows()
    [(None, None, None, None), ('bad_value', 'x', '-2.0', 'x: below 0'), ('missing_field', 'x', '', 'x: missing')]
    """
    chains: list[pl.Expr] = [pl.lit(None, dtype=pl.String)] * 4
    for broken, *parts in reversed(rules):
        chains = [pl.when(broken.fill_null(False)).then(part if isinstance(part, pl.Expr) else pl.lit(part))
                  .otherwise(chain) for part, chain in zip(parts, chains)]
    return [chain.cast(pl.String).alias(name) for chain, name in zip(chains, REJECT_FIELDS)]


def number_rules(name: str, text: pl.Expr, value: pl.Expr, *, bounds: tuple[float, float] | None = None,
                 required: bool = False) -> list[Rule]:
    """The rules of a number column: missing (when ``required``), not a number (``unparseable``), and outside
    ``bounds`` (inclusive) or, without bounds, not a positive finite number (``bad_value``). Blank is allowed
    unless ``required``.

    >>> frame = pl.DataFrame({"s": ["0.5", "2", "x", "", "nan"]})
    >>> rules = number_rules("s", pl.col("s"), as_number(pl.col("s")), bounds=(-1, 1))
    >>> frame.select(first_broken(rules))["code"].to_list()
    [None, 'bad_value', 'unparseable', None, 'bad_value']
    """
    blank = text.is_null() | (text.str.strip_chars() == "")
    if bounds is None:
        outside, words = ~value.is_finite() | (value <= 0), f"{name}: not a positive finite number"
    else:
        outside = ~value.is_finite() | (value < bounds[0]) | (value > bounds[1])
        words = f"{name}: not a number in [{bounds[0]:g}, {bounds[1]:g}]"
    rules: list[Rule] = [(blank, "missing_field", name, "", f"{name}: missing")] if required else []
    return rules + [(~blank & value.is_null(), "unparseable", name, text, f"{name}: not a number"),
                    (~blank & outside, "bad_value", name, value.cast(pl.String), words)]


def as_number(text: pl.Expr) -> pl.Expr:
    """Text (or numbers) as Float64; null where it is not a number."""
    return text.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
