"""How far a sweep has got: a tqdm bar on a terminal, one status line every few seconds elsewhere.

The bar (sets done / total, rate, ETA) is drawn on stderr when stderr is a
terminal, as the loaders' bar is (tqdm ``disable=None``); ``bar=True`` or
``False`` forces it on or off. Where no bar is drawn (a log file, CI, a
pipe), ``every`` seconds give one line each, so a long sweep is never silent:

>>> import io
>>> stream = io.StringIO()
>>> with SweepProgress(1_000, every=0.0, stream=stream) as progress:
...     progress.advance(250)
>>> first, second = stream.getvalue().splitlines()
>>> first, second.startswith("sweep: 250 / 1,000 sets (25.0%), ")
('sweep: 0 / 1,000 sets (0.0%), 0 sets/s, ETA ?', True)
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from tqdm import tqdm


class SweepProgress:
    """Counts the sets a sweep has gone through (evaluated or refused) out of ``total``."""

    def __init__(self, total: int, *, bar: bool | None = None, every: float | None = None,
                 stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.every = every
        self.stream = stream if stream is not None else sys.stderr
        self._bar = tqdm(total=total, unit="set", desc="sweep", leave=False, file=self.stream,
                         disable=None if bar is None else not bar, smoothing=0.1)
        self._started = time.monotonic()
        self._last = self._started
        if self._bar.disable and every is not None:
            print(self.status(0.0), file=self.stream, flush=True)

    def __enter__(self) -> SweepProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._bar.close()

    def advance(self, sets: int) -> None:
        """Record ``sets`` more sets gone through; print a status line when one is due."""
        self.done += sets
        self._bar.update(sets)
        now = time.monotonic()
        if self._bar.disable and self.every is not None and now - self._last >= self.every:
            self._last = now
            print(self.status(now - self._started), file=self.stream, flush=True)

    def status(self, seconds: float) -> str:
        """``sweep: 250 / 1,000 sets (25.0%), 1,234 sets/s, ETA 00:06`` after ``seconds``.

        >>> progress = SweepProgress(1_000, bar=False)
        >>> progress.done = 250
        >>> progress.status(2.0)
        'sweep: 250 / 1,000 sets (25.0%), 125 sets/s, ETA 00:06'
        """
        rate = self.done / seconds if seconds > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta = tqdm.format_interval(left) if left == left else "?"
        return (f"sweep: {self.done:,} / {self.total:,} sets ({100 * self.done / max(self.total, 1):.1f}%), "
                f"{rate:,.0f} sets/s, ETA {eta}")
