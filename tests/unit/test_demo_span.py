"""How far demo data reaches: sessions, fitting into the past, dense symbols, the future guard."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import polars as pl
import pytest

from support.data import demo_ticks
from warehouse.demo.generate import DemoSpec, generate, today_utc
from warehouse.demo.span import LIQUID_TICKERS, fit_note, fitted_spec, parse_dense
from warehouse.errors import WarehouseError

TODAY = date(2026, 12, 4)


@pytest.mark.parametrize("spec", [DemoSpec(ticks=300_000), DemoSpec(ticks=200_000, symbols=("ABC",), seed=7),
                                  DemoSpec(ticks=150_000, dense={"SPY": 10}, start="2024-03-01")])
def test_the_stream_ends_within_its_sessions(spec: DemoSpec) -> None:
    ts = pl.from_arrow(demo_ticks(spec))["ts"]
    weekdays = int(np.busday_count(np.datetime64(spec.start), np.datetime64(ts.max().date())))
    assert ts.max().date() <= spec.last_session()
    assert weekdays < spec.sessions() <= weekdays + 3 + 0.02 * weekdays  # an upper bound, and a close one


def test_fitting_adds_liquid_tickers_then_generated_names_until_the_last_session_is_past() -> None:
    asked = DemoSpec(ticks=100_000_000)
    assert asked.last_session() > TODAY
    fitted = fitted_spec(asked, today=TODAY)
    assert fitted.symbols == LIQUID_TICKERS[:11] and fitted.symbols[:5] == asked.symbols
    assert fitted.last_session() < TODAY
    fewer = dataclasses.replace(fitted, symbols=fitted.symbols[:-1])
    assert fewer.last_session() >= TODAY, "one symbol fewer would reach today: the fewest were added"
    assert dataclasses.replace(fitted, symbols=asked.symbols) == asked
    huge = fitted_spec(DemoSpec(ticks=10**9, start="2026-06-01", symbols=("AMZN", "SYM0002")), today=TODAY)
    assert huge.symbols[:4] == ("AMZN", "SYM0002", "AAPL", "MSFT") and "SYM0001" in huge.symbols
    assert len(set(huge.symbols)) == len(huge.symbols) and huge.last_session() < TODAY
    note = fit_note(asked, fitted, "100M")
    assert note.startswith("100M ticks over 11 symbols: AAPL, MSFT, NVDA, SPY, TSLA, AMZN, ")
    assert "(the 5 asked for would have run past today, to 2030-" in note


def test_small_specs_are_kept_and_a_start_without_past_sessions_is_an_error() -> None:
    assert fitted_spec(DemoSpec(), today=TODAY) == DemoSpec()
    with pytest.raises(WarehouseError, match=r"^start: '2026-12-05' leaves no weekday session before today"):
        fitted_spec(DemoSpec(start="2026-12-05"), today=TODAY)


def test_generate_refuses_a_spec_that_would_reach_today() -> None:
    with pytest.raises(WarehouseError, match=r"^ticks: 1,000,000,000 ticks over 5 symbols from 2024-01-02 run to "
                                             r"\d{4}-\d\d-\d\d, past today .*fitted_spec$"):
        next(generate(DemoSpec(ticks=10**9)))
    fitted = fitted_spec(DemoSpec(ticks=10**9))
    assert fitted.last_session() < today_utc()
    assert next(generate(dataclasses.replace(fitted, batch_rows=1000))).num_rows == 1000


def test_a_dense_symbol_trades_k_times_as_often_and_the_default_is_unchanged() -> None:
    plain, dense = DemoSpec(ticks=150_000), DemoSpec(ticks=150_000, dense={"SPY": 10})
    expected = dense.daily_trades()
    assert expected["SPY"] == pytest.approx(10 * plain.daily_trades()["SPY"])
    assert {s: v for s, v in expected.items() if s != "SPY"} == pytest.approx(
        {s: v for s, v in plain.daily_trades().items() if s != "SPY"})
    frame = pl.from_arrow(demo_ticks(dense)).filter(pl.col("version") == 0).unique()
    per_minute = (frame.group_by("symbol", pl.col("ts").dt.truncate("1m")).len()
                  .group_by("symbol").agg(pl.col("len").mean()).sort("symbol"))
    rates = dict(per_minute.iter_rows())
    assert rates["SPY"] > 5 * max(rate for symbol, rate in rates.items() if symbol != "SPY")
    assert DemoSpec(dense={}) == DemoSpec() and DemoSpec(dense={"SPY": 1}).daily_trades() == pytest.approx(
        DemoSpec().daily_trades())


@pytest.mark.parametrize(("dense", "message"), [
    ({"XYZ": 3}, "dense: 'XYZ' is not one of the symbols (AAPL, MSFT, NVDA, SPY, TSLA)"),
    ({"SPY": 0}, "dense: SPY=0 is not a number > 0"),
    ({"SPY": "10"}, "dense: SPY='10' is not a number > 0"),
    (5, "dense: 5 is not a mapping of symbol to k like {'SPY': 10}"),
])
def test_dense_validation_names_the_entry(dense: object, message: str) -> None:
    with pytest.raises(WarehouseError) as error:
        DemoSpec(dense=dense)
    assert str(error.value) == message


def test_parse_dense() -> None:
    assert parse_dense("SPY=10,QQQ=2.5") == {"SPY": 10, "QQQ": 2.5}
    assert DemoSpec(dense=parse_dense(" TSLA = 3 , SPY=10 ")).dense == (("SPY", 10), ("TSLA", 3))
    with pytest.raises(WarehouseError, match=r"^dense: 'SPY=lots' is not like SYMBOL=k"):
        parse_dense("SPY=lots")
