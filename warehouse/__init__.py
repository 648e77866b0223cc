"""The only package that speaks SQL to ClickHouse; it knows nothing of strategies, the engine or reports.

* :mod:`warehouse.client`: one clickhouse-connect client for an embedded (``chdb://``) or
  server (``http(s)://``) DSN; :mod:`warehouse.errors`: the one-line errors;
* :mod:`warehouse.schema`: tables, rollups and versioned migrations;
* :mod:`warehouse.ingest`: file and vendor loaders, validation, the exact-bars writer;
* :mod:`warehouse.stream`: Kafka and Redis consumers, decoding, the producer;
* :mod:`warehouse.demo`: seeded synthetic ticks; :mod:`warehouse.bench`: the scan vs rollup benchmark;
* :mod:`warehouse.feed_sql`: the queries behind ``backtest.feed``; :mod:`warehouse.status`:
  what a warehouse holds;
* ``python -m warehouse`` (:mod:`warehouse.cli`): init, load, stream, status, bench.
"""
