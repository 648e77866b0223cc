"""``python -m warehouse serve``: one process owns the warehouse, every other process reaches it over HTTP.

Point anything at it with ``--dsn http://127.0.0.1:8123`` (or ``$TICKHOUSE_DSN``):
``python -m warehouse status``, ``python -m backtest warehouse.dsn=...``, a notebook's
``Feed(dsn)``, clickhouse-connect, Grafana. ``--ingest redis`` runs the stream consumer in
the same process (and feeds the hot path). Binds 127.0.0.1 unless ``--host`` says otherwise,
which needs ``--token`` (or ``$TICKHOUSE_TOKEN``). Ctrl-C / SIGTERM: the consumer writes and
acknowledges its batch, then the server stops.

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_commands(parser.add_subparsers())
>>> args = parser.parse_args(["serve", "--port", "9000", "--ingest", "redis"])
>>> args.host, args.port, args.ingest, args.stream
('127.0.0.1', 9000, 'redis', 'ticks:stream')
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from warehouse.errors import WarehouseError
from warehouse.serve.security import TOKEN_ENV, check_bind, check_port_free
from warehouse.stream.cli import add_consumer_options
from warehouse.stream.sink import RunOptions

EXTRA = "pip install 'tickhouse[serve]'"


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the warehouse until interrupted."""
    try:
        import uvicorn
        from warehouse.serve.app import create_app
    except ImportError:
        raise WarehouseError(f"serve needs the serve extra: {EXTRA}") from None
    token = args.token or os.environ.get(TOKEN_ENV) or None
    check_bind(args.host, token)
    if args.pool < 1:
        raise WarehouseError(f"pool: {args.pool!r} is not an integer >= 1")
    check_port_free(args.host, args.port, what="serve")
    ingest: list[Any] = []
    app = create_app(args.dsn, token=token, read_only=args.read_only, pool=args.pool, outputs=args.outputs,
                     on_start=lambda app: _start_ingest(app, args, ingest),
                     on_stop=lambda _app: [consumer.stop() for consumer in ingest])
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving {args.dsn or 'the default warehouse'} at http://{shown}:{args.port} "
          f"(DSN for other processes; API docs at /docs{', token required' if token else ''})", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _start_ingest(app: Any, args: argparse.Namespace, started: list[Any]) -> None:
    """Open the consumer after the warehouse (so a bad warehouse fails before a message is read)."""
    if not args.ingest:
        return
    from warehouse.serve.ingest import Ingest, quotes_into

    args.broker = args.ingest
    consumer = Ingest(args, app.state.client, on_ticks=app.state.hot.on_table, on_quotes=quotes_into(app.state.hot))
    app.state.ingest = consumer
    consumer.start()
    started.append(consumer)


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``serve`` on ``python -m warehouse``."""
    serve = commands.add_parser("serve", help="own the warehouse and serve it over HTTP (ClickHouse interface, "
                                "API, hot path) so other processes can use it at the same time")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s; "
                       "another address needs --token)")
    serve.add_argument("--port", type=int, default=8123, help="TCP port (default %(default)s, ClickHouse's)")
    serve.add_argument("--token", help=f"required on every request (default ${TOKEN_ENV})")
    serve.add_argument("--read-only", action="store_true", help="refuse inserts, DDL and other changes")
    serve.add_argument("--pool", type=int, default=4, help="concurrent queries (default %(default)s)")
    serve.add_argument("--outputs", default="outputs", help="where backtests run from the API write (default "
                       "%(default)s)")
    serve.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    serve.add_argument("--ingest", choices=("redis", "kafka"), help="also consume this stream into the warehouse")
    serve.set_defaults(broker=None, status_every=RunOptions.status_every, run=cmd_serve)
    add_consumer_options(serve)
