"""Synthetic tick data: a reproducible, realistic-ish trade feed for demos, tests and benchmarks.

The stream mimics a consolidated trade feed for a few equities:

* regular sessions only (14:30-21:00 UTC, Monday-Friday; no DST, no holidays), more trades at the open
  and the close, bursts of activity (self-exciting arrivals), about 12,000 trades
  per symbol and day (the default 2M ticks span about six weeks); ``dense`` symbols trade
  k times as often as they otherwise would (liquid names print hundreds of trades a minute);
* log prices with GARCH(1,1) volatility, Student-t shocks, overnight gaps and
  bid/ask bounce on a 0.01 grid; whole-share heavy-tailed sizes; sticky sides;
* the faults a warehouse must absorb: redeliveries (exact copies of a row, a few to a
  few thousand rows later) and corrections (same ``(symbol, ts, trade_id)``,
  ``version + 1``, a price a few ticks away, arriving later).

Rows are in time order except that redeliveries and corrections arrive after their
originals. The model runs in fixed internal chunks seeded from ``(seed, chunk)``, so
the data does not depend on ``batch_rows`` and any tick count streams in bounded memory.

>>> batches = list(generate(DemoSpec(ticks=1000, batch_rows=400)))
>>> [batch.num_rows for batch in batches]
[400, 400, 200]
>>> batches[0].schema == SCHEMA
True
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.demo.kernels import hawkes_times_nb, trades_nb
from warehouse.errors import WarehouseError
from warehouse.ingest.validate import TICKS_SCHEMA

SCHEMA = TICKS_SCHEMA  # the demo emits exactly what the loaders accept
OPEN_MINUTE = 14 * 60 + 30   # session open, minutes after midnight UTC
CLOSE_MINUTE = 21 * 60       # session close (exclusive)

_CHUNK = 1 << 18             # original trades per internal chunk (fixed: the data depends on it)
_SESSION_S = (CLOSE_MINUTE - OPEN_MINUTE) * 60
TRADES_PER_SYMBOL_DAY = 12_000  # mean original trades per symbol and session (the bench sizes its span by it)
_BRANCHING = 0.7             # share of trades triggered by earlier trades (burstiness)
_EXCITE_DECAY = 1 / 90       # bursts fade over about 1.5 minutes of session time
_GARCH_ALPHA, _GARCH_BETA = 0.03, 0.965
_OVERNIGHT_SHARE = 0.2       # share of daily variance in the overnight gap
_SIDE_STICK = 0.7            # chance a trade has the same side as the symbol's previous one
_HALF_SPREAD = 1e-4
_DELAY = (2.0, 3000.0)       # fault delay range, in original trades

_minutes = np.arange(CLOSE_MINUTE - OPEN_MINUTE) + 0.5
_weight = 1 + 2.5 * np.exp(-_minutes / 25) + 1.5 * np.exp(-(_minutes[-1] + 0.5 - _minutes) / 20)
# Session time (s) at each minute edge against the wall clock (s after the open): the U shape.
_SESSION_KNOTS = np.concatenate([[0.0], np.cumsum(_weight / _weight.mean() * 60)])
_CLOCK_KNOTS = np.arange(_minutes.size + 1) * 60.0
_COUNT = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([kmb]?)", re.IGNORECASE)
_SCALE = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9}


@dataclass(frozen=True)
class DemoSpec:
    """What to generate; every field is checked on construction.

    ``dense`` makes some symbols trade k times as often as they otherwise would (a mapping
    ``{symbol: k}`` or its pairs, kept as pairs in symbol order); the others keep their rate.

    >>> DemoSpec(ticks=1000).symbols
    ('AAPL', 'MSFT', 'NVDA', 'SPY', 'TSLA')
    >>> DemoSpec(dense={"SPY": 10}).dense
    (('SPY', 10),)
    >>> DemoSpec(duplicate_rate=1.5)
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: duplicate_rate: 1.5 is not in [0, 0.5]
    """

    ticks: int = 2_000_000
    symbols: tuple[str, ...] = ("AAPL", "MSFT", "NVDA", "SPY", "TSLA")
    start: str = "2024-01-02"
    duplicate_rate: float = 0.05
    correction_rate: float = 0.01
    seed: int = 42
    batch_rows: int = 1_000_000
    dense: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        _check_int("ticks", self.ticks, 1)
        _check_int("seed", self.seed, 0)
        _check_int("batch_rows", self.batch_rows, 1)
        _check_rate("duplicate_rate", self.duplicate_rate, 0.5)
        _check_rate("correction_rate", self.correction_rate, 0.2)
        if not isinstance(self.symbols, (list, tuple)) or not self.symbols:
            raise WarehouseError(f"symbols: {self.symbols!r} is not a non-empty list of symbol names")
        object.__setattr__(self, "symbols", tuple(self.symbols))
        for i, name in enumerate(self.symbols):
            if not isinstance(name, str) or not name:
                raise WarehouseError(f"symbols: {name!r} is not a symbol name")
            if name in self.symbols[:i]:
                raise WarehouseError(f"symbols: {name!r} is listed twice")
        try:
            date.fromisoformat(self.start)
        except (TypeError, ValueError):
            raise WarehouseError(f"start: {self.start!r} is not a date like 2024-01-02") from None
        object.__setattr__(self, "dense", _checked_dense(self.dense, self.symbols))

    def counts(self) -> tuple[int, int, int]:
        """(original trades, corrections, redeliveries): together exactly ``ticks``.

        >>> DemoSpec(ticks=1000).counts()
        (940, 10, 50)
        """
        redeliveries = math.floor(self.ticks * self.duplicate_rate + 1e-9)
        corrections = math.floor(self.ticks * self.correction_rate + 1e-9)
        return self.ticks - redeliveries - corrections, corrections, redeliveries

    def daily_trades(self) -> dict[str, float]:
        """Each symbol's expected original trades per session (dense symbols' k times included).

        >>> daily = DemoSpec(dense={"SPY": 10}).daily_trades()
        >>> round(sum(daily.values())), round(daily["SPY"] / DemoSpec().daily_trades()["SPY"], 6)
        (201679, 10.0)
        """
        share, daily = _activity(self)
        return dict(zip(self.symbols, (daily * share).tolist()))

    def sessions(self) -> int:
        """Sessions (weekdays) the stream spans at most: the expected count plus 1% and one session.

        Bursts make arrivals run at or a little above their mean rate, so streams end at or before it
        (seeds 1, 7, 42 and 1 to 11 symbols: 1,552 of 1,584 at 100M ticks, 156 of 160 at 10M).

        >>> DemoSpec().sessions(), DemoSpec(ticks=100_000_000).sessions()
        (33, 1584)
        """
        expected = self.counts()[0] / _activity(self)[1]
        return math.ceil(expected * 1.01) + 1

    def last_session(self) -> date:
        """The latest day the stream may reach (:meth:`sessions` weekdays from ``start``).

        >>> DemoSpec().last_session(), DemoSpec(ticks=100_000_000).last_session()
        (datetime.date(2024, 2, 15), datetime.date(2030, 1, 25))
        """
        first = np.busday_offset(np.datetime64(self.start, "D"), 0, roll="forward")
        return np.busday_offset(first, self.sessions() - 1).astype(object)


def _checked_dense(dense: object, symbols: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    """``dense`` as ``(symbol, k)`` pairs in symbol order, or raise naming the bad entry."""
    try:
        pairs = dict(dense.items() if isinstance(dense, Mapping) else dense)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise WarehouseError(f"dense: {dense!r} is not a mapping of symbol to k like {{'SPY': 10}}") from None
    for name, k in pairs.items():
        if name not in symbols:
            raise WarehouseError(f"dense: {name!r} is not one of the symbols ({', '.join(symbols)})")
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < k < math.inf:
            raise WarehouseError(f"dense: {name}={k!r} is not a number > 0")
    return tuple((name, pairs[name]) for name in symbols if name in pairs)


def _draws(seed: int, symbols: tuple[str, ...]) -> np.ndarray:
    """Three uniform draws per symbol (price level, volatility, activity), from its own stream."""
    return np.array([_symbol_rng(seed, name).random(3) for name in symbols])


def _activity(spec: DemoSpec, draws: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(each symbol's share of the trades, all symbols' trades per session).

    A symbol trades ``TRADES_PER_SYMBOL_DAY`` times its random activity (1x to 4.5x, scaled to
    average 1 over the symbols) times its ``dense`` k: a dense symbol adds trades, the others keep theirs.
    """
    activity = np.exp(1.5 * (_draws(spec.seed, spec.symbols) if draws is None else draws)[:, 2])
    dense = dict(spec.dense)
    weighted = activity * np.array([dense.get(name, 1) for name in spec.symbols], np.float64)
    daily = TRADES_PER_SYMBOL_DAY * len(spec.symbols) * float(weighted.sum() / activity.sum())
    return weighted / weighted.sum(), daily


def _check_int(field: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise WarehouseError(f"{field}: {value!r} is not an integer >= {minimum}")


def _check_rate(field: str, value: object, maximum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= maximum:
        raise WarehouseError(f"{field}: {value!r} is not in [0, {maximum}]")


def parse_count(text: str) -> int:
    """A row count written like ``2M``, ``2.5m``, ``500k``, ``1_000`` or ``1000``.

    >>> parse_count("100M"), parse_count("2.5m"), parse_count("10k"), parse_count("1000")
    (100000000, 2500000, 10000, 1000)
    >>> parse_count("lots")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: ticks: 'lots' is not a count like 2M, 500k or 1000
    """
    match = _COUNT.fullmatch(text.strip().replace("_", "")) if isinstance(text, str) else None
    value = Decimal(match[1]) * _SCALE[match[2].lower()] if match else None
    if value is None or value != value.to_integral_value():
        raise WarehouseError(f"ticks: {text!r} is not a count like 2M, 500k or 1000")
    return int(value)


class _Rows(NamedTuple):
    """Columns of some trades; ``key`` orders the stream (original trade number, plus delay for faults)."""

    key: np.ndarray
    code: np.ndarray
    ts: np.ndarray
    cents: np.ndarray
    size: np.ndarray
    side: np.ndarray
    trade_id: np.ndarray
    version: np.ndarray

    def take(self, index: np.ndarray | slice) -> _Rows:
        return _Rows(*(column[index] for column in self))

    @staticmethod
    def concat(parts: Iterable[_Rows]) -> _Rows:
        return _Rows(*(np.concatenate(columns) for columns in zip(*parts)))


class _Market:
    """The market model and its state between chunks: session clock, excitation, per-symbol book."""

    def __init__(self, spec: DemoSpec) -> None:
        draws = _draws(spec.seed, spec.symbols)
        self.share, daily = _activity(spec, draws)
        trades_per_day = daily * self.share
        daily_vol = (0.15 + 0.45 * draws[:, 1]) / math.sqrt(252)
        self.log_level = math.log(50) + math.log(10) * draws[:, 0]
        self.revert = math.log(2) / (252 * trades_per_day)   # prices drift back to their level over ~a year
        self.omega = daily_vol**2 * (1 - _OVERNIGHT_SHARE) / trades_per_day * (1 - _GARCH_ALPHA - _GARCH_BETA)
        self.overnight_vol = daily_vol * math.sqrt(_OVERNIGHT_SHARE)
        self.base_rate = daily / _SESSION_S * (1 - _BRANCHING)
        self.first_day = np.busday_offset(np.datetime64(date.fromisoformat(spec.start), "D"), 0, roll="forward")
        self.clock = np.zeros(2)                                  # session seconds, excitation
        self.log_mid = self.log_level.copy()
        self.var = self.omega / (1 - _GARCH_ALPHA - _GARCH_BETA)
        self.last_day = np.full(len(spec.symbols), -1, np.int64)
        self.side = np.ones(len(spec.symbols), np.int8)
        self.next_id = np.ones(len(spec.symbols), np.uint64)

    def trades(self, rng: np.random.Generator, first: int, count: int) -> _Rows:
        """The next ``count`` original trades (numbers ``first...``), in time order."""
        session_s = hawkes_times_nb(rng.standard_exponential(count), self.base_rate,
                                    _BRANCHING * _EXCITE_DECAY, _EXCITE_DECAY, self.clock)
        day = (session_s // _SESSION_S).astype(np.int64)
        clock_s = np.interp(session_s - day * _SESSION_S, _SESSION_KNOTS, _CLOCK_KNOTS)
        dates = np.busday_offset(self.first_day, np.arange(day[0], day[-1] + 1))
        opens = dates.astype("datetime64[us]").astype(np.int64) + OPEN_MINUTE * 60_000_000
        ts = opens[day - day[0]] + np.minimum((clock_s * 1e6).astype(np.int64), _SESSION_S * 1_000_000 - 1)
        code = rng.choice(self.share.size, size=count, p=self.share).astype(np.int32)
        shocks = rng.standard_t(5, count) * math.sqrt(3 / 5)
        gaps = rng.standard_normal((day[-1] - day[0] + 1, self.share.size)) * self.overnight_vol
        cents, side, trade_id = trades_nb(
            code, shocks, rng.random(count), day, gaps, self.log_level, self.revert, self.omega,
            _GARCH_ALPHA, _GARCH_BETA, _SIDE_STICK, _HALF_SPREAD,
            self.log_mid, self.var, self.last_day, self.side, self.next_id)
        key = np.arange(first, first + count, dtype=np.float64)
        return _Rows(key, code, ts, cents, _sizes(rng, count), side, trade_id, np.zeros(count, np.uint32))


def _symbol_rng(seed: int, name: str) -> np.random.Generator:
    """A symbol's own random stream: its parameters do not depend on the other symbols."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, zlib.crc32(name.encode()))))


def _sizes(rng: np.random.Generator, count: int) -> np.ndarray:
    """Whole-share, heavy-tailed trade sizes; about a third are round lots."""
    size = np.maximum(1.0, np.round(rng.lognormal(math.log(60), 1.2, count)))
    lots = rng.random(count) < 0.35
    size[lots] = np.maximum(100.0, np.round(size[lots] / 100) * 100)
    return size


def _delayed(rng: np.random.Generator, rows: _Rows) -> np.ndarray:
    """Stream keys a few to a few thousand trades after ``rows``'."""
    return rows.key + np.exp(rng.uniform(math.log(_DELAY[0]), math.log(_DELAY[1]), rows.key.size))


def _corrected(rng: np.random.Generator, rows: _Rows) -> _Rows:
    """Corrections of ``rows``: next version, price 1-5 ticks away (never <= 0), sometimes a new size."""
    step = rng.integers(1, 6, rows.key.size) * rng.choice(np.array([-1, 1]), rows.key.size)
    cents = np.where(rows.cents + step >= 1, rows.cents + step, rows.cents + np.abs(step))
    size = np.where(rng.random(rows.key.size) < 0.3, _sizes(rng, rows.key.size), rows.size)
    return rows._replace(key=_delayed(rng, rows), cents=cents, size=size, version=rows.version + 1)


def _faults(rng: np.random.Generator, originals: _Rows, corrections: int, redeliveries: int) -> _Rows:
    """Corrections (one in eleven corrects a correction) and redeliveries of any of those rows."""
    again = corrections // 11
    first = _corrected(rng, originals.take(rng.choice(originals.key.size, corrections - again, replace=False)))
    second = _corrected(rng, first.take(rng.choice(first.key.size, again, replace=False)))
    pool = _Rows.concat([originals, first, second])
    copies = pool.take(rng.integers(0, pool.key.size, redeliveries))
    return _Rows.concat([first, second, copies._replace(key=_delayed(rng, copies))])


def _stream(spec: DemoSpec) -> Iterator[_Rows]:
    """The whole stream in stream order, as pieces of about one chunk each."""
    originals, corrections, redeliveries = spec.counts()
    market = _Market(spec)
    pending = None
    for chunk, first in enumerate(range(0, originals, _CHUNK)):
        last = min(first + _CHUNK, originals)
        rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(0, chunk)))
        trades = market.trades(rng, first, last - first)
        faults = _faults(rng, trades, last * corrections // originals - first * corrections // originals,
                         last * redeliveries // originals - first * redeliveries // originals)
        rows = _Rows.concat([part for part in (pending, trades, faults) if part is not None])
        rows = rows.take(np.argsort(rows.key, kind="stable"))
        ready = rows.key.size if last == originals else int(np.searchsorted(rows.key, last))
        pending = rows.take(slice(ready, None))
        yield rows.take(slice(0, ready))


def _record_batch(rows: _Rows, symbols: pa.Array) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([
        symbols.take(pa.array(rows.code)),
        pa.array(rows.ts, SCHEMA.field("ts").type),
        pa.array(rows.cents / 100.0),
        pa.array(rows.size),
        pa.array(rows.side),
        pa.array(rows.trade_id),
        pa.array(rows.version),
    ], schema=SCHEMA)


def today_utc() -> date:
    """Today's date in UTC: the first day no demo session may reach.

    >>> today_utc() > date(2024, 1, 2)
    True
    """
    return datetime.now(timezone.utc).date()


def generate(spec: DemoSpec) -> Iterator[pa.RecordBatch]:
    """Stream the ticks of ``spec`` as record batches of ``spec.batch_rows`` rows (the last may be short).

    A spec whose sessions may reach today is refused (its ticks would be rejected as future times);
    :func:`warehouse.demo.span.fitted_spec` adds symbols until they end before today.

    >>> batch = next(generate(DemoSpec(ticks=1000)))
    >>> batch.num_rows, batch.column("symbol")[0].as_py() in DemoSpec().symbols
    (1000, True)
    >>> next(generate(DemoSpec(ticks=10**9)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: ticks: 1,000,000,000 ticks over 5 symbols from 2024-01-02 run to ..., past today (...); add symbols or use warehouse.demo.span.fitted_spec
    """
    last, today = spec.last_session(), today_utc()
    if last >= today:
        raise WarehouseError(f"ticks: {spec.ticks:,} ticks over {len(spec.symbols)} symbols from {spec.start} run to "
                             f"{last}, past today ({today}); add symbols or use warehouse.demo.span.fitted_spec")
    symbols = pa.array(spec.symbols, pa.string())
    held: list[_Rows] = []
    count = 0
    for piece in _stream(spec):
        held.append(piece)
        count += piece.key.size
        if count >= spec.batch_rows:
            rows = _Rows.concat(held)
            full = count - count % spec.batch_rows
            for start in range(0, full, spec.batch_rows):
                yield _record_batch(rows.take(slice(start, start + spec.batch_rows)), symbols)
            held, count = [rows.take(slice(full, None))], count - full
    if count:
        yield _record_batch(_Rows.concat(held), symbols)


def write_parquet(spec: DemoSpec, path: str | Path) -> int:
    """Stream the ticks of ``spec`` into one Parquet file (zstd); return the rows written.

    >>> import tempfile
    >>> write_parquet(DemoSpec(ticks=1000), Path(tempfile.mkdtemp()) / "ticks.parquet")
    1000
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise WarehouseError(f"path: directory {str(path.parent)!r} does not exist")
    written = 0
    with pq.ParquetWriter(path, SCHEMA, compression="zstd") as writer:
        for batch in generate(spec):
            writer.write_batch(batch)
            written += batch.num_rows
    return written
