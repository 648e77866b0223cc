"""``python -m reports compare RUN_A RUN_B [--out DIR]``: two run folders side by side in ``compare.html``.

The page (:mod:`reports.comparison`): what differs (parameters, data,
fingerprint), every statistic of both with their difference (a - b), equity
curves and drawdowns overlaid; ``compare.csv`` beside it. ``--out`` defaults
to the first run's folder. A folder that is not a run is one ``error:`` line
and exit code 2.

>>> main(["/nonexistent/a", "/nonexistent/b"])
2
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from backtest.errors import BacktestError
from reports.comparison import load_run, write_comparison


def write_compare(run_a: str | Path, run_b: str | Path, *, out_dir: str | Path | None = None) -> Path:
    """Write ``compare.html`` and ``compare.csv`` for two run folders into ``out_dir`` (default: ``run_a``)."""
    a, b = Path(run_a), Path(run_b)
    label_a, label_b = (f"a: {a.name}", f"b: {b.name}") if a.name != b.name else ("a", "b")
    first = load_run(a, label=label_a, field_name="RUN_A")
    second = load_run(b, label=label_b, field_name="RUN_B")
    return write_comparison([first, second], a if out_dir is None else Path(out_dir), name="compare",
                            title=f"{a.name} vs {b.name}", subtitle=f"a: {a.resolve()}  b: {b.resolve()}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; prints the page's path, or one ``error:`` line and returns 2."""
    parser = argparse.ArgumentParser(prog="python -m reports compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_a", help="first run folder (holding metrics.csv and equity.csv)")
    parser.add_argument("run_b", help="second run folder")
    parser.add_argument("--out", help="folder for compare.html and compare.csv (default: the first run's folder)")
    args = parser.parse_args(argv)
    try:
        page = write_compare(args.run_a, args.run_b, out_dir=args.out)
    except BacktestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
