"""``multirun.csv`` at the root of a Hydra multirun: one row per job, failed jobs included.

Registered in ``conf/config.yaml`` as a Hydra callback, so
``python -m backtest -m +strategy=sma_cross,rsi_reversion data.symbols=[AAPL],[MSFT]``
ends by combining the jobs' results: ``job`` (the job folder), ``status``
(``ok`` / ``error``), ``error`` (the one-line message), ``overrides`` (the
job's own command-line choices), then the job's ``metrics.csv`` row -- or,
for a sweep job, its best ``sweep.csv`` row.

>>> import tempfile, polars as pl
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> (root / "0").mkdir(); pl.DataFrame({"strategy": ["sma_cross"], "sharpe": [1.5]}).write_csv(root / "0" / "metrics.csv")
>>> write_job_error(root / "1", "strategy.fast: 50 must be < strategy.slow (30)")
>>> combine_jobs(root).select("job", "status", "sharpe", "error").rows()
[('0', 'ok', 1.5, None), ('1', 'error', None, 'strategy.fast: 50 must be < strategy.slow (30)')]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

ERROR_FILE = "error.txt"


def write_job_error(job_dir: str | Path, message: str) -> None:
    """Record that the job in ``job_dir`` failed with ``message`` (one line)."""
    path = Path(job_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / ERROR_FILE).write_text(message.splitlines()[0] + "\n", encoding="utf-8")


def _overrides(job: Path) -> str:
    """The job's own overrides, space-separated, from ``.hydra/overrides.yaml``."""
    saved = job / ".hydra" / "overrides.yaml"
    return " ".join(OmegaConf.load(saved)) if saved.exists() else ""


def combine_jobs(sweep_dir: str | Path) -> pl.DataFrame:
    """One row per job folder under ``sweep_dir`` (numbered as Hydra numbers them)."""
    rows: list[pl.DataFrame] = []
    jobs = sorted((p for p in Path(sweep_dir).iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    for job in jobs:
        head: dict[str, Any] = {"job": job.name, "status": "ok", "error": None, "overrides": _overrides(job)}
        if (job / ERROR_FILE).exists():
            head.update(status="error", error=(job / ERROR_FILE).read_text(encoding="utf-8").strip())
            rows.append(pl.DataFrame([head], schema_overrides={"error": pl.String}))
            continue
        source = job / "metrics.csv" if (job / "metrics.csv").exists() else job / "sweep.csv"
        if not source.exists():
            head.update(status="error", error="the job wrote neither metrics.csv nor sweep.csv")
            rows.append(pl.DataFrame([head], schema_overrides={"error": pl.String}))
            continue
        metrics = pl.read_csv(source, n_rows=1, infer_schema_length=None)
        rows.append(pl.concat([pl.DataFrame([head], schema_overrides={"error": pl.String}), metrics],
                              how="horizontal"))
    return pl.concat(rows, how="diagonal_relaxed") if rows else pl.DataFrame()


class CombineJobs(Callback):
    """Hydra callback: write ``multirun.csv`` into the sweep folder when a multirun ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.is_dir():
            combine_jobs(sweep_dir).write_csv(sweep_dir / "multirun.csv")
            print(f"multirun.csv: {sweep_dir / 'multirun.csv'}")
