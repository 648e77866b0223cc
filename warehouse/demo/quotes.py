"""Demo quotes: a 5-level book consistent with the demo's trades (each original trade prints at the bid or the ask).

For every original trade of the demo stream (:func:`warehouse.demo.generate.generate`; redeliveries and
corrections are skipped) one quote is put shortly before it: strictly after the symbol's previous trade
and before this one (within half a second), so the quote in force at each trade is the one made for it.
A buy prints at the ask, a sell at the bid; the spread is the demo's (twice its half spread, at least one
cent), one or two cents wider now and then; deeper levels step away a cent or two; the traded side's top quantity covers the trade.
``last_price`` and ``last_qty`` are the symbol's previous trade; equities carry no open interest
(``oi`` 0); ``session`` is ``regular``. Seeded from the spec: the same spec gives the same quotes.

>>> from warehouse.demo.generate import DemoSpec
>>> tables = list(demo_quotes(DemoSpec(ticks=2_000, batch_rows=1_000)))
>>> sum(t.num_rows for t in tables) <= 2_000, tables[0].schema == QUOTES_SCHEMA
(True, True)
>>> row = tables[0].slice(0, 1).to_pylist()[0]
>>> row["bid_px_1"] > row["bid_px_2"] > row["bid_px_5"], row["ask_px_1"] < row["ask_px_5"]
(True, True)
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from warehouse.demo.generate import DemoSpec, generate
from warehouse.ingest.quote_check import QUOTES_SCHEMA
from warehouse.schema.quotes_ddl import LEVELS

_LEAD_US = 500_000  # a quote comes at most this long before its trade


@njit(cache=True, nogil=True)
def quotes_nb(codes, ts, cents, size, side, trade_id, version, draws, max_id, last_ts, last_cents, last_size):
    """Quotes for the original trades among the rows (``version == 0`` and a trade id above the symbol's
    highest so far, ``max_id``): ``(row, quote ts, bid cents (n, 5), ask cents (n, 5), bid qty, ask qty,
    last cents, last size)``. ``draws``: uniform draws of shape (rows, 13). Per-symbol state
    (``max_id, last_ts, last_cents, last_size``) is advanced in place.
    """
    n = codes.shape[0]
    rows = np.empty(n, np.int64)
    qts = np.empty(n, np.int64)
    bid = np.zeros((n, 5), np.int64)
    ask = np.zeros((n, 5), np.int64)
    bid_qty = np.zeros((n, 5))
    ask_qty = np.zeros((n, 5))
    prev_cents = np.zeros(n, np.int64)
    prev_size = np.zeros(n)
    k = 0
    for i in range(n):
        s = codes[i]
        if version[i] != 0 or trade_id[i] <= max_id[s]:
            continue
        max_id[s] = trade_id[i]
        gap = ts[i] - last_ts[s]
        if last_ts[s] >= 0 and gap < 2:
            continue  # no room before this trade: the previous quote stays in force
        lead = 1 + np.int64(draws[i, 0] * min(gap - 1 if last_ts[s] >= 0 else _LEAD_US, _LEAD_US))
        p = cents[i]
        spread = max(1, np.int64(np.round(2 * max(0.5, p * 1e-4)))) + (draws[i, 12] < 0.15) + (draws[i, 12] < 0.05)
        top_bid = p if side[i] < 0 else p - spread
        top_ask = p if side[i] >= 0 else p + spread
        if top_bid < 1:
            top_bid, top_ask = 1, 1 + spread
        b, a = top_bid, top_ask
        for level in range(5):
            bid[k, level] = b
            ask[k, level] = a
            bid_qty[k, level] = 100.0 * (1 + np.floor(draws[i, 1 + level] * 20))
            ask_qty[k, level] = 100.0 * (1 + np.floor(draws[i, 6 + level] * 20))
            step = 2 if draws[i, 11] > 0.8 and level == 1 else 1
            b = max(b - step, 0)
            a += step
        for level in range(5):
            if bid[k, level] == 0:
                bid_qty[k, level] = 0.0
        if side[i] < 0:
            bid_qty[k, 0] = max(bid_qty[k, 0], size[i])
        else:
            ask_qty[k, 0] = max(ask_qty[k, 0], size[i])
        rows[k] = i
        qts[k] = ts[i] - lead
        prev_cents[k] = last_cents[s]
        prev_size[k] = last_size[s]
        last_ts[s] = ts[i]
        last_cents[s] = p
        last_size[s] = size[i]
        k += 1
    return rows[:k], qts[:k], bid[:k], ask[:k], bid_qty[:k], ask_qty[:k], prev_cents[:k], prev_size[:k]


def demo_quotes(spec: DemoSpec) -> Iterator[pa.Table]:
    """The quotes of the demo stream of ``spec``, one table (``QUOTES_SCHEMA``) per tick batch of
    ``spec.batch_rows``, in time order; the same quotes whatever ``batch_rows`` is.

    >>> small = pa.concat_tables(demo_quotes(DemoSpec(ticks=3_000, batch_rows=700)))
    >>> small.equals(pa.concat_tables(demo_quotes(DemoSpec(ticks=3_000))))
    True
    """
    symbols = pa.array(spec.symbols, pa.string())
    state = (np.zeros(len(spec.symbols), np.uint64), np.full(len(spec.symbols), -1, np.int64),
             np.zeros(len(spec.symbols), np.int64), np.zeros(len(spec.symbols)))
    # two streams, each drawn in row order: the quotes do not depend on spec.batch_rows
    rng, table_rng = (np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(2, k))) for k in (0, 1))
    for batch in generate(spec):
        codes = pc.index_in(batch.column("symbol"), value_set=symbols).to_numpy().astype(np.int32)
        ts = batch.column("ts").cast(pa.int64()).to_numpy()
        columns = [batch.column(name).to_numpy() for name in ("price", "size", "side", "trade_id", "version")]
        cents = np.round(columns[0] * 100).astype(np.int64)
        rows, qts, bid, ask, bid_qty, ask_qty, last_cents, last_size = quotes_nb(
            codes, ts, cents, *columns[1:], rng.random((codes.size, 13)), *state)
        yield _table(symbols.take(pa.array(codes[rows])), qts, bid, ask, bid_qty, ask_qty, last_cents, last_size,
                     table_rng)


def _table(symbol: pa.Array, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray, bid_qty: np.ndarray,
           ask_qty: np.ndarray, last_cents: np.ndarray, last_size: np.ndarray, rng: np.random.Generator) -> pa.Table:
    n = ts.size
    draws = rng.random((n, 2 * LEVELS + 2))  # one row of draws per quote: independent of how rows are batched
    per_order = 80 + 320 * draws[:, :2 * LEVELS]
    bid_orders = np.where(bid_qty > 0, np.ceil(bid_qty / per_order[:, :LEVELS]), 0).astype(np.uint32)
    ask_orders = np.where(ask_qty > 0, np.ceil(ask_qty / per_order[:, LEVELS:]), 0).astype(np.uint32)
    stamps = pa.array(ts, pa.timestamp("us", "UTC"))
    columns: dict[str, pa.Array] = {"symbol": symbol, "ts": stamps, "exchange_ts": stamps,
                                    "seq": pa.array(np.zeros(n, np.uint64))}
    for side, px, qty, orders in (("bid", bid, bid_qty, bid_orders), ("ask", ask, ask_qty, ask_orders)):
        for name, values in (("px", px / 100.0), ("qty", qty), ("orders", orders)):
            for level in range(LEVELS):
                columns[f"{side}_{name}_{level + 1}"] = pa.array(np.ascontiguousarray(values[:, level]))
    columns["total_buy_qty"] = pa.array(bid_qty.sum(axis=1) * (3 + 7 * draws[:, -2]).round())
    columns["total_sell_qty"] = pa.array(ask_qty.sum(axis=1) * (3 + 7 * draws[:, -1]).round())
    columns["last_price"] = pa.array(last_cents / 100.0)
    columns["last_qty"] = pa.array(last_size)
    for name in ("oi", "oi_day_high", "oi_day_low"):
        columns[name] = pa.array(np.zeros(n))
    columns["session"] = pa.repeat(pa.scalar("regular", pa.string()), n)
    return pa.Table.from_pydict(columns, schema=QUOTES_SCHEMA)
