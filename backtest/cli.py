"""``python -m backtest +strategy=<name> [overrides]``: one Hydra-configured backtest (or sweep).

Hydra composes ``conf/`` once (groups ``warehouse``, ``data``, ``engine``,
``sweep``, schemas in :mod:`backtest.config`; and ``strategy``, whose options
are the classes :func:`strategies.find` resolves, from the config source
``backtest/sweep/hydra_plugins/tickhouse_strategies.py``), runs
:func:`backtest_job` in its output folder (config saved in ``.hydra/``), and
``-m`` runs one job per combination through the sweeper ``hydra/sweeper:
tickhouse`` (``backtest/sweep/hydra_plugins/tickhouse_sweeper.py``, Hydra's
basic sweep plus one rule). ``+sweep=grid|random`` makes the command a
multirun by itself (``hydra.mode: MULTIRUN``), and the sweeper hands every
``sweep.params.*`` value, ``range(5,100,5)`` included, to ONE job as text:
that job's sweep engine evaluates every set in one process. Its files are in
``outputs/multirun/<date>/<time>/0/``. ``--help`` lists the groups and their options.

Errors: Hydra refuses an unknown key, a mistyped value or a ``+strategy=`` that
names no class (:class:`~strategies.errors.StrategyError`) while composing; a job
refuses what its settings' classes refuse (``fast >= slow``, a negative fee, an
unknown symbol). Either way :func:`main` prints one ``error: ...`` line and
returns 2. In a multirun of several jobs a failed job prints its line, is
recorded in ``multirun.csv`` (:class:`reports.multirun.CombineJobs`) and the
others go on; the command then returns 1. ``HYDRA_FULL_ERROR=1`` shows the
full traceback.

>>> import sys
>>> command_line, sys.argv = sys.argv, ["backtest", "+strategy=sma_cross", "engine.fee=1"]
>>> main()
2
>>> sys.argv = command_line
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from hydra_plugins import tickhouse_sweeper
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import strategies
from backtest.config import CONF_DIR, DataSpec, error_line
from backtest.engine.simulate import EngineConfig
from backtest.errors import BacktestError
from backtest.feed import Feed
from backtest.runner import RunResult, run_backtest
from backtest.sweep.cli import execute_sweep
from reports import write_failed_report
from reports.multirun import COMBINED_FILE, JobError, write_job_error
from reports.run_files import write_run_files
from strategies.errors import StrategyError
from warehouse.client import MEMORY, resolve_dsn
from warehouse.errors import WarehouseError

USER_ERRORS = (BacktestError, StrategyError, WarehouseError)
# Composing: Hydra's and OmegaConf's errors, and the StrategyError of a +strategy= that names no class
# (hydra_plugins.tickhouse_strategies looks the class up while Hydra composes).
CONFIG_ERRORS = (HydraException, OmegaConfBaseException, StrategyError)
SUMMARY_STATS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "max_drawdown_duration", "trades",
                 "win_rate", "profit_factor", "exposure", "final_equity")


def execute(cfg: DictConfig, out_dir: str | Path) -> RunResult:
    """Run the composed config (no ``sweep``) and write its files into ``out_dir``."""
    container = OmegaConf.to_container(cfg, resolve=True)
    data = DataSpec.from_mapping(container["data"])
    engine = EngineConfig.from_mapping(container["engine"])
    strategy = container["strategy"]
    result = run_backtest(Feed(container["warehouse"]["dsn"]), strategy["name"], strategy, data, engine)
    write_run_files(result, out_dir)
    return result


def format_summary(result: RunResult) -> str:
    """A short text table of the run's main statistics (first line: what ran, on which bars)."""
    values = ", ".join(f"{k}={v!r}" for k, v in result.params.items())
    lines = [f"{result.strategy}({values}) on {','.join(result.data.symbols)} "
             f"{result.data.interval} [{result.data.start}, {result.data.end}) - {result.fingerprint}"]
    for key in SUMMARY_STATS:
        value = result.stats[key]
        if isinstance(value, float) and key not in ("final_equity", "profit_factor", "sharpe", "sortino"):
            text = f"{value:.2%}"
        elif isinstance(value, float):
            text = f"{value:,.2f}"
        else:
            text = str(value)
        lines.append(f"  {key:<22} {text:>16}")
    return "\n".join(lines)


def run_job(cfg: DictConfig, out_dir: str | Path) -> tuple[str, Path]:
    """One job of a composed config: a run, or a sweep when ``+sweep=`` chose one; (summary, report path).

    >>> from hydra import compose, initialize_config_dir
    >>> with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
    ...     cfg = compose(config_name="config")
    >>> run_job(cfg, "unused")
    Traceback (most recent call last):
    backtest.errors.BacktestError: strategy: none chosen; pass +strategy=<name> (available: bollinger_breakout, ..., vwap_reversion)
    """
    if OmegaConf.is_missing(cfg, "strategy"):
        raise BacktestError(f"strategy: none chosen; pass +strategy=<name> (available: "
                            f"{', '.join(strategies.available())})")
    out = Path(out_dir)
    if cfg.sweep is not None:
        walk = cfg.sweep.get("walk_forward") or {}
        page = "walk_forward.html" if walk.get("train") is not None and walk.get("test") is not None else "sweep.html"
        return execute_sweep(OmegaConf.to_container(cfg, resolve=True), out), out / page
    return format_summary(execute(cfg, out)), out / "report.html"


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def backtest_job(cfg: DictConfig) -> None:
    """Hydra's task: run one job, print its summary, output folder and report.

    A user error prints one ``error: ...`` line and writes the failed run's
    ``report.html``; a single run then exits 2, while a multirun job records
    the line in its ``error.txt`` and raises :class:`~reports.multirun.JobError`:
    Hydra marks the job failed, the other jobs go on, and the sweeper reports
    the count to :func:`main`.
    """
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        pin_dsn(cfg, hydra_cfg.runtime.cwd, out_dir / hydra_cfg.output_subdir if hydra_cfg.output_subdir else None)
        summary, report = run_job(cfg, out_dir)
    except USER_ERRORS + (OmegaConfBaseException,) as exc:  # OmegaConf: a value that does not resolve
        message = error_line(exc)
        if isinstance(exc, WarehouseError) and message.startswith("dsn: "):
            message = "warehouse." + message  # the field as this command spells it
        print(f"error: {message}", file=sys.stderr)
        write_failed_report(out_dir, OmegaConf.to_container(cfg, enum_to_str=True), message)
        if hydra_cfg.mode != RunMode.MULTIRUN:
            sys.exit(2)
        write_job_error(out_dir, message)
        raise JobError(message) from exc
    print(summary)
    print(f"output: {out_dir}")
    if report.exists():
        print(f"report: {report}")


def pin_dsn(cfg: DictConfig, cwd: str, saved: Path | None) -> str:
    """Make ``cfg.warehouse.dsn`` absolute and save it so in ``saved/config.yaml``; the DSN.

    A relative ``chdb://data/warehouse`` (or ``$TICKHOUSE_DSN``, which the default
    reads) is resolved against ``cwd``, the directory the command ran in, so that
    replaying the saved config elsewhere opens the same warehouse, not a new empty one.

    >>> cfg = OmegaConf.create({"warehouse": {"dsn": "chdb://data/wh"}})
    >>> pin_dsn(cfg, "/home/me", None), cfg.warehouse.dsn
    ('chdb:///home/me/data/wh', 'chdb:///home/me/data/wh')
    """
    dsn = str(cfg.warehouse.dsn)
    path = dsn.removeprefix("chdb://")
    if dsn.startswith("chdb://") and path and path != MEMORY and not path.startswith("/"):
        dsn = "chdb://" + str(Path(cwd) / path)
    dsn = resolve_dsn(dsn)
    cfg.warehouse.dsn = dsn
    file = saved / "config.yaml" if saved else None
    if file and file.exists():
        written = OmegaConf.load(file)
        written.warehouse.dsn = dsn
        OmegaConf.save(written, file)
    return dsn


@contextmanager
def _hydra_errors_raised() -> Iterator[None]:
    """Let Hydra's errors reach :func:`main` for the call, then restore the environment.

    ``HYDRA_FULL_ERROR=1`` is Hydra's documented switch that makes it raise instead of
    printing its own report and exiting 1 (a user who sets it gets the traceback).
    """
    saved = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved


def main() -> int:
    """Entry point of ``python -m backtest``: run Hydra on the command line (``sys.argv``, which
    ``hydra.main`` reads); the exit code.

    0 when every job succeeded; 2 after one ``error: ...`` line (an unknown key,
    a bad value, a failed run, the failed job of a one-job multirun such as a
    sweep); 1 when some jobs of a multirun failed (each printed its line and is
    in ``multirun.csv``). ``HYDRA_FULL_ERROR=1`` re-raises instead.

    >>> import sys
    >>> command_line, sys.argv = sys.argv, ["backtest", "+strategy=sma_cross", "strategy.fsat=3"]
    >>> main()
    2
    >>> sys.argv = ["backtest", "+strategy=nope"]
    >>> main()
    2
    >>> sys.argv = command_line
    """
    full_error = os.environ.get("HYDRA_FULL_ERROR") == "1"
    try:
        with _hydra_errors_raised():
            backtest_job()
    except tickhouse_sweeper.JobsFailed as exc:  # looked up now: Hydra's plugin scan re-runs the module
        if full_error:
            raise
        if exc.total == 1:
            return 2
        print(f"error: {exc.failed} of {exc.total} jobs failed; see {exc.sweep_dir / COMBINED_FILE}", file=sys.stderr)
        return 1
    except CONFIG_ERRORS as exc:
        if full_error:
            raise
        print(f"error: {error_line(exc)}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help, --cfg and Hydra's other flags end this way
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
