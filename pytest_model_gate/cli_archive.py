"""Archive commands of `model-gate` (runs, show, approved, history, reindex, report)."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any) -> None:
    """Register the archive subcommands on the `model-gate` parser."""
    _ = (sub, argparse)
