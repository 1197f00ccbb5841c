"""Archive commands of `model-gate`: runs, show, approved, history, reindex.

Each takes `--archive A` (default: the `archive` of ./gate.yaml, else training_archives) and
`--format text|json`. An unknown run, symbol or model is a one-line error with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pytest_model_gate.archive.lake import LakeMissing
from pytest_model_gate.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    fail,
    open_archive,
    query_settings,
)
from pytest_model_gate.core.config import DEFAULT_ARCHIVE
from pytest_model_gate.errors import ArchiveError, ModelGateError, NoArchiveError
from pytest_model_gate.text import TIERS, fmt_value, inert, table


def _manager(args: argparse.Namespace) -> Any:
    """The archive of --archive / gate.yaml; a missing local folder is an error, not created.
    With gate.yaml's `table:` on, history and baselines read the lake table, reindex fills it."""
    settings = query_settings(args)
    return open_archive(str(args.archive or settings.archive or DEFAULT_ARCHIVE),
                        settings.config)


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n")


def _print(lines: list[str]) -> None:
    """Text output: ids, flags and paths read from the archive (data) are made inert, so a
    hostile id never starts a workflow command or carries an escape; --format json keeps
    them verbatim."""
    sys.stdout.write("\n".join(inert(line, edges=False) for line in lines) + "\n")


def _run(func: Any, args: argparse.Namespace, *, write_code: int = EXIT_BAD_INPUT) -> int:
    try:
        code: int = func(args)
    except (NoArchiveError, LakeMissing) as exc:  # (the `lake` extra: a setup problem)
        return fail(str(exc), EXIT_BAD_INPUT)
    except ArchiveError as exc:
        return fail(str(exc), write_code)
    except ModelGateError as exc:
        return fail(str(exc))
    return code


# --- commands --------------------------------------------------------------------------------

def _runs(args: argparse.Namespace) -> int:
    manager = _manager(args)
    runs = manager.list_runs()
    if args.format == "json":
        _json(runs)
        return EXIT_OK
    if not runs:
        print(f"no runs in archive {manager.location}")
        return EXIT_OK
    rows = [[r["run_id"], *(str(r.get("counts", {}).get(t, 0)) for t in TIERS),
             str(r.get("models", "")), str(r.get("source", ""))] for r in runs]
    _print(table(rows, ["run", *TIERS, "models", "summary"]))
    return EXIT_OK


def _show_run(args: argparse.Namespace) -> int:
    manager = _manager(args)
    run_id = manager.resolve_run(args.run)
    doc = manager.load_document(run_id)
    if args.format == "json":
        _json(doc)
        return EXIT_OK
    counts = doc.get("counts", {})
    summary = doc.get("summary", {})
    lines = [f"run {run_id}",
             f"summary: {summary.get('path')} (sha256 {str(summary.get('sha256'))[:16]})",
             f"config sha256: {str(doc.get('config_sha256'))[:16]}",
             "counts: " + ", ".join(f"{counts.get(t, 0)} {t}" for t in TIERS),
             f"folder: {manager.storage.url_of(run_id)}", ""]
    names: list[str] = list(doc.get("config", {}).get("metrics", {}))
    rows = []
    for m in doc.get("models", []):
        metrics = m.get("metrics", {})
        cells = [fmt_value(metrics.get(n, {}).get("value")) for n in names]
        rows.append([m["id"], m["classification"], *cells, ",".join(m.get("flags", [])) or "-"])
    lines += table(rows, ["model", "class", *names, "flags"])
    _print(lines)
    return EXIT_OK


def _approved(args: argparse.Namespace) -> int:
    manager = _manager(args)
    run_id = manager.resolve_run(args.run)
    models = manager.get_approved_models(run_id)
    if args.format == "json":
        _json({"run_id": run_id, "approved": models})
    elif models:
        _print(models)
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    manager = _manager(args)
    # --last N: the newest N runs are read newest first (the archive stops early)
    last = args.last if args.last is not None and args.last > 0 else None
    try:
        entries = manager.get_symbol_history(args.target, last=last)
        kind = "symbol"
    except ArchiveError as exc:
        if not str(exc).startswith("unknown symbol"):
            raise  # a store or table that cannot be read: its own line, not "unknown"
        try:
            entries = manager.get_model_history(args.target, last=last)
            kind = "model"
        except ArchiveError as exc2:
            if not str(exc2).startswith("unknown model"):
                raise
            raise ArchiveError(f"unknown symbol or model {args.target!r} in archive "
                               f"{manager.location}") from None
    for line in dict.fromkeys(manager.skipped):  # damaged run documents: named, left out
        print(f"model-gate: warning: {line} (skipped)", file=sys.stderr)
    names: list[str] = []
    for e in entries:
        for n in e["metrics"]:
            if n not in names:
                names.append(n)
    if args.metric is not None:
        if args.metric not in names:
            raise ArchiveError(f"unknown metric {args.metric!r} for {kind} {args.target!r}; "
                               f"archived metrics: {', '.join(names) or 'none'}")
        names = [args.metric]
    if args.last is not None:
        entries = entries[-args.last:] if args.last > 0 else []
    if args.format == "json":
        if args.metric is not None:
            entries = [{**e, "metrics": {args.metric: e["metrics"].get(args.metric)}}
                       for e in entries]
        _json(entries)
        return EXIT_OK
    rows = [(e["run_id"], e["model_id"], e["classification"],
             *[fmt_value(e["metrics"].get(n)) for n in names], ",".join(e["flags"]) or "-")
            for e in entries]
    _print(table(rows, ("run", "model", "class", *names, "flags")))
    return EXIT_OK


def _reindex(args: argparse.Namespace) -> int:
    manager = _manager(args)
    count = manager.reindex()
    if args.format == "json":
        _json({"archive": manager.location, "runs": count})
    else:
        print(f"reindexed {manager.location}: {count} runs")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    """Register the archive subcommands on the `model-gate` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--archive", metavar="A",
                        help="archive folder or fsspec URL (default: gate.yaml's `archive`, "
                             f"else {DEFAULT_ARCHIVE})")
    common.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser("runs", parents=[common], help="list archived runs, oldest first")
    p.set_defaults(func=lambda a: _run(_runs, a))

    p = sub.add_parser("show", parents=[common], help="show one archived run")
    p.add_argument("run", help="run id (or 'latest')")
    p.set_defaults(func=lambda a: _run(_show_run, a))

    p = sub.add_parser("approved", parents=[common],
                       help="APPROVED model ids of a run (default: the latest)")
    p.add_argument("run", nargs="?", default=None, help="run id (default: latest)")
    p.set_defaults(func=lambda a: _run(_approved, a))

    p = sub.add_parser("history", parents=[common],
                       help="every archived verdict of a symbol or model, oldest first")
    p.add_argument("target", metavar="SYMBOL_OR_MODEL")
    p.add_argument("--metric", metavar="M", help="show only this metric")
    p.add_argument("--last", metavar="N", type=int, help="only the last N entries")
    p.set_defaults(func=lambda a: _run(_history, a))

    p = sub.add_parser("reindex", parents=[common],
                       help="rebuild index.json and the views from the commit records")
    p.set_defaults(func=lambda a: _run(_reindex, a, write_code=EXIT_OUTPUT_FAILED))
