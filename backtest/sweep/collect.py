"""Where a sweep's rows go as its chunks finish: a Parquet file, a bounded ranking, heatmap cells, refused sets.

Memory stays O(chunk) whatever the number of sets: each chunk's rows
(``param_<name>`` columns, then every statistic) are appended to
``sweep.parquet`` (in evaluation order, row groups of :data:`ROW_GROUP`)
and folded into

* the ranking: the best :data:`RANKED_ROWS` rows by ``sweep.metric`` (NaN
  last, ties in evaluation order) -- every row for a sweep that size or smaller;
* the heatmap cells over the first two swept parameters (best metric, sets per
  cell); above :data:`RANKED_ROWS` sets an axis of more than :data:`HEAT_AXIS`
  values is cut into :data:`HEAT_AXIS` bins, each named by its first value;
* the refused sets: all counted, the first :data:`RANKED_ROWS` kept with their reason.

>>> import numpy as np
>>> from backtest.stats import STAT_NAMES
>>> from backtest.sweep.spec import Dimension, ParamSpace, SweepSpec
>>> spec = SweepSpec(params={"fast": "2,3", "slow": "5"}, metric="trades")
>>> rows = Rows(ParamSpace.parse(spec.params, "sma_cross"), spec, total=2)
>>> stats = np.zeros((2, len(STAT_NAMES)))
>>> stats[:, STAT_NAMES.index("trades")] = [4, 9]
>>> rows.add([{"fast": 2, "slow": 5}, {"fast": 3, "slow": 5}], stats, [])
>>> rows.ranked().select("rank", "param_fast", "trades").rows()
[(1, 3, 9), (2, 2, 4)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from backtest.stats import STAT_NAMES
from backtest.sweep.spec import Dimension, ParamSpace, SweepSpec

PARAM_PREFIX = "param_"
RANKED_ROWS = 100_000  # rows ranked in memory (sweep.csv); all rows are in sweep.parquet
HEAT_AXIS = 100  # heatmap bins per axis once a sweep has more than RANKED_ROWS sets
ROW_GROUP = 65_536  # rows per Parquet row group
_INT_STATS = ("trades", "max_drawdown_bars")


class Rows:
    """The rows of one sweep, added chunk by chunk (:meth:`add`); ``parquet``: the file every row goes to."""

    def __init__(self, space: ParamSpace, spec: SweepSpec, *, total: int, parquet: str | Path | None = None) -> None:
        self.space, self.spec = space, spec
        self.names = [PARAM_PREFIX + n for n in space.names]
        self.schema = {PARAM_PREFIX + d.name: pl.Float64 if d.interval else pl.Series(d.values, strict=False).dtype
                       for d in space.dimensions}
        self.evaluated = self.skipped = 0
        self.invalid: list[dict[str, Any]] = []
        self._top: list[pl.DataFrame] = []
        self._cells: list[pl.DataFrame] = []
        self._bins = [_bins(d) for d in space.dimensions[:2]] if total > RANKED_ROWS else []
        self._pending: list[pl.DataFrame] = []
        self.path = Path(parquet) if parquet is not None else None
        self._writer: pq.ParquetWriter | None = None

    def add(self, values: Sequence[Mapping[str, Any]], stats: np.ndarray,
            invalid: Sequence[tuple[Mapping[str, Any], str]]) -> None:
        """One chunk: the valid sets' ``values`` and ``stats`` rows, and the sets refused with their reason."""
        self.skipped += len(invalid)
        room = RANKED_ROWS - len(self.invalid)
        self.invalid += [{**{PARAM_PREFIX + k: v for k, v in combo.items()}, "reason": reason}
                         for combo, reason in invalid[:room]]
        if not len(values):
            return
        columns: dict[str, Any] = {c: pl.Series(c, [v[n] for v in values], dtype=self.schema[c], strict=False)
                                   for c, n in zip(self.names, self.space.names)}
        for i, name in enumerate(STAT_NAMES):
            columns[name] = stats[:, i].astype(np.int64) if name in _INT_STATS else stats[:, i]
        frame = pl.DataFrame(columns)
        first = self.evaluated
        self.evaluated += frame.height
        if self.path is not None:
            self._write(frame)
        self._top.append(frame.with_columns(pl.col(self.spec.metric).fill_nan(None).alias("_key"),
                                            pl.int_range(first, self.evaluated).alias("_seq")))
        if sum(f.height for f in self._top) >= 2 * RANKED_ROWS:
            self._top = [self._rank()]
        if len(self.names) >= 2:
            self._cells.append(self._cell_frame(frame))
            if sum(f.height for f in self._cells) >= 2 * RANKED_ROWS:
                self._cells = [self._merge_cells(self._cells)]

    def ranked(self) -> pl.DataFrame:
        """The best rows, best first, with ``rank`` in front (all rows up to :data:`RANKED_ROWS`)."""
        top = self._rank()
        return top.drop("_key", "_seq").with_columns(pl.Series("rank", range(1, top.height + 1))).select(
            "rank", pl.exclude("rank"))

    def heatmap(self) -> pl.DataFrame:
        """``param_<x>``, ``param_<y>``, best ``<metric>``, ``sets``; empty with fewer than two swept parameters."""
        if len(self.names) < 2:
            return pl.DataFrame()
        if not self._cells:
            return pl.DataFrame(schema={**{c: self.schema[c] for c in self.names[:2]}, self.spec.metric: pl.Float64,
                                        "sets": pl.UInt32})
        return self._merge_cells(self._cells).sort(self.names[:2])

    def invalid_frame(self) -> pl.DataFrame:
        """The refused sets kept (``param_<name>`` and ``reason``)."""
        return pl.DataFrame(self.invalid, schema=None if self.invalid else [*self.names, "reason"])

    def close(self) -> None:
        """Write what is pending and close the Parquet file (an empty one when no set was valid)."""
        if self.path is not None:
            if self._writer is None or self._pending:
                self._flush(force=True)
            if self._writer is not None:
                self._writer.close()

    def _write(self, frame: pl.DataFrame) -> None:
        self._pending.append(frame)
        self._flush(force=False)

    def _flush(self, *, force: bool) -> None:
        if not force and sum(f.height for f in self._pending) < ROW_GROUP:
            return
        table = (pl.concat(self._pending) if self._pending else self._empty()).to_arrow()
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table.cast(self._writer.schema))
        self._pending = []

    def _empty(self) -> pl.DataFrame:
        stats = {n: pl.Int64 if n in _INT_STATS else pl.Float64 for n in STAT_NAMES}
        return pl.DataFrame(schema={**self.schema, **stats})

    def _rank(self) -> pl.DataFrame:
        frame = pl.concat(self._top) if self._top else self._empty().with_columns(
            pl.lit(None, pl.Float64).alias("_key"), pl.lit(0, pl.Int64).alias("_seq"))
        return frame.sort(["_key", "_seq"], descending=[self.spec.descending, False], nulls_last=True).head(
            RANKED_ROWS)

    def _cell_frame(self, frame: pl.DataFrame) -> pl.DataFrame:
        x, y = self.names[:2]
        keys = [e.alias(c) for e, c in zip(self._bins, (x, y))] if self._bins else [pl.col(x), pl.col(y)]
        value = pl.col(self.spec.metric).fill_nan(None)
        return frame.group_by(keys).agg(value.max() if self.spec.descending else value.min(), pl.len().alias("sets"))

    def _merge_cells(self, cells: list[pl.DataFrame]) -> pl.DataFrame:
        value = pl.col(self.spec.metric)
        return pl.concat(cells).group_by(self.names[:2]).agg(value.max() if self.spec.descending else value.min(),
                                                             pl.col("sets").sum())


def _bins(dimension: Dimension) -> pl.Expr:
    """The heatmap label of each value of ``dimension``: itself, or the first value of its bin."""
    column = pl.col(PARAM_PREFIX + dimension.name)
    if dimension.interval:
        low, high = dimension.interval
        width = (high - low) / HEAT_AXIS
        return low + ((column - low) / width).floor() * width
    values = dimension.values
    if len(values) <= HEAT_AXIS:
        return column
    step = math.ceil(len(values) / HEAT_AXIS)
    return column.replace_strict(list(values), [values[i // step * step] for i in range(len(values))])
