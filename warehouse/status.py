"""What is in the warehouse: tables, rows, bytes, parts, and time span per symbol."""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

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
SELECT symbol, count() AS rows, min(ts) AS first, max(ts) AS last
FROM ticks GROUP BY symbol ORDER BY symbol
"""


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
    """``(symbol, rows, first ts, last ts)`` for every symbol in ``ticks``."""
    return client.query(_SYMBOLS_SQL).result_rows


def format_status(client: Client) -> str:
    """The ``python -m warehouse status`` report as text.

    >>> from warehouse.client import connect
    >>> "schema version" in format_status(connect())
    True
    """
    lines = [f"schema version {current_version(client)}", ""]
    lines.append(f"{'table':<24}{'engine':<24}{'rows':>14}{'compressed':>14}{'uncompressed':>14}{'parts':>7}")
    for t in table_status(client):
        lines.append(
            f"{t.name:<24}{t.engine:<24}{t.rows:>14,}{_size(t.compressed_bytes):>14}"
            f"{_size(t.uncompressed_bytes):>14}{t.parts:>7}"
        )
    if client.command("EXISTS TABLE ticks"):
        lines += ["", f"{'symbol':<12}{'ticks':>14}  {'first (UTC)':<28}{'last (UTC)':<28}"]
        for symbol, rows, first, last in symbol_spans(client):
            lines.append(f"{symbol:<12}{rows:>14,}  {first!s:<28}{last!s:<28}")
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
