"""What is in the warehouse: tables, rows, bytes, parts, trades per symbol, whether bars are exact, and quotes.

The bars check compares, per symbol and month, the trades and volume ``bars_1m``
counts with those of the deduplicated ticks (``ticks_dedup FINAL``), and lists the
batches a killed writer left open (:mod:`warehouse.ingest.journal`); where they
disagree it names the command that repairs them. Quotes are counted per symbol from ``quotes_1m``,
with the crossed books (bid >= ask) the loaders kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from warehouse.ingest import journal
from warehouse.ingest.quote_rollup import open_quote_batches
from warehouse.schema.migrate import current_version

_TABLES_SQL = """
SELECT t.name, t.engine,
    ifNull(p.rows, 0), ifNull(p.compressed, 0), ifNull(p.uncompressed, 0), ifNull(p.parts, 0)
FROM system.tables AS t
LEFT JOIN (
    SELECT table, sum(rows) AS rows, sum(data_compressed_bytes) AS compressed,
        sum(data_uncompressed_bytes) AS uncompressed, count() AS parts
    FROM system.parts WHERE active AND database = currentDatabase() GROUP BY table
) AS p ON p.table = t.name
WHERE t.database = currentDatabase() AND NOT t.is_temporary
ORDER BY t.name
"""

_SYMBOLS_SQL = """
SELECT symbol, trades, raw, first, last
FROM (SELECT symbol, count() AS trades, min(ts) AS first, max(ts) AS last FROM ticks_dedup FINAL GROUP BY symbol) AS d
LEFT JOIN (SELECT symbol, count() AS raw FROM ticks GROUP BY symbol) AS r USING symbol
ORDER BY symbol
"""

# trades and volume per symbol and month, from the deduplicated ticks and from the bars
_BARS_CHECK_SQL = """
SELECT symbol, month, t.trades, b.trades, t.volume, b.volume
FROM (SELECT symbol, toYYYYMM(ts) AS month, count() AS trades, sum(size) AS volume
      FROM ticks_dedup FINAL GROUP BY symbol, month) AS t
FULL OUTER JOIN (SELECT symbol, toYYYYMM(minute) AS month, sum(trades) AS trades, sum(volume) AS volume
      FROM bars_1m GROUP BY symbol, month) AS b USING (symbol, month)
ORDER BY symbol, month
"""
_QUOTES_SQL = """
SELECT symbol, sum(quotes), sum(crossed), min(minute), max(minute) FROM quotes_1m FINAL GROUP BY symbol ORDER BY symbol
"""
_FINAL_BY_MONTH = {"do_not_merge_across_partitions_select_final": 1, "join_use_nulls": 0}


@dataclass(frozen=True)
class TableStatus:
    """Size of one table (rows/bytes/parts are 0 for views and engines without parts)."""

    name: str
    engine: str
    rows: int
    compressed_bytes: int
    uncompressed_bytes: int
    parts: int


def table_status(client: Client) -> list[TableStatus]:
    """One :class:`TableStatus` per table of the current database.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> "ticks" in [t.name for t in table_status(client)]
    True
    """
    return [TableStatus(*row) for row in client.query(_TABLES_SQL).result_rows]


def symbol_spans(client: Client) -> list[tuple]:
    """``(symbol, distinct trades, raw rows, first ts, last ts)`` for every symbol in ``ticks_dedup``."""
    return client.query(_SYMBOLS_SQL, settings=_FINAL_BY_MONTH).result_rows


@dataclass(frozen=True)
class BarMismatch:
    """A symbol's month where ``bars_1m`` and the deduplicated ticks disagree."""

    symbol: str
    month: int  # YYYYMM
    tick_trades: int
    bar_trades: int
    tick_volume: float
    bar_volume: float

    def repair_command(self) -> str:
        """The command that rebuilds this month's bars of this symbol."""
        year, month = divmod(self.month, 100)
        after = f"{year + month // 12}-{month % 12 + 1:02d}-01"
        return f"python -m warehouse rebuild-bars --symbols {self.symbol} --start {year}-{month:02d}-01 --end {after}"


def bar_mismatches(client: Client) -> list[BarMismatch]:
    """Symbol-months whose bars count other trades or volume than ``ticks_dedup FINAL``.

    Volumes are sums of floats added in another order: they agree within 1e-9 relative.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> bar_mismatches(client)
    []
    """
    mismatches = []
    for symbol, month, tick_trades, bar_trades, tick_volume, bar_volume in client.query(
            _BARS_CHECK_SQL, settings=_FINAL_BY_MONTH).result_rows:
        if tick_trades != bar_trades or abs(tick_volume - bar_volume) > 1e-9 * max(abs(tick_volume), 1.0):
            mismatches.append(BarMismatch(symbol, int(month), int(tick_trades), int(bar_trades),
                                          float(tick_volume), float(bar_volume)))
    return mismatches


def bars_report(client: Client) -> tuple[bool, list[str]]:
    """(bars exact?, report lines): the bars check of ``python -m warehouse status``."""
    open_batches = journal.open_batches(client)
    mismatches = bar_mismatches(client)
    if not open_batches and not mismatches:
        return True, ["bars check: bars_1m equals ticks_dedup (trades and volume per symbol and month)"]
    lines = ["bars check: FAILED"]
    if open_batches:
        lines.append(f"  {len(open_batches):,} tick batches were left open by a writer that stopped mid-batch "
                     "(or one is writing now); run: python -m warehouse repair")
    for bad in mismatches:
        lines.append(f"  {bad.symbol} {bad.month}: ticks {bad.tick_trades:,} trades / {bad.tick_volume:,.2f} volume, "
                     f"bars {bad.bar_trades:,} / {bad.bar_volume:,.2f}; run: {bad.repair_command()}")
    return False, lines


def quotes_report(client: Client) -> list[str]:
    """The quotes part of ``python -m warehouse status``: quotes and crossed books per symbol, and in all.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="status_quotes_example"); _ = migrate(client)
    >>> quotes_report(client)
    ['quotes: none']
    """
    rows = client.query(_QUOTES_SQL, settings=_FINAL_BY_MONTH).result_rows
    left_open = open_quote_batches(client)
    warning = [f"quotes check: {len(left_open):,} quote batches were left open by a writer that stopped mid-batch "
               "(or one is writing now); run: python -m warehouse repair"] if left_open else []
    if not rows:
        return ["quotes: none", *warning]
    width = _symbol_width(row[0] for row in rows)
    lines = [f"{'symbol':<{width}}{'quotes':>14}{'crossed':>10}  {'first minute (UTC)':<28}{'last minute (UTC)':<28}"]
    lines += [f"{symbol:<{width}}{quotes:>14,}{crossed:>10,}  {first:%Y-%m-%d %H:%M}{'':<12}{last:%Y-%m-%d %H:%M}"
              for symbol, quotes, crossed, first, last in rows]
    total, crossed = sum(int(row[1]) for row in rows), sum(int(row[2]) for row in rows)
    return lines + [f"crossed top of book (bid >= ask): {crossed:,} of {total:,} quotes, kept as the feed sent them",
                    *warning]


def _symbol_width(symbols: Iterable[str]) -> int:
    """The symbol column's width: 12, or wider for a longer symbol (``RELIANCE24JANFUT``) and a space."""
    return max([12, *(len(symbol) + 1 for symbol in symbols)])


def format_status(client: Client) -> tuple[bool, str]:
    """(bars exact?, the ``python -m warehouse status`` report as text).

    >>> from warehouse.client import connect
    >>> "schema version" in format_status(connect())[1]
    True
    """
    lines = [f"schema version {current_version(client)}", ""]
    lines.append(f"{'table':<24}{'engine':<24}{'rows':>14}{'compressed':>14}{'uncompressed':>14}{'parts':>7}")
    for t in table_status(client):
        lines.append(
            f"{t.name:<24}{t.engine:<24}{t.rows:>14,}{_size(t.compressed_bytes):>14}"
            f"{_size(t.uncompressed_bytes):>14}{t.parts:>7}"
        )
    exact = True
    if client.command("EXISTS TABLE load_journal"):
        spans = symbol_spans(client)
        width = _symbol_width(span[0] for span in spans)
        lines += ["", f"{'symbol':<{width}}{'trades':>14}{'raw rows':>14}  {'first (UTC)':<28}{'last (UTC)':<28}"]
        for symbol, trades, raw, first, last in spans:
            lines.append(f"{symbol:<{width}}{trades:>14,}{raw:>14,}  {first!s:<28}{last!s:<28}")
        exact, check = bars_report(client)
        lines += ["", *check]
    if client.command("EXISTS TABLE quotes_1m"):
        lines += ["", *quotes_report(client)]
    return exact, "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
