"""``python -m warehouse dashboard``: check that serve's API answers, then run the Streamlit app on it.

``--api`` is the serve to show (default ``$TICKHOUSE_API`` or http://127.0.0.1:8123), ``--token`` its
token (default ``$TICKHOUSE_TOKEN``; handed to the app in the environment, not on its command line).
Streamlit runs headless (it prints the address to open), binds 127.0.0.1 (``--host`` may name another
loopback address only: Streamlit has no login), and sends no usage statistics. An API that does not answer, refuses the token or is not
a tickhouse serve is one line, ``error: api: ...``, exit 2, before Streamlit starts.

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_commands(parser.add_subparsers())
>>> args = parser.parse_args(["dashboard", "--api", "http://127.0.0.1:9000", "--port", "8600"])
>>> args.api, args.port, args.host
('http://127.0.0.1:9000', 8600, '127.0.0.1')
>>> streamlit_command(args)[3:6]
['run', '.../warehouse/dashboard/app.py', '--server.headless=true']
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from warehouse.dashboard import API_ENV, DEFAULT_API, TOKEN_ENV
from warehouse.errors import WarehouseError
from warehouse.serve.security import check_port_free, is_loopback

APP = Path(__file__).with_name("app.py")
EXTRA = "pip install 'tickhouse[dashboard]'"
CHECK_TIMEOUT_S = 10.0


def streamlit_command(args: argparse.Namespace) -> list[str]:
    """The ``streamlit run`` command line for ``args`` (the token stays out of it)."""
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless=true",
            f"--server.address={args.host}", f"--server.port={args.port}", "--browser.gatherUsageStats=false",
            "--client.toolbarMode=minimal",
            "--", "--api", args.api]


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Check the API, then replace this process with ``streamlit run`` (Ctrl-C stops it)."""
    try:
        importlib.import_module("streamlit")  # run by the command below: say now if it is missing
        from warehouse.dashboard.client import Api, ApiError
    except ImportError as exc:
        raise WarehouseError(f"dashboard needs Streamlit and httpx ({exc.name} is missing): {EXTRA}") from None

    if not is_loopback(args.host):
        raise WarehouseError(f"host: {args.host!r} is not a loopback address, and the dashboard has no login of "
                             f"its own; reach it through an SSH tunnel or a proxy that authenticates")
    token = args.token or os.environ.get(TOKEN_ENV) or None
    try:
        with Api(args.api, token=token, timeout=CHECK_TIMEOUT_S) as api:
            api.status()
            args.api = api.url
    except ApiError as exc:
        raise WarehouseError(str(exc)) from None
    check_port_free(args.host, args.port, what="a dashboard")
    env = {**os.environ, TOKEN_ENV: token} if token else dict(os.environ)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"dashboard of {args.api} at http://{shown}:{args.port}", flush=True)
    command = streamlit_command(args)
    os.execve(command[0], command, env)
    return 0  # not reached: execve replaces this process


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``dashboard`` on ``python -m warehouse``."""
    dashboard = commands.add_parser("dashboard", help="a Streamlit dashboard over python -m warehouse serve "
                                    "(ingest, rejects, candles, book, benchmark, backtests)")
    dashboard.add_argument("--api", default=os.environ.get(API_ENV, DEFAULT_API),
                           help=f"serve's URL (default ${API_ENV} or {DEFAULT_API})")
    dashboard.add_argument("--token", help=f"serve's token, if it runs with one (default ${TOKEN_ENV})")
    dashboard.add_argument("--host", default="127.0.0.1", help="address the dashboard binds (default %(default)s)")
    dashboard.add_argument("--port", type=int, default=8501, help="the dashboard's port (default %(default)s)")
    dashboard.set_defaults(run=cmd_dashboard)
