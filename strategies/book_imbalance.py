"""Order-book imbalance: lean with the side of the book that holds more quantity (a strategy that reads quotes).

At each bar's close the five levels of the book in force give the depth imbalance
``(bid depth - ask depth) / (bid depth + ask depth)`` in [-1, 1] (``bars.imbalance``). Above
``enter`` the signal is long, below ``-enter`` short; once the imbalance is back inside
``exit`` it is flat; between the two the position is held (NaN). With ``spread_bps`` set, no
entry is taken while the spread is wider than that (the cost of crossing it).

>>> import numpy as np
>>> from types import SimpleNamespace
>>> imbalance = np.array([0.0, 0.5, 0.3, 0.05, -0.6])[:, None]
>>> book = SimpleNamespace(imbalance=imbalance, spread=np.full((5, 1), 0.01), mid=np.full((5, 1), 100.0))
>>> BookImbalance(enter=0.4, exit=0.1).signals(book)[:, 0].tolist()
[0.0, 1.0, nan, 0.0, -1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from strategies import checks
from strategies.base import Strategy, param


class BookImbalance(Strategy):
    """Depth imbalance thresholds ``exit`` < ``enter`` in (0, 1]; ``spread_bps`` 0 = no spread filter."""

    name = "book_imbalance"
    reads = "quotes"
    enter = param(0.3, min=0, max=1)
    exit = param(0.1, min=0, max=1)
    spread_bps = param(0.0, min=0)

    def check(self) -> None:
        checks.ordered("exit", self.exit, "enter", self.enter)

    def signals(self, bars: Any) -> np.ndarray:
        """+1 / -1 beyond ``enter``, 0 inside ``exit``, NaN between (and where the book is unknown)."""
        imbalance = bars.imbalance
        signal = np.full(imbalance.shape, np.nan)
        signal[np.abs(imbalance) < self.exit] = 0.0
        entry_ok = True
        if self.spread_bps > 0:
            with np.errstate(invalid="ignore"):
                entry_ok = bars.spread <= bars.mid * self.spread_bps / 1e4
        signal[(imbalance > self.enter) & entry_ok] = 1.0
        signal[(imbalance < -self.enter) & entry_ok] = -1.0
        return signal
