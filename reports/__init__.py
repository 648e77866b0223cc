"""Rendering run and sweep results to HTML and CSV; metrics come from ``backtest``, never computed here.

:func:`reports.run_files.write_run_files` (CSVs + ``report.html`` of a run),
:func:`write_failed_report` (the page of a run that failed before simulating),
:func:`reports.sweep_files.write_sweep_files` (``sweep.html`` and its CSVs),
:func:`reports.sweep_files.write_walk_forward_files` (``walk_forward.html``),
:func:`reports.multirun.write_multirun_page` (``multirun.html``) and
:func:`reports.compare.write_compare` (``compare.html`` of two runs). ``python -m
reports <dir>`` prints or serves a report; ``python -m reports compare A B``
compares two runs.
"""

from reports.failed_report import write_failed_report

__all__ = ["write_failed_report"]
