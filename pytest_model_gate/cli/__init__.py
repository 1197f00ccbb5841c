"""`model-gate`: the same verdicts as the pytest plugin, without pytest.

Exit status: 0 nothing dropped, 1 something dropped, 2 bad input, 3 archive/report not written,
70 internal error (a bug of ours: never 0 or 1, so CI cannot take it for a verdict).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pytest_model_gate.cli import archive, check, convert, doctor, gate_yaml, lake, report
from pytest_model_gate.cli.common import EXIT_BAD_INPUT, EXIT_OK, fail
from pytest_model_gate.errors import ExitCode


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (its default), never a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"model-gate: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The `model-gate` parser; each command module registers its own subcommands."""
    parser = _Parser(prog="model-gate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check.add_commands(sub)
    doctor.add_commands(sub)
    gate_yaml.add_commands(sub)
    archive.add_commands(sub)
    report.add_commands(sub)
    convert.add_commands(sub)
    lake.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug of ours: never exit 0 or 1, which CI reads as verdicts
        return fail(f"internal error: {type(exc).__name__}: {exc} (please report this with "
                    "the command that caused it)", ExitCode.INTERNAL)
    return code


if __name__ == "__main__":
    sys.exit(main())
