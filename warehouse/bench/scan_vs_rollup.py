"""The seed benchmark: the feed's queries on N demo ticks, timed, with what each reads.

Each query runs ``runs`` times (median, min, max). For one symbol:

=========================  ========================================================
``ticks_100min``           100 minutes of ticks (``ticks_dedup FINAL``)
``bars_<window>_raw``      the window's 1m bars aggregated from ``ticks_dedup FINAL``
``bars_<window>_rollup``   the same 1m bars from ``bars_1m``
``count``                  ``count()`` on ``ticks_dedup`` (answered from part metadata)
``count_final``            ``count()`` on ``ticks_dedup FINAL`` (duplicates merged)
=========================  ========================================================

Windows (:data:`WINDOWS`): ``1bar`` (one minute: the fixed cost of a query), ``100min``
from the open of the middle session, that session's ``day``, its Monday-to-Monday
``week``, its calendar ``month``, and the first ``year`` of the data (all of it when
the data spans less). The raw/rollup ratio cannot exceed the trades per bar:
:func:`window_table` prints both.

Layering: ``warehouse/`` must not import ``backtest/``, so this module times the
functions of :mod:`warehouse.feed_sql` that ``Feed.ticks``/``Feed.bars`` call, and
keeps the same :class:`~warehouse.feed_sql.QueryCost` records ``Feed.stats``
shows. ``median_ms`` is that record's ``wall_ms`` (query + Arrow result);
``call_median_ms`` is the whole call, which adds the ``EXPLAIN ESTIMATE`` the
cost record needs on embedded chDB; ``cpu_median_ms`` is the CPU time of that
call summed over this process's threads (chDB runs in-process), which moves
less than wall time when other processes share the cores. The feed's polars step on top is not in
here (``benchmarks/feed.py`` times the whole ``Feed`` call next to these).

The data: seeded demo ticks (:mod:`warehouse.demo.generate`) loaded through the normal
ingest path, 5% redeliveries and 1% corrections included (so ``count`` and
``count_final`` differ), on as many of the demo symbols as keep a year and a
margin of sessions (:func:`bench_spec`), so the year query reads a real year.
"""

from __future__ import annotations

import csv
import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from clickhouse_connect.driver.client import Client

from warehouse import feed_sql
from warehouse.demo.generate import OPEN_MINUTE, TRADES_PER_SYMBOL_DAY, DemoSpec, generate
from warehouse.demo.span import LIQUID_TICKERS
from warehouse.errors import WarehouseError
from warehouse.ingest.compact import compact
from warehouse.ingest.files import load_ticks
from warehouse.schema.migrate import migrate

DEFAULT_OUT = Path("outputs/bench/benchmark.csv")
DEFAULT_DIR = Path("data/bench")
_SESSIONS_WANTED = 300  # a year holds about 261 weekday sessions; the rest is margin
DENSE_FACTOR = 10  # the dense symbol's activity against the others' (~300 trades a minute)


WINDOWS = ("1bar", "100min", "day", "week", "month", "year")


@dataclass(frozen=True)
class Windows:
    """One symbol's time ranges the queries ask for (:data:`WINDOWS`), with the trades and bars in each."""

    symbol: str
    spans: dict[str, tuple[datetime, datetime]]
    trades: dict[str, int]
    bars: dict[str, int]

    @property
    def minutes_start(self) -> datetime:
        """Start of the 100-minute window."""
        return self.spans["100min"][0]

    @property
    def minutes_end(self) -> datetime:
        """End of the 100-minute window."""
        return self.spans["100min"][1]


@dataclass(frozen=True)
class BenchRow:
    """One line of ``benchmark.csv``."""

    query: str
    source: str
    rows_to_read: int
    rows_returned: int
    median_ms: float
    min_ms: float
    max_ms: float
    call_median_ms: float
    cpu_median_ms: float
    runs: int
    ticks_in_table: int
    symbol: str
    start: str
    end: str


def bench_spec(ticks: int) -> DemoSpec:
    """The demo data for ``ticks`` rows: the most symbols that still span ~300 sessions (a year and a
    margin) of :data:`~warehouse.demo.span.LIQUID_TICKERS` (the demo's five first); when that many
    ticks can also hold a year of it, SPY trades :data:`DENSE_FACTOR` times as often (a few hundred
    trades a minute, as liquid stocks trade: the rollup's best case).

    >>> bench_spec(10_000_000).symbols
    ('AAPL', 'MSFT')
    >>> spec = bench_spec(100_000_000)
    >>> len(spec.symbols), spec.dense, spec.sessions() >= 300
    (16, (('SPY', 10),), True)
    >>> bench_spec(200_000).symbols
    ('AAPL',)
    """
    names = LIQUID_TICKERS  # starts with the demo's own five
    dense = {"SPY": DENSE_FACTOR}
    dense_fits = DemoSpec(ticks=ticks, symbols=tuple(names[:4]), dense=dense).sessions() >= _SESSIONS_WANTED
    chosen = DemoSpec(ticks=ticks, symbols=tuple(names[:4 if dense_fits else 1]), dense=dense if dense_fits else ())
    for count in range(len(chosen.symbols) + 1, len(names) + 1):
        wider = dataclasses.replace(chosen, symbols=tuple(names[:count]))
        if wider.sessions() < _SESSIONS_WANTED:
            break
        chosen = wider
    return chosen


def window_symbols(spec: DemoSpec) -> list[str]:
    """The symbols the bench times: the first one, and the dense one when there is one.

    >>> window_symbols(bench_spec(100_000_000)), window_symbols(bench_spec(10_000_000))
    (['AAPL', 'SPY'], ['AAPL'])
    """
    return [spec.symbols[0], *(name for name, _ in spec.dense)]


def default_dsn(ticks: int) -> str:
    """The bench's own embedded warehouse for ``ticks`` rows, never the main one.

    >>> default_dsn(10_000_000).endswith("/data/bench/10M"), default_dsn(200_000).endswith("/200k")
    (True, True)
    """
    label = f"{ticks // 10**6}M" if ticks % 10**6 == 0 else f"{ticks // 1000}k" if ticks % 1000 == 0 else str(ticks)
    return "chdb://" + str((DEFAULT_DIR / label).resolve())


def prepare(client: Client, spec: DemoSpec, where: str) -> str:
    """Load ``spec``'s demo ticks unless ``client`` already holds exactly them, then compact them
    (:func:`warehouse.ingest.compact.compact`, as after any large load); say what was done.

    A warehouse holding other ticks is refused rather than added to or cleared.
    """
    migrate(client)
    present = client.command("SELECT count() FROM ticks")
    if present == 0:
        loaded = load_ticks(client, generate(spec), name="bench demo").summary()
        started = time.perf_counter()
        merged = compact(client)
        return f"{loaded}; compacted {len(merged)} table months in {time.perf_counter() - started:.1f} s"
    held = client.query("SELECT DISTINCT symbol FROM ticks ORDER BY symbol").result_columns[0]
    if present == spec.ticks and sorted(held) == sorted(spec.symbols):
        merged = compact(client)
        return (f"reusing {where}: it already holds the {present:,} bench ticks ({', '.join(spec.symbols)})"
                + (f"; compacted {len(merged)} table months" if merged else ""))
    raise WarehouseError(
        f"dsn: {where} holds {present:,} ticks of {', '.join(held)}, not the {spec.ticks:,} bench ticks of "
        f"{', '.join(spec.symbols)}; pass an empty --dsn (or none: each --ticks gets its own ./data/bench dir)"
    )


def pick_windows(client: Client, symbol: str) -> Windows:
    """The :data:`WINDOWS` of ``symbol``: around the open of its middle session, and its first year.

    When the data spans less than a year the "year" is all of it (``trades`` and ``bars`` say how much).
    """
    first, last = client.query(
        "SELECT min(minute), max(minute) FROM bars_1m WHERE symbol = {symbol:String}",
        parameters={"symbol": symbol}).result_rows[0]
    if first.year < 1971:
        raise WarehouseError(f"symbols: {symbol!r} has no bars in the bench warehouse")
    first, last = first.replace(tzinfo=timezone.utc), last.replace(tzinfo=timezone.utc)
    middle = np.busday_offset(np.datetime64((first + (last - first) / 2).date(), "D"), 0, roll="backward")
    day = datetime.fromisoformat(str(middle)).replace(tzinfo=timezone.utc)
    open_at = day + timedelta(minutes=OPEN_MINUTE)
    monday = day - timedelta(days=day.weekday())
    month = day.replace(day=1)
    year_start = first.replace(hour=0, minute=0)
    spans = {
        "1bar": (open_at, open_at + timedelta(minutes=1)),
        "100min": (open_at, open_at + timedelta(minutes=100)),
        "day": (day, day + timedelta(days=1)),
        "week": (monday, monday + timedelta(days=7)),
        "month": (month, month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)),
        "year": (year_start, min(year_start.replace(year=year_start.year + 1), last + timedelta(minutes=1))),
    }
    counted = {name: client.query(
        "SELECT sum(trades), count() FROM (SELECT minute, sum(trades) AS trades FROM bars_1m "
        "WHERE symbol = {symbol:String} AND minute >= {start:DateTime('UTC')} AND minute < {end:DateTime('UTC')} "
        "GROUP BY minute)",
        parameters={"symbol": symbol, "start": start.strftime("%Y-%m-%d %H:%M:%S"),
                    "end": end.strftime("%Y-%m-%d %H:%M:%S")}).result_rows[0] for name, (start, end) in spans.items()}
    return Windows(symbol, spans, {name: int(c[0]) for name, c in counted.items()},
                   {name: int(c[1]) for name, c in counted.items()})


def storage_line(client: Client) -> str:
    """Bytes on disk per distinct trade of the tick tables and the bars (one line).

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="bench_storage_example"); _ = migrate(client)
    >>> storage_line(client)
    'on disk: no ticks yet'
    """
    trades = int(client.command("SELECT count() FROM ticks_dedup"))
    if not trades:
        return "on disk: no ticks yet"
    sizes = dict(client.query(
        "SELECT table, sum(bytes_on_disk) FROM system.parts WHERE active AND database = currentDatabase() "
        "AND table IN ('ticks', 'ticks_dedup', 'bars_1m') GROUP BY table").result_rows)
    parts = [f"{name} {sizes.get(name, 0) / trades:.2f}" for name in ("ticks", "ticks_dedup", "bars_1m")]
    return (f"on disk, bytes per deduplicated trade ({trades:,}): {', '.join(parts)}; "
            f"all three {sum(sizes.values()) / trades:.2f} ({sum(sizes.values()) / 2**30:.2f} GiB)")


def check_runs(runs: int) -> int:
    """``runs`` if it is a usable number of runs per query.

    >>> check_runs(5)
    5
    >>> check_runs(0)
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: runs: 0 is not an integer >= 1
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise WarehouseError(f"runs: {runs!r} is not an integer >= 1")
    return runs


def run_queries(client: Client, windows: Windows, runs: int = 5, *, counts: bool = True) -> list[BenchRow]:
    """Time every query ``runs`` times on ``client`` (the counts only with ``counts``); one :class:`BenchRow` each."""
    check_runs(runs)
    ticks_in_table = int(client.command("SELECT count() FROM ticks"))
    one = [windows.symbol]
    m0, m1 = windows.minutes_start, windows.minutes_end
    queries: list[tuple[str, Callable[[], feed_sql.Fetched], datetime | None, datetime | None]] = [
        ("ticks_100min", lambda: feed_sql.ticks(client, one, m0, m1), m0, m1)]
    for name in WINDOWS:
        start, end = windows.spans[name]
        queries += [
            (f"bars_{name}_raw",
             lambda s=start, e=end: feed_sql.bars_from_ticks(client, one, s, e, 1, "minute"), start, end),
            (f"bars_{name}_rollup",
             lambda s=start, e=end: feed_sql.bars_from_rollup(client, one, s, e, 1, "minute"), start, end)]
    if counts:
        queries += [("count", lambda: feed_sql.row_count(client, "ticks_dedup"), None, None),
                    ("count_final", lambda: feed_sql.row_count(client, "ticks_dedup", final=True), None, None)]
    rows = []
    for name, call, start, end in queries:
        walls, calls, cpus = [], [], []
        for _ in range(runs):
            started, cpu = time.perf_counter(), time.process_time()
            cost = call().cost
            calls.append((time.perf_counter() - started) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
            walls.append(cost.wall_ms)
        scalar = start is None
        rows.append(BenchRow(
            name, cost.source, cost.rows_to_read, cost.rows_returned, round(statistics.median(walls), 2),
            round(min(walls), 2), round(max(walls), 2), round(statistics.median(calls), 2),
            round(statistics.median(cpus), 2), runs, ticks_in_table,
            "" if scalar else windows.symbol, "" if scalar else f"{start:%Y-%m-%dT%H:%MZ}",
            "" if scalar else f"{end:%Y-%m-%dT%H:%MZ}"))
    return rows


def window_table(rows: list[BenchRow], windows: Windows) -> str:
    """Raw against rollup per window, as Markdown: bars, trades per bar (the ratio's ceiling), ms and rows read.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 1, 2, tzinfo=timezone.utc)
    >>> w = Windows("X", {"day": (at, at)}, {"day": 2300}, {"day": 100})
    >>> rows = [BenchRow(f"bars_day_{s}", "", r, 100, ms, ms, ms, ms, ms, 1, 1, "X", "", "")
    ...         for s, r, ms in (("raw", 2300, 20.0), ("rollup", 256, 2.0))]
    >>> print(window_table(rows, w).splitlines()[-1])
    | day | 100 | 2,300 | 23.0 | 20.00 | 2.00 | 10.0x | 2,300 | 256 | 9.0x |
    """
    by_name = {row.query: row for row in rows}
    lines = [f"| window ({windows.symbol}, 1m bars) | bars | trades | trades per bar | raw ms | rollup ms "
             "| raw / rollup | rows read raw | rows read rollup | read ratio |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in windows.spans:
        raw, rollup = by_name.get(f"bars_{name}_raw"), by_name.get(f"bars_{name}_rollup")
        if raw is None or rollup is None:
            continue
        bars, trades = windows.bars[name], windows.trades[name]
        per_bar = f"{trades / bars:.1f}" if bars else "-"
        reads = f"{raw.rows_to_read / rollup.rows_to_read:.1f}x" if rollup.rows_to_read else "-"
        lines.append(f"| {name} | {bars:,} | {trades:,} | {per_bar} | {raw.median_ms:.2f} | {rollup.median_ms:.2f} "
                     f"| {raw.median_ms / rollup.median_ms:.1f}x | {raw.rows_to_read:,} | {rollup.rows_to_read:,} "
                     f"| {reads} |")
    return "\n".join(lines)


def write_csv(rows: list[BenchRow], out: str | Path, *, append: bool = False) -> Path:
    """Write ``rows`` to ``out`` (a ``.csv`` path, or a directory that gets ``benchmark.csv``); return the path.

    ``append`` adds the rows to an existing file (its header is kept) instead of replacing it.

    >>> import tempfile
    >>> row = BenchRow("count", "ticks_dedup", 10, 1, 0.5, 0.4, 0.9, 0.7, 0.6, 5, 10, "", "", "")
    >>> path = write_csv([row], tempfile.mkdtemp())
    >>> path.name, path.read_text().splitlines()[1]
    ('benchmark.csv', 'count,ticks_dedup,10,1,0.5,0.4,0.9,0.7,0.6,5,10,,,')
    >>> len(write_csv([row], path, append=True).read_text().splitlines())
    3
    """
    path = Path(out)
    if path.is_dir() or path.suffix.lower() != ".csv":
        path = path / "benchmark.csv"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        adding = append and path.exists() and path.stat().st_size > 0
        with path.open("a" if adding else "w", newline="") as handle:
            writer = csv.writer(handle)
            if not adding:
                writer.writerow([f.name for f in fields(BenchRow)])
            writer.writerows([list(asdict(row).values()) for row in rows])
    except OSError as exc:
        raise WarehouseError(f"out: cannot write {str(path)!r} ({exc.strerror})") from None
    return path


def format_table(rows: list[BenchRow]) -> str:
    """A Markdown table of ``rows`` (query, source, rows to read/returned, median/min/max ms, call and CPU ms).

    >>> print(format_table([BenchRow("count", "ticks_dedup", 10, 1, 0.5, 0.4, 0.9, 0.7, 0.6, 5, 10, "", "", "")]))
    | query | source | rows to read | rows returned | median ms | min ms | max ms | call median ms | CPU median ms |
    | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
    | count | ticks_dedup | 10 | 1 | 0.50 | 0.40 | 0.90 | 0.70 | 0.60 |
    """
    lines = ["| query | source | rows to read | rows returned | median ms | min ms | max ms | call median ms "
             "| CPU median ms |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r.query} | {r.source} | {r.rows_to_read:,} | {r.rows_returned:,} | {r.median_ms:.2f} | "
              f"{r.min_ms:.2f} | {r.max_ms:.2f} | {r.call_median_ms:.2f} | {r.cpu_median_ms:.2f} |" for r in rows]
    return "\n".join(lines)


__all__ = ["BenchRow", "DEFAULT_OUT", "DENSE_FACTOR", "WINDOWS", "Windows", "bench_spec", "check_runs", "default_dsn", "format_table",
           "pick_windows", "prepare", "run_queries", "storage_line", "window_symbols", "window_table", "write_csv"]
