"""Lake table and retention commands of `model-gate`: compact, prune.

`compact` works on the lake table: gate.yaml's `table:` (true: the archive's `table/` folder;
or a URL), or `--table URL`; it needs the extra `lake` (`pip install pytest-model-gate[lake]`).
`prune` removes runs from the archive (`--archive`, else gate.yaml's) and, when the table is
on, their rows from the table; with the table off it needs nothing beyond the core.
A table or archive that cannot be reached: one line, exit 3; a prune that would remove every
run without `--yes`, or a bad limit: one line, exit 2, nothing removed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pytest_model_gate.archive.lake import LakeMissing, LakeTable, parse_age, table_url
from pytest_model_gate.archive.prune import PruneRefused
from pytest_model_gate.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    fail,
    query_settings,
)
from pytest_model_gate.core.config import DEFAULT_ARCHIVE
from pytest_model_gate.errors import ArchiveError, ModelGateError, NoArchiveError


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
    from pytest_model_gate.archive.manager import open_archive

    if (args.older_than is None) == (args.keep is None):
        raise _Refused("prune: give exactly one of --older-than AGE and --keep N")
    older = parse_age(args.older_than) if args.older_than is not None else None
    settings = query_settings(args)
    location = str(args.archive or settings.archive or DEFAULT_ARCHIVE)
    config = settings.config
    if args.table:
        config = config.model_copy(update={"table": str(args.table)})
    archive = open_archive(location, config=config)
    try:
        result = archive.prune(older_than=older, keep=args.keep, yes=args.yes)
    except PruneRefused as exc:
        raise _Refused(str(exc)) from None
    if args.format == "json":
        sys.stdout.write(json.dumps({"archive": archive.location, "removed": result.removed,
                                     "kept": result.kept, "seq": result.seq,
                                     "table": result.table}) + "\n")
    else:
        table = f"; table {result.table} vacuumed" if result.table else ""
        entry = f" (commit log entry {result.seq})" if result.seq is not None else ""
        print(f"pruned {archive.location}: removed {len(result.removed)} of "
              f"{len(result.removed) + result.kept} runs{entry}{table}")
    return EXIT_OK


def _run(func: Any, args: argparse.Namespace) -> int:
    try:
        code: int = func(args)
    except _Refused as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    except (NoArchiveError, LakeMissing) as exc:
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
                        help="the archive (default: gate.yaml's `archive`); `table: true` is its "
                             "table/ folder")
    common.add_argument("--config", metavar="F", help="gate.yaml to read `table` from")
    common.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser("compact", parents=[common],
                       help="optimize the lake table (z-order by model_id) and checkpoint it")
    p.set_defaults(func=lambda a: _run(_compact, a))

    p = sub.add_parser("prune", parents=[common],
                       help="remove old runs from the archive (a prune entry in its commit "
                            "log, then their folders) and from the lake table (vacuumed)")
    p.add_argument("--older-than", metavar="AGE", help="e.g. 180d, 12h, 2w")
    p.add_argument("--keep", metavar="N", type=int, help="keep the newest N runs")
    p.add_argument("--yes", action="store_true",
                   help="allow a limit that selects every run (the newest is still kept)")
    p.set_defaults(func=lambda a: _run(_prune, a))
