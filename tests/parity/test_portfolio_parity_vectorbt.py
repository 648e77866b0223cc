"""Several symbols, one cash pool, results independent of the symbols' order (issue 16 item 6).

Target weights: 5 symbols rebalanced to random weights every 20 bars (0.1% fees, fills at the
close) equal vectorbt's ``Portfolio.from_orders(size_type="targetpercent", group_by=True,
cash_sharing=True, call_seq="auto")`` order for order and on every bar. Every order of a fill time
is sized on one equity figure (weights: before any of them; direction entries: after the
reductions), reductions fill first, so permuting the symbols permutes the orders and changes no
number (direction signals with ``size=1/5``, signal strengths under ``signal_weight`` and weights alike).

``allocation=signal_weight`` equals ``targetpercent`` too where the two can say the same thing: the
entries of a fill time get ``size x |s| / S`` of the equity (S over every signal of that time),
vectorbt's targets being that over ``1 + fee rate`` (our fees come out of the budget, vectorbt's on top).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

vbt = pytest.importorskip("vectorbt")
import backtest  # noqa: E402
import strategies  # noqa: E402
from backtest.feed import BarArrays  # noqa: E402
from support.data import geometric_walk  # noqa: E402

N, K = 600, 5
RNG = np.random.default_rng(11)
CLOSE = geometric_walk(RNG, (N, K), 0.01)
INDEX = (np.datetime64("2024-01-01") + np.arange(N) * np.timedelta64(1, "D")).astype("datetime64[us]")
WEIGHTS = np.full((N, K), np.nan)
WEIGHTS[::20] = RNG.dirichlet(np.ones(K), N // 20 + (N % 20 > 0)) * 0.95
WEIGHTS[::20][RNG.random((len(WEIGHTS[::20]), K)) < 0.2] = 0.0  # some symbols sold out at a rebalance
SIGNALS = RNG.choice([1.0, -1.0, 0.0, np.nan], size=(N, K), p=[0.03, 0.03, 0.02, 0.92])
STRENGTHS = SIGNALS * np.random.default_rng(12).choice([0.25, 0.5, 1.0, 2.0], size=(N, K))
RULES = dict(init_cash=10_000, fill="close", fees_bps=10, close_at_end=False)


class Given(strategies.Strategy):
    """Returns the arrays it was made for (weights or signals), columns in the bars' order."""

    def __init__(self, values: np.ndarray, weights: bool) -> None:
        super().__init__()
        self.array, self.use_weights = values, weights

    def uses_weights(self) -> bool:
        return self.use_weights

    def weights(self, bars):
        return self.array

    def signals(self, bars):
        return self.array


def _run(values: np.ndarray, order: list[int], weights: bool, **rules):
    bars = BarArrays(INDEX, tuple(f"S{j}" for j in order), *(CLOSE[:, order],) * 4, np.ones((N, K)))
    return backtest.run(Given(values[:, order], weights), bars, **{**RULES, **rules})


def test_target_weights_equal_vectorbt_targetpercent_with_cash_sharing():
    ours = _run(WEIGHTS, list(range(K)), weights=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pf = vbt.Portfolio.from_orders(pd.DataFrame(CLOSE), size=pd.DataFrame(WEIGHTS), size_type="targetpercent",
                                       group_by=True, cash_sharing=True, call_seq="auto", fees=0.001, init_cash=10_000)
    np.testing.assert_allclose(ours.equity["equity"].to_numpy(), pf.value().to_numpy(), rtol=1e-9)
    assert ours.stats["final_equity"] == pytest.approx(pf.final_value(), rel=1e-9)
    theirs = pd.DataFrame(pf.orders.records).sort_values(["idx", "col"])
    mine = ours.simulation.orders.sort(["bar", "column"])
    assert mine.height == len(theirs) > 100
    np.testing.assert_array_equal(mine["bar"].to_numpy(), theirs["idx"].to_numpy())
    np.testing.assert_array_equal(mine["column"].to_numpy(), theirs["col"].to_numpy())
    signed = np.where(theirs["side"].to_numpy() == 0, 1.0, -1.0) * theirs["size"].to_numpy()
    np.testing.assert_allclose(mine["size"].to_numpy(), signed, rtol=1e-9)
    np.testing.assert_allclose(mine["fees"].to_numpy(), theirs["fees"].to_numpy(), rtol=1e-9)


@pytest.mark.parametrize("values, weights, rules", [
    (WEIGHTS, True, {}), (SIGNALS, False, {"size": 0.2}), (SIGNALS, False, {"size": 0.2, "fill": "next_open"}),
    (STRENGTHS, False, {"size": 0.2, "allocation": "signal_weight"}),
    (STRENGTHS, False, {"size": 0.2, "allocation": "signal_weight", "fill": "next_open"}),
])
def test_permuting_the_symbols_changes_no_number(values, weights, rules):
    base = _run(values, list(range(K)), weights, **rules)
    assert base.simulation.orders.height > 100
    for seed in range(4):
        order = list(np.random.default_rng(seed).permutation(K))
        other = _run(values, order, weights, **rules)
        np.testing.assert_allclose(other.equity["equity"].to_numpy(), base.equity["equity"].to_numpy(), rtol=1e-12)
        for name in ("trades", "orders"):
            mine = getattr(other.simulation, name).with_columns(
                column=np.asarray(order)[getattr(other.simulation, name)["column"].to_numpy()])
            theirs = getattr(base.simulation, name)
            keys = ["column", "bar"] if name == "orders" else ["column", "entry_bar"]
            mine, theirs = mine.sort(keys, maintain_order=True), theirs.sort(keys, maintain_order=True)
            assert mine.height == theirs.height
            for column in ("size", "fees", "pnl") if name == "trades" else ("size", "fees", "price"):
                np.testing.assert_allclose(mine[column].to_numpy(), theirs[column].to_numpy(), rtol=1e-9)


def _strength_cycles(rng: np.random.Generator, size: float, fee: float) -> tuple[np.ndarray, np.ndarray]:
    """Signal strengths entering every 40 bars and exits 20 bars later, and vectorbt's targets for the same orders.

    At an entry bar a flat symbol may enter (either side) and a holding one may signal its side again
    (it counts in the sum S and is not resized); exits fall on other bars, so the equity sizing the
    entries is vectorbt's value before the bar's orders.
    """
    signals, targets = np.full((N, K), np.nan), np.full((N, K), np.nan)
    held = np.zeros(K)
    for t in range(0, N, 40):
        strength = rng.choice([0.25, 0.5, 1.0, 2.0], K)
        side = np.where(held != 0, held * (rng.random(K) < 0.5), rng.choice([1.0, -1.0], K) * (rng.random(K) < 0.8))
        signals[t] = np.where(side != 0, side * strength, np.nan)
        total = np.nansum(np.abs(signals[t]))
        entering = (held == 0) & (side != 0)
        targets[t, entering] = signals[t, entering] / total * size / (1 + fee)
        held[entering] = side[entering]
        if t + 20 < N:
            out = (held != 0) & (rng.random(K) < 0.6)
            signals[t + 20, out] = targets[t + 20, out] = 0.0
            held[out] = 0.0
    return signals, targets


def test_signal_weight_equals_vectorbt_targetpercent_of_the_strength_shares():
    # size 0.2 of the equity per fill time over five symbols: buying power never caps an entry (vectorbt has no cap)
    signals, targets = _strength_cycles(np.random.default_rng(3), size=0.2, fee=0.001)
    ours = _run(signals, list(range(K)), weights=False, allocation="signal_weight", size=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pf = vbt.Portfolio.from_orders(pd.DataFrame(CLOSE), size=pd.DataFrame(targets), size_type="targetpercent",
                                       group_by=True, cash_sharing=True, call_seq="auto", fees=0.001, init_cash=10_000)
    np.testing.assert_allclose(ours.equity["equity"].to_numpy(), pf.value().to_numpy(), rtol=1e-9)
    theirs = pd.DataFrame(pf.orders.records).sort_values(["idx", "col"])
    mine = ours.simulation.orders.sort(["bar", "column"])
    assert mine.height == len(theirs) > 40 and (mine["size"] < 0).any()
    signed = np.where(theirs["side"].to_numpy() == 0, 1.0, -1.0) * theirs["size"].to_numpy()
    np.testing.assert_allclose(mine["size"].to_numpy(), signed, rtol=1e-9)
    np.testing.assert_allclose(mine["fees"].to_numpy(), theirs["fees"].to_numpy(), rtol=1e-9)
