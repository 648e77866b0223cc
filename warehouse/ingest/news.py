"""News articles into ``news``: JSON lines or CSV, every bad row in ``rejects`` with its code.

Columns (any letter case; aliases in :data:`NEWS_ALIASES`): ``id`` and ``published_at`` are required, the rest
optional: ``source``, ``title``, ``body``, ``link``, ``symbols`` (a JSON array, or text separated by ``;`` or
``,``), ``sentiment`` (in [-1, 1]), ``confidence`` (in [0, 1]), ``categories`` (like symbols). Times with an
offset or as epoch numbers are exact; naive times are read in ``tz`` (default UTC) and the summary says so.

A row goes to ``rejects`` (``target = 'news'``) with its position, code, field and value when its id is
missing (``missing_field``), its time is missing, unparseable or out of range (``unparseable``, ``early_ts``,
``future_ts``), its sentiment or confidence is not a number (``unparseable``) or outside its range
(``bad_value``), or its symbols or categories start as a JSON array that does not parse (``unparseable``).
Loading a file again replaces its articles (``ReplacingMergeTree`` keyed ``(published_at, id)``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from clickhouse_connect.driver.client import Client

from warehouse.ingest.bar_times import check_zone, parse_times
from warehouse.ingest.files import write_rejects
from warehouse.ingest.reference_files import REJECT_FIELDS, Rule, as_number, first_broken, number_rules, read_rows

NEWS_ALIASES = {
    "id": ("id", "news_id", "article_id", "uuid", "guid"),
    "source": ("source", "publisher", "provider", "vendor"),
    "title": ("title", "headline"),
    "body": ("body", "content", "text", "summary", "description"),
    "link": ("link", "url"),
    "published_at": ("published_at", "published", "publish_time", "datetime", "timestamp", "time", "ts", "date"),
    "symbols": ("symbols", "tickers", "symbol", "ticker", "instruments"),
    "sentiment": ("sentiment", "sentiment_score", "score"),
    "confidence": ("confidence", "sentiment_confidence", "probability"),
    "categories": ("categories", "category", "tags", "topics"),
}
"""Each ``news`` column and the file column names read as it (first match wins)."""
_TEXT_COLUMNS = ("id", "source", "title", "body", "link")


@dataclass
class NewsReport:
    """What one news import did."""

    source: str
    loaded: int = 0
    symbols: int = 0  # distinct symbols the loaded articles mention
    rejected_by_code: Counter[str] = field(default_factory=Counter)
    times: str = "no rows"
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        """Rows refused (in ``rejects``), all codes together."""
        return sum(self.rejected_by_code.values())

    def summary(self) -> str:
        """One line for the CLI.

        >>> NewsReport("n.jsonl", 3, 2, Counter({"bad_value": 1}), "times carried offsets", 0.5).summary()
        'n.jsonl: loaded 3 articles mentioning 2 symbols, rejected 1 (bad_value 1); times carried offsets; 0.50 s'
        """
        codes = ", ".join(f"{code} {n:,}" for code, n in sorted(self.rejected_by_code.items()))
        return (f"{Path(self.source).name}: loaded {self.loaded:,} articles mentioning {self.symbols:,} symbols, "
                f"rejected {self.rejected:,}{f' ({codes})' if codes else ''}; {self.times}; {self.seconds:.2f} s")


def load_news(client: Client, path: str | Path, *, tz: str | None = None) -> NewsReport:
    """Import the news file at ``path`` (JSON lines or CSV) into ``news``; naive times in ``tz`` (default UTC).

    >>> import tempfile
    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="news_example"); _ = migrate(client)
    >>> path = Path(tempfile.mkdtemp()) / "news.jsonl"
    >>> _ = path.write_text('{"id": "n1", "published_at": "2024-01-02T14:30:00Z", "symbols": ["AAPL"], '
    ...     '"sentiment": 0.4}\\n{"id": "n2", "published_at": "2024-01-02T15:00:00Z", "sentiment": 3}\\n')
    >>> load_news(client, path).summary()  # doctest: +ELLIPSIS
    'news.jsonl: loaded 1 articles mentioning 1 symbols, rejected 1 (bad_value 1); times carried offsets; ... s'
    """
    started = time.perf_counter()
    if tz is not None:
        check_zone(tz)
    rows = read_rows(path, NEWS_ALIASES, formats=("json", "csv"))
    frame = rows.frame.with_columns(pl.lit(None, pl.String).alias(name) for name in NEWS_ALIASES
                                    if name not in rows.frame.columns)
    times = parse_times(frame["published_at"], tz=tz)
    symbols, bad_symbols = _names(frame["symbols"])
    categories, bad_categories = _names(frame["categories"])
    parsed = frame.with_columns(
        times.ts.alias("published_ts"), symbols.alias("symbols_list"), bad_symbols.alias("symbols_bad"),
        categories.alias("categories_list"), bad_categories.alias("categories_bad"),
        as_number(pl.col("sentiment")).alias("sentiment_value"),
        as_number(pl.col("confidence")).alias("confidence_value"))
    judged = parsed.with_columns(first_broken(_rules(times.code, times.error)))
    bad = judged.filter(pl.col("code").is_not_null())
    report = NewsReport(str(path), times=times.how)
    write_rejects(client, rows.malformed, target="news", source=str(path))
    write_rejects(client, bad.select("position", *REJECT_FIELDS, "raw").to_arrow(), target="news", source=str(path))
    report.rejected_by_code.update(rows.malformed.column("code").to_pylist() + bad["code"].to_list())
    good = judged.filter(pl.col("code").is_null()).select(
        *(pl.col(name).fill_null("").str.strip_chars().alias(name) for name in _TEXT_COLUMNS),
        pl.col("published_ts").alias("published_at"),
        pl.col("symbols_list").alias("symbols"),
        pl.col("sentiment_value").cast(pl.Float32).alias("sentiment"),
        pl.col("confidence_value").cast(pl.Float32).alias("confidence"),
        pl.col("categories_list").alias("categories"))
    if good.height:
        client.insert_arrow("news", good.to_arrow())
    report.loaded = good.height
    report.symbols = good["symbols"].explode().drop_nulls().n_unique()
    report.seconds = time.perf_counter() - started
    return report


def _names(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Each row's names (a JSON array's, or the text split at ``;`` or ``,``; trimmed, blanks and repeats left out)
    and whether its text starts as a JSON array that is not one of strings or numbers.

    >>> names, bad = _names(pl.Series(["AAPL; MSFT,AAPL", '["INFY", 500209]', "[oops", None]))
    >>> names.to_list(), bad.to_list()
    ([['AAPL', 'MSFT'], ['INFY', '500209'], [], []], [False, False, True, False])
    """
    lists, bad = [], []
    for text in values.fill_null("").str.strip_chars().to_list():
        items = _split(text)
        bad.append(items is None)
        lists.append(list(dict.fromkeys(item.strip() for item in items or [] if item.strip())))
    return pl.Series(lists, dtype=pl.List(pl.String)), pl.Series(bad, dtype=pl.Boolean)


def _split(text: str) -> list[str] | None:
    if not text.startswith("["):
        return text.replace(";", ",").split(",")
    try:
        items = json.loads(text)
    except ValueError:
        return None
    if not isinstance(items, list) or not all(isinstance(item, str | int) and not isinstance(item, bool)
                                              for item in items):
        return None
    return [str(item) for item in items]


def _rules(ts_code: pl.Series, ts_error: pl.Series) -> list[Rule]:
    ts_text = pl.col("published_at").cast(pl.String).fill_null("")
    return [
        (pl.col("id").is_null() | (pl.col("id").str.strip_chars() == ""), "missing_field", "id", "", "id: missing"),
        (pl.lit(ts_code).is_not_null(), pl.lit(ts_code), "published_at", ts_text,
         pl.lit(ts_error).str.replace("^ts:", "published_at:")),
        *number_rules("sentiment", pl.col("sentiment"), pl.col("sentiment_value"), bounds=(-1.0, 1.0)),
        *number_rules("confidence", pl.col("confidence"), pl.col("confidence_value"), bounds=(0.0, 1.0)),
        *((pl.col(f"{name}_bad"), "unparseable", name, pl.col(name), f"{name}: not a JSON array of names")
          for name in ("symbols", "categories")),
    ]
