"""`model-gate report RUN`: re-render the report of an archived run, markdown and/or HTML.

The report is rebuilt from the run's archived document (model_assessments.json) and the runs
archived before it, exactly as it was rendered when the run was archived, so an old run can be
re-read with today's renderer (or rendered to HTML after the fact).

Markdown goes to stdout, or to `--output F`; `--html PATH` writes the HTML report (then the
markdown is printed only when `--output` is not given and `--html` is absent). Exit status:
0 done, 2 unknown run / no archive / bad config, 3 an output could not be written.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pytest_model_gate.cli.common import (
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    archive_location,
    fail,
    open_archive,
)
from pytest_model_gate.errors import ModelGateError


def cmd_report(args: argparse.Namespace) -> int:
    from pytest_model_gate.files import write_text
    from pytest_model_gate.report.html import render_html
    from pytest_model_gate.report.markdown import render_markdown
    from pytest_model_gate.report.view import ReportSection

    try:
        manager = open_archive(archive_location(args))
        run_id = manager.resolve_run(args.run)
        doc, previous, history = manager.run_context(run_id)
    except ModelGateError as exc:
        return fail(str(exc))
    sections = [ReportSection(document=doc, previous=previous, history=history)]
    written: list[str] = []
    try:
        if args.html:
            write_text(args.html, render_html(sections))
            written.append(f"HTML report of run {run_id}: {args.html}")
        if args.output:
            write_text(args.output, render_markdown(sections))
            written.append(f"report of run {run_id}: {args.output}")
        elif not args.html:
            sys.stdout.write(render_markdown(sections))
    except OSError as exc:
        target = exc.filename or args.output or args.html
        return fail(f"{target}: cannot write: {exc.strerror or exc}", EXIT_OUTPUT_FAILED)
    for line in written:
        print(line, file=sys.stderr)
    return EXIT_OK


def add_commands(sub: Any) -> None:
    """Register `report` on the `model-gate` subcommand parser."""
    p = sub.add_parser(
        "report", help="re-render the report of an archived run (markdown, --html)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", nargs="?", default="latest",
                   help="archived run id, or 'latest' (the default)")
    p.add_argument("--archive", help="archive folder or fsspec URL (default: the archive of "
                                     "./gate.yaml, else training_archives)")
    p.add_argument("--config", help="gate.yaml naming the archive (default: ./gate.yaml)")
    p.add_argument("--html", metavar="PATH", help="write the HTML report to PATH")
    p.add_argument("--output", "-o", metavar="F",
                   help="write the markdown report to F instead of stdout")
    p.set_defaults(func=cmd_report)
