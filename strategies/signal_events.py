"""Sparse signals: the bars where any column signals, and the signal rows at those bars.

Strategies signal rarely (a crossover every few dozen bars), so the engine
takes its signals as events rather than a dense ``(bars, columns)`` array
that is NaN almost everywhere. A strategy may produce events directly (see
:func:`strategies.signal_events`); a dense array converts with
:meth:`SignalEvents.from_dense`.

>>> import numpy as np
>>> events = SignalEvents.from_dense(np.array([[np.nan], [1.0], [np.nan], [-1.0]]))
>>> events.bars.tolist(), events.rows[:, 0].tolist(), events.n_bars
([1, 3], [1.0, -1.0], 4)
>>> events.dense()[:, 0].tolist()
[nan, 1.0, nan, -1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strategies.errors import StrategyError
from strategies.indicators.events import events_nb


@dataclass(frozen=True)
class SignalEvents:
    """``bars`` (ascending int64 bar numbers) and ``rows`` (float64, one row of column signals per bar).

    A row may hold NaN for the columns that do not signal at that bar;
    ``n_bars`` is the length of the bar axis the events belong to.
    """

    bars: np.ndarray
    rows: np.ndarray
    n_bars: int

    @classmethod
    def from_dense(cls, signal: np.ndarray) -> SignalEvents:
        """The events of a dense ``(bars, columns)`` signal array (NaN = no signal)."""
        dense = np.ascontiguousarray(signal, dtype=np.float64)
        if dense.ndim != 2:
            raise StrategyError(f"signal: expected 2 dimensions (bars, columns), got {dense.ndim}")
        bars, rows = events_nb(dense)
        return cls(bars, rows, dense.shape[0])

    @property
    def columns(self) -> int:
        """Number of columns each row holds."""
        return self.rows.shape[1]

    def dense(self) -> np.ndarray:
        """The dense ``(n_bars, columns)`` array, NaN where nothing is signalled."""
        out = np.full((self.n_bars, self.columns), np.nan)
        out[self.bars] = self.rows
        return out

    def check_shape(self, shape: tuple[int, int], source: str) -> None:
        """Raise naming ``source`` unless the events fit bars of ``shape``."""
        if (self.n_bars, self.columns) != shape:
            raise StrategyError(f"strategy: {source} returned signals of shape {(self.n_bars, self.columns)}, "
                                f"bars are {shape}")
