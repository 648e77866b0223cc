"""hftbacktest's side of ``benchmarks/tick_execution.py``: run in its own venv (``.venv-hftbacktest``).

The same events (``benchmarks/tick_events.py`` wrote them as hftbacktest's event rows) and the
same strategy: a market order each minute, alternately buy and sell, constant latency.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np

from tick_events import (BUY_EVENT, DEPTH_EVENT, EXCH_EVENT, HBT_EVENT, LATENCY_NS, LOCAL_EVENT, MINUTE_NS,
                         SELL_EVENT, T0_NS, TICK, TRADE_EVENT)

def _peer_strategy():
    from hftbacktest import GTC, MARKET
    from numba import njit

    @njit
    def strategy(hbt, n_orders, fill_ticks):
        """Woken on every event (and at each minute): a market buy at odd minutes, a sell at even ones."""
        hbt.wait_next_feed(False, 0)  # starts the clock at the first event
        k = 0
        next_minute = T0_NS + MINUTE_NS
        while True:
            timeout = next_minute - hbt.current_timestamp if k < n_orders else 1 << 60
            if hbt.wait_next_feed(False, timeout) == 1:
                break
            if k < n_orders and hbt.current_timestamp >= next_minute:
                orders = hbt.orders(0)
                if k > 0:  # the previous order filled a minute ago
                    order = orders.get(k)
                    if order is not None:
                        fill_ticks[k - 1] = order.exec_price_tick
                hbt.clear_inactive_orders(0)
                depth = hbt.depth(0)
                if k % 2 == 0:
                    hbt.submit_buy_order(0, k + 1, depth.best_ask, 1.0, GTC, MARKET, False)
                else:
                    hbt.submit_sell_order(0, k + 1, depth.best_bid, 1.0, GTC, MARKET, False)
                k += 1
                next_minute += MINUTE_NS
        if k > 0:
            order = hbt.orders(0).get(k)
            if order is not None and order.exec_qty > 0:
                fill_ticks[k - 1] = order.exec_price_tick
        return hbt.state_values(0).num_trades

    return strategy


def _peer_run(strategy, data: list[np.ndarray] | list[str], n_orders: int) -> tuple[float, int, np.ndarray]:
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest

    fill_ticks = np.full(max(n_orders, 1), -1, np.int64)
    start = time.perf_counter()
    asset = (BacktestAsset().data(data).linear_asset(1.0).constant_latency(LATENCY_NS, 0)
             .risk_adverse_queue_model().no_partial_fill_exchange().trading_value_fee_model(0.0, 0.0)
             .tick_size(TICK).lot_size(1.0).last_trades_capacity(0))
    hbt = HashMapMarketDepthBacktest([asset])
    fills = strategy(hbt, n_orders, fill_ticks)
    hbt.close()
    return time.perf_counter() - start, int(fills), fill_ticks


def child_peer(directory: Path, runs: int) -> dict:
    """hftbacktest: every chunk's rows in memory, the median of ``runs`` warm runs."""
    import hftbacktest
    from hftbacktest import types

    assert types.event_dtype == HBT_EVENT and (types.EXCH_EVENT, types.LOCAL_EVENT) == (EXCH_EVENT, LOCAL_EVENT)
    assert (types.BUY_EVENT, types.SELL_EVENT, types.DEPTH_EVENT, types.TRADE_EVENT) == (
        BUY_EVENT, SELL_EVENT, DEPTH_EVENT, TRADE_EVENT)
    meta = json.loads((directory / "meta.json").read_text())
    data = [np.load(path) for path in sorted(directory.glob("hbt_*.npy"))]
    strategy = _peer_strategy()
    warm = data[0][:50_000].copy()
    _peer_run(strategy, [warm], int((warm["exch_ts"][-1] - T0_NS) // MINUTE_NS) - 1)
    times = []
    for _ in range(runs):
        seconds, fills, ticks = _peer_run(strategy, data, meta["n_orders"])
        times.append(seconds)
    del data
    files_s, files_fills, _ = _peer_run(strategy, [str(path) for path in sorted(directory.glob("hbt_*.npy"))],
                                       meta["n_orders"])  # its own storage: .npy files, loaded as it goes
    return {"seconds": statistics.median(times), "times": times, "fills": fills, "ticks": ticks.tolist(),
            "files_s": files_s, "files_fills": files_fills, "version": hftbacktest.__version__}
