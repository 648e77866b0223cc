"""``python -m warehouse bench``: the seed benchmark of the feed's queries (being built)."""

from __future__ import annotations

import argparse


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register this module's subcommands on ``python -m warehouse``."""
