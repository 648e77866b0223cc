"""Tick execution (``engine.execution=ticks``): orders filled on each symbol's own trades and quotes.

Signals are still read on bars, at each bar's close (``bar_end``). Each order becomes active
``latency_ms`` later (plus, per order, a seeded exponential draw of mean ``latency_jitter_ms``;
``seed`` fixes them) and is filled by walking the symbol's trades and quotes in time order:

* **market** -- the book in force at the first event at or after the active time: a buy takes
  the asks level by level (volume-weighted; what five levels cannot give waits for the next
  quote and each fill states the units beyond the book), a sell the bids; a symbol with no book
  fills whole at its first print, plus ``slippage_bps``;
* **limit** -- ``limit_offset_bps`` better than the decision price (the mid with a book, else the
  last print). Marketable when it arrives, it takes the book (or the print) up to its price;
  otherwise it rests and fills at its price when a print goes through it (``queue=optimistic``:
  also a print at it), for at most the traded size, or when the opposite side's quotes cross
  it, for the quantity that crosses; partial fills are recorded one by one;
* **stop** / **stop_limit** -- ``stop_offset_bps`` beyond the decision price; once a print (or
  the side it would take) reaches it, a market order / a limit ``limit_offset_bps`` beyond the
  stop;
* ``order_expiry_s`` cancels what is left that long after the active time (default: good until
  the symbol's next signal, which replaces it);
* **position stops** (``stop_loss``, ``take_profit``, ``trailing_stop``) are checked on every
  event in order, so whichever is reached first wins (:mod:`backtest.engine.kernels.tick_stops`;
  ``stop_fill`` picks the triggering print or the level with the bar rule);
* at one timestamp, every symbol's reducing orders fill before any adding one, sized on one
  equity figure (the bar engine's rule), so symbol order changes nothing.

Ticks made from bars (:func:`bar_ticks`: open, then low and high in the order ``path`` names,
then close) with zero latency and ``stop_fill=level`` replay the bar engine exactly for market
orders, stop-loss and take-profit when the loss side comes first on the path (``low_first`` for
longs, ``high_first`` for shorts: the bar engine's pessimistic reading); trailing stops differ by
design (ticks trail on every print, bars on completed bars).

>>> import numpy as np
>>> from backtest.engine.rules import EngineConfig
>>> from strategies.indicators.events import SignalEvents
>>> start = np.array([0, 60, 120]) * 10**9
>>> prices = np.array([[10.0], [11.0], [12.0]])
>>> ticks = bar_ticks(start, 60 * 10**9, prices, prices, prices, prices)
>>> signal = SignalEvents.from_dense(np.array([[1.0], [np.nan], [np.nan]]))
>>> result = replay(start + 60 * 10**9, signal, [(ticks, no_quotes(1))], EngineConfig(execution="ticks"))
>>> result.equity.tolist(), result.fills["price"].to_list()
([10000.0, 10000.0, 10909.09090909091], [11.0, 12.0])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

from backtest.engine.kernels import records as rec
from backtest.engine.kernels import tick_records as tr
from backtest.engine.kernels.loop import signal_cells_nb
from backtest.engine.kernels.tick_loop import replay_nb
from backtest.engine.rules import EngineConfig, kernel_rules
from backtest.engine.simulate import SimulationResult, orders_frame, reason_names, trades_frame
from backtest.errors import BacktestError
from strategies.indicators.events import SignalEvents

__all__ = ["bar_ticks", "execution_summary", "no_quotes", "replay", "replay_many", "shortfall_by_trade", "tick_rules"]

PATHS = ("low_first", "high_first")
LEVELS = 5


def bar_ticks(bar_start: np.ndarray, interval_ns: int, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
              close: np.ndarray, *, path: str = "low_first") -> tr.TradeStream:
    """Four prints per bar and column: the open at the bar's start, low and high (in ``path`` order), the close.

    They sit at 0, 1/4, 1/2 and 3/4 of the bar, so every print of a bar comes before its end;
    bars with a NaN close make none. ``bar_start`` is int64 ns; prices are ``(n_bars, n_columns)``.

    >>> t = bar_ticks(np.array([0]), 4, *[np.array([[p]]) for p in (5.0, 7.0, 4.0, 6.0)], path="high_first")
    >>> t.ts.tolist(), t.price.tolist()
    ([0, 1, 2, 3], [5.0, 7.0, 4.0, 6.0])
    """
    if path not in PATHS:
        raise BacktestError(f"path: {path!r} is not one of {', '.join(PATHS)}")
    first, second = (low, high) if path == "low_first" else (high, low)
    n_bars, n_columns = np.shape(close)
    steps = np.arange(4) * (interval_ns // 4)
    ts = (np.asarray(bar_start, dtype=np.int64)[:, None, None] + steps[None, :, None]).repeat(n_columns, axis=2)
    prices = np.stack([open_, first, second, close], axis=1)  # (bars, 4, columns)
    columns = np.broadcast_to(np.arange(n_columns), (n_bars, 4, n_columns))
    keep = np.broadcast_to(~np.isnan(np.asarray(close))[:, None, :], (n_bars, 4, n_columns))
    price = prices[keep]
    return tr.TradeStream(np.ascontiguousarray(ts[keep]), np.ascontiguousarray(columns[keep], dtype=np.int64),
                          np.ascontiguousarray(price, dtype=np.float64), np.full(price.shape[0], np.inf))


def no_quotes(levels: int = LEVELS) -> tr.QuoteStream:
    """An empty quote stream with ``levels`` book levels (for prints-only replays).

    >>> no_quotes(5).bid_px.shape
    (0, 5)
    """
    empty = np.empty((0, levels))
    return tr.QuoteStream(np.empty(0, np.int64), np.empty(0, np.int64), empty, empty, empty, empty)


def tick_rules(config: EngineConfig, *, has_quotes: bool) -> tr.TickRules:
    """The tick rules as the kernels read them.

    >>> tick_rules(EngineConfig(execution="ticks", order_type="limit", limit_offset_bps=5), has_quotes=False)
    TickRules(order_type=1, queue=0, stop_fill=0, has_quotes=False, limit_offset=0.0005, stop_offset=0.0, expiry=-1)
    """
    expiry = -1 if config.order_expiry_s is None else int(round(config.order_expiry_s * 1e9))
    return tr.TickRules(config.order_type.value, config.queue.value, config.stop_fill.value, has_quotes,
                        config.limit_offset_bps / 1e4, config.stop_offset_bps / 1e4, expiry)


def latencies(config: EngineConfig, signal: SignalEvents) -> np.ndarray:
    """Per signal row and column, the order's latency in ns: ``latency_ms`` plus the seeded jitter.

    >>> signal = SignalEvents.from_dense(np.array([[1.0, 0.0]]))
    >>> latencies(EngineConfig(execution="ticks", latency_ms=2), signal).tolist()
    [[2000000, 2000000]]
    """
    base = np.full(signal.rows.shape, int(round(config.latency_ms * 1e6)), dtype=np.int64)
    if config.latency_jitter_ms > 0:
        draws = np.random.default_rng(config.seed).exponential(config.latency_jitter_ms * 1e6, signal.rows.shape)
        base += np.round(draws).astype(np.int64)
    return base


def replay(bar_end: np.ndarray, signal: SignalEvents, windows: Iterable[tuple[tr.TradeStream, tr.QuoteStream]],
           config: EngineConfig, *, symbols: tuple[str, ...] | None = None) -> SimulationResult:
    """Replay ``signal`` (decided at ``bar_end``, int64 ns) on the events of ``windows``, in time order.

    Each window is a trade stream and a quote stream of consecutive time ranges; the state carries
    from one to the next, so memory follows the window. A symbol that has neither a print nor a
    quote in the whole replay is an error naming it (``symbols`` gives the names).
    """
    return replay_many(bar_end, [signal], windows, config, symbols=symbols)[0]


def replay_many(bar_end: np.ndarray, signals: Sequence[SignalEvents],
                windows: Iterable[tuple[tr.TradeStream, tr.QuoteStream]], config: EngineConfig, *,
                symbols: tuple[str, ...] | None = None) -> list[SimulationResult]:
    """Replay several sets of signals on one pass over ``windows`` (a sweep's sets): each window is read once.

    Memory: one window of events plus each set's records and per-bar equity.
    """
    bar_end = np.ascontiguousarray(bar_end, dtype=np.int64)
    for signal in signals:
        if bar_end.shape[0] != signal.n_bars:
            raise BacktestError(f"bar_end: {bar_end.shape[0]} bar ends for {signal.n_bars} bars of signals")
    rules = kernel_rules(config)
    runs = [_Replay(tr.Grid(bar_end, s.bars, s.rows, latencies(config, s)), rules, config, s.columns,
                    3 * int(signal_cells_nb(s.rows)) + 4 * s.columns + 64) for s in signals]
    k = signals[0].columns if signals else 0
    seen = np.zeros(k, dtype=np.int64)
    levels = 0
    for trades, quotes in windows:
        trades, quotes = _kernel_arrays(trades), _kernel_arrays(quotes)
        seen += np.bincount(trades.column, minlength=k)[:k] + np.bincount(quotes.column, minlength=k)[:k]
        levels = quotes.bid_px.shape[1]
        for run in runs:
            run.window(trades, quotes, final=False)
    missing = [symbols[j] if symbols else str(j) for j in np.flatnonzero(seen == 0)]
    if missing:
        span = f"[{np.datetime64(int(bar_end[0]), 'ns')}, {np.datetime64(int(bar_end[-1]), 'ns')})"
        raise BacktestError(f"ticks: no trades or quotes for {', '.join(missing)} in {span}; tick execution "
                            "needs them (load ticks, or use engine.execution=bars)")
    end = tr.TradeStream(*(np.empty(0, t) for t in (np.int64, np.int64, np.float64, np.float64)))
    for run in runs:
        run.window(end, no_quotes(levels), final=True)
    return [run.result() for run in runs]


def _kernel_arrays(stream: tr.TradeStream | tr.QuoteStream) -> tr.TradeStream | tr.QuoteStream:
    """The stream with C-contiguous, writable arrays of the kernel's dtypes (copied only where they differ).

    Read-only arrays (numpy views of Arrow buffers) would compile the replay a second time.
    """
    kinds = [np.int64, np.int64, *[np.float64] * (len(stream) - 2)]
    return type(stream)(*(np.require(a, dtype=kind, requirements=["C", "W"]) for a, kind in zip(stream, kinds)))


class _Replay:
    """One replay's state between windows: the kernel's arrays, and the records it grows on request."""

    def __init__(self, grid: tr.Grid, rules: rec.Rules, config: EngineConfig, k: int, capacity: int) -> None:
        self.grid, self.rules, self.config = grid, rules, config
        self.book_rules = rules._replace(slippage=0.0)  # fills on the book pay the book, not a slippage rate
        self.orders = np.empty((rec.ORDER_FIELDS, capacity))
        self.trades = np.empty((rec.TRADE_FIELDS, capacity + k))
        self.fills = np.empty((tr.FILL_FIELDS, capacity))
        self.fill_times = np.empty((tr.FILL_TIME_FIELDS, capacity), dtype=np.int64)
        self.equity = np.full(grid.bar_end.shape[0], np.nan)
        self.state = np.zeros((rec.STATE_FIELDS, k))
        self.state[rec.MARK] = np.nan
        self.state[rec.PENDING] = np.nan
        self.tick = np.zeros((tr.TICK_FIELDS, k))
        self.tick[tr.WANT] = np.nan
        self.tick[tr.LAST_BAR] = -1
        self.tick[tr.PRE_MARK] = np.nan
        self.clock = np.zeros((tr.CLOCK_FIELDS, k), dtype=np.int64)
        self.scratch = np.zeros((tr.SCRATCH_FIELDS, k), dtype=np.int64)
        self.scratch[tr.FIRST_TRADE] = -1
        self.books: np.ndarray | None = None
        self.cash = np.array([float(config.init_cash)])
        self.cursor = np.zeros(tr.CURSOR_FIELDS, dtype=np.int64)
        self.seen = np.zeros(k, dtype=np.int64)

    def window(self, trades: tr.TradeStream, quotes: tr.QuoteStream, *, final: bool) -> None:
        """Replay one window (``final``: then end every bar left), growing the records as the kernel asks."""
        k = self.state.shape[1]
        if self.books is None:
            self.books = np.full((4, k, quotes.bid_px.shape[1]), np.nan)
        elif quotes.ts.shape[0] and self.books.shape[2] != quotes.bid_px.shape[1]:
            raise BacktestError(f"quotes: a window with {quotes.bid_px.shape[1]} book levels after "
                                f"{self.books.shape[2]}; every window must have the same levels")
        trules = tick_rules(self.config, has_quotes=quotes.bid_px.shape[1] > 0)
        self.cursor[tr.AT_TRADE] = self.cursor[tr.AT_QUOTE] = 0
        while replay_nb(trades, quotes, self.grid, self.rules, self.book_rules, trules, final, self.equity,
                        self.orders, self.trades, self.fills, self.fill_times, self.state, self.tick, self.clock,
                        self.books, self.scratch, self.cash, self.cursor):
            self.grow(int(self.cursor[tr.NEED]))

    def result(self) -> SimulationResult:
        """The replay's equity, records and fills once its final window is done."""
        n_orders, n_all = int(self.cursor[tr.N_ORDERS]), int(self.cursor[tr.N_ALL_TRADES])
        return SimulationResult(self.equity, orders_frame(self.orders[:, :n_orders]),
                                trades_frame(self.trades[:, :n_all]), int(self.cursor[tr.EXPOSURE]),
                                float(self.config.init_cash), self.state.shape[1],
                                fills=fills_frame(self.fills[:, :n_orders], self.fill_times[:, :n_orders]))

    def grow(self, need: int) -> None:
        """At least ``need`` order slots (twice the current, if more), keeping what is written."""
        size = max(need, 2 * self.orders.shape[1])
        k = self.state.shape[1]
        for name, extra in (("orders", 0), ("trades", k), ("fills", 0), ("fill_times", 0)):
            old = getattr(self, name)
            new = np.empty((old.shape[0], size + extra), dtype=old.dtype)
            new[:, :old.shape[1]] = old
            setattr(self, name, new)


def fills_frame(fills: np.ndarray, times: np.ndarray) -> pl.DataFrame:
    """Fill records as a typed frame: times, price, the decision quote, the slippage and shortfall against it.

    ``slippage_vs_*`` are signed fractions (positive: the fill was worse than the decision price or
    the mid at the decision); ``shortfall`` is ``units x (fill - decision price)`` in cash.
    """
    as_time = {name: pl.Series(times[row]).cast(pl.Datetime("ns", "UTC"))
               for name, row in (("decided", tr.FILL_DECIDED), ("active", tr.FILL_ACTIVE), ("ts", tr.FILL_TS))}
    return pl.DataFrame({
        "column": fills[tr.FILL_COL].astype(np.int64),
        "bar": fills[tr.FILL_BAR].astype(np.int64),
        **as_time,
        "units": fills[tr.FILL_UNITS],
        "price": fills[tr.FILL_PRICE],
        "reason": reason_names(fills[tr.FILL_REASON]),
        "decision_price": fills[tr.FILL_DECISION_PX],
        "decision_bid": fills[tr.FILL_DECISION_BID],
        "decision_ask": fills[tr.FILL_DECISION_ASK],
        "slippage_vs_decision": fills[tr.FILL_SLIP_DECISION],
        "slippage_vs_mid": fills[tr.FILL_SLIP_MID],
        "levels": fills[tr.FILL_LEVELS].astype(np.int64),
        "beyond_book": fills[tr.FILL_BEYOND],
        # implementation shortfall: what the fill cost beyond the decision price, in cash (fees apart)
        "shortfall": fills[tr.FILL_UNITS] * (fills[tr.FILL_PRICE] - fills[tr.FILL_DECISION_PX]),
    })


def execution_summary(simulation: SimulationResult) -> dict[str, float]:
    """What tick execution cost against the decisions: totals over every fill of ``simulation``.

    ``shortfall`` is the implementation shortfall in cash (fills against their decision prices,
    fees apart), ``shortfall_bps`` the same per traded value; slippage means are in bps;
    ``delay_ms`` is the median time from decision to fill.

    >>> start = np.array([0, 60, 120]) * 10**9
    >>> prices = np.array([[10.0], [11.0], [12.0]])
    >>> signal = SignalEvents.from_dense(np.array([[1.0], [np.nan], [np.nan]]))
    >>> ticks = bar_ticks(start, 60 * 10**9, prices, prices, prices, prices)
    >>> result = replay(start + 60 * 10**9, signal, [(ticks, no_quotes(0))], EngineConfig(execution="ticks"))
    >>> summary = execution_summary(result)  # bought at 11 (the next open) on a decision at 10
    >>> summary["delay_ms"], round(summary["shortfall"], 2), round(summary["shortfall_bps"], 1)
    (0.0, 909.09, 434.8)
    """
    fills = simulation.fills
    if fills is None or fills.is_empty():
        return {}
    value = (fills["units"].abs() * fills["price"]).sum()
    return {
        "fills": float(fills.height),
        "traded_value": float(value),
        "shortfall": float(fills["shortfall"].sum()),
        "shortfall_bps": float(fills["shortfall"].sum() / value * 1e4) if value else float("nan"),
        "slippage_vs_decision_bps": float(fills["slippage_vs_decision"].mean() * 1e4),
        "slippage_vs_mid_bps": float(fills["slippage_vs_mid"].fill_nan(None).mean() or float("nan")) * 1e4,
        "delay_ms": float((fills["ts"] - fills["decided"]).dt.total_microseconds().median() / 1e3),
        "beyond_book": float(fills["beyond_book"].sum()),
    }


def shortfall_by_trade(simulation: SimulationResult) -> pl.Series:
    """Each trade's implementation shortfall (cash, its fills against their decision prices), in trade order.

    A fill that starts from flat opens the column's next trade; the fills until the position is
    flat again belong to it.
    """
    fills, orders, trades = simulation.fills, simulation.orders, simulation.trades
    if fills is None or trades.is_empty():
        return pl.Series("shortfall", [], dtype=pl.Float64)
    opened = (orders["position"] - orders["size"]).abs() <= 1e-12 * orders["size"].abs()
    by_fill = pl.DataFrame({"column": orders["column"], "opens": opened, "shortfall": fills["shortfall"]})
    by_fill = by_fill.with_columns(trade=pl.col("opens").cum_sum().over("column"))
    per_trade = by_fill.group_by("column", "trade").agg(pl.col("shortfall").sum())
    numbered = trades.with_row_index("row").with_columns(
        trade=pl.col("entry_bar").rank("ordinal").over("column").cast(per_trade["trade"].dtype))
    joined = numbered.join(per_trade, on=["column", "trade"], how="left").sort("row")
    return joined["shortfall"]
