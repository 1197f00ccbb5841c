"""Assessments -> markdown (recommendations.md, the report path, the CI step summary)."""

from __future__ import annotations

import html
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .formatting import fmt_value
from .gating import TIERS


@dataclass(frozen=True)
class ReportSection:
    """One summary's part of a report, built from the documented JSON record of the run.

    `document` is `records.run_document(...)` (with "run_id" when archived); `previous` is the
    prior archived run's document (for "changes since"); `history` holds earlier run documents,
    oldest first, for trends.
    """

    document: Mapping[str, Any]
    previous: Mapping[str, Any] | None = None
    history: Sequence[Mapping[str, Any]] = ()


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def md_text(text: str) -> str:
    """Escape summary text for a markdown table cell: no markup, no HTML, no line breaks."""
    text = " ".join(str(text).split())
    text = html.escape(text, quote=True)
    return _MD_SPECIAL.sub(r"\\\1", text)


def render_markdown(sections: Sequence[ReportSection]) -> str:
    out: list[str] = ["# Model gate report", ""]
    for section in sections:
        out += _render_section(section)
    return "\n".join(out).rstrip() + "\n"


def _render_section(s: ReportSection) -> list[str]:
    doc = s.document
    c = doc["counts"]
    out = [f"## {md_text(doc['summary']['path'])}", ""]
    if doc.get("run_id"):
        out.append(f"- run: `{doc['run_id']}`")
    out += [f"- summary sha256: `{doc['summary']['sha256'][:16]}`",
            f"- config sha256: `{doc['config_sha256'][:16]}`",
            "- counts: " + ", ".join(f"{t} {c[t]}" for t in TIERS), ""]
    names = list(doc["config"]["metrics"])
    for tier in ("DROP", "REVIEW", "APPROVED"):
        rows = [m for m in doc["models"] if m["classification"] == tier]
        if not rows:
            continue
        out += [f"### {tier} ({len(rows)})", "",
                "| model | " + " | ".join(md_text(n) for n in names) + " | flags |",
                "|---|" + "---|" * len(names) + "---|"]
        for model in rows:
            cells = []
            for name in names:
                m = model["metrics"][name]
                mark = "" if m["tier"] == "APPROVED" else (" ⚠" if m["tier"] == "REVIEW" else " ✗")
                value = fmt_value(m["value"]) if m["status"] == "ok" else m["status"]
                cells.append(value + mark)
            out.append(f"| {md_text(model['id'])} | " + " | ".join(cells)
                       + f" | {md_text(', '.join(model['flags']))} |")
        out.append("")
    advice = [m for m in doc["models"] if m["use_checkpoint"]]
    if advice:
        out += ["### Checkpoints", ""]
        for m in advice:
            update = m["checkpoint_update"]
            where = f"update {update}" if update is not None else f"validation {m['best_idx'] + 1}"
            out.append(f"- {md_text(m['id'])}: restore the checkpoint at {where}")
        out.append("")
    return out


def _atomic_write(path: str | Path, text: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_markdown(path: str | Path, text: str) -> None:
    """Write the report (complete or not at all); append it to $GITHUB_STEP_SUMMARY if set."""
    _atomic_write(path, text)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as f:
            f.write(text + "\n")


def render_html(sections: Sequence[ReportSection]) -> str:
    body: list[str] = []
    for s in sections:
        doc = s.document
        body.append(f"<h2>{html.escape(doc['summary']['path'])}</h2>")
        body.append("<table><tr><th>model</th><th>class</th><th>flags</th></tr>")
        for m in doc["models"]:
            body.append(f"<tr><td>{html.escape(m['id'])}</td><td>{m['classification']}</td>"
                        f"<td>{html.escape(', '.join(m['flags']))}</td></tr>")
        body.append("</table>")
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>Model gate report</title>"
            "</head><body><h1>Model gate report</h1>" + "".join(body) + "</body></html>\n")


def write_html(path: str | Path, sections: Sequence[ReportSection]) -> None:
    _atomic_write(path, render_html(sections))
