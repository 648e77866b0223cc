"""``python -m reports [DIR] [--serve]``: print where a run's or sweep's report is, or serve its folder.

``DIR`` is a run or sweep output folder (or the HTML file itself); without it
the newest report under ``./outputs`` is taken. ``--serve`` serves the folder
on localhost (CSV links work too) and prints the URL until Ctrl-C.

>>> import tempfile
>>> run = Path(tempfile.mkdtemp()); _ = (run / "report.html").write_text("<html></html>")
>>> find_report(run) == run / "report.html"
True
>>> find_report(run / "nothing")
Traceback (most recent call last):
backtest.errors.BacktestError: dir: ... has no report.html or sweep.html or ...
"""

from __future__ import annotations

import argparse
import functools
import http.server
import sys
from collections.abc import Sequence
from pathlib import Path

from backtest.errors import BacktestError

REPORT_NAMES = ("report.html", "sweep.html", "walk_forward.html", "multirun.html", "compare.html")


def find_report(where: str | Path | None, outputs: str | Path = "outputs") -> Path:
    """The report in folder ``where`` (or ``where`` itself), or the newest one under ``outputs`` when None."""
    if where is None:
        found = [p for name in REPORT_NAMES for p in Path(outputs).rglob(name)]
        if not found:
            raise BacktestError(f"dir: none given and no report under {Path(outputs).resolve()}; "
                                "run `python -m backtest +strategy=...` first")
        return max(found, key=lambda p: p.stat().st_mtime).resolve()
    path = Path(where)
    if path.is_file() and path.suffix == ".html":
        return path.resolve()
    for name in REPORT_NAMES:
        if (path / name).is_file():
            return (path / name).resolve()
    raise BacktestError(f"dir: {path} has no {' or '.join(REPORT_NAMES)}")


def serve(report: Path, port: int) -> None:
    """Serve ``report``'s folder on 127.0.0.1:``port`` (0: any free port), print the URL, run until interrupted."""
    handler = functools.partial(_QuietHandler, directory=str(report.parent))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"http://127.0.0.1:{server.server_address[1]}/{report.name}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """A static file handler that does not log every request."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
        """Drop the per-request log line."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 with one ``error:`` line when there is no report)."""
    parser = argparse.ArgumentParser(prog="python -m reports", description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", help="run/sweep output folder or HTML file (default: newest in ./outputs)")
    parser.add_argument("--serve", action="store_true", help="serve the folder on localhost and print the URL")
    parser.add_argument("--port", type=int, default=8000, help="port for --serve (0: any free port; default 8000)")
    args = parser.parse_args(argv)
    try:
        report = find_report(args.dir)
    except BacktestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.serve:
        serve(report, args.port)
    else:
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
