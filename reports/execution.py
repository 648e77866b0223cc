"""The report's "Execution on ticks" card: what filling on the trade and quote sequence cost.

The figures come from :func:`backtest.engine.ticks.execution_summary` and
:func:`~backtest.engine.ticks.shortfall_by_trade`, the per-fill slippage from the run's fill records;
this module only lays them out (a plotly chart of the slippage per fill, on the run's shared time axis).
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
import polars as pl

from backtest.engine.ticks import execution_summary, shortfall_by_trade
from backtest.runner import RunResult
from reports import html
from reports.format import number
from reports.plots import BLUE, GREEN, ORANGE, RED, epoch_ms, figure_html, time_axis

TRADES_SHOWN = 50
FILLS_DRAWN = 5_000  # per symbol; above it the fills with the largest |slippage| are drawn
_COLORS = (BLUE, ORANGE, GREEN, RED)


def execution_section(result: RunResult) -> str:
    """The card for a tick-execution run; empty text for a bar-execution run."""
    simulation = result.simulation
    summary = execution_summary(simulation)
    if not summary:
        return ""
    engine = result.engine
    pairs = [
        ("latency", f"{number(engine.latency_ms)} ms" + (f" + jitter {number(engine.latency_jitter_ms)} ms (seed "
                                                          f"{engine.seed})" if engine.latency_jitter_ms else "")),
        ("order type", str(engine.order_type)),
        ("fills", f"{int(summary['fills']):,}"),
        ("traded value", number(summary["traded_value"])),
        ("implementation shortfall", f"{number(summary['shortfall'])} ({_bps(summary['shortfall_bps'])})"),
        ("mean slippage vs decision", _bps(summary["slippage_vs_decision_bps"])),
        ("mean slippage vs mid", _bps(summary["slippage_vs_mid_bps"])),
        ("median decision to fill", f"{number(summary['delay_ms'])} ms"),
        ("units beyond the 5 levels", number(summary["beyond_book"])),
    ]
    shortfall = shortfall_by_trade(simulation)
    symbols = result.bars.symbols
    rows = [[str(i + 1), symbols[t["column"]], t["direction"], number(t["entry_price"]), number(t["exit_price"]),
             number(t["pnl"]), number(s)]
            for i, (t, s) in enumerate(zip(simulation.trades.head(TRADES_SHOWN).iter_rows(named=True),
                                           shortfall.head(TRADES_SHOWN).to_list()))]
    body = html.key_values(pairs) + _slippage_chart(result) + html.table(
        ["#", "symbol", "side", "entry price", "exit price", "pnl", "shortfall"], rows, numeric=[0, 3, 4, 5, 6],
        scroll=True)
    return html.section("Execution on ticks", body, name="execution",
                        note="Shortfall: units x (fill - decision price), in cash, fees apart; positive is a cost. "
                             "Every fill, with its times and quote, is in fills.csv.")


def _slippage_chart(result: RunResult) -> str:
    """Each fill's slippage against its decision price (bps) at its fill time, one colour per symbol."""
    fills = result.simulation.fills
    traces, cut = [], False
    for j, symbol in enumerate(result.bars.symbols):
        mine = fills.filter(pl.col("column") == j)
        if mine.height > FILLS_DRAWN:
            cut = True
            mine = mine.sort(pl.col("slippage_vs_decision").abs(), descending=True).head(FILLS_DRAWN)
        traces.append(go.Scatter(
            x=epoch_ms(mine["ts"].to_numpy()), y=mine["slippage_vs_decision"].to_numpy() * 1e4, mode="markers",
            name=symbol, marker={"size": 5, "color": _COLORS[j % len(_COLORS)], "opacity": 0.7},
            customdata=mine["slippage_vs_mid"].to_numpy() * 1e4,
            hovertemplate="%{y:.2f} bps vs decision, %{customdata:.2f} bps vs mid<extra>" + symbol + "</extra>"))
    fig = go.Figure(traces)
    fig.update_xaxes(**time_axis(result.bars.index))
    fig.update_yaxes(title={"text": "slippage vs decision (bps)"})
    drawn = f" (per symbol the {FILLS_DRAWN:,} largest)" if cut else ""
    return f"<h3>Slippage per fill{drawn}</h3>" + figure_html(fig, "execution", height=300, time=True)


def _bps(value: float) -> str:
    return "n/a (no quotes)" if math.isnan(value) else f"{value:.2f} bps"
