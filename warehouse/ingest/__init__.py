"""Getting ticks and bars in: file loaders (:mod:`~warehouse.ingest.files`, Parquet/CSV/Arrow/polars),
vendor bars (:mod:`~warehouse.ingest.ohlcv`), validation with rejects (:mod:`~warehouse.ingest.validate`),
the writer that keeps bars exact under redeliveries and corrections (:mod:`~warehouse.ingest.writer`,
its numba :mod:`~warehouse.ingest.kernels`) and exact rebuilds of ``bars_1m`` (:mod:`~warehouse.ingest.rollup`)."""
