"""The 'Risk and return' card of a run's report, and the small-sample caveat: layout of a :class:`TearSheet`.

Every number comes from :mod:`backtest.metrics` (:func:`~backtest.metrics.run_tear_sheet`); a metric it
could not compute shows ``n/a`` with its reason; annualised figures from a short run are marked ``*``
under a notice that says how little data they stand on.

>>> import numpy as np
>>> from backtest.metrics import tear_sheet
>>> days = np.arange("2024-01-01", "2024-01-04", dtype="datetime64[D]")
>>> card = risk_section(tear_sheet(np.array([100.0, 97.0, 103.0]), days, init_cash=100.0))
>>> "Annualised from 3 days of data (3 bars)" in card, "<span>sharpe *</span>" in card
(True, True)
>>> "n/a (no closed trades)" in card, "<td>2024-01-01</td>" in card
(True, True)
"""

from __future__ import annotations

from backtest.metrics import ANNUALISED, Metric, TearSheet
from reports import html
from reports.format import number, percent, stat_text

DRAWDOWNS_SHOWN = 5


def risk_section(sheet: TearSheet) -> str:
    """The card: caveat (when the run is short), every metric, and the worst drawdowns."""
    marked = bool(sheet.caveat)
    pairs = [(f"{name} *" if marked and name in ANNUALISED else name, metric_text(name, metric))
             for name, metric in sheet.metrics.items()]
    body = caveat_notice(sheet) + html.key_values(pairs) + _drawdowns_table(sheet)
    note = (f"Computed by backtest.metrics (formulas in its docstring) on the per-bar returns from the initial "
            f"cash, risk-free rate 0, annualised at {number(sheet.periods_per_year, 1)} bars a year from the bars' "
            "spacing. VaR/CVaR: historical, one bar, 95%. Benchmark: buy and hold, an equal share of the initial "
            "cash in each symbol at its first close. All metrics in metrics_full.csv, every drawdown in "
            "drawdowns.csv.")
    return html.section("Risk and return", body, note=note, name="risk")


def caveat_notice(sheet: TearSheet) -> str:
    """The small-sample notice naming the annualised figures, or nothing when the run is long enough.

    >>> import numpy as np
    >>> from backtest.metrics import tear_sheet
    >>> days = np.arange("2024-01-01", "2024-07-01", dtype="datetime64[D]")
    >>> caveat_notice(tear_sheet(np.linspace(100.0, 110.0, len(days)), days, init_cash=100.0))
    ''
    """
    if not sheet.caveat:
        return ""
    return html.notice(f"{sheet.caveat[:1].upper()}{sheet.caveat[1:]}: CAGR, annual return, volatility, Sharpe, "
                       "Sortino, Calmar and alpha (marked *) extrapolate it to a year; read them as indications.")


def metric_text(name: str, metric: Metric) -> str:
    """A metric as the card prints it: its value, or ``n/a`` with the reason.

    >>> metric_text("sharpe", Metric(float("nan"), "the returns do not vary")), metric_text("cagr", Metric(0.1))
    ('n/a (the returns do not vary)', '10.00%')
    """
    return f"n/a ({metric.reason})" if metric.reason else stat_text(name, metric.value)


def _drawdowns_table(sheet: TearSheet) -> str:
    """The deepest drawdowns: peak, valley, recovery, depth and length."""
    worst = sheet.drawdowns.head(DRAWDOWNS_SHOWN)
    if worst.is_empty():
        return '<h2 style="margin-top:14px">Worst drawdowns</h2>' + html.notice("No drawdown: equity never fell "
                                                                                 "below a previous high.")
    shown = [t for row in worst.select("start", "valley", "recovery").rows() for t in row if t is not None]
    time = "%Y-%m-%d" if all(t.hour == t.minute == 0 for t in shown) else "%Y-%m-%d %H:%M"  # daily bars: dates
    rows = [[str(i + 1), f"{start:{time}}", f"{valley:{time}}", f"{recovery:{time}}" if recovery else "not recovered",
             percent(depth), str(length)] for i, (start, valley, recovery, depth, length) in enumerate(worst.rows())]
    table = html.table(["#", "start (peak)", "valley", "recovery", "depth", "length"], rows, numeric=[0, 4, 5])
    return (f'<h2 style="margin-top:14px">Worst drawdowns</h2>{table}'
            f'<p class="note">The {worst.height} deepest of {sheet.drawdowns.height:,}: from the last high before '
            "the fall to the first bar back at it (UTC); the length of one still under water runs to the last bar."
            "</p>")
