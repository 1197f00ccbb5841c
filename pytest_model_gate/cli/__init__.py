"""`model-gate`: the same verdicts as the pytest plugin, without pytest.

Exit status: 0 nothing dropped, 1 something dropped, 2 bad input, 3 archive/report not written.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from pytest_model_gate.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_DROPPED,
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    fail,
)
from pytest_model_gate.core.config import GateConfig
from pytest_model_gate.core.document import to_json
from pytest_model_gate.core.explain import checkpoint_advice
from pytest_model_gate.core.gating import TIERS, counts
from pytest_model_gate.errors import ModelGateError
from pytest_model_gate.pipeline import (
    GatedSummary,
    GateSettings,
    gate_file,
    publish,
    resolve_settings,
)
from pytest_model_gate.text import fmt_value, table


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (its default), never a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"model-gate: error: {message}\n")



def _settings(args: argparse.Namespace) -> GateSettings:
    cwd = Path.cwd()
    return resolve_settings(config_file=args.config, search_dir=cwd, base_dir=cwd,
                            archive=getattr(args, "archive", None),
                            no_archive=getattr(args, "no_archive", False),
                            report=getattr(args, "report", None),
                            html=getattr(args, "html", None))


def _text_output(gated: GatedSummary, config: GateConfig, run_id: str | None) -> str:
    names = list(config.metrics)
    rows = []
    for a in gated.assessments:
        cells = []
        for m in a.metrics:
            mark = "" if m.tier == "APPROVED" else ("*" if m.tier == "REVIEW" else "!")
            cells.append(fmt_value(m.value) + mark)
        rows.append([a.model_id, a.classification, *cells, ",".join(a.flags) or "-",
                     str(a.checkpoint_update) if a.checkpoint_update is not None else
                     ("yes" if a.use_checkpoint else "-")])
    c = counts(gated.assessments)
    lines = [f"{gated.summary.source}: {len(gated.assessments)} models: "
             + ", ".join(f"{c[t]} {t}" for t in TIERS)
             + (f" (archived as run {run_id})" if run_id else "")]
    lines += table(rows, ["model", "class", *names, "flags", "checkpoint"])
    lines.append("value marks: * below APPROVED bound, ! below REVIEW bound (DROP)")
    advice = [(a.model_id, checkpoint_advice(a)) for a in gated.assessments if a.use_checkpoint]
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


def cmd_check(args: argparse.Namespace) -> int:
    with _cyclic_gc_paused():
        return _check(args)


def _check(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
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
    for error in published.errors:
        print(f"model-gate: error: {error}", file=sys.stderr)
    if published.errors:
        return EXIT_OUTPUT_FAILED
    dropped = any(a.classification == "DROP" for g in gated for a in g.assessments)
    return EXIT_DROPPED if dropped else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    schema = GateConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "pytest-model-gate gate.yaml"
    print(json.dumps(schema, indent=2))
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from importlib.resources import files

    target = Path(args.path)
    text = files("pytest_model_gate").joinpath("gate.yaml.example").read_text(encoding="utf-8")
    try:
        with open(target, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        return fail(f"{target}: already exists; not overwritten")
    except OSError as exc:
        return fail(f"{target}: cannot write: {exc.strerror or exc}", EXIT_OUTPUT_FAILED)
    print(f"wrote {target}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="model-gate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser("check", help="gate a training summary")
    check.add_argument("summary", nargs="+", help="training summary file(s), JSON or YAML")
    check.add_argument("--config", help="gate.yaml to use (default: ./gate.yaml if present)")
    where = check.add_mutually_exclusive_group()
    where.add_argument("--archive", help="archive folder or fsspec URL (overrides gate.yaml)")
    where.add_argument("--no-archive", action="store_true", help="do not archive this run")
    check.add_argument("--report", help="where to write the markdown report")
    check.add_argument("--html", help="where to write the HTML report")
    check.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    check.set_defaults(func=cmd_check)

    schema = sub.add_parser("schema", help="print the JSON Schema of gate.yaml")
    schema.set_defaults(func=cmd_schema)

    init = sub.add_parser("init", help="write a commented gate.yaml (never overwrites)")
    init.add_argument("path", nargs="?", default="gate.yaml")
    init.set_defaults(func=cmd_init)

    from pytest_model_gate.cli import archive as cli_archive
    from pytest_model_gate.cli import report as cli_report
    cli_archive.add_commands(sub)
    cli_report.add_commands(sub)
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
    return code


if __name__ == "__main__":
    sys.exit(main())
