"""The demo's NSE market beside its US one: the instruments of :mod:`warehouse.demo.kite` and their trades and
5-level quotes (with OI for the future) over the NSE sessions of the US stream's span, through the normal loaders.

The US stream of a :class:`~warehouse.demo.generate.DemoSpec` fills weekdays from its start (:func:`nse_span`:
its first to its expected last session). The NSE market (:func:`warehouse.demo.kite.nse_market`, seeded by
the spec's seed) trades on the XBOM sessions of those days, 09:15-15:30 IST (holidays and weekends have
none), a tick of each instrument every :data:`STEP_S` seconds: the book at that second (a quote) and,
in about two ticks in three, a trade at its bid (a sell) or ask (a buy), named by the instrument's
cumulative volume as the Kite decoder names it (:mod:`warehouse.stream.kite_decode` reads the same
ticks as :func:`warehouse.demo.kite.tick_dicts` into the same rows). These rows come beside the spec's
``ticks``, which stay the US stream's count; :func:`load_nse` says how many it wrote.

>>> from warehouse.demo.generate import DemoSpec
>>> [day.isoformat() for day in nse_span(DemoSpec())]
['2024-01-02', '2024-02-14']
>>> quotes = next(nse_quotes(DemoSpec(ticks=1_000)))
>>> quotes.num_rows, quotes.column("symbol").unique().to_pylist()
(6750, ['RELIANCE', 'INFY', 'RELIANCE24JANFUT'])
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from warehouse.demo.generate import DemoSpec
from warehouse.demo.kite import INSTRUMENTS, SYMBOLS, Session, book_totals, nse_market, write_instruments_csv, \
    xbom_sessions
from warehouse.errors import WarehouseError
from warehouse.ingest.files import load_ticks
from warehouse.ingest.instruments import load_instruments
from warehouse.ingest.quotes import load_quotes
from warehouse.ingest.validate import TICKS_SCHEMA
from warehouse.schema.quotes_ddl import LEVELS
from warehouse.sessions import venue_of

STEP_S = 10  # seconds between two ticks of an instrument
BATCH_ROWS = 500_000  # quotes (and at most as many trades) per batch loaded


def nse_span(spec: DemoSpec) -> tuple[date, date]:
    """The first and the (expected) last weekday of the US stream of ``spec``: the days the NSE market spans.

    >>> [day.isoformat() for day in nse_span(DemoSpec(ticks=200_000, start="2024-01-06"))]
    ['2024-01-08', '2024-01-11']
    """
    first = np.busday_offset(np.datetime64(spec.start, "D"), 0, roll="forward")
    expected = math.ceil(spec.counts()[0] / sum(spec.daily_trades().values()))
    return first.astype(object), np.busday_offset(first, expected - 1).astype(object)


def _sessions(spec: DemoSpec) -> Iterator[Session]:
    first, last = nse_span(spec)
    return nse_market(start=first.isoformat(), last=last, step=STEP_S, seed=spec.seed)


def nse_ticks(spec: DemoSpec) -> Iterator[pa.RecordBatch]:
    """The NSE market's trades over the span of ``spec`` (``TICKS_SCHEMA``), in time order, in batches of
    whole sessions (about :data:`BATCH_ROWS` rows).

    >>> batch = next(nse_ticks(DemoSpec(ticks=1_000)))
    >>> batch.schema == TICKS_SCHEMA, 0.6 < batch.num_rows / 6750 < 0.7
    (True, True)
    """
    symbols = pa.array(SYMBOLS, pa.string())
    for sessions in _batched(_sessions(spec)):
        parts = []
        for s in sessions:
            t, i = np.nonzero(s.traded)
            parts.append((i, s.ts[t] * 1_000_000, s.price[t, i], s.qty[t, i],
                          np.where(s.price[t, i] == s.ask[t, i, 0], 1, -1), s.volume[t, i]))
        code, ts, cents, size, side, volume = (np.concatenate(column) for column in zip(*parts))
        yield pa.RecordBatch.from_arrays([
            symbols.take(pa.array(code)), pa.array(ts, TICKS_SCHEMA.field("ts").type), pa.array(cents / 100),
            pa.array(size.astype(np.float64)), pa.array(side.astype(np.int8)), pa.array(volume.astype(np.uint64)),
            pa.array(np.zeros(code.size, np.uint32))], schema=TICKS_SCHEMA)


def nse_quotes(spec: DemoSpec) -> Iterator[pa.Table]:
    """The NSE market's quotes over the span of ``spec``: a quote of each live instrument at each tick, with
    5 levels, totals, the last trade and OI; columns as ``load-quotes`` reads them (``seq`` left to the
    loader: a hash of the content, as for a Kite stream); in time order, in batches of whole sessions.

    >>> row = next(nse_quotes(DemoSpec(ticks=1_000))).slice(2, 1).to_pylist()[0]
    >>> row["symbol"], row["bid_px_1"] < row["ask_px_1"] < row["ask_px_5"], row["oi"] > 0, row["session"]
    ('RELIANCE24JANFUT', True, True, 'regular')
    """
    symbols = pa.array(SYMBOLS, pa.string())
    for sessions in _batched(_sessions(spec)):
        columns: dict[str, list[np.ndarray]] = {}
        for s in sessions:
            t, i = np.nonzero(np.broadcast_to(s.live, s.traded.shape))
            buy_total, sell_total = book_totals(s)
            values = {"symbol": i, "ts": s.ts[t] * 1_000_000}
            for side in ("bid", "ask"):
                for name, field, scale in (("px", side, 100), ("qty", f"{side}_qty", 1),
                                           ("orders", f"{side}_orders", 1)):
                    levels = getattr(s, field)[t, i]
                    values.update({f"{side}_{name}_{k + 1}": levels[:, k] / scale for k in range(LEVELS)})
            values.update(total_buy_qty=buy_total[t, i], total_sell_qty=sell_total[t, i],
                          last_price=s.last[t, i] / 100, last_qty=s.qty[t, i], oi=s.oi[t, i],
                          oi_day_high=s.oi_high[t, i], oi_day_low=s.oi_low[t, i])
            for name, value in values.items():
                columns.setdefault(name, []).append(value)
        arrays = {name: np.concatenate(parts) for name, parts in columns.items()}
        rows = arrays["ts"].size
        ts = pa.array(arrays.pop("ts"), pa.timestamp("us", "UTC"))
        table = {"symbol": symbols.take(pa.array(arrays.pop("symbol"))), "ts": ts, "exchange_ts": ts}
        table.update({name: pa.array(value.astype(np.float64)) for name, value in arrays.items()})
        yield pa.table({**table, "session": pa.repeat(pa.scalar("regular"), rows)})


def _batched(sessions: Iterator[Session]) -> Iterator[list[Session]]:
    """Whole sessions, about :data:`BATCH_ROWS` quotes at a time."""
    held: list[Session] = []
    rows = 0
    for session in sessions:
        held.append(session)
        rows += session.ts.size * int(session.live.sum())
        if rows >= BATCH_ROWS:
            yield held
            held, rows = [], 0
    if held:
        yield held


def load_nse(client: Client, spec: DemoSpec, *, quotes: bool = True, again: bool = False) -> list[str]:
    """Load the NSE market beside the US stream of ``spec``: its instruments (``instruments``), trades
    (``ticks``) and, with ``quotes``, its quotes; the summary lines to print. Nothing is loaded when its
    symbols hold ticks already (unless ``again``) or the XBOM calendar cannot place the span.

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(database="demo_nse_doc"); _ = migrate(client)
    >>> lines = load_nse(client, DemoSpec(ticks=1_000), again=True)  # again: a doctest run before loaded it
    >>> print("\\n".join(lines))  # doctest: +ELLIPSIS
    demo NSE: RELIANCE, INFY, RELIANCE24JANFUT (to its expiry 2024-01-25) on 1 XBOM session 2024-01-02 to \
2024-01-02, 09:15-15:30 IST, a tick of each every 10 s, beside the 1,000 US ticks
    demo_nse_instruments.csv: loaded 3 instruments (NFO 1, NSE 2), rejected 0 in ... s
    demo NSE: loaded 4,3... ticks, rejected 0 (...) in ... s (... rows/s)
    demo NSE quotes: loaded 6,750 quotes, rejected 0 (...) in ... s (... rows/s)
    >>> load_nse(client, DemoSpec(ticks=1_000))  # doctest: +ELLIPSIS
    ['demo NSE: its symbols already hold ... ticks; nothing loaded (pass --again to add another copy)']
    """
    first, last = nse_span(spec)
    try:
        sessions = xbom_sessions(first, last)
    except WarehouseError as exc:
        return [f"demo NSE: nothing loaded ({exc})"]
    if not sessions:
        return [f"demo NSE: no XBOM session from {first} to {last}; nothing loaded"]
    present = client.command("SELECT count() FROM ticks WHERE symbol IN {symbols:Array(String)}",
                             parameters={"symbols": list(SYMBOLS)})
    if present and not again:
        return [f"demo NSE: its symbols already hold {present:,} ticks; nothing loaded (pass --again to add "
                f"another copy)"]
    lines = [_header(spec, sessions, first, last)]
    with tempfile.TemporaryDirectory() as folder:
        lines.append(load_instruments(client, write_instruments_csv(Path(folder) / "demo_nse_instruments.csv"))
                     .summary())
    lines.append(load_ticks(client, nse_ticks(spec), name="demo NSE").summary())
    if quotes:
        lines.append(load_quotes(client, nse_quotes(spec), name="demo NSE quotes").summary())
    return lines


def _header(spec: DemoSpec, sessions: list[tuple[date, int, int]], first: date, last: date) -> str:
    """What the NSE market is: instruments, sessions, hours in IST, the holidays it skips."""
    zone = ZoneInfo(venue_of("NSE").zone)
    symbols = ", ".join(f"{row[2]} (to its expiry {row[5]})" if row[5] else row[2] for row in INSTRUMENTS)
    traded = {day for day, _, _ in sessions}
    closed = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    closed = [day.isoformat() for day in closed if day.weekday() < 5 and day not in traded]
    hours = "-".join(datetime.fromtimestamp(at, zone).strftime("%H:%M") for at in sessions[0][1:])
    return (f"demo NSE: {symbols} on {len(sessions)} XBOM session{'s' * (len(sessions) != 1)} {first} to {last}, "
            f"{hours} IST{', closed ' + ', '.join(closed) if closed else ''}, a tick of each every {STEP_S} s, "
            f"beside the {spec.ticks:,} US ticks")
