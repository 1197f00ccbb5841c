"""`model-gate check SUMMARY...`: gate summaries as the pytest plugin does, then archive and
report through the same pipeline. Output as a text table, the JSON run document or markdown."""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_model_gate.cli.common import EXIT_DROPPED, EXIT_OK, EXIT_OUTPUT_FAILED, fail, warn
from pytest_model_gate.core.config import GateConfig
from pytest_model_gate.core.document import to_json
from pytest_model_gate.core.explain import checkpoint_advice
from pytest_model_gate.core.gating import counts
from pytest_model_gate.errors import ModelGateError
from pytest_model_gate.pipeline import (
    GatedSummary,
    GateSettings,
    gate_file,
    publish,
    resolve_settings,
)
from pytest_model_gate.text import TIERS, fmt_value, inert, table


def _settings(args: argparse.Namespace) -> GateSettings:
    cwd = Path.cwd()
    return resolve_settings(config_file=args.config, search_dir=cwd, base_dir=cwd,
                            archive=getattr(args, "archive", None),
                            no_archive=getattr(args, "no_archive", False),
                            report=getattr(args, "report", None),
                            html=getattr(args, "html", None),
                            comment=getattr(args, "comment", None),
                            write_back=getattr(args, "write_back", False))


# "below" would be wrong for a lower-is-better metric (a loss misses its bound by being above)
LEGEND = ("value marks: * misses its APPROVED bound (REVIEW), ! misses its REVIEW bound (DROP); "
          "bounds are >= for higher-is-better metrics, <= for lower-is-better ones")


def _text_output(gated: GatedSummary, config: GateConfig, run_id: str | None) -> str:
    names = [inert(n) for n in config.metrics]
    rows = []
    for a in gated.assessments:
        cells = []
        for m in a.metrics:
            mark = "" if m.tier == "APPROVED" else ("*" if m.tier == "REVIEW" else "!")
            cells.append(fmt_value(m.value) + mark)
        rows.append([inert(a.model_id), a.classification, *cells,
                     ",".join(map(inert, a.flags)) or "-",
                     str(a.checkpoint_update) if a.checkpoint_update is not None else
                     ("yes" if a.use_checkpoint else "-")])
    c = counts(gated.assessments)
    lines = [f"{inert(gated.summary.source)}: {len(gated.assessments)} models: "
             + ", ".join(f"{c[t]} {t}" for t in TIERS)
             + (f" (archived as run {run_id})" if run_id else "")]
    lines += table(rows, ["model", "class", *names, "flags", "checkpoint"])
    lines.append(LEGEND)
    advice = [(inert(a.model_id), checkpoint_advice(a)) for a in gated.assessments
              if a.use_checkpoint]
    for model_id, text in advice:
        lines.append(f"checkpoint: {model_id}: {text}")
    return "\n".join(lines)


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """A check builds one large object graph without cycles and then exits: the cyclic
    garbage collector would only traverse it again and again (a third of the run time at
    50,000 models). Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_check(args: argparse.Namespace) -> int:
    with _cyclic_gc_paused():
        return _check(args)


def _check(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
        for warning in settings.warnings:
            warn(warning)
        gated = [gate_file(path, settings) for path in args.summary]
    except ModelGateError as exc:
        return fail(str(exc))
    published = publish(gated, settings)
    fmt = args.format
    if fmt == "json":
        docs = [dict(section.document) for section in published.sections]
        out = docs[0] if len(docs) == 1 else {"schema": 1, "runs": docs}
        sys.stdout.write(to_json(out) + "\n")  # = json.dumps(indent=1, ensure_ascii=False)
    elif fmt == "markdown":
        sys.stdout.write(published.render_markdown())
    else:
        for g, rid in zip(gated, published.run_ids, strict=True):
            print(_text_output(g, settings.config, rid))
        if published.report:
            print(f"report: {published.report}")
        if published.comment:
            print(f"comment: {published.comment}")
    for error in published.errors:
        fail(error, EXIT_OUTPUT_FAILED)
    if published.errors:
        return EXIT_OUTPUT_FAILED
    dropped = any(a.classification == "DROP" for g in gated for a in g.assessments)
    return EXIT_DROPPED if dropped else EXIT_OK


def add_commands(sub: Any) -> None:
    """Register `check` on the `model-gate` subcommand parser."""
    check = sub.add_parser("check", help="gate a training summary or source")
    check.add_argument("summary", nargs="+",
                       help="training summary file(s) (JSON or YAML) or sources: "
                            "KIND:PATH_OR_URI (hf, lightning, keras, mlflow, tensorboard, "
                            "dvclive) or a folder of training output")
    check.add_argument("--config", help="gate.yaml to use (default: ./gate.yaml if present)")
    where = check.add_mutually_exclusive_group()
    where.add_argument("--archive", help="archive folder or fsspec URL (overrides gate.yaml)")
    where.add_argument("--no-archive", action="store_true", help="do not archive this run")
    check.add_argument("--report", help="where to write the markdown report")
    check.add_argument("--html", help="where to write the HTML report")
    check.add_argument("--comment", metavar="PATH",
                       help="where to write a short markdown for a pull-request comment")
    check.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    check.add_argument("--write-back", action="store_true",
                       help="mlflow sources: set model_gate.class / .flags / .run_id tags on "
                            "each run (also gate.yaml `write_back: true`)")
    check.set_defaults(func=run_check)
