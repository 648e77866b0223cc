"""``report.html`` of one run: header, stats, risk and return, equity against buy and hold with drawdown and
exposure, rolling Sharpe and volatility, returns, prices with trades, months, breakdown, trades, data access.

Everything shown comes from the :class:`~backtest.runner.RunResult` (numbers
from ``backtest/``), the run folder's ``.hydra/`` files and, when present, the
``python -m warehouse bench`` results. Charts are plotly figures drawn from
``plotly.min.js``, written once beside the page and loaded by a relative path,
so the page works offline from the file (:mod:`reports.plots`). A run on
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
>>> path.name, "3x1:abc" in text, text.count('<div class="plot'), (path.parent / "plotly.min.js").is_file()
('report.html', True, 5, True)
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from enum import Enum
from html import escape
from pathlib import Path

import numpy as np
import polars as pl

from backtest.breakdown import trade_breakdown
from backtest.engine.simulate import EngineConfig
from backtest.excursions import run_excursions
from backtest.metrics import run_tear_sheet
from backtest.runner import RunResult
from reports import html
from reports.execution import execution_section
from reports.format import number, stat_text
from reports.plots import LINK_SCRIPT, PLOTLY_JS, write_plotly_js
from reports.provenance import command_line, explicit_overrides, hydra_config, hydra_overrides
from reports.risk import caveat_notice, risk_section
from reports.run_charts import months_section, performance_section, price_section, returns_section, rolling_section
from reports.trade_tables import breakdown_section, trades_section
# Where `python -m warehouse bench` writes by default (its --out; tests/integration/test_reports.py checks they
# agree). Reports read that CSV themselves: reports import nothing of warehouse.
DEFAULT_BENCHMARK = Path("outputs/bench/benchmark.csv")


def write_run_report(result: RunResult, out_dir: str | Path,
                     benchmark_csv: str | Path | None = DEFAULT_BENCHMARK) -> Path:
    """Write ``report.html`` (and ``plotly.min.js`` beside it) into ``out_dir`` and return the page's path.

    ``benchmark_csv`` None leaves the bench table out.
    """
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
    breakdown = trade_breakdown(result.simulation.trades, symbols=result.bars.symbols,
                                init_cash=result.simulation.init_cash)
    sections = [
        _run_section(result, out),
        html.section("Statistics", caveat_notice(sheet) + html.key_values((k, stat_text(k, v))
                                                                          for k, v in result.stats.items()),
                     note="Computed by backtest.stats over closed trades; formulas in its docstring."),
        risk_section(sheet),
        performance_section(result),
        rolling_section(result, sheet),
        returns_section(result),
        price_section(result),
        months_section(result),
        breakdown_section(breakdown),
        trades_section(result, run_excursions(result)),
        execution_section(result),
        data_access_section(result, benchmark_csv),
    ]
    write_plotly_js(out)
    path = out / "report.html"
    path.write_text(html.page(title, sections, subtitle, script_src=PLOTLY_JS, script=LINK_SCRIPT), encoding="utf-8")
    return path


def _run_section(result: RunResult, out: Path) -> str:
    """What ran on which data with which rules, and the command that redoes it."""
    if result.data is None:
        return _memory_run_section(result)
    params = dict(result.params)
    rows, symbols = result.bars.close.shape
    costs = result.query_costs
    returned = sum(cost.rows_returned for cost in costs)
    read = sum(cost.rows_to_read or 0 for cost in costs)
    tables = ", ".join(sorted({cost.source for cost in costs})) or "none"
    config = hydra_config(out) or {}
    run_info = [
        ("strategy", result.strategy),
        *((f"param {k}", number(v)) for k, v in params.items()),
        ("symbols", ", ".join(result.data.symbols)),
        ("range", f"[{result.data.start}, {result.data.end})"),
        ("interval / source", f"{result.data.interval} / {result.data.source}"),
        ("first / last bar", _span(result.bars.index)),
        ("bars x symbols", f"{rows:,} x {symbols}"),
        ("rows returned by the feed", f"{returned:,} in {len(costs)} queries"),
        ("data access cost", f"{read:,} rows to read from {tables}, {sum(c.wall_ms for c in costs):,.1f} ms"),
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
    return ("<h2 style=\"margin-top:14px\">Warehouse benchmark</h2>"
            + html.table([c.replace("_", " ") for c in shown], rows, numeric=numeric)
            + f'<p class="note">From {escape(str(path))} ({stamp}): `python -m warehouse bench`, median of the runs.</p>')
