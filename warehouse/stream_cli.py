"""``python -m warehouse produce|ingest``: streaming to and from Kafka / Redis (being built)."""

from __future__ import annotations

import argparse


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register this module's subcommands on ``python -m warehouse``."""
