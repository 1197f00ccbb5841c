"""View models -> markdown (recommendations.md, the report path, the CI step summary).

Renders strings only: writing them is the caller's (pytest_model_gate.files). Layout of one
section (one summary):
  header (run id, summary file and digest, config digest, counts, summary metadata)
  changes since the previous archived run
  one table per class, DROP, REVIEW, APPROVED (APPROVED collapses past COLLAPSE_AT rows)
  checkpoints (every model with use_checkpoint), regressions against the baseline

Every text from a run document goes through `md_text`: no markup, no raw HTML, no autolink.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pytest_model_gate.report.view import (
    CLASS_ORDER,
    COLLAPSE_AT,
    Cell,
    ClassTable,
    ReportSection,
    SectionView,
    plain,
    plural,
    reasons,
    section_view,
    total_counts,
)

REASON_IDS = 10
"""Model ids named per grouped reason (the class tables list them all)."""
ID_WIDTH = 80
"""Model ids longer than this are shortened in tables and listed in full after them."""

__all__ = ["ReportSection", "md_code", "md_text", "render_markdown", "short_id"]


# --- escaping ------------------------------------------------------------------------------

# Every ASCII punctuation character that can start inline markup in CommonMark + GFM (emphasis,
# code, links, images, HTML, entities, tables, strikethrough, autolinks, GitHub's math and
# mentions). Backslash escapes are literal in CommonMark, so this never needs HTML entities.
# An underscore is escaped unless it sits between two ASCII letters/digits; a dot unless it
# sits between two digits (a number): an escaped dot splits the text where an autolinker
# (GFM's `www.` and domain rules, linkify) would look for a host name, so
# `www.example.com/login` stays text. (Written as one character class first, then the
# conditions, so the regex engine can skip ahead to candidate characters.)
_MD_SPECIAL = re.compile(r"[\\`*{}\[\]()#!|~<>&$@:^+_.]"
                         r"(?:(?<=[^_.])"
                         r"|(?<=_)(?:(?<![0-9A-Za-z]_)|(?![0-9A-Za-z]))"
                         r"|(?<=\.)(?:(?<![0-9]\.)|(?![0-9])))")


def _md_escape(m: re.Match[str]) -> str:
    return "\\" + m.group(0)


def md_text(text: object) -> str:
    """Escape text from the summary for markdown (table cells, headings, list items): no
    markup, no raw HTML, no autolinks, no line breaks, no table pipes. Underscores inside
    words and dots inside numbers stay bare."""
    return _MD_SPECIAL.sub(_md_escape, plain(text))


_CODE_SAFE = re.compile(r"[0-9A-Za-z._:+-]{1,128}")


def md_code(text: object) -> str:
    """An identifier (run id, digest) in a code span when it is plainly safe, else escaped."""
    value = str(text)
    return f"`{value}`" if _CODE_SAFE.fullmatch(value) else md_text(value)


def short_id(model_id: str, width: int = ID_WIDTH) -> str:
    """A long id shortened in the middle (the report lists such ids in full after the table)."""
    if len(model_id) <= width:
        return model_id
    tail = width // 4
    return model_id[: width - tail - 1] + "…" + model_id[-tail:]


# --- markdown ------------------------------------------------------------------------------

def render_markdown(sections: Sequence[ReportSection]) -> str:
    out: list[str] = ["# Model gate report", ""]
    if len(sections) > 1:
        out += [f"{len(sections)} summaries: " + _counts_line(total_counts(sections)), ""]
    for section in sections:
        out += _Markdown(section_view(section)).render()
    return "\n".join(out).rstrip() + "\n"


def _counts_line(c: Mapping[str, int]) -> str:
    return " · ".join(f"**{c.get(t, 0)} {t}**" for t in CLASS_ORDER) + \
        f" of {sum(c.values())} models"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _collapsible(lines: list[str], count: int, what: str) -> list[str]:
    if count <= COLLAPSE_AT:
        return lines
    return [f"<details><summary>{count} {what} (click to expand)</summary>", "", *lines, "",
            "</details>"]


def _spark_md(chars: str, peak: int | None) -> str:
    """A sparkline in code spans (GitHub draws block characters in a monospace font only
    there), the peak's character in its own bold span: `▁`**`█`**`▃▂`."""
    if peak is None:
        return f"`{chars}`"
    before, after = chars[:peak], chars[peak + 1:]
    return ((f"`{before}`" if before else "") + f"**`{chars[peak]}`**"
            + (f"`{after}`" if after else ""))


class _Markdown:
    """One section's markdown; collects the long ids its tables shorten."""

    def __init__(self, view: SectionView) -> None:
        self.v = view
        self.long_ids: list[str] = []
        self._long_seen: set[str] = set()

    def render(self) -> list[str]:
        out = self.header()
        out += self.changes()
        out += self.why()
        out += self.legend()
        for table in self.v.tables:
            out += self.class_table(table)
        out += self.checkpoints()
        out += self.regressions()
        if self.long_ids:
            out += ["Model ids shortened in the tables above, in full:", ""]
            out += [f"- {md_text(mid)}" for mid in self.long_ids] + [""]
        return out

    def header(self) -> list[str]:
        v = self.v
        out = [f"## {md_text(v.title)}", ""]
        out.append(f"- Run: {md_code(v.run_id)}" if v.run_id else "- Run: not archived")
        out.append(f"- Summary: {md_text(v.title)}, sha256 {md_code(v.summary_sha256)}")
        out.append(f"- Config: sha256 {md_code(v.config_sha256)}")
        if v.metadata:
            out.append("- Summary metadata: " + ", ".join(
                f"{md_text(k)} {md_text(t)}" for k, t in v.metadata))
        out.append("- Counts: " + _counts_line(v.counts))
        return [*out, ""]

    def changes(self) -> list[str]:
        out = ["### Changes since the previous archived run", ""]
        ch = self.v.changes
        if ch.previous_id is None:
            text = ("No previous archived run to compare with." if ch.archived
                    else "Not archived: no previous run to compare with.")
            return [*out, text, ""]
        out.append(f"Compared with run {md_code(ch.previous_id)}: {ch.summary_line()}; "
                   f"{ch.unchanged} unchanged.")
        if ch.config_before is not None:
            out.append("")
            out.append(f"The gating config changed since then (sha256 "
                       f"{md_code(ch.config_before)} → {md_code(ch.config_now)}): "
                       "some changes may come from it.")
        out.append("")
        if ch.rows:
            rows = ["| change | model | was | now |", "|---|---|---|---|"]
            rows += [_row([c.kind, self.model_cell(c.model_id),
                           md_text(c.before) if c.before else "—",
                           md_text(c.after) if c.after else "—"])
                     for c in ch.rows]
            out += _collapsible(rows, len(ch.rows), "changes")
            out.append("")
        return out

    def why(self) -> list[str]:
        """Reasons grouped across models: 'LOW_PF: profit_factor < its REVIEW bound: 180'."""
        out: list[str] = []
        doc = self.v.section.document
        for cls, title in (("DROP", "Why models were dropped"),
                           ("REVIEW", "Why models need review")):
            groups = reasons(doc, cls)
            if not groups:
                continue
            out += [f"### {title}", ""]
            for r in groups:
                ids = ", ".join(self.model_cell(i) for i in r.model_ids[:REASON_IDS])
                more = len(r.model_ids) - REASON_IDS
                out.append(f"- {md_text(r.text)}: {plural(len(r.model_ids), 'model')} ({ids}"
                           + (f" and {more} more)" if more > 0 else ")"))
            out.append("")
        return out

    def model_cell(self, mid: str) -> str:
        if len(mid) <= ID_WIDTH:
            return md_text(mid)
        shown = short_id(mid)
        if mid not in self._long_seen:
            self._long_seen.add(mid)
            self.long_ids.append(mid)
        return md_text(shown)

    @staticmethod
    def metric_cell(cell: Cell | None) -> str:
        if cell is None:
            return "—"
        text = cell.value if cell.status == "ok" else md_text(cell.status)
        if cell.overridden:
            text += " †"
        if cell.tier == "DROP":
            text = f"**{text} ✗**"
        elif cell.tier == "REVIEW":
            text += " ⚠"
        if cell.delta is not None:
            text += f" **{cell.delta}**" if cell.regressed else f" {cell.delta}"
        return text

    def class_table(self, table: ClassTable) -> list[str]:
        v = self.v
        head = ["model", *(md_text(n) for n in v.names), "flags", f"{md_text(v.watched)} history"]
        lines = [_row(head), "|---|" + "---:|" * len(v.names) + "---|---|"]
        metric_cell = self.metric_cell
        flag_text: dict[str, str] = {}
        for row in table.rows:
            cells = [self.model_cell(row.record["id"])]
            cells += [metric_cell(c) for c in row.cells]
            flags = flag_text.get(row.flags)
            if flags is None:
                flags = flag_text[row.flags] = md_text(row.flags) or "—"
            cells.append(flags)
            spark = row.spark
            if not spark.points:
                cells.append("no history")
            else:
                cells.append(f"{_spark_md(spark.chars, spark.peak_pos)} {md_text(row.peak)}")
            lines.append("| " + " | ".join(cells) + " |")
        out = [f"### {md_text(table.cls)} ({len(table.rows)})", ""]
        if table.cls == "APPROVED":
            out += _collapsible(lines, len(table.rows), "APPROVED models")
        else:
            out += lines
        return [*out, ""]

    def legend(self) -> list[str]:
        v = self.v
        parts = ["✗ misses the REVIEW bound (DROP)", "⚠ misses the APPROVED bound (REVIEW)",
                 "**bold** mark in a history (monospace): the peak"]
        if v.has_override:
            parts.append("† bounds from an override")
        if v.has_delta:
            parts.append("Δ change from the baseline run (bold: a regression)")
        bounds = [f"{md_text(name)} {'≥' if b.higher_is_better else '≤'} "
                  f"{b.approved:g} / {b.review:g}" for name, b in v.bounds]
        out = ["Marks: " + "; ".join(parts) + "."]
        if bounds:
            out += ["", "Bounds (APPROVED / REVIEW): " + ", ".join(bounds) + "."]
        return [*out, ""]

    def checkpoints(self) -> list[str]:
        v = self.v
        out = ["### Checkpoints", ""]
        if not v.checkpoints:
            return [*out, "No model needs an earlier checkpoint.", ""]
        watched = md_text(v.watched)
        t = v.decline_threshold
        by = f"more than {t:.0%}" if t is not None else "too far"
        out += [f"{plural(len(v.checkpoints), 'model')} ended {by} below their peak {watched}: "
                "restore the checkpoint of the peak before deploying.", ""]
        rows = [f"| model | class | restore | peak {watched} | final | off peak |",
                "|---|---|---|---:|---:|---:|"]
        for c in v.checkpoints:
            rows.append(_row([self.model_cell(c.model_id), md_text(c.classification),
                              c.restore + (f" {md_code(c.path)}" if c.path else ""),
                              c.peak, c.final, c.off_peak]))
        out += _collapsible(rows, len(v.checkpoints), "checkpoint recommendations")
        return [*out, ""]

    def regressions(self) -> list[str]:
        if not self.v.regressions:
            return []
        out = ["### Regressions against the baseline", "",
               "| model | metric | baseline | baseline run | now | change | limit |",
               "|---|---|---:|---|---:|---:|---:|"]
        for r in self.v.regressions:
            out.append(_row([self.model_cell(r.model_id), md_text(r.metric), r.baseline,
                             md_code(r.run_id), r.value, r.change, r.limit]))
        return [*out, ""]
