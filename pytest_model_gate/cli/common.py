"""What every `model-gate` command shares: exit codes, the one-line error, the archive to use."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_model_gate.core.config import DEFAULT_ARCHIVE, GateConfig
from pytest_model_gate.errors import ExitCode
from pytest_model_gate.text import inert

if TYPE_CHECKING:
    from pytest_model_gate.archive.manager import Archive
    from pytest_model_gate.pipeline import GateSettings

EXIT_OK, EXIT_DROPPED = ExitCode.OK, ExitCode.DROPPED
EXIT_BAD_INPUT, EXIT_OUTPUT_FAILED = ExitCode.BAD_INPUT, ExitCode.OUTPUT_FAILED


def fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    """Print one `model-gate: error:` line on stderr (never a traceback) and return `code`.
    (A config with several errors gives one line each, under the first.)"""
    print("model-gate: error: " + _inert_lines(message), file=sys.stderr)
    return code


def warn(message: str) -> None:
    """One `model-gate: warning:` line on stderr: the verdicts stand, the user should look."""
    print("model-gate: warning: " + _inert_lines(message), file=sys.stderr)


def _inert_lines(message: str) -> str:
    """Data quoted in a message (ids, keys) can never start a line or a workflow command."""
    return "\n".join(inert(line, edges=False) for line in message.split("\n"))


def query_settings(args: argparse.Namespace) -> GateSettings:
    """The settings of the gate.yaml in use (--config, else found from the current folder)."""
    from pytest_model_gate.pipeline import resolve_settings

    cwd = Path.cwd()
    return resolve_settings(config_file=getattr(args, "config", None), search_dir=cwd,
                            base_dir=cwd)


def archive_location(args: argparse.Namespace) -> str:
    """--archive, else the `archive` of the gate.yaml in use (--config or ./gate.yaml)."""
    if args.archive:
        return str(args.archive)
    return query_settings(args).archive or DEFAULT_ARCHIVE


def open_archive(location: str, config: GateConfig | None = None) -> Archive:
    """The archive to read; NoArchiveError when it does not exist (never created).
    `config`: the gate.yaml in use, whose `table:` history and baselines then read."""
    from pytest_model_gate.archive.manager import open_archive as open_existing

    return open_existing(location, config=config)
