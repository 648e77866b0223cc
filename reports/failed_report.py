"""``report.html`` of a run that stopped before simulating (bad input, no data): what failed and how it was asked.

>>> import tempfile
>>> path = write_failed_report(tempfile.mkdtemp(), {"data": {"symbols": ["NOPE"]}}, "data: no bars for NOPE")
>>> text = path.read_text()
>>> path.name, "no bars for NOPE" in text, "symbols:" in text
('report.html', True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from reports import html
from reports.provenance import command_line, hydra_overrides


def write_failed_report(out_dir: str | Path, config: Mapping[str, Any] | None, error_message: str) -> Path:
    """Write ``report.html`` saying the run failed with ``error_message``, with its overrides and ``config``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = dict(config or {})
    strategy = config.get("strategy", {}).get("name", "no strategy") if isinstance(config.get("strategy"), Mapping) \
        else "no strategy"
    overrides = hydra_overrides(out)
    asked = (html.code_block(command_line(overrides)) if overrides is not None
             else '<p class="note">Not run through Hydra (no .hydra/overrides.yaml).</p>')
    sections = [
        html.section("What happened", html.notice(f"error: {error_message}", "error")
                     + '<p class="note">The run stopped before simulating anything: no bars were used, no trades '
                       "were made, and no CSV files were written for it. Fix the setting the error names and run "
                       "again.</p>", name="error"),
        html.section("Command", asked, name="command"),
        html.section("Configuration", html.code_block(yaml.safe_dump(config, sort_keys=False) if config
                                                      else "not available"), name="config"),
    ]
    path = out / "report.html"
    path.write_text(html.page(f"Run failed: {strategy}", sections, "error: " + error_message), encoding="utf-8")
    return path
