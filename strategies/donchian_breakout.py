"""Donchian breakout: enter on a close beyond the previous ``window`` bars' channel, exit on the
opposite side of the shorter ``exit_window`` channel (the turtle rules without sizing).

The channels use the highs and lows of the bars *before* the current one, so
a close can break them. A long is entered when the close rises above the
highest high of the previous ``window`` bars and exited when it falls below
the lowest low of the previous ``exit_window`` bars; shorts mirror it. An
entry signal on the other side reverses. The kernel tracks the position its
own signals imply, so an exit is only signalled for a position it entered
(an engine stop that closed the trade earlier is not re-signalled).

>>> import numpy as np
>>> from types import SimpleNamespace
>>> close = np.array([10.0, 11, 10, 12, 11, 10, 9, 8, 7, 6, 9, 10])[:, None]
>>> bars = SimpleNamespace(close=close, high=close, low=close)
>>> DonchianBreakout(window=3, exit_window=2).signals(bars)[:, 0].tolist()
[nan, nan, nan, 1.0, nan, 0.0, -1.0, nan, nan, nan, 1.0, nan]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from strategies.base import Strategy, param


@njit(cache=True, nogil=True)
def channel_signal_nb(close: np.ndarray, entry_high: np.ndarray, entry_low: np.ndarray, exit_high: np.ndarray,
                      exit_low: np.ndarray) -> np.ndarray:
    """Entry/exit signals from rolling channels; bar t compares its close with the channels at t-1.

    Returns +1 (enter long), -1 (enter short), 0 (exit) on the bars where the
    implied position changes, NaN elsewhere.
    """
    n, k = close.shape
    out = np.full((n, k), np.nan)
    for j in range(k):
        position = 0
        for t in range(1, n):
            c = close[t, j]
            if c > entry_high[t - 1, j] and position != 1:
                position = 1
                out[t, j] = 1.0
            elif c < entry_low[t - 1, j] and position != -1:
                position = -1
                out[t, j] = -1.0
            elif (position == 1 and c < exit_low[t - 1, j]) or (position == -1 and c > exit_high[t - 1, j]):
                position = 0
                out[t, j] = 0.0
    return out


class DonchianBreakout(Strategy):
    """Entry channel ``window`` and exit channel ``exit_window`` in bars."""

    name = "donchian_breakout"
    window = param(20, min=1)
    exit_window = param(10, min=1)

    def signals(self, bars: Any) -> np.ndarray:
        """+1 / -1 on channel breakouts, 0 on exits, NaN elsewhere."""
        entry = self.ind.donchian(bars.high, bars.low, self.window)
        exit_ = self.ind.donchian(bars.high, bars.low, self.exit_window)
        return channel_signal_nb(bars.close, entry.upper, entry.lower, exit_.upper, exit_.lower)
