"""The ``serve`` application: one process owns the embedded warehouse; others reach it over HTTP.

:func:`create_app` opens the warehouse (migrating it), keeps a pool of chDB connections
(:mod:`warehouse.serve.engine`) and mounts:

* ``/`` and ``/ping``: the ClickHouse HTTP interface subset (:mod:`warehouse.serve.clickhouse_http`), so
  ``http://127.0.0.1:PORT`` is a DSN for every command, ``backtest``, a notebook's ``Feed``,
  a plain clickhouse-connect client or Grafana's ClickHouse plugin;
* ``/api/...``: status, data (JSON or Arrow), backtests and reports, the scan-vs-rollup benchmark
  (:mod:`warehouse.serve.api`), documented at ``/docs``;
* ``/book/{symbol}`` and ``/state/{symbol}``: the hot path, in-memory state fed by the stream consumer
  that runs inside this process with ``--ingest`` (:mod:`warehouse.serve.hot_routes`).

>>> from fastapi.testclient import TestClient
>>> with TestClient(create_app()) as http:
...     http.post("/", content=b"SELECT 1 + {x:UInt8}", params={"param_x": "2"}).text
'3\\n'
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from warehouse.client import connect, embedded_path, read_only_connection, resolve_dsn
from warehouse.errors import WarehouseError
from warehouse.schema.migrate import migrate
from warehouse.serve import clickhouse_http, data_api, hot_routes, runs_api
from warehouse.serve.engine import Engine
from warehouse.serve.hot_routes import ServerTiming
from warehouse.serve.hot_state import HotState
from warehouse.serve.security import TokenGate

DEFAULT_PORT = 8123
DEFAULT_POOL = 4


def create_app(dsn: str | None = None, *, token: str | None = None, read_only: bool = False,
               pool: int = DEFAULT_POOL, outputs: str | Path = "outputs",
               on_start: Callable[[FastAPI], None] | None = None,
               on_stop: Callable[[FastAPI], None] | None = None) -> Any:
    """The ASGI app serving the embedded warehouse of ``dsn`` (``chdb://...``; default as everywhere).

    ``token`` guards every request (required off loopback: :func:`warehouse.serve.security.check_bind`);
    ``read_only`` runs every statement on read-only connections; ``outputs`` is where backtests run from
    the API write their run folders. ``on_start`` / ``on_stop`` run after the warehouse is open and before
    it closes (e.g. a stream consumer). Returns the app wrapped in the token gate; the FastAPI app
    itself is its ``.app``.
    """
    resolved = resolve_dsn(dsn)
    if not resolved.startswith("chdb://"):
        raise WarehouseError(f"dsn: serve owns an embedded warehouse (chdb:///abs/path or chdb://:memory:), "
                             f"not {resolved.split('@')[-1]!r}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = connect(resolved)
        migrate(client)
        app.state.client = client
        app.state.reader = read_only_connection(resolved)
        app.state.dsn = resolved
        app.state.engine = Engine(embedded_path(resolved), size=pool)
        app.state.timezone = app.state.engine.run("SELECT timezone()", fmt="TabSeparated").body.decode().strip()
        if on_start:
            on_start(app)
        try:
            yield
        finally:
            if on_stop:
                on_stop(app)
            app.state.engine.close()
            app.state.reader.close()

    app = FastAPI(title="tickhouse serve", lifespan=lifespan,
                  description="The warehouse, shared: ClickHouse HTTP interface at /, API at /api, hot path.")
    app.state.read_only = read_only
    app.state.outputs = Path(outputs).resolve()
    app.state.hot = HotState()  # fed by a stream consumer started with the app (serve --ingest)
    app.state.ingest = None
    app.state.backtests = {}
    app.add_exception_handler(WarehouseError, data_api.warehouse_errors_as_4xx)
    app.add_middleware(ServerTiming)  # Server-Timing: app;dur=<ms> on every response
    for router in (data_api.router, runs_api.router, hot_routes.router, clickhouse_http.router):
        app.include_router(router)
    runs = app.state.outputs / "runs"
    app.mount("/runs", StaticFiles(directory=runs, check_dir=False, html=True), name="runs")
    return TokenGate(app, token)
