"""``python -m backtest +strategy=<name> [overrides]``: one Hydra-configured backtest.

Reads ``conf/`` (groups ``warehouse``, ``data``, ``engine``, ``strategy``),
runs the strategy on the warehouse's bars, prints a summary and writes the
run's files into Hydra's output folder (with the saved config in ``.hydra/``).
Bad input -- an unknown strategy, symbol or setting, fast >= slow, a negative
fee, an empty range -- prints one ``error: ...`` line and exits 2.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import strategies
from backtest.engine.simulate import EngineConfig
from backtest.errors import BacktestError
from strategies.errors import StrategyError
from backtest.feed import Feed
from backtest.runner import DataSpec, RunResult, run_backtest
from backtest.sweep.cli import execute_sweep
from backtest.sweep.spec import quote_param_args
from reports import write_failed_report
from reports.multirun import write_job_error
from reports.run_files import write_run_files
from warehouse.errors import WarehouseError

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")
_STRATEGY_ARG = re.compile(r"^\+{0,2}strategy=(.*)$")
_FAILED_JOBS: list[str] = []  # output folders of multirun jobs that failed with a user error
SUMMARY_STATS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "max_drawdown_duration", "trades",
                 "win_rate", "profit_factor", "exposure", "final_equity")


def check_strategy_args(argv: Sequence[str]) -> None:
    """Fail fast, in one line, on a missing or unknown ``+strategy=`` choice (before Hydra composes).

    >>> check_strategy_args(["+strategy=sma_cross,nope"])
    Traceback (most recent call last):
    strategies.errors.StrategyError: strategy: 'nope' is not a strategy (available: bollinger_breakout, ..., vwap_reversion)
    """
    chosen = [m.group(1) for arg in argv if (m := _STRATEGY_ARG.match(arg))]
    if not chosen:
        raise BacktestError(f"strategy: none chosen; pass +strategy=<name> (available: "
                            f"{', '.join(strategies.available())})")
    for value in chosen:
        for name in value.split(","):
            if name not in strategies.available():
                strategies.load(name)


def check_overrides(overrides: Sequence[str]) -> None:
    """Compose the config once so a bad override is one line, not Hydra's multi-line report.

    >>> check_overrides(["+strategy=sma_cross", "strategy.fsat=3"])
    Traceback (most recent call last):
    backtest.errors.BacktestError: overrides: Could not override 'strategy.fsat' (Key 'fsat' is not in struct)
    """
    try:
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            compose(config_name="config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        message = str(exc).splitlines()[0].rstrip(".")
        if exc.__cause__ is not None:
            message += f" ({str(exc.__cause__).splitlines()[0]})"
        raise BacktestError(f"overrides: {message}") from None


def execute(cfg: DictConfig, out_dir: Path) -> RunResult:
    """Run the composed config and write its files into ``out_dir``."""
    container = OmegaConf.to_container(cfg, resolve=True)
    data = DataSpec.from_mapping(container["data"])
    engine = EngineConfig.from_mapping(container["engine"])
    strategy = container["strategy"]
    result = run_backtest(Feed(container["warehouse"]["dsn"]), strategy["name"], strategy, data, engine)
    write_run_files(result, out_dir)
    return result


def format_summary(result: RunResult) -> str:
    """A short text table of the run's main statistics."""
    lines = [f"{result.strategy} {result.params} on {','.join(result.data.symbols)} "
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


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def _hydra_task(cfg: DictConfig) -> None:
    """One job (a run, or a sweep with ``+sweep=``): print a summary, or a one-line error and exit 2.

    In a multirun (``-m``) a failed job records its error (``error.txt``, then
    ``multirun.csv``) and the others go on; the command then exits 1.
    """
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        if "sweep" in cfg:
            summary = execute_sweep(OmegaConf.to_container(cfg, resolve=True), out_dir)
        else:
            summary = format_summary(execute(cfg, out_dir))
    except (BacktestError, StrategyError, WarehouseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        write_failed_report(out_dir, OmegaConf.to_container(cfg), str(exc))
        if HydraConfig.get().mode == RunMode.MULTIRUN:  # the other jobs go on; multirun.csv records this one
            write_job_error(out_dir, str(exc))
            _FAILED_JOBS.append(str(out_dir))
            return
        sys.exit(2)
    print(summary)
    print(f"output: {out_dir}")
    report = out_dir / ("sweep.html" if "sweep" in cfg else "report.html")
    if report.exists():
        print(f"report: {report}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m backtest``; returns the exit code."""
    args = quote_param_args(sys.argv[1:] if argv is None else argv)
    hydra_flags = any(a.startswith("-") for a in args)  # Hydra's own flags (help, info, ...) skip the checks
    try:
        if not hydra_flags or any(a in ("-m", "--multirun") for a in args):
            check_strategy_args(args)
        if not hydra_flags:
            check_overrides(args)
    except (BacktestError, StrategyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.argv = [sys.argv[0], *args]
    _FAILED_JOBS.clear()
    _hydra_task()
    return 1 if _FAILED_JOBS else 0
