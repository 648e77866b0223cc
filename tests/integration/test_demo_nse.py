"""The demo's NSE market in the warehouse, as ``make run`` loads it beside the US demo: the feed places it on
XBOM sessions in IST (75-minute bars from 09:15, no bar on an NSE holiday), its quotes have 5 levels, the future
has OI, ``status`` lists its symbols; and the Kite decoder reads the same market's KiteTicker ticks into the
same rows as the demo's loaders wrote."""

from __future__ import annotations

import itertools
import uuid
from datetime import date

import polars as pl
import pyarrow as pa
import pytest

from backtest.feed import Feed
from warehouse.client import connect
from warehouse.demo.generate import DemoSpec
from warehouse.demo.kite import nse_market, tick_dicts
from warehouse.demo.nse import STEP_S, load_nse, nse_quotes, nse_ticks
from warehouse.demo.span import fitted_spec
from warehouse.ingest.quote_check import clean_quotes
from warehouse.schema.migrate import migrate
from warehouse.status import format_status
from warehouse.stream.kite import kite_payload
from warehouse.stream.kite_decode import KiteDecoder

SPEC = fitted_spec(DemoSpec())  # what `make run` asks for: --ticks 2M
IST = "Asia/Kolkata"


@pytest.fixture(scope="module")
def demo():
    """A new database of the session warehouse with the NSE market of the 2M demo loaded, and the lines it printed."""
    client = connect(database=f"t_{uuid.uuid4().hex[:12]}")
    migrate(client)
    return client, load_nse(client, SPEC)


def test_the_nse_demo_is_on_xbom_sessions_in_ist_with_depth_and_oi(demo):
    client, lines = demo
    assert lines[0].startswith("demo NSE: RELIANCE, INFY, RELIANCE24JANFUT (to its expiry 2024-01-25) on 30 XBOM "
                               "sessions 2024-01-02 to 2024-02-14, 09:15-15:30 IST, closed 2024-01-22, 2024-01-26")
    stored = client.query("SELECT symbol, count() FROM ticks GROUP BY symbol ORDER BY symbol").result_rows
    said = int(lines[2].split("loaded ")[1].split(" ticks")[0].replace(",", ""))
    assert sum(n for _, n in stored) == said and [s for s, _ in stored] == ["INFY", "RELIANCE", "RELIANCE24JANFUT"]
    quoted = client.command("SELECT count() FROM quotes")
    assert f"loaded {quoted:,} quotes" in lines[3]
    assert (said, quoted) == (112_475, 173_250)  # README's figures for `make run`
    feed = Feed(client)
    bars = feed.bars(["RELIANCE"], "2024-01-02", "2024-02-15", "75m", tz=IST)
    assert bars["ts"][0].isoformat() == "2024-01-02T09:15:00+05:30"
    assert sorted(set(bars["ts"].dt.strftime("%H:%M"))) == ["09:15", "10:30", "11:45", "13:00", "14:15"]
    daily = feed.bars("RELIANCE", "2024-01-15", "2024-02-01", "1d", tz=IST)["ts"].dt.date().to_list()
    assert date(2024, 1, 19) in daily and date(2024, 1, 22) not in daily and date(2024, 1, 26) not in daily
    assert len(daily) == 11  # 13 weekdays, 2 NSE holidays
    quotes = feed.quotes("RELIANCE", "2024-01-23T03:45", "2024-01-23T04:00")
    assert quotes.height == 15 * 60 // STEP_S and (quotes["bid_px_1"] < quotes["ask_px_1"]).all()
    for side, deeper in (("bid", pl.Expr.__gt__), ("ask", pl.Expr.__lt__)):
        assert quotes.select(pl.all_horizontal(deeper(pl.col(f"{side}_px_{k}"), pl.col(f"{side}_px_{k + 1}"))
                                               for k in range(1, 5))).to_series().all()
    future = feed.quotes("RELIANCE24JANFUT", "2024-01-02", "2024-02-15")
    assert (future["oi"] > 0).all() and future["ts"].max().date() == date(2024, 1, 25)  # trades to its expiry
    status = format_status(client)[1]
    assert all(symbol in status for symbol in ("RELIANCE ", "INFY ", "RELIANCE24JANFUT"))
    assert load_nse(client, SPEC)[0].startswith("demo NSE: its symbols already hold")


def test_the_kite_decoder_reads_the_same_market_into_the_same_rows(demo):
    client, _ = demo
    spec = DemoSpec(ticks=1_000, seed=SPEC.seed)  # the first session of the same market
    session = next(nse_market(start=spec.start, step=STEP_S, seed=spec.seed))
    payloads = [kite_payload(tick) for tick in itertools.chain.from_iterable(tick_dicts(session))]
    decoded = KiteDecoder(client, source="test").parse(payloads, [str(i) for i in range(len(payloads))])
    assert decoded.rejects.num_rows == 0
    ticks = pa.Table.from_batches(list(nse_ticks(spec)))
    assert decoded.ticks.sort_by([("ts", "ascending"), ("symbol", "ascending")]).equals(
        ticks.sort_by([("ts", "ascending"), ("symbol", "ascending")]))
    ours = clean_quotes(pa.concat_tables(nse_quotes(spec)), source="test").quotes.drop_columns("session")
    assert decoded.quotes.drop_columns("session").sort_by([("ts", "ascending"), ("symbol", "ascending")]).equals(
        ours.sort_by([("ts", "ascending"), ("symbol", "ascending")]))
