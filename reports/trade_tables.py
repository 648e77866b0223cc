"""The trade cards of a run's report: the breakdown per symbol and side, and the trades with MAE/MFE.

Figures come from :mod:`backtest.breakdown` and :mod:`backtest.excursions`; this module
formats them. The same tables, with every trade, are ``breakdown.csv`` and ``trades.csv``.

>>> import polars as pl
>>> from backtest.breakdown import trade_breakdown
>>> trades = pl.DataFrame({"column": [0], "direction": ["long"], "pnl": [25.0], "is_open": [False]})
>>> card = breakdown_section(trade_breakdown(trades, symbols=("X",), init_cash=1000.0))
>>> '<td class="num">2.50%</td>' in card, card.count("<tr>")
(True, 5)
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from backtest.runner import RunResult
from reports import html
from reports.format import number, percent

TRADES_SHOWN = 200


def breakdown_section(breakdown: pl.DataFrame) -> str:
    """Per symbol, per side and in total: trades, open, win rate, pnl and return contribution."""
    rows = [[group, key, number(trades), number(open_), percent(win_rate, 1), number(pnl), percent(contribution)]
            for group, key, trades, open_, win_rate, pnl, contribution in breakdown.select(
                "group", "key", "trades", "open", "win_rate", "pnl", "contribution").iter_rows()]
    table = html.table(["by", "", "trades", "open", "win rate", "pnl", "return contribution"], rows,
                       numeric=[2, 3, 4, 5, 6])
    note = ("Win rate over closed trades; pnl after fees (an open trade marked at the last close); contribution: "
            "pnl over the initial cash, so each grouping adds up to the total return. In breakdown.csv.")
    return html.section("Breakdown per symbol and side", table, note=note, name="breakdown")


def trades_section(result: RunResult, excursions: pl.DataFrame) -> str:
    """The first trades with duration, MAE and MFE beside the exit reason, and how many more are in trades.csv."""
    trades = result.simulation.trades
    if trades.is_empty():
        return html.section("Trades", html.notice("No trades: the strategy never entered a position in this run "
                                                  "(equity stayed at the initial cash)."), name="trades")
    symbols = result.bars.symbols
    times = np.datetime_as_string(result.bars.index.astype("datetime64[us]"), unit="m")
    if all(t.endswith("T00:00") for t in times):  # daily bars: dates
        times = np.array([t[:10] for t in times])
    rows = []
    shown = pl.concat([trades.head(TRADES_SHOWN), excursions.head(TRADES_SHOWN)], how="horizontal")
    for i, t in enumerate(shown.iter_rows(named=True)):
        exit_time = "open" if t["is_open"] else str(times[t["exit_bar"]]).replace("T", " ")
        rows.append([str(i + 1), symbols[t["column"]], t["direction"], str(times[t["entry_bar"]]).replace("T", " "),
                     exit_time, duration_text(t["duration"]), number(t["size"], 4), number(t["entry_price"]),
                     number(t["exit_price"]), number(t["pnl"]), percent(t["return"]), percent(t["mae"]),
                     percent(t["mfe"]), t["exit_reason"] or "open"])
    columns = ["#", "symbol", "side", "entry (UTC)", "exit (UTC)", "duration", "size", "entry price", "exit price",
               "pnl", "return", "MAE", "MFE", "exit"]
    more = trades.height > TRADES_SHOWN
    note = (f"First {TRADES_SHOWN} of {trades.height:,} trades; all are in trades.csv." if more else
            f"All {trades.height:,} trades (also in trades.csv).")
    note += (" Fees and bars held are in trades.csv too. MAE / MFE: the worst and best price move against / for "
             "the trade while it was open, from the entry price (the bars' highs and lows between entry and exit, "
             "and the fills; backtest.excursions).")
    return html.section("Trades", html.table(columns, rows, numeric=[0, 5, 6, 7, 8, 9, 10, 11, 12],
                                             scroll=True), note=note, name="trades")


def duration_text(value: timedelta) -> str:
    """A trade's duration in its two largest units (days, hours, minutes, seconds), zero units left out.

    >>> duration_text(timedelta(days=2, hours=3)), duration_text(timedelta(days=22)), duration_text(timedelta(0))
    ('2d 3h', '22d', '0s')
    >>> duration_text(timedelta(hours=1, minutes=5, seconds=9)), duration_text(timedelta(seconds=90))
    ('1h 5m', '1m 30s')
    """
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count or parts:
            parts.append((count, unit))
    shown = [f"{count}{unit}" for count, unit in parts[:2] if count]
    return " ".join(shown) or "0s"
