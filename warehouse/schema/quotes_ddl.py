"""Migration 10: ``quotes`` (5-level depth, totals, last trade, open interest, session) and ``quotes_1m``.

``quotes``: one row per quote message, 30 plain level columns (``bid_px_1`` .. ``ask_orders_5``;
level 1 is the top of the book, an empty level holds price, quantity and orders 0), chosen over
``Array`` columns by ``benchmarks/quotes_layout.py`` (docs/performance.md, "Quotes (issue G)").
``ReplacingMergeTree`` keyed ``(symbol, ts, seq)`` with ``PRIMARY KEY (symbol, ts)``: a redelivered
message (same symbol, time and sequence number) replaces itself, so readers of ``quotes FINAL``
see each quote once. ``seq`` is the feed's sequence number, or a hash of the row's content
(:mod:`warehouse.ingest.quote_check`). Open interest is three columns of ``quotes`` (``oi``,
``oi_day_high``, ``oi_day_low``), as a broker's full-mode tick carries it.

``quotes_1m``: per symbol and minute, the last top of book, the mean and the time-weighted spread,
the last open interest and the depth imbalance, the quote and crossed-quote counts. Its rows are
whole minutes computed by the quote writer from the deduplicated quotes
(:mod:`warehouse.ingest.quote_rollup`) and written with a newer ``version`` each time a minute is
touched (``ReplacingMergeTree(version)``): read it with ``FINAL``, which is exact under redelivered
and late messages with no setting and no mutation to wait for.

>>> statements = quotes_ddl("", "ReplacingMergeTree", "ReplacingMergeTree(version)")
>>> [s.split()[5] for s in statements]
['quotes', 'quotes_1m']
>>> level_columns(2)[:3], len(level_columns())
(['bid_px_1', 'bid_px_2', 'bid_qty_1'], 30)

Migration 12 (:func:`quotes_write_codecs`) traded a little size for write speed on the columns where that is cheap.
"""

from __future__ import annotations

LEVELS = 5
SIDES = ("bid", "ask")
LEVEL_FIELDS = ("px", "qty", "orders")
TS_TYPE = "DateTime64(6, 'UTC')"
OTHER_COLUMNS = ("total_buy_qty", "total_sell_qty", "last_price", "last_qty", "oi", "oi_day_high", "oi_day_low")
"""The Float64 columns of a quote besides its levels."""


def level_columns(levels: int = LEVELS, sides: tuple[str, ...] = SIDES,
                  fields: tuple[str, ...] = LEVEL_FIELDS) -> list[str]:
    """The level columns of ``levels`` levels: side, then field, then level (``bid_px_1, bid_px_2, ...``)."""
    return [f"{side}_{field}_{k}" for side in sides for field in fields for k in range(1, levels + 1)]


# Codecs: the smallest of the column variants in benchmarks/quotes_layout.py (docs/performance.md, "Quotes (issue G)").
_CODECS = {"px": "Delta, ZSTD(1)", "qty": "ZSTD(1)", "orders": "T64, ZSTD(1)"}
_TYPES = {"px": "Float64", "qty": "Float64", "orders": "UInt32"}


def quote_columns() -> str:
    """The column list of ``quotes`` (inside the parentheses of its ``CREATE TABLE``)."""
    levels = [f"{name} {_TYPES[field]} CODEC({_CODECS[field]})"
              for side in SIDES for field in LEVEL_FIELDS for name in level_columns(sides=(side,), fields=(field,))]
    others = [f"{name} Float64 CODEC(ZSTD(1))" for name in OTHER_COLUMNS]
    return ",\n    ".join([
        "symbol LowCardinality(String)",
        f"ts {TS_TYPE} CODEC(Delta, ZSTD(1))",
        f"exchange_ts {TS_TYPE} CODEC(Delta, ZSTD(1))",
        "seq UInt64 CODEC(ZSTD(1))",
        *levels, *others,
        "session LowCardinality(String)",
    ])


MINUTE_COLUMNS = """symbol LowCardinality(String),
    minute DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    quotes UInt32,
    crossed UInt32,
    last_ts DateTime64(6, 'UTC'),
    last_bid Float64,
    last_ask Float64,
    last_bid_qty Float64,
    last_ask_qty Float64,
    mean_spread Float64,
    tw_spread Float64,
    spread_seconds Float64,
    last_oi Float64,
    imbalance Float64,
    mean_imbalance Float64,
    version UInt64"""
"""``quotes_1m``: ``quotes`` and ``crossed`` (bid >= ask) count the minute's distinct quotes; ``last_*`` are
the minute's last quote; ``mean_spread`` averages ``ask_px_1 - bid_px_1`` over its quotes with both sides;
``tw_spread`` weights the spread in force by the seconds it was in force within the minute (from the minute
start, with the quote in force then, to the next quote or the minute's end), over ``spread_seconds``;
``imbalance`` is ``(bid qty - ask qty) / (bid qty + ask qty)`` over the 5 levels of the last quote,
``mean_imbalance`` its mean over the minute's quotes. NaN where a minute has no such quote."""


def quotes_ddl(on_cluster: str, quotes_engine: str, minute_engine: str) -> list[str]:
    """The statements of migration 10 (``on_cluster``: ``""`` or `` ON CLUSTER name``; engines: rendered)."""
    return [
        f"""CREATE TABLE IF NOT EXISTS quotes{on_cluster} (
    {quote_columns()}
)
ENGINE = {quotes_engine}
PARTITION BY toYYYYMM(ts) PRIMARY KEY (symbol, ts) ORDER BY (symbol, ts, seq)""",
        f"""CREATE TABLE IF NOT EXISTS quotes_1m{on_cluster} (
    {MINUTE_COLUMNS}
)
ENGINE = {minute_engine}
PARTITION BY toYYYYMM(minute) ORDER BY (symbol, minute) SETTINGS index_granularity = 256""",
    ]


WRITE_CODECS = {"ts": "T64, LZ4", "qty": "Gorilla, LZ4", "orders": "T64, LZ4", "other": "Gorilla, LZ4"}
"""Migration 12's codecs, by column group: ``ts`` (``ts``, ``exchange_ts``), ``qty`` and ``orders`` (the 10 level
columns of each), ``other`` (:data:`OTHER_COLUMNS`); the 10 level prices keep migration 10's Delta+ZSTD(1)."""


def quotes_write_codecs(on_cluster: str) -> list[str]:
    """Migration 12: write-cheap codecs for ``quotes``' times, level quantities, order counts and other columns.

    A bulk load of quotes spends most of its time writing parts (docs/performance.md, "Quotes (issue G)"):
    on 4M demo quotes inserted alone, one group changed at a time, times T64+LZ4 instead of Delta+ZSTD(1) cost
    about 80 ns a quote less for +0.3 B, quantities Gorilla+LZ4 instead of ZSTD(1) about 150 ns less for +4.8 B,
    order counts T64+LZ4 about 30 ns less for +0.6 B, the other columns Gorilla+LZ4 about 55 ns less for +2.7 B:
    all four, 44.7 -> 53.0 B a quote and about a fifth of the insert's CPU. Prices keep Delta+ZSTD(1) (LZ4 would
    save about 100 ns for +14.6 B). Parts written before keep their codecs until a merge rewrites them.

    >>> [statement] = quotes_write_codecs("")
    >>> statement.count("MODIFY COLUMN"), statement.split(", MODIFY")[0]
    (29, 'ALTER TABLE quotes MODIFY COLUMN ts CODEC(T64, LZ4)')
    """
    groups = {"ts": ["ts", "exchange_ts"], "qty": level_columns(fields=("qty",)),
              "orders": level_columns(fields=("orders",)), "other": list(OTHER_COLUMNS)}
    changes = ", ".join(f"MODIFY COLUMN {name} CODEC({WRITE_CODECS[group]})" for group, names in groups.items()
                        for name in names)
    return [f"ALTER TABLE quotes{on_cluster} {changes}"]
