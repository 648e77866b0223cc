"""``/api`` backtests, runs and the scan-vs-rollup benchmark of ``serve``.

``POST /api/backtests`` starts ``python -m backtest +strategy=NAME`` in a child process
whose DSN is this server (so it reads the warehouse while everything else goes on), with
the Hydra overrides given (``data.*``, ``engine.*``, ``strategy.*`` keys only; each one
checked, passed as an argument list, never through a shell). ``GET /api/backtests/{id}``
says how it went; ``GET /api/runs`` lists every run folder under the outputs directory
with its report, served at ``/runs/<folder>/report.html``.

``POST /api/benchmark`` reads the same windows of a symbol raw (``ticks_dedup``) and from the
rollup (``bars_1m``), with rows read and milliseconds, and appends the rows to
``<outputs>/bench/benchmark.csv``; ``GET /api/benchmark`` returns that file's rows.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from warehouse.bench.scan_vs_rollup import check_runs, pick_windows, run_queries, write_csv
from warehouse.errors import WarehouseError
from warehouse.serve.security import presented

router = APIRouter(prefix="/api", tags=["backtests"])

STRATEGY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$")
OVERRIDE = re.compile(r"^(data|engine|strategy)\.[A-Za-z_][A-Za-z0-9_.]{0,99}=[A-Za-z0-9_.,:+\-\[\]/ ]{0,200}$")
RUNS_LISTED = 100
BACKTEST_TIMEOUT_S = 3600


class BacktestRequest(BaseModel):
    """A backtest to start: a strategy's short name and Hydra overrides."""

    strategy: str = Field(examples=["sma_cross"])
    overrides: list[str] = Field(default_factory=list, max_length=50,
                                 examples=[["data.symbols=[AAPL]", "engine.fees_bps=1"]])


class BenchmarkRequest(BaseModel):
    """The symbol whose windows are read raw and from the rollup, and how many times each."""

    symbol: str = Field(min_length=1, max_length=64, examples=["SPY"])
    runs: int = Field(default=3, ge=1, le=50)


@dataclass
class Backtest:
    """One backtest started from the API."""

    id: str
    command: list[str]
    folder: str
    state: str = "running"  # running, done, failed
    exit_code: int | None = None
    started: float = field(default_factory=time.time)
    seconds: float | None = None
    output_tail: str = ""
    report: str | None = None


def check_backtest(body: BacktestRequest) -> None:
    """400 naming the first bad field.

    >>> check_backtest(BacktestRequest(strategy="sma_cross", overrides=["hydra.run.dir=/etc"]))
    Traceback (most recent call last):
    fastapi.exceptions.HTTPException: 400: overrides: 'hydra.run.dir=/etc' is not KEY=VALUE with a data., engine. or strategy. key and a plain value
    """
    if not STRATEGY.match(body.strategy):
        raise HTTPException(400, f"strategy: {body.strategy!r} is not a strategy name (e.g. sma_cross)")
    for override in body.overrides:
        if not OVERRIDE.match(override):
            raise HTTPException(400, f"overrides: {override!r} is not KEY=VALUE with a data., engine. or strategy. "
                                     f"key and a plain value")


@router.post("/backtests", status_code=202)
def start_backtest(request: Request, body: BacktestRequest) -> dict[str, Any]:
    """Start a backtest against this server's warehouse; poll ``GET /api/backtests/{id}``."""
    check_backtest(body)
    run_id = uuid.uuid4().hex[:12]
    outputs: Path = request.app.state.outputs
    folder = outputs / "runs" / "api" / run_id
    command = [sys.executable, "-m", "backtest", f"+strategy={body.strategy}", *body.overrides,
               f"warehouse.dsn={_self_dsn(request)}", f"hydra.run.dir={folder}"]
    backtest = Backtest(run_id, command[:-2], str(folder.relative_to(outputs / "runs")))
    _backtests(request)[run_id] = backtest
    threading.Thread(target=_run, args=(backtest, command, outputs), name=f"backtest {run_id}", daemon=True).start()
    return asdict(backtest)


@router.get("/backtests/{run_id}")
def backtest_state(request: Request, run_id: str) -> dict[str, Any]:
    """How a backtest started from the API went: state, exit code, output tail, report link."""
    backtest = _backtests(request).get(run_id)
    if backtest is None:
        raise HTTPException(404, f"run_id: {run_id!r} is no backtest started by this server")
    return asdict(backtest)


@router.get("/runs")
def runs(request: Request) -> list[dict[str, Any]]:
    """Run folders under the outputs directory with a report, newest first (the last 100)."""
    root = request.app.state.outputs / "runs"
    reports = sorted(root.glob("**/report.html"), key=lambda p: p.stat().st_mtime, reverse=True)[:RUNS_LISTED]
    listed = []
    for report in reports:
        folder = report.parent.relative_to(root).as_posix()
        listed.append({"folder": folder, "report": f"/runs/{folder}/report.html",
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(report.stat().st_mtime)),
                       "files": sorted(p.name for p in report.parent.iterdir() if p.suffix in (".csv", ".html"))})
    return listed


@router.post("/benchmark")
def benchmark(request: Request, body: BenchmarkRequest) -> list[dict[str, Any]]:
    """Read one symbol's windows raw and from the rollup; append the timings to benchmark.csv and return them."""
    client = request.app.state.reader
    try:
        check_runs(body.runs)
        rows = run_queries(client, pick_windows(client, body.symbol), body.runs)
    except WarehouseError as exc:
        raise HTTPException(404 if "has no bars" in str(exc) else 400, str(exc)) from None
    write_csv(rows, request.app.state.outputs / "bench" / "benchmark.csv", append=True)
    return [asdict(row) for row in rows]


@router.get("/benchmark")
def benchmark_rows(request: Request) -> list[dict[str, str]]:
    """The rows of ``<outputs>/bench/benchmark.csv`` (empty before the first benchmark)."""
    path = request.app.state.outputs / "bench" / "benchmark.csv"
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _backtests(request: Request) -> dict[str, Backtest]:
    return request.app.state.backtests


def _self_dsn(request: Request) -> str:
    """This server as a DSN, with the token the request carried (a child must pass the same gate)."""
    base = request.base_url
    token = presented({k.lower().encode(): v.encode() for k, v in request.headers.items()},
                      request.url.query.encode())
    credentials = f"default:{token}@" if token else ""
    return f"{base.scheme}://{credentials}{base.hostname}:{base.port}"


def _run(backtest: Backtest, command: list[str], outputs: Path) -> None:
    try:
        done = subprocess.run(command, cwd=outputs.parent, capture_output=True, text=True,
                              timeout=BACKTEST_TIMEOUT_S)
        backtest.exit_code = done.returncode
        backtest.output_tail = (done.stdout + done.stderr)[-4000:]
    except subprocess.TimeoutExpired:
        backtest.exit_code, backtest.output_tail = -1, f"stopped after {BACKTEST_TIMEOUT_S} s"
    backtest.seconds = round(time.time() - backtest.started, 2)
    report = outputs / "runs" / backtest.folder / "report.html"
    backtest.report = f"/runs/{backtest.folder}/report.html" if report.exists() else None
    backtest.state = "done" if backtest.exit_code == 0 else "failed"
