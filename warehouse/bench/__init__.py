"""The storage benchmark: the feed's queries on demo ticks, raw scan vs rollup, timed with what each reads
(:mod:`~warehouse.bench.scan_vs_rollup`); ``python -m warehouse bench`` (:mod:`~warehouse.bench.cli`) runs it."""
