"""Rendering run and sweep results to HTML and CSV; metrics come from ``backtest``, never computed here.

:func:`reports.run_files.write_run_files` (CSVs + ``report.html`` of a run),
:func:`write_failed_report` (the page of a run that failed before simulating),
:func:`reports.sweep_report.write_sweep_report` (``sweep.html``); ``python -m
reports <dir>`` prints or serves a report.
"""

from reports.failed_report import write_failed_report

__all__ = ["write_failed_report"]
