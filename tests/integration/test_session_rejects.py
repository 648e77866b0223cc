"""Sessions at load (issue G item 4): with ``--require-session`` the rows outside their symbol's exchange session
go to ``rejects`` (code ``outside_session``) and are counted; without it nothing is; quotes get their session type
from the calendar; bad options and unplaced symbols are one-line errors."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from warehouse.cli import main
from warehouse.ingest.files import load_ticks
from warehouse.ingest.instruments import KITE_COLUMNS, load_instruments
from warehouse.ingest.ohlcv import load_ohlcv
from warehouse.ingest.quote_check import clean_quotes
from warehouse.ingest.quotes import load_quotes
from warehouse.ingest.session_check import session_rule

from support.brokers import run_cli

IST, ET = ZoneInfo("Asia/Kolkata"), ZoneInfo("America/New_York")
# (symbol, local time, zone, session type): NSE 09:15-15:30 IST, Fri 2024-01-26 Republic Day, Sat 27 weekend;
# NYSE 09:30-16:00 ET, Mon 2024-01-15 Martin Luther King Day, Wed 2024-07-03 a half day (closes 13:00)
ROWS = [
    ("INFY", "2024-01-25 08:30", IST, "pre"), ("INFY", "2024-01-25 09:15", IST, "regular"),
    ("INFY", "2024-01-25 12:00", IST, "regular"), ("INFY", "2024-01-25 15:30", IST, "post"),
    ("INFY", "2024-01-25 16:00", IST, "post"), ("INFY", "2024-01-26 10:00", IST, "closed"),
    ("INFY", "2024-01-27 10:00", IST, "closed"),
    ("SPY", "2024-01-25 08:00", ET, "pre"), ("SPY", "2024-01-25 09:30", ET, "regular"),
    ("SPY", "2024-01-25 15:59", ET, "regular"), ("SPY", "2024-01-25 16:30", ET, "post"),
    ("SPY", "2024-01-15 12:00", ET, "closed"), ("SPY", "2024-07-03 12:00", ET, "regular"),
    ("SPY", "2024-07-03 14:00", ET, "post"),
]
WHY = {"pre": "before the open", "post": "after the close", "closed": "not a trading day"}


def _utc(local: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(local).replace(tzinfo=zone).isoformat()


@pytest.fixture()
def client(fresh_client, tmp_path):
    """A warehouse whose instruments list INFY on NSE and SPY on NYSE."""
    path = tmp_path / "instruments.csv"
    path.write_text("\n".join([",".join(KITE_COLUMNS), "408065,1594,INFY,INFOSYS,0,,0,0.05,1,EQ,NSE,NSE",
                               "756733,2955,SPY,SPDR,0,,0,0.01,1,EQ,NYSE,NYSE"]) + "\n")
    assert load_instruments(fresh_client, path).loaded == 2
    return fresh_client


@pytest.fixture()
def tick_file(tmp_path) -> Path:
    """ROWS as a tick CSV (times with their offsets), and one bad price outside the session (bad_price wins)."""
    path = tmp_path / "ticks.csv"
    lines = ["symbol,ts,price,size"] + [f"{s},{_utc(t, z)},100.5,{i + 1}" for i, (s, t, z, _) in enumerate(ROWS)]
    path.write_text("\n".join(lines + [f"SPY,{_utc('2024-01-25 17:00', ET)},-1,1"]) + "\n")
    return path


def _outside(require: str) -> list[int]:
    refused = {"regular": ("pre", "post", "closed"), "extended": ("closed",)}[require]
    return [i for i, row in enumerate(ROWS) if row[3] in refused]


@pytest.mark.parametrize("require", ["regular", "extended"])
def test_ticks_outside_the_required_session_are_rejected_and_counted(client, tick_file, require):
    report = load_ticks(client, tick_file, sessions=session_rule(client, require=require))
    outside = _outside(require)
    assert report.rejected == len(outside) + 1 and report.rejected_by_code == {"outside_session": len(outside),
                                                                                "bad_price": 1}
    assert f"outside_session {len(outside)}" in report.summary()
    rejects = client.query("SELECT position, code, field, value, reason FROM rejects WHERE code = 'outside_session' "
                           "ORDER BY toUInt32(substring(position, 5))").result_rows
    assert rejects == [(f"row {i + 1}", "outside_session", "ts", _utc(ROWS[i][1], ROWS[i][2]),
                        f"ts: {WHY[ROWS[i][3]]} ({require} session required)") for i in outside]
    kept = client.query("SELECT symbol, toUnixTimestamp64Micro(ts) FROM ticks_dedup FINAL ORDER BY size").result_rows
    assert kept == [(s, int(datetime.fromisoformat(_utc(t, z)).timestamp() * 1e6))
                    for i, (s, t, z, _) in enumerate(ROWS) if i not in outside]


def test_without_the_option_nothing_is_rejected_for_its_session(client, tick_file):
    report = load_ticks(client, tick_file)
    assert report.rejected_by_code == {"bad_price": 1} and report.loaded == len(ROWS)


def test_the_exchange_given_places_symbols_instruments_do_not(fresh_client, tmp_path):
    path = tmp_path / "loose.csv"
    path.write_text("symbol,ts,price,size\n" + "".join(f"LOOSE,{_utc(t, z)},1,1\n" for s, t, z, _ in ROWS[7:]))
    with pytest.raises(Exception, match="symbol: 'LOOSE' has no exchange in instruments"):
        load_ticks(fresh_client, path, sessions=session_rule(fresh_client, require="regular"))
    report = load_ticks(fresh_client, path, sessions=session_rule(fresh_client, require="regular", exchange="NYSE"))
    assert report.rejected_by_code == {"outside_session": sum(ROWS[i][0] == "SPY" for i in _outside("regular"))}


def test_quotes_get_their_session_type_and_those_outside_are_rejected(client):
    quotes = pa.table({"symbol": [s for s, *_ in ROWS], "ts": [_utc(t, z) for _, t, z, _ in ROWS],
                       "bid": [10.0] * len(ROWS), "ask": [10.1] * len(ROWS),
                       "session": ["", "auction"] + [""] * (len(ROWS) - 2)})
    typed = clean_quotes(quotes, source="q", sessions=session_rule(client))
    assert typed.rejects.num_rows == 0
    assert typed.quotes["session"].to_pylist() == [row[3] for row in ROWS[:1]] + ["auction"] + [
        row[3] for row in ROWS[2:]]
    assert set(clean_quotes(quotes, source="q").quotes["session"].to_pylist()) == {"", "auction"}
    required = clean_quotes(quotes, source="q", sessions=session_rule(client, require="regular"))
    outside = _outside("regular")
    assert required.rejects["position"].to_pylist() == [f"row {i + 1}" for i in outside]
    assert set(required.rejects["code"].to_pylist()) == {"outside_session"}
    assert set(required.quotes["session"].to_pylist()) == {"regular", "auction"}


def test_load_quotes_types_sessions_and_rejects_those_outside(client, tmp_path):
    path = tmp_path / "quotes.csv"
    path.write_text("symbol,ts,bid,ask\n" + "".join(f"{s},{_utc(t, z)},10,10.1\n" for s, t, z, _ in ROWS))
    typed = load_quotes(client, path)
    assert typed.rejected == 0
    stored = client.query("SELECT session FROM quotes FINAL ORDER BY symbol, ts").result_rows
    assert [row[0] for row in stored] == [row[3] for row in sorted(ROWS, key=lambda r: (r[0], _utc(r[1], r[2])))]
    required = load_quotes(client, path, name="required", sessions=session_rule(client, require="extended"))
    assert dict(required.rejected_by_code) == {"outside_session": len(_outside("extended"))}
    assert f"outside_session {len(_outside('extended'))}" in required.summary()



def test_typing_alone_never_fails_a_quote_load(client, tmp_path):
    # a far-future row (XBOM records holidays only to its last year) and a symbol listed on exchanges with
    # different hours: the load types what it can, rejects the future row as future_ts and fails on nothing
    listing = tmp_path / "twice.csv"
    listing.write_text("\n".join([",".join(KITE_COLUMNS), "1,1,DUAL,DUAL,0,,0,0.05,1,EQ,NSE,NSE",
                                   "2,2,DUAL,DUAL,0,,0,0.01,1,EQ,NYSE,NYSE"]) + "\n")
    assert load_instruments(client, listing).loaded == 2
    path = tmp_path / "quotes.csv"
    path.write_text("symbol,ts,bid,ask\n" + f"INFY,{_utc('2024-01-25 12:00', IST)},10,10.1\n"
                    + "INFY,2042-07-03T06:30:00+00:00,10,10.1\n" + f"DUAL,{_utc('2024-01-25 12:00', IST)},10,10.1\n")
    report = load_quotes(client, path)
    assert dict(report.rejected_by_code) == {"future_ts": 1}
    stored = client.query("SELECT symbol, session FROM quotes FINAL ORDER BY symbol").result_rows
    assert stored == [("DUAL", ""), ("INFY", "regular")]

def test_ohlcv_bars_outside_the_session_are_rejected(client, tmp_path):
    minutes = tmp_path / "infy.csv"  # 5-minute bars, naive IST (instruments place INFY on NSE)
    times = [datetime(2024, 1, 25, 9, 5) + timedelta(minutes=5 * i) for i in range(4)] + [
        datetime(2024, 1, 25, 15, 25), datetime(2024, 1, 25, 15, 30), datetime(2024, 1, 26, 10, 0)]
    minutes.write_text("Date,Open,High,Low,Close,Volume\n" + "".join(f"{t:%Y-%m-%d %H:%M},10,11,9,10,5\n"
                                                                     for t in times))
    report = load_ohlcv(client, minutes, sessions=session_rule(client, require="regular"))
    assert (report.loaded, report.rejected) == (3, 4)  # 09:05, 09:10 (pre), 15:30 (post), the holiday
    days = tmp_path / "days.csv"  # daily bars of a symbol instruments do not list: the exchange given places it
    days.write_text("Date,Open,High,Low,Close,Volume\n" + "".join(f"2024-01-{d:02},10,11,9,10,5\n"
                                                                  for d in (12, 13, 15, 16, 17)))
    report = load_ohlcv(client, days, sessions=session_rule(client, require="regular", exchange="NYSE"))
    assert (report.loaded, report.rejected) == (3, 2)  # Saturday 13th and Martin Luther King Day
    assert "America/New_York" in report.times
    rows = client.query("SELECT position, value, reason FROM rejects WHERE source = {path:String} ORDER BY position",
                        parameters={"path": str(days)})
    assert rows.result_rows == [("line 3", "2024-01-13", "ts: not a trading day (regular session required)"),
                                     ("line 4", "2024-01-15", "ts: not a trading day (regular session required)")]


@pytest.mark.parametrize("args, message", [
    (["--require-session", "weekly"], "error: require_session: 'weekly' is not regular or extended"),
    (["--require-session", "regular", "--exchange", "LUNA"], "error: exchange: 'LUNA' has no known calendar"),
])
def test_bad_session_options_are_one_line_and_exit_2(tick_file, capsys, args, message):
    for command in ("load", "load-ohlcv"):
        assert main([command, str(tick_file), *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith(message) and len(err.strip().splitlines()) == 1


def test_a_symbol_no_exchange_places_is_one_line_and_exit_2(dsn, tick_file):
    result = run_cli(dsn, "load", str(tick_file), "--require-session", "regular")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: symbol: 'INFY' has no exchange in instruments, so its regular session is unknown; load its "
        "instruments (load-instruments) or pass --exchange (exchange=)"]
