"""notebooks/feed_tour.ipynb runs top to bottom against an embedded warehouse
holding a small demo, and shows a plot and non-empty frames."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "feed_tour.ipynb"


def test_feed_tour_runs_and_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = f"chdb://{tmp_path / 'warehouse'}"
    subprocess.run([sys.executable, "-m", "warehouse", "--dsn", dsn, "demo", "--ticks", "200k", "--no-nse"],
                   check=True, cwd=ROOT, capture_output=True, timeout=120)
    monkeypatch.setenv("TICKHOUSE_DSN", dsn)  # the kernel inherits this environment
    monkeypatch.delenv("MPLBACKEND", raising=False)  # importing streamlit (other tests) sets Agg: no inline PNGs
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "stored with outputs"
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # raises on a failing cell

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert any("image/png" in out.get("data", {}) for out in outputs)
    texts = [out["data"]["text/plain"] for out in outputs if "text/plain" in out.get("data", {})]
    shapes = [tuple(map(int, m.groups())) for text in texts for m in [re.match(r"shape: \((\d+), (\d+)\)", text)] if m]
    assert len(shapes) >= 3 and all(rows > 0 for rows, _ in shapes)  # bars, ticks, stats
    assert "['AAPL', 'MSFT', 'NVDA', 'SPY', 'TSLA']" in texts[0]


def test_strategy_tour_writes_runs_sweeps_and_reports_a_strategy(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = f"chdb://{tmp_path / 'warehouse'}"
    subprocess.run([sys.executable, "-m", "warehouse", "--dsn", dsn, "demo", "--ticks", "200k", "--symbols",
                    "AAPL,MSFT"], check=True, cwd=ROOT, capture_output=True, timeout=120)
    monkeypatch.setenv("TICKHOUSE_DSN", dsn)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = nbformat.read(ROOT / "notebooks" / "strategy_tour.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "stored with outputs"
    assert "class EmaCross(Strategy):" in notebook.cells[1].source  # the strategy is written in a cell
    NotebookClient(notebook, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    html = [out["data"]["text/html"] for out in outputs if "text/html" in out.get("data", {})]
    assert any("EmaCross(fast=8, slow=40) on AAPL, MSFT" in text and "sharpe" in text for text in html)
    assert any("image/png" in out.get("data", {}) for out in outputs)
    texts = [out["data"]["text/plain"] for out in outputs if "text/plain" in out.get("data", {})]
    sweep_table = next(text for text in texts if "param_fast" in text)
    assert re.search(r"shape: \(5, 6\)", sweep_table)
    report = tmp_path / "strategy_tour_run" / "report.html"  # result.report(...), then shown in an IFrame
    assert "'report.html'" in texts[-2] and "'trades.csv'" in texts[-2] and report.stat().st_size > 10_000
    assert 'src="strategy_tour_run/report.html"' in html[-1]
