"""`model-gate convert SOURCE -o summary.json`: a source as our summary file.

The output is the canonical summary the gate reads and the archive keeps (metric histories
with their `<metric>_steps`, checkpoint folders, the `source` record), so a team can see
exactly what will be gated, or commit it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pytest_model_gate.cli.common import EXIT_OK, EXIT_OUTPUT_FAILED, fail
from pytest_model_gate.errors import ModelGateError


def cmd_convert(args: argparse.Namespace) -> int:
    from pytest_model_gate.sources import canonical_bytes, canonical_summary

    try:
        data = canonical_summary(args.source)
    except ModelGateError as exc:
        return fail(str(exc))
    raw = canonical_bytes(data)
    if args.output in (None, "-"):
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return EXIT_OK
    target = Path(args.output)
    try:
        target.write_bytes(raw)
    except OSError as exc:
        return fail(f"{target}: cannot write: {exc.strerror or exc}", EXIT_OUTPUT_FAILED)
    models = data.get("models")
    count = len(models) if isinstance(models, (dict, list)) else 0
    print(f"wrote {target} ({count} models)", file=sys.stderr)
    return EXIT_OK


def add_commands(sub: Any) -> None:
    convert = sub.add_parser(
        "convert", help="write a source (hf:, mlflow:, tensorboard:, ... or a folder) as a "
                        "summary file")
    convert.add_argument("source", help="KIND:PATH_OR_URI, a summary file, or a folder of "
                                        "training output (kind detected)")
    convert.add_argument("-o", "--output", help="where to write (default: standard output)")
    convert.set_defaults(func=cmd_convert)
