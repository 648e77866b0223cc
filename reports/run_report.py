"""``report.html`` of one run: header, stats, risk and return, equity and drawdown, prices with trades, months,
trades, data access.

Everything shown comes from the :class:`~backtest.runner.RunResult` (numbers
from ``backtest/``), the run folder's ``.hydra/`` files and, when present, the
``python -m warehouse bench`` results; the page is one file with inline SVG. A run on
bars given in memory (``data`` None: ``backtest.Result.report``) says so where a
warehouse run shows its request, feed queries and command line.

>>> import tempfile, numpy as np
>>> from backtest.engine.simulate import EngineConfig, run
>>> from backtest.feed import BarArrays
>>> from backtest.runner import DataSpec, RunResult
>>> close = np.array([[10.0], [11.0], [12.0]])
>>> bars = BarArrays(np.array(["2024-01-02", "2024-01-03", "2024-01-04"], dtype="datetime64[us]"), ("X",),
...                  close, close, close, close, close)
>>> sim = run(close, close, close, close, np.array([[1.0], [np.nan], [np.nan]]), EngineConfig(fill="close"))
>>> result = RunResult("sma_cross", {}, DataSpec(symbols=("X",)), EngineConfig(), bars, sim,
...                    {"total_return": 0.2}, (), "3x1:abc")
>>> path = write_run_report(result, tempfile.mkdtemp(), benchmark_csv=None)
>>> text = path.read_text()
>>> path.name, "3x1:abc" in text, text.count('<svg class="chart"')
('report.html', True, 4)
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from enum import Enum
from html import escape
from pathlib import Path

import numpy as np
import polars as pl

from backtest.curves import drawdown, monthly_returns
from backtest.engine.simulate import EngineConfig
from backtest.metrics import run_tear_sheet
from backtest.runner import RunResult
from reports import html
from reports.charts import GREEN, RED, Markers, heatmap, line_chart
from reports.execution import execution_section
from reports.format import number, percent, stat_text
from reports.provenance import command_line, explicit_overrides, hydra_config, hydra_overrides
from reports.risk import caveat_notice, risk_section

TRADES_SHOWN = 200
SYMBOLS_CHARTED = 8
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Where `python -m warehouse bench` writes by default (its --out; tests/integration/test_reports.py checks they
# agree). Reports read that CSV themselves: reports import nothing of warehouse.
DEFAULT_BENCHMARK = Path("outputs/bench/benchmark.csv")


def write_run_report(result: RunResult, out_dir: str | Path,
                     benchmark_csv: str | Path | None = DEFAULT_BENCHMARK) -> Path:
    """Write ``report.html`` into ``out_dir`` and return its path; ``benchmark_csv`` None leaves the bench table out."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = result.data
    if data is None:
        title = f"{result.strategy} on {', '.join(result.bars.symbols)}"
        subtitle = f"bars given in memory, {_span(result.bars.index)} - data {result.fingerprint}"
    else:
        title = f"{result.strategy} on {', '.join(data.symbols)}"
        subtitle = (f"{data.interval} bars, {data.start} to {data.end} (source {data.source}) "
                    f"- data {result.fingerprint}")
    sheet = run_tear_sheet(result)
    sections = [
        _run_section(result, out),
        html.section("Statistics", caveat_notice(sheet) + html.key_values((k, stat_text(k, v))
                                                                          for k, v in result.stats.items()),
                     note="Computed by backtest.stats over closed trades; formulas in its docstring."),
        risk_section(sheet),
        _equity_section(result),
        _price_section(result),
        _months_section(result),
        _trades_section(result),
        execution_section(result),
        data_access_section(result, benchmark_csv),
    ]
    path = out / "report.html"
    path.write_text(html.page(title, sections, subtitle), encoding="utf-8")
    return path


def time_ticks(index: np.ndarray, count: int = 6) -> list[tuple[float, str]]:
    """About ``count`` x labels at bar numbers spread over ``index``: dates, or times within two days.

    >>> idx = np.array(["2024-01-02T14:30", "2024-01-02T15:00", "2024-01-03T21:00"], dtype="datetime64[us]")
    >>> time_ticks(idx, 2)
    [(0.0, '01-02 14:30'), (2.0, '01-03 21:00')]
    """
    if not len(index):
        return []
    positions = np.unique(np.linspace(0, len(index) - 1, count).round())
    days = (index[-1] - index[0]) >= np.timedelta64(2, "D")
    labels = np.datetime_as_string(index[positions.astype(np.int64)], unit="D" if days else "m")
    return [(float(p), str(t) if days else str(t)[5:].replace("T", " ")) for p, t in zip(positions, labels)]


def _run_section(result: RunResult, out: Path) -> str:
    """What ran on which data with which rules, and the command that redoes it."""
    if result.data is None:
        return _memory_run_section(result)
    params = dict(result.params)
    rows, symbols = result.bars.close.shape
    returned = sum(cost.rows_returned for cost in result.query_costs)
    config = hydra_config(out) or {}
    run_info = [
        ("strategy", result.strategy),
        *((f"param {k}", number(v)) for k, v in params.items()),
        ("symbols", ", ".join(result.data.symbols)),
        ("range", f"[{result.data.start}, {result.data.end})"),
        ("interval / source", f"{result.data.interval} / {result.data.source}"),
        ("first / last bar", _span(result.bars.index)),
        ("bars x symbols", f"{rows:,} x {symbols}"),
        ("rows returned by the feed", f"{returned:,} in {len(result.query_costs)} queries"),
        ("data fingerprint", result.fingerprint),
        ("warehouse", str(config.get("warehouse", {}).get("dsn", "not recorded"))),
        ("report written", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    engine = [(k, number(v)) for k, v in dataclasses.asdict(result.engine).items()]
    overrides = hydra_overrides(out)
    given = (f"As run (Hydra overrides from .hydra/overrides.yaml):{html.code_block(command_line(overrides))}"
             if overrides is not None else "<p class=\"note\">Not run through Hydra (no .hydra/overrides.yaml).</p>")
    explicit = command_line(explicit_overrides(result.strategy, result.params, result.data, result.engine))
    body = (html.columns(html.key_values(run_info), html.key_values(engine))
            + f"<h2 style=\"margin-top:12px\">Reproduce</h2>{given}"
            + f"Every value explicit (same fingerprint expected on the same warehouse):{html.code_block(explicit)}")
    return html.section("Run", body, name="run")


def _memory_run_section(result: RunResult) -> str:
    """What ran on bars given in memory, with which rules, and the Python call that redoes it."""
    rows, symbols = result.bars.close.shape
    run_info = [
        ("strategy", result.strategy),
        *((f"param {k}", number(v)) for k, v in result.params.items()),
        ("symbols", ", ".join(result.bars.symbols)),
        ("data", "bars given in memory (Python API), not read from the warehouse"),
        ("first / last bar", _span(result.bars.index)),
        ("bars x symbols", f"{rows:,} x {symbols}"),
        ("data fingerprint", result.fingerprint),
        ("report written", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    engine = [(k, number(v)) for k, v in dataclasses.asdict(result.engine).items()]
    body = (html.columns(html.key_values(run_info), html.key_values(engine))
            + "<h2 style=\"margin-top:12px\">Reproduce</h2><p class=\"note\">Run from Python on bars given in memory: "
            "no command line reads them; the same bars give the same data fingerprint. The call, with the "
            f"strategy above and every rule that differs from the defaults:</p>{html.code_block(python_call(result))}")
    return html.section("Run", body, name="run")


def python_call(result: RunResult) -> str:
    """``backtest.run(...)`` with the rules of ``result`` that differ from :class:`EngineConfig`'s defaults.

    A class name stands for itself; a short name is looked up with ``strategies.find``.

    >>> from types import SimpleNamespace
    >>> python_call(SimpleNamespace(strategy="sma_cross", params={"fast": 5}, engine=EngineConfig(fill="close")))
    "backtest.run(strategies.find('sma_cross')(fast=5), bars, fill='close')"
    >>> python_call(SimpleNamespace(strategy="EmaCross", params={}, engine=EngineConfig()))
    'backtest.run(EmaCross(), bars)'
    """
    defaults = dataclasses.asdict(EngineConfig())
    rules = [f"{k}={str(v)!r}" if isinstance(v, Enum) else f"{k}={v!r}"
             for k, v in dataclasses.asdict(result.engine).items() if v != defaults[k]]
    params = ", ".join(f"{k}={v!r}" for k, v in result.params.items())
    name = result.strategy
    maker = name if name.isidentifier() and name[:1].isupper() else f"strategies.find({name!r})"
    return f"backtest.run({', '.join([f'{maker}({params})', 'bars', *rules])})"


def _span(index: np.ndarray) -> str:
    """First and last bar time in UTC."""
    if not len(index):
        return "no bars"
    first, last = np.datetime_as_string(index[[0, -1]], unit="m")
    return f"{first.replace('T', ' ')} / {last.replace('T', ' ')} UTC"


def _equity_section(result: RunResult) -> str:
    """Equity over bars, and the drawdown from the running peak underneath on the same x."""
    ticks = time_ticks(result.bars.index)
    equity = result.simulation.equity
    charts = (line_chart("equity", equity, label="Equity", x_ticks=ticks, height=260)
              + line_chart("drawdown", drawdown(equity), label="Drawdown", x_ticks=ticks, height=140, color=RED,
                           y_format=lambda v: percent(v, 1), fill_to_zero=True))
    note = (f"{len(equity):,} bars drawn at one bucket per pixel column (first, last, min and max of each kept), "
            "x is the bar number so closed hours take no room.")
    return html.section("Equity and drawdown", charts, note=note, name="equity")


def _price_section(result: RunResult) -> str:
    """Per symbol: close line over the high-low band, trade entries and exits as markers."""
    trades = result.simulation.trades
    ticks = time_ticks(result.bars.index)
    charts = [html.legend([("long entry", GREEN), ("short entry", RED), ("winning exit", "#276749"),
                           ("losing exit", "#9b2c2c"), ("high-low per pixel", "#cbd5e0")])]
    for j, symbol in enumerate(result.bars.symbols[:SYMBOLS_CHARTED]):
        mine = trades.filter(pl.col("column") == j)
        close = result.bars.close[:, j]
        charts.append(f"<p class=\"note\"><b>{escape(symbol)}</b>: {mine.height:,} trades</p>")
        charts.append(line_chart(f"price-{symbol}", close, label=f"{symbol} price", x_ticks=ticks, height=260,
                                 color="#4a5568", band=(result.bars.low[:, j], result.bars.high[:, j]),
                                 markers=_trade_markers(mine)))
    note = ""
    if len(result.bars.symbols) > SYMBOLS_CHARTED:
        note = f"First {SYMBOLS_CHARTED} of {len(result.bars.symbols)} symbols charted; all trades are in trades.csv."
    return html.section("Prices and trades", "".join(charts), note=note, name="prices")


def _trade_markers(trades: pl.DataFrame) -> list[Markers]:
    """Entry markers by side and exit markers by outcome (open trades have no exit)."""
    long = trades.filter(pl.col("direction") == "long")
    short = trades.filter(pl.col("direction") == "short")
    closed = trades.filter(~pl.col("is_open"))
    won, lost = closed.filter(pl.col("pnl") > 0), closed.filter(pl.col("pnl") <= 0)
    return [
        Markers("long entries", long["entry_bar"].to_numpy(), long["entry_price"].to_numpy(), "up", GREEN),
        Markers("short entries", short["entry_bar"].to_numpy(), short["entry_price"].to_numpy(), "down", RED),
        Markers("winning exits", won["exit_bar"].to_numpy(), won["exit_price"].to_numpy(), "ring", "#276749"),
        Markers("losing exits", lost["exit_bar"].to_numpy(), lost["exit_price"].to_numpy(), "ring", "#9b2c2c"),
    ]


def _months_section(result: RunResult) -> str:
    """Calendar-month returns as a year x month grid."""
    months = monthly_returns(result.bars.index, result.simulation.equity, result.engine.init_cash)
    years = sorted(set(months["year"].to_list()))
    grid = np.full((len(years), 12), np.nan)
    for year, month, value in months.iter_rows():
        grid[years.index(year), month - 1] = value
    chart = heatmap("monthly", grid, [str(y) for y in years], MONTHS, label="Monthly returns",
                    cell_format=lambda v: percent(v, 1))
    return html.section("Monthly returns", chart, note="Month-end equity over the previous month-end "
                        "(the first month from the initial cash); grey: no bars that month.", name="months")


def _trades_section(result: RunResult) -> str:
    """The first trades as a table, with how many more are in trades.csv."""
    trades = result.simulation.trades
    if trades.is_empty():
        return html.section("Trades", html.notice("No trades: the strategy never entered a position in this run "
                                                  "(equity stayed at the initial cash)."), name="trades")
    index, symbols = result.bars.index, result.bars.symbols
    rows = []
    for i, t in enumerate(trades.head(TRADES_SHOWN).iter_rows(named=True)):
        exit_time = "open" if t["is_open"] else _minute(index[t["exit_bar"]])
        rows.append([str(i + 1), symbols[t["column"]], t["direction"], _minute(index[t["entry_bar"]]), exit_time,
                     number(t["size"], 4), number(t["entry_price"]), number(t["exit_price"]), number(t["fees"]),
                     number(t["pnl"]), percent(t["return"]), t["exit_reason"] or "open"])
    columns = ["#", "symbol", "side", "entry (UTC)", "exit (UTC)", "size", "entry price", "exit price", "fees",
               "pnl", "return", "exit reason"]
    more = trades.height - min(trades.height, TRADES_SHOWN)
    note = f"First {TRADES_SHOWN} of {trades.height:,} trades; all are in trades.csv." if more else \
        f"All {trades.height:,} trades (also in trades.csv)."
    return html.section("Trades", html.table(columns, rows, numeric=[0, 5, 6, 7, 8, 9, 10], scroll=True),
                        note=note, name="trades")


def _minute(value: np.datetime64) -> str:
    """A bar time to the minute."""
    return str(np.datetime_as_string(value, unit="m")).replace("T", " ")


def data_access_section(result: RunResult, benchmark_csv: str | Path | None) -> str:
    """This run's feed queries, and the warehouse benchmark table when its CSV exists."""
    columns = ["call", "source table", "wall ms", "rows to read", "rows returned", "bytes returned"]
    rows = [[c.call, c.source, number(c.wall_ms), number(c.rows_to_read), number(c.rows_returned),
             number(c.bytes_returned)] for c in result.query_costs]
    if result.data is None:
        return html.section("Data access", html.notice("No feed queries: the bars were given in memory."),
                            name="data-access")
    body = html.table(columns, rows, numeric=[2, 3, 4, 5]) if rows else html.notice("No feed queries recorded.")
    body += ('<p class="note">bars_1m = the 1-minute rollup; ticks_dedup = bars aggregated from raw ticks '
             "(scan). Rows to read: the primary-index estimate (embedded) or the server's read_rows.</p>")
    body += benchmark_block(benchmark_csv)
    return html.section("Data access", body, name="data-access")


def benchmark_block(path: str | Path | None) -> str:
    """The ``warehouse bench`` results at ``path`` as a table, or a line saying how to produce them."""
    if path is None:
        return ""
    path = Path(path)
    if not path.is_file():
        return (f'<p class="note">No warehouse benchmark at {escape(str(path))}; `python -m warehouse bench` writes one '
                "(scan vs rollup timings on demo ticks).</p>")
    frame = pl.read_csv(path)
    wanted = ["query", "source", "rows_to_read", "rows_returned", "median_ms", "min_ms", "max_ms",
              "call_median_ms", "runs", "ticks_in_table"]
    shown = [c for c in wanted if c in frame.columns] or frame.columns
    rows = [[number(v) for v in row] for row in frame.select(shown).iter_rows()]
    numeric = [j for j, c in enumerate(shown) if frame[c].dtype.is_numeric()]
    stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<h2 style=\"margin-top:14px\">Warehouse benchmark</h2>"
            + html.table([c.replace("_", " ") for c in shown], rows, numeric=numeric)
            + f'<p class="note">From {escape(str(path))} ({stamp}): `python -m warehouse bench`, median of the runs.</p>')
