"""What every `model-gate` command shares: exit codes, the one-line error, the archive to use."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_DROPPED, EXIT_BAD_INPUT, EXIT_OUTPUT_FAILED = 0, 1, 2, 3
DEFAULT_ARCHIVE = "training_archives"


def fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    """Print one `model-gate: error:` line on stderr (never a traceback) and return `code`."""
    print(f"model-gate: error: {message}", file=sys.stderr)
    return code


def archive_location(args: argparse.Namespace) -> str:
    """--archive, else the `archive` of the gate.yaml in use (--config or ./gate.yaml)."""
    if args.archive:
        return str(args.archive)
    from pytest_model_gate.pipeline import resolve_settings

    cwd = Path.cwd()
    settings = resolve_settings(config_file=getattr(args, "config", None), search_dir=cwd,
                                base_dir=cwd)
    return settings.archive or DEFAULT_ARCHIVE
