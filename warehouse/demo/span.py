"""How far demo data reaches, and a spec widened so that none of it lies in the future.

A spec's ticks fill weekday sessions from its ``start`` at about
``TRADES_PER_SYMBOL_DAY`` trades per symbol and session (:meth:`DemoSpec.sessions`), so
many ticks over few symbols run past today, where every loader rejects them.
:func:`fitted_spec` keeps the start and the ticks and adds symbols instead: liquid US
tickers first (:data:`LIQUID_TICKERS`), then generated names (``SYM0001``, ...).

>>> spec = fitted_spec(DemoSpec(ticks=100_000_000), today=date(2026, 12, 4))
>>> len(spec.symbols), spec.symbols[5:8], spec.last_session()
(11, ('AMZN', 'GOOGL', 'META'), datetime.date(2026, 10, 6))
>>> fitted_spec(DemoSpec(), today=date(2026, 12, 4)) == DemoSpec()  # small specs stay as they are
True
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import date

import numpy as np

from warehouse.demo.generate import TRADES_PER_SYMBOL_DAY, DemoSpec, today_utc
from warehouse.errors import WarehouseError

LIQUID_TICKERS = (
    "AAPL", "MSFT", "NVDA", "SPY", "TSLA", "AMZN", "GOOGL", "META", "QQQ", "AMD", "AVGO", "JPM", "NFLX", "IWM",
    "BAC", "XOM", "PLTR", "INTC", "COST", "WMT", "UNH", "V", "MA", "LLY", "ORCL", "CRM", "KO", "PEP", "DIS",
    "BA", "CSCO", "ADBE", "QCOM", "MU", "T", "PFE", "C", "WFC", "GS", "CVX", "NKE", "MRK", "ABBV", "HD", "TLT",
    "GLD", "XLF", "UBER", "COIN", "F", "GM",
)
"""Symbols added, in this order and skipping those asked for, after them (then ``SYM0001``, ...)."""


def fitted_spec(spec: DemoSpec, *, today: date | None = None) -> DemoSpec:
    """``spec`` if its last session ends before ``today`` (default :func:`today_utc`), else ``spec``
    with the fewest added symbols that make it so (same start, ticks, seed, rates and ``dense``).

    >>> fitted = fitted_spec(DemoSpec(ticks=20_000_000, symbols=("AAPL",)), today=date(2024, 12, 31))
    >>> fitted.symbols, fitted.last_session()
    (('AAPL', 'MSFT', 'NVDA', 'SPY', 'TSLA', 'AMZN', 'GOOGL'), datetime.date(2024, 11, 14))
    >>> fitted_spec(DemoSpec(start="2024-12-30"), today=date(2024, 12, 30))
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: start: '2024-12-30' leaves no weekday session before today (2024-12-30)
    """
    today = today or today_utc()
    if spec.last_session() < today:
        return spec
    first = np.busday_offset(np.datetime64(spec.start, "D"), 0, roll="forward")
    available = int(np.busday_count(first, np.datetime64(today, "D")))
    if available < 1:
        raise WarehouseError(f"start: {spec.start!r} leaves no weekday session before today ({today})")
    # A low first guess from the mean rate of an added symbol, then one symbol at a time.
    wanted = spec.counts()[0] * 1.01 / max(available - 1, 1) - sum(spec.daily_trades().values())
    extra = max(0, int(wanted / TRADES_PER_SYMBOL_DAY) - 2)
    names = list(itertools.islice(_extra_names(spec.symbols), extra))
    more = _extra_names((*spec.symbols, *names))
    while True:
        fitted = dataclasses.replace(spec, symbols=(*spec.symbols, *names))
        if fitted.last_session() < today:
            return fitted
        names.append(next(more))


def _extra_names(taken: tuple[str, ...]) -> Iterator[str]:
    """:data:`LIQUID_TICKERS`, then ``SYM0001``, ``SYM0002``, ..., skipping names in ``taken``.

    >>> list(itertools.islice(_extra_names(("AAPL", "MSFT")), 2))
    ['NVDA', 'SPY']
    """
    generated = (f"SYM{i:04d}" for i in itertools.count(1))
    return (name for name in itertools.chain(LIQUID_TICKERS, generated) if name not in taken)


def fit_note(asked: DemoSpec, fitted: DemoSpec, label: str, *, shown: int = 12) -> str:
    """One line saying how ``fitted`` widened ``asked`` (``label``: the tick count as the user wrote it).

    >>> asked = DemoSpec(ticks=100_000_000)
    >>> fit_note(asked, fitted_spec(asked, today=date(2026, 12, 4)), "100M")  # doctest: +NORMALIZE_WHITESPACE
    '100M ticks over 11 symbols: AAPL, MSFT, NVDA, SPY, TSLA, AMZN, GOOGL, META, QQQ, AMD, AVGO
     (the 5 asked for would have run past today, to 2030-01-25; sessions 2024-01-02 to 2026-10-06)'
    """
    names = ", ".join(fitted.symbols[:shown]) + (f", +{len(fitted.symbols) - shown} more"
                                                 if len(fitted.symbols) > shown else "")
    first = np.busday_offset(np.datetime64(asked.start, "D"), 0, roll="forward")
    return (f"{label} ticks over {len(fitted.symbols)} symbols: {names} (the {len(asked.symbols)} asked for "
            f"would have run past today, to {asked.last_session()}; sessions {first} to {fitted.last_session()})")


def parse_dense(text: str | None) -> dict[str, float]:
    """``--dense`` as a mapping: ``SPY=10,QQQ=2.5`` makes SPY trade 10 times and QQQ 2.5 times as often.

    >>> parse_dense("SPY=10, QQQ=2.5"), parse_dense(None)
    ({'SPY': 10, 'QQQ': 2.5}, {})
    >>> parse_dense("SPY")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: dense: 'SPY' is not like SYMBOL=k (e.g. SPY=10)
    """
    dense: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, k = item.partition("=")
        try:
            number = float(k)
        except ValueError:
            raise WarehouseError(f"dense: {item!r} is not like SYMBOL=k (e.g. SPY=10)") from None
        dense[name.strip()] = int(number) if number.is_integer() else number
    return dense
