"""The short markdown: the CI step summary and the pull-request comment.

At any number of models it holds the counts, the changes since the previous run, the grouped
reasons, the TOP worst DROP / REVIEW models and a link line to the full report, and it never
exceeds LIMIT bytes (a sticky PR comment is read on every push; GitHub caps comments at
65,536 characters and step summaries at 1 MiB). Renders a string only.
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_model_gate.report.markdown import md_code, md_text, short_id
from pytest_model_gate.report.view import (
    CHANGE_KINDS,
    CLASS_ORDER,
    ReportSection,
    by_severity,
    changes_view,
    class_counts,
    deciding,
    fmt,
    plural,
    reasons,
    total_counts,
)
from pytest_model_gate.text import finite

LIMIT = 64 * 1024
"""Bytes, whatever the number of models."""
TOP = 20
"""DROP / REVIEW models listed by severity."""
IDS_PER_LINE = 6
"""Model ids named per reason or change kind (the rest counted)."""
REASONS_MAX = 12
"""Reason groups per class."""
DIGEST_ID_WIDTH = 48
"""Ids are shortened in the middle beyond this (the full report has them whole)."""
MARKER = "<!-- model-gate -->"
"""First line: lets a sticky-comment action find and update its comment."""


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(md_text(short_id(i, DIGEST_ID_WIDTH)) for i in ids[:IDS_PER_LINE])
    more = len(ids) - IDS_PER_LINE
    return shown + (f" and {more} more" if more > 0 else "")


def _counts(c: dict[str, int]) -> str:
    return " · ".join(f"**{c.get(t, 0)} {t}**" for t in CLASS_ORDER) + \
        f" of {sum(c.values())} models"


def render_digest(sections: Sequence[ReportSection], *, links: Sequence[str] = (),
                  limit: int = LIMIT) -> str:
    """The short report of `sections`; `links` are already-formatted markdown lines that say
    where the full report is (the pipeline knows the paths and the CI run)."""
    head = [MARKER, f"### Model gate: {_counts(total_counts(sections))}", ""]
    tail = ["", *links] if links else []
    body: list[str] = []
    for section in sections:
        body += _section(section, several=len(sections) > 1)
    return _fit(head, body, tail, limit)


def _section(section: ReportSection, several: bool) -> list[str]:
    doc = section.document
    out: list[str] = []
    run = f"run {md_code(doc['run_id'])}" if "run_id" in doc else "not archived"
    title = md_text(doc["summary"]["path"])
    if several:
        out += [f"#### {title}: {_counts(class_counts(doc))}", ""]
    out += [f"{title} · {run}", ""]
    ch = changes_view(doc, section.previous)
    if ch.previous_id is not None:
        kinds = []
        for kind in CHANGE_KINDS:
            ids = [c.model_id for c in ch.rows if c.kind == kind]
            if ids:
                kinds.append(f"{plural(len(ids), kind)} ({_ids(ids)})")
        text = "; ".join(kinds) if kinds else "no class changed"
        out += [f"**Since run {md_code(ch.previous_id)}:** {text}; {ch.unchanged} unchanged.",
                ""]
    for cls, title_text in (("DROP", "Why models were dropped"),
                            ("REVIEW", "Why models need review")):
        groups = reasons(doc, cls)
        if not groups:
            continue
        out += [f"**{title_text}**", ""]
        out += [f"- {md_text(r.text)}: {len(r.model_ids)} ({_ids(r.model_ids)})"
                for r in groups[:REASONS_MAX]]
        if len(groups) > REASONS_MAX:
            out.append(f"- and {len(groups) - REASONS_MAX} more reasons (see the full report)")
        out.append("")
    worst = by_severity(doc)
    if worst:
        out += [f"**Top {min(TOP, len(worst))} of {len(worst)} DROP / REVIEW by severity**", "",
                "| model | class | deciding metrics |", "|---|---|---|"]
        for m in worst[:TOP]:
            cells = []
            for name in deciding(m):
                metric = m["metrics"][name]
                bound = metric["review"] if metric["tier"] == "DROP" else metric["approved"]
                op = "<" if metric["higher_is_better"] else ">"
                value = fmt(metric["value"]) if finite(metric["value"]) is not None \
                    else metric["status"]
                cells.append(f"{md_text(name)} {md_text(value)} {op} {bound:g}")
            if not cells:  # REVIEW from a flag (demote, regression), not from a bound
                cells.append(md_text(", ".join(m["flags"])) or "—")
            out.append(f"| {md_text(short_id(m['id'], DIGEST_ID_WIDTH))} | "
                       f"{md_text(m['classification'])} | {'; '.join(cells)} |")
        out.append("")
    return out


def _fit(head: list[str], body: list[str], tail: list[str], limit: int) -> str:
    """Join; when over `limit` bytes, drop body lines from the end (never half a table row)
    and say so. Always ends with the link lines."""
    text = "\n".join([*head, *body, *tail]).rstrip() + "\n"
    if len(text.encode("utf-8")) <= limit:
        return text
    notice = "*Cut to fit a pull-request comment: the full report has every model.*"
    budget = limit - len("\n".join([*head, *tail, "", notice]).encode("utf-8")) - 8
    kept: list[str] = []
    size = 0
    for line in body:
        size += len(line.encode("utf-8")) + 1
        if size > budget:
            break
        kept.append(line)
    while kept and kept[-1].startswith("|"):  # a cut table would lose its meaning
        kept.pop()
    return "\n".join([*head, *kept, "", notice, *tail]).rstrip() + "\n"
