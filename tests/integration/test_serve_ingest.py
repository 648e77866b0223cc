"""Issue K's walkthrough with real processes: ``serve --ingest redis`` consumes a live Redis stream while a
backtest, ``warehouse status`` and a notebook read through it; afterwards the warehouse holds exactly the
produced ticks and bars, and the hot path agrees with the warehouse."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from datetime import datetime

import httpx
import nbformat
import polars as pl
import pytest
from nbclient import NotebookClient

from support.brokers import REPO, redis_server, run_cli, start_cli, wait_for
from support.serve import serve_process
from support.stream_checks import assert_exact, produced, spec_of

TICKS = 400_000
RATE = 25_000  # messages per second: the stream runs for ~16 s while the readers work


@pytest.fixture()
def redis_url():
    with redis_server() as url:
        yield url


def _ingested(url: str) -> int:
    return httpx.get(f"{url}/api/ingest", timeout=10).json()["messages"]


def test_readers_share_the_warehouse_while_ticks_stream_in(redis_url, tmp_path, monkeypatch):
    dsn = f"chdb://{tmp_path / 'warehouse'}"
    with serve_process(dsn, "--ingest", "redis", "--url", redis_url, "--batch", "20000", "--linger", "0.2",
                       outputs=tmp_path / "outputs") as url:
        producer = start_cli(url, "produce", "redis", "--url", redis_url, "--ticks", str(TICKS), "--rate", str(RATE),
                             "--bad", "0.001")
        wait_for(lambda: _ingested(url) >= 60_000, 60, "the first ticks to be written")

        backtest = subprocess.Popen([sys.executable, "-m", "backtest", "+strategy=sma_cross", f"warehouse.dsn={url}",
                                     "data.symbols=[AAPL]", "data.start=2024-01-02", "data.end=2024-01-03",
                                     f"hydra.run.dir={tmp_path / 'run'}"],
                                    cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        statuses: list[subprocess.CompletedProcess] = []
        status_loop = threading.Thread(target=lambda: statuses.extend(run_cli(url, "status") for _ in range(3)))
        status_loop.start()
        seen = [_ingested(url)]
        monkeypatch.setenv("TICKHOUSE_DSN", url)  # the notebook's kernel reads through serve
        notebook = nbformat.read(REPO / "notebooks" / "feed_tour.ipynb", as_version=4)
        NotebookClient(notebook, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        seen.append(_ingested(url))
        output = backtest.communicate(timeout=180)[0]
        status_loop.join(timeout=180)

        assert backtest.returncode == 0, output
        assert (tmp_path / "run" / "report.html").exists()
        assert len(statuses) == 3 and all(s.returncode in (0, 1) and "ticks" in s.stdout for s in statuses), \
            [s.stderr for s in statuses]  # exit 1 = bars check found a batch mid-write; the last check is below
        errors = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
                  if out.output_type == "error"]
        assert not errors
        assert seen[1] > seen[0], "the stream was not being written while the notebook read"

        published = producer.communicate(timeout=120)[0]
        messages = int(re.search(r"published ([\d,]+) messages", published).group(1).replace(",", ""))
        wait_for(lambda: _ingested(url) == messages, 120, "every published message to be written")
        final = run_cli(url, "status")
        assert final.returncode == 0 and "bars check: bars_1m equals ticks_dedup" in final.stdout, final.stdout

        ticks, bad = produced(spec_of(TICKS), 0.001)
        assert_exact(url, ticks)  # 0 lost, 0 doubled; bars exact
        assert httpx.get(f"{url}/api/ingest").json()["rejects"] == len(bad)

        hot = httpx.get(f"{url}/state/AAPL", params={"window_s": 60}).json()
        aapl = ticks.filter(symbol="AAPL")
        last = aapl.filter(pl.col("ts") == aapl["ts"].max())
        assert hot["last_trade"]["price"] in last["price"].to_list()  # the last trade (any of its versions)
        window = hot["window"]
        start, end = (datetime.fromisoformat(window[k].replace("Z", "+00:00")) for k in ("start", "end"))
        in_window = aapl.filter((pl.col("ts") >= start) & (pl.col("ts") < end)).unique(["ts", "trade_id"])
        assert window["trades"] == in_window.height > 0  # the same trades as the warehouse, redeliveries once
