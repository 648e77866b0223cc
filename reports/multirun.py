"""``multirun.csv`` at the root of a Hydra multirun: one row per job, failed jobs included.

Registered in ``conf/config.yaml`` as a Hydra callback, so
``python -m backtest -m +strategy=sma_cross,rsi_reversion data.symbols=[AAPL],[MSFT]``
combines the jobs' results as each job ends: ``job`` (the job folder), ``status``
(``ok`` / ``error``), ``error`` (the one-line message), ``overrides`` (the
job's own command-line choices), then the job's ``metrics.csv`` row -- or,
for a sweep job, its best ``sweep.csv`` row.

A job fails by raising: Hydra marks its return ``FAILED``. A job that failed
with a user error has written its ``error.txt`` (:func:`write_job_error`) and
raises :class:`JobError`; for any other exception the callback writes
``<Type>: <message>``. ``multirun.csv`` is rewritten after every job, because
the sweeper (``hydra/sweeper: tickhouse``) raises once the batch has run when
a job failed, before ``on_multirun_end``. A sweep job whose every set was
skipped as invalid has an empty ``sweep.csv``: its row has no metrics.

Beside it, ``multirun.html`` (and ``multirun_compare.csv``) compares the jobs
that completed (:func:`write_multirun_page`, :mod:`reports.comparison`): what
differs between them, their statistics side by side, equity curves overlaid.

>>> import tempfile, polars as pl
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> (root / "0").mkdir(); pl.DataFrame({"strategy": ["sma_cross"], "sharpe": [1.5]}).write_csv(root / "0" / "metrics.csv")
>>> write_job_error(root / "1", "strategy.fast: 50 must be < strategy.slow (30)")
>>> combine_jobs(root).select("job", "status", "sharpe", "error").rows()
[('0', 'ok', 1.5, None), ('1', 'error', None, 'strategy.fast: 50 must be < strategy.slow (30)')]
>>> write_multirun_page(root) is None  # job 0 has no equity.csv: not a run folder, so no job to compare
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from backtest.errors import BacktestError
from reports.comparison import RunFolder, load_run, write_comparison

ERROR_FILE = "error.txt"
COMBINED_FILE = "multirun.csv"
PAGE_NAME = "multirun"


class JobError(Exception):
    """A multirun job failed with a one-line user error, already printed and recorded in its ``error.txt``."""


def write_job_error(job_dir: str | Path, message: str) -> None:
    """Record that the job in ``job_dir`` failed with ``message`` (its first line)."""
    path = Path(job_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / ERROR_FILE).write_text((message.splitlines() or ["failed"])[0] + "\n", encoding="utf-8")


def _overrides(job: Path) -> str:
    """The job's own overrides, space-separated, from ``.hydra/overrides.yaml``."""
    saved = job / ".hydra" / "overrides.yaml"
    return " ".join(OmegaConf.load(saved)) if saved.exists() else ""


def job_error_message(job_return: JobReturn) -> str | None:
    """The one-line error of a failed job (None when it completed).

    >>> from hydra.core.utils import JobReturn, JobStatus
    >>> job_error_message(JobReturn(_return_value=KeyError("x"), status=JobStatus.FAILED))
    "KeyError: 'x'"
    >>> job_error_message(JobReturn(_return_value=JobError("data: no bars"), status=JobStatus.FAILED))
    'data: no bars'
    """
    if job_return.status != JobStatus.FAILED:
        return None
    try:
        job_return.return_value  # a failed job's return value raises its exception
    except JobError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 -- any failure is recorded, with its type
        return f"{type(exc).__name__}: {exc}"
    return "failed"


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
        frame = pl.DataFrame([head], schema_overrides={"error": pl.String})
        rows.append(pl.concat([frame, metrics], how="horizontal") if metrics.height else frame)
    return pl.concat(rows, how="diagonal_relaxed") if rows else pl.DataFrame()


def write_multirun_page(sweep_dir: str | Path) -> Path | None:
    """Write ``multirun.html`` comparing the jobs under ``sweep_dir`` that completed; None when none did.

    Each job's ``overrides`` row holds only the overrides not shared by every compared job (those are in the
    page's subtitle).
    """
    root = Path(sweep_dir)
    runs: list[RunFolder] = []
    failed: list[str] = []
    for job in sorted((p for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)):
        if (job / ERROR_FILE).exists():
            failed.append(job.name)
            continue
        try:
            runs.append(load_run(job, label=f"job {job.name}"))
        except BacktestError:  # still running, or wrote nothing to compare
            continue
    if not runs:
        return None
    given = [_overrides(run.path).split() for run in runs]
    common = [o for o in given[0] if all(o in g for g in given[1:])]
    runs = [RunFolder(r.label, r.path, r.metrics, r.equity, r.note,
                      {"overrides": " ".join(o for o in g if o not in common) or "(none of its own)"})
            for r, g in zip(runs, given)]
    subtitle = (f"{len(runs)} jobs compared"
                + (f"; failed (see {COMBINED_FILE}): {', '.join(failed)}" if failed else "")
                + (f"; every job: {' '.join(common)}" if common else ""))
    return write_comparison(runs, root, name=PAGE_NAME, title=f"Multirun: {root}", subtitle=subtitle,
                            table_name=f"{PAGE_NAME}_compare.csv")


class CombineJobs(Callback):
    """Hydra callback: record each multirun job's outcome and keep ``multirun.csv`` up to date."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """A failed job gets its ``error.txt``; then ``multirun.csv`` is rewritten (multirun only)."""
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        job_dir = Path(config.hydra.runtime.output_dir)
        if job_return.status == JobStatus.FAILED and not (job_dir / ERROR_FILE).exists():
            write_job_error(job_dir, job_error_message(job_return) or "failed")
        sweep_dir = Path(config.hydra.sweep.dir)
        combine_jobs(sweep_dir).write_csv(sweep_dir / COMBINED_FILE)
        write_multirun_page(sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Every job ran without failing: say where the combined table is."""
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.is_dir():
            combine_jobs(sweep_dir).write_csv(sweep_dir / COMBINED_FILE)
            print(f"{COMBINED_FILE}: {sweep_dir / COMBINED_FILE}")
            page = write_multirun_page(sweep_dir)
            if page is not None:
                print(f"{page.name}: {page}")
