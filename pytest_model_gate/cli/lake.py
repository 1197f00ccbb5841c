"""Lake table commands of `model-gate`: compact, prune.

The table is gate.yaml's `table:` (true: the archive's `table/` folder; or a URL), or
`--table URL`. Both need the extra `lake` (`pip install pytest-model-gate[lake]`).
A table that cannot be reached or has another schema: one line, exit 3; a prune that would
remove every run without `--yes`, or a bad limit: one line, exit 2, nothing removed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pytest_model_gate.archive.lake import LakeTable, parse_age, table_url
from pytest_model_gate.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    fail,
    query_settings,
)
from pytest_model_gate.core.config import DEFAULT_ARCHIVE
from pytest_model_gate.errors import ArchiveError, ModelGateError


class _Refused(ArchiveError):
    """A request refused before anything was touched (bad input, exit 2)."""


def table_location(args: argparse.Namespace) -> str:
    """--table, else gate.yaml's `table` (relative paths against gate.yaml's folder)."""
    if args.table:
        return str(args.table)
    settings = query_settings(args)
    archive = str(args.archive or settings.archive or DEFAULT_ARCHIVE)
    url = table_url(archive, settings.config.table)  # a relative path: resolved on load
    if url is None:
        raise _Refused("no lake table: set `table: true` (or a URL) in gate.yaml, "
                       "or pass --table URL")
    return url


def _compact(args: argparse.Namespace) -> int:
    table = LakeTable(table_location(args))
    result = table.compact()
    if args.format == "json":
        sys.stdout.write(json.dumps({"table": table.url, **vars(result)}) + "\n")
    else:
        print(f"compacted {table.url}: {result.files_before} files ({result.bytes_before} "
              f"bytes) -> {result.files_after} files ({result.bytes_after} bytes)")
    return EXIT_OK


def _prune(args: argparse.Namespace) -> int:
    if (args.older_than is None) == (args.keep is None):
        raise _Refused("prune: give exactly one of --older-than AGE and --keep N")
    older = parse_age(args.older_than) if args.older_than is not None else None
    table = LakeTable(table_location(args))
    victims, total = table.prune_selection(older_than=older, keep=args.keep)
    if victims and len(victims) == total and not args.yes:
        raise _Refused(f"prune would remove all {total} runs of table {table.url}; "
                       "pass --yes to remove them")
    removed = table.prune(older_than=older, keep=args.keep, yes=args.yes)
    if args.format == "json":
        sys.stdout.write(json.dumps({"table": table.url, "removed": removed}) + "\n")
    else:
        print(f"pruned {table.url}: removed {len(removed)} of {total} runs")
    return EXIT_OK


def _run(func: Any, args: argparse.Namespace) -> int:
    try:
        code: int = func(args)
    except _Refused as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    except ArchiveError as exc:
        code = EXIT_BAD_INPUT if str(exc).startswith(("--", "prune:")) else EXIT_OUTPUT_FAILED
        return fail(str(exc), code)
    except ModelGateError as exc:
        return fail(str(exc))
    return code


def add_commands(sub: Any) -> None:
    """Register `compact` and `prune` on the `model-gate` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--table", metavar="URL",
                        help="the lake table (default: gate.yaml's `table`)")
    common.add_argument("--archive", metavar="A",
                        help="the archive whose table/ folder `table: true` means")
    common.add_argument("--config", metavar="F", help="gate.yaml to read `table` from")
    common.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser("compact", parents=[common],
                       help="optimize the lake table (z-order by model_id) and checkpoint it")
    p.set_defaults(func=lambda a: _run(_compact, a))

    p = sub.add_parser("prune", parents=[common],
                       help="remove old runs' rows from the lake table and vacuum it")
    p.add_argument("--older-than", metavar="AGE", help="e.g. 180d, 12h, 2w")
    p.add_argument("--keep", metavar="N", type=int, help="keep the newest N runs")
    p.add_argument("--yes", action="store_true", help="allow removing every run")
    p.set_defaults(func=lambda a: _run(_prune, a))
