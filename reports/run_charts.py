"""The chart cards of a run's report: performance against buy and hold, rolling risk, returns, prices, months.

Numbers come from ``backtest`` (:mod:`backtest.curves`, :mod:`backtest.metrics`); this module
lays them out as plotly figures (:mod:`reports.plots`). Time charts share one x range:
zooming or panning one moves the others.

>>> import numpy as np
>>> from backtest.engine.simulate import EngineConfig, run
>>> from backtest.feed import BarArrays
>>> from backtest.metrics import run_tear_sheet
>>> from backtest.runner import DataSpec, RunResult
>>> close = np.linspace(10.0, 12.0, 40)[:, None]
>>> index = np.arange("2024-01-01", "2024-02-10", dtype="datetime64[D]").astype("datetime64[us]")
>>> bars = BarArrays(index, ("X",), close, close, close, close, close)
>>> sim = run(close, close, close, close, np.r_[1.0, np.full(39, np.nan)][:, None], EngineConfig())
>>> result = RunResult("sma_cross", {}, DataSpec(symbols=("X",)), EngineConfig(), bars, sim, {}, (), "40x1:abc")
>>> card = performance_section(result)
>>> card.count('class="plot js-time"'), '"yaxis.type":"log"' in card
(1, True)
"""

from __future__ import annotations

from html import escape

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from backtest.curves import (bar_returns, drawdown, exposure, histogram, monthly_returns,
                             rolling_sharpe_volatility, rolling_window, yearly_returns)
from backtest.metrics import TearSheet, run_benchmark
from backtest.runner import RunResult
from reports import html
from reports.format import percent
from reports.plots import (BLUE, BUCKETS, GREEN, GREY, ORANGE, RED, figure_html, log_toggle, markers, time_axis,
                           time_band, time_line)

SYMBOLS_CHARTED = 8
# Trades marked per symbol chart (each an SVG point: more slow the page down); above it, the largest |pnl|.
MARKERS_DRAWN = 5_000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DOWNSAMPLED = (f"Long series are drawn as the first, last, lowest and highest point of each of {BUCKETS:,} slices "
                "of bars (zoom in for the shape within a slice); every figure is computed on every bar.")


def performance_section(result: RunResult) -> str:
    """Equity against buy and hold (log-scale toggle), the underwater curve and exposure, on one time axis."""
    index, sim = result.bars.index, result.simulation
    equity = sim.equity
    label, bench = run_benchmark(result)
    gross, net = exposure(sim.positions, result.bars.close, equity)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.07, row_heights=[0.56, 0.24, 0.2],
                        subplot_titles=("", "Underwater: drawdown from the running peak",
                                        "Exposure: position value / equity"))
    fig.add_trace(time_line(index, equity, name="Strategy equity"), row=1, col=1)
    fig.add_trace(time_line(index, bench, name=label[:1].upper() + label[1:], color=GREY), row=1, col=1)
    fig.add_trace(time_line(index, drawdown(equity), name="Drawdown", color=RED, fill=True, hover="%{y:.2%}"),
                  row=2, col=1)
    fig.add_trace(time_line(index, gross, name="Gross exposure", color=ORANGE, hover="%{y:.1%}"), row=3, col=1)
    fig.add_trace(time_line(index, net, name="Net exposure", color=GREEN, hover="%{y:.1%}"), row=3, col=1)
    fig.update_xaxes(**time_axis(index))
    fig.update_yaxes(tickformat=",.0f", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_yaxes(tickformat=".0%", row=3, col=1)
    fig.update_layout(updatemenus=[log_toggle()], hovermode="x unified")
    final = bench[-1] if len(bench) else float("nan")
    held = (f"the initial cash ({sim.init_cash:,.2f}) in {result.benchmark.symbol} (data.benchmark) at its first "
            f"close" if result.benchmark is not None else f"an equal share of the initial cash ({sim.init_cash:,.2f}) "
            f"in each of {', '.join(result.bars.symbols)} at its first close")
    note = (f"Benchmark, buy and hold: {held}, held to the end (final {final:,.2f}). "
            f"Exposure: the summed |units x close| (gross) and units x close (net) over equity. {_DOWNSAMPLED}")
    chart = figure_html(fig, "equity", height=640, time=True, top=64)
    return html.section("Equity, benchmark, drawdown and exposure", chart, note=note, name="equity")


def rolling_section(result: RunResult, sheet: TearSheet) -> str:
    """Rolling annualised Sharpe and volatility over a window scaled to the bars' spacing."""
    index, sim = result.bars.index, result.simulation
    window = rolling_window(index)
    returns = bar_returns(sim.equity, sim.init_cash)
    ppy = sheet.periods_per_year if np.isfinite(sheet.periods_per_year) else 1.0
    sharpe, volatility = rolling_sharpe_volatility(returns, window.bars, ppy)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=(f"Rolling Sharpe ({window.label})", f"Rolling volatility ({window.label})"))
    fig.add_trace(time_line(index, sharpe, name="Rolling Sharpe", color=BLUE), row=1, col=1)
    fig.add_trace(time_line(index, volatility, name="Rolling volatility", color=ORANGE, hover="%{y:.2%}"),
                  row=2, col=1)
    fig.update_xaxes(**time_axis(index))
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_layout(hovermode="x unified", showlegend=False)
    note = (f"Window: {window.label} of this run (bars per span from its own bar rate, "
            f"{sheet.periods_per_year:,.1f} a year), annualised like the Risk and return card; empty until the "
            "first full window and where the returns do not vary.")
    return html.section("Rolling Sharpe and volatility", figure_html(fig, "rolling", height=420, time=True),
                        note=note, name="rolling")


def returns_section(result: RunResult) -> str:
    """Histogram of the per-bar returns, bins computed in ``backtest``."""
    sim = result.simulation
    returns = bar_returns(sim.equity, sim.init_cash)
    edges, counts = histogram(returns, bins=60)
    flat = int(np.sum(returns == 0.0))
    fig = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), marker_color=BLUE,
                           customdata=np.column_stack([edges[:-1], edges[1:]]), name="bars",
                           hovertemplate="%{customdata[0]:.3%} to %{customdata[1]:.3%}: %{y:,} bars<extra></extra>"))
    fig.update_layout(bargap=0.05, title={"text": "Per-bar returns", "x": 0, "font": {"size": 13}})
    fig.update_xaxes(tickformat=".2%")
    note = (f"{len(returns):,} bar returns (equity over the previous bar's, the first from the initial cash) in 60 "
            f"equal bins; {flat:,} bars returned exactly 0 (flat or unchanged).")
    return html.section("Return distribution", figure_html(fig, "returns", height=300), note=note, name="returns")


def price_section(result: RunResult) -> str:
    """Per symbol: close over the high-low band with entries and exits, on the shared time axis."""
    trades, index = result.simulation.trades, result.bars.index
    parts = []
    for j, symbol in enumerate(result.bars.symbols[:SYMBOLS_CHARTED]):
        mine = trades.filter(pl.col("column") == j)
        fig = go.Figure([*time_band(index, result.bars.low[:, j], result.bars.high[:, j], name="high-low"),
                         time_line(index, result.bars.close[:, j], name=f"{symbol} close", color="#4a5568"),
                         *_trade_markers(index, mine)])
        fig.update_xaxes(**time_axis(index))
        parts.append(f"<h3>{escape(symbol)}: {mine.height:,} trades</h3>"
                     + figure_html(fig, f"price-{symbol}", height=340, time=True))
    note = ("Triangles: entries (up long, down short); circles: exits (green won, red lost); band: the bars' "
            f"high and low. {_DOWNSAMPLED}")
    if len(result.bars.symbols) > SYMBOLS_CHARTED:
        note += f" First {SYMBOLS_CHARTED} of {len(result.bars.symbols)} symbols charted; all trades are in trades.csv."
    if any(result.simulation.trades.filter(pl.col("column") == j).height > MARKERS_DRAWN
           for j in range(min(len(result.bars.symbols), SYMBOLS_CHARTED))):
        note += f" Above {MARKERS_DRAWN:,} trades on a symbol, the {MARKERS_DRAWN:,} with the largest |pnl| are marked."
    return html.section("Prices and trades", "".join(parts), note=note, name="prices")


def _trade_markers(index: np.ndarray, trades: pl.DataFrame) -> list[go.Scatter]:
    """Entry markers by side and exit markers by outcome (open trades have no exit)."""
    if trades.height > MARKERS_DRAWN:
        trades = trades.sort(pl.col("pnl").abs(), descending=True).head(MARKERS_DRAWN)
    long, short = trades.filter(pl.col("direction") == "long"), trades.filter(pl.col("direction") == "short")
    closed = trades.filter(~pl.col("is_open"))
    won, lost = closed.filter(pl.col("pnl") > 0), closed.filter(pl.col("pnl") <= 0)
    return [
        markers(index, long["entry_bar"], long["entry_price"], name="long entry", symbol="triangle-up", color=GREEN),
        markers(index, short["entry_bar"], short["entry_price"], name="short entry", symbol="triangle-down",
                color=RED),
        markers(index, won["exit_bar"], won["exit_price"], name="winning exit", symbol="circle-open",
                color="#276749", outcome=(won["pnl"], won["return"])),
        markers(index, lost["exit_bar"], lost["exit_price"], name="losing exit", symbol="circle-open",
                color="#9b2c2c", outcome=(lost["pnl"], lost["return"])),
    ]


def months_section(result: RunResult) -> str:
    """Calendar-month returns as a year x month heatmap, and each year's return against buy and hold."""
    index, equity, init = result.bars.index, result.simulation.equity, result.simulation.init_cash
    months = monthly_returns(index, equity, init)
    years = sorted(set(months["year"].to_list()))
    grid = np.full((len(years), 12), np.nan)
    for year, month, value in months.iter_rows():
        grid[years.index(year), month - 1] = value
    text = [[f"{v:.1%}" if np.isfinite(v) else "" for v in row] for row in grid]
    fig = go.Figure(go.Heatmap(z=grid, x=list(MONTHS), y=[str(y) for y in years], text=text, texttemplate="%{text}",
                               colorscale="RdYlGn", zmid=0.0, xgap=2, ygap=2, showscale=False,
                               hovertemplate="%{y} %{x}: %{z:.2%}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category", showgrid=False)
    fig.update_xaxes(showgrid=False)
    strategy = yearly_returns(index, equity, init)
    label, curve = run_benchmark(result)
    bench = yearly_returns(index, curve, init)
    rows = [[str(year), percent(mine), percent(theirs), percent(mine - theirs)]
            for (year, mine), (_, theirs) in zip(strategy.rows(), bench.rows())]
    table = html.table(["year", "strategy", "benchmark" if result.benchmark is None else result.benchmark.symbol,
                        "difference"], rows, numeric=[1, 2, 3])
    body = (figure_html(fig, "monthly", height=80 + 30 * len(years))
            + f'<h3>End of year</h3><div style="max-width:560px">{table}</div>')
    return html.section("Monthly and yearly returns", body, name="months",
                        note="Month-end (year-end) equity over the previous month-end (year-end), the first from the "
                             "initial cash; blank: no bars that month. Buy and hold as on the equity chart.")
