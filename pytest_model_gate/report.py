"""Run documents -> markdown (recommendations.md, the report path, the CI step summary).

Everything here renders from the documented JSON of a run (`records.run_document`), never from
live objects, so an archived run re-renders identically years later. The HTML report lives in
`html_report.py` and shares the helpers below (escaping aside, its content is the same).

Layout of one section (one summary):
  header (run id, summary file and digest, config digest, counts, summary metadata)
  changes since the previous archived run
  one table per class, DROP, REVIEW, APPROVED (APPROVED collapses past COLLAPSE_AT rows)
  checkpoints (every model with use_checkpoint), regressions against the baseline
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .formatting import fmt_change, fmt_value

CLASS_ORDER = ("DROP", "REVIEW", "APPROVED")
_RANK = {"APPROVED": 0, "REVIEW": 1, "DROP": 2}
COLLAPSE_AT = 50
"""Tables with more rows than this (APPROVED models, changes, checkpoints) fold into <details>."""
SPARK_WIDTH = 40
"""Longest sparkline; longer histories are bucketed (each bucket shows its best point)."""
ID_WIDTH = 80
"""Model ids longer than this are shortened in tables and listed in full after them."""
STEP_SUMMARY_LIMIT = 1_000_000
"""GitHub refuses a step summary over 1 MiB: larger reports are cut there, with a notice."""
SPARK_CHARS = "▁▂▃▄▅▆▇█"
GAP = "·"


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


# --- escaping ------------------------------------------------------------------------------

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Every ASCII punctuation character that can start inline markup in CommonMark + GFM (emphasis,
# code, links, images, HTML, entities, tables, strikethrough, autolinks, GitHub's math and
# mentions). Backslash escapes are literal in CommonMark, so this never needs HTML entities.
_MD_SPECIAL = re.compile(r"[\\`*{}\[\]()#!|~<>&$@:^+]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def plain(text: Any) -> str:
    """One line of display text: whitespace runs collapsed, control and bidi characters
    (which could reorder or hide what a reviewer reads) replaced by U+FFFD."""
    return _CONTROL.sub("\ufffd", " ".join(str(text).split()))


def md_text(text: Any) -> str:
    """Escape text from the summary for markdown (table cells, headings, list items): no
    markup, no raw HTML, no line breaks, no table pipes. Underscores inside words stay bare."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), plain(text))


_CODE_SAFE = re.compile(r"[0-9A-Za-z._:+-]{1,128}")


def md_code(text: Any) -> str:
    """An identifier (run id, digest) in a code span when it is plainly safe, else escaped."""
    value = str(text)
    return f"`{value}`" if _CODE_SAFE.fullmatch(value) else md_text(value)


def short_id(model_id: str, width: int = ID_WIDTH) -> str:
    """A long id shortened in the middle (the report lists such ids in full after the table)."""
    if len(model_id) <= width:
        return model_id
    tail = width // 4
    return model_id[: width - tail - 1] + "…" + model_id[-tail:]


# --- reading documents ---------------------------------------------------------------------

def models(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(doc.get("models") or [])


def metric_names(doc: Mapping[str, Any]) -> list[str]:
    """Gated metrics in config order, plus any a model carries that the config does not list."""
    names = [str(n) for n in ((doc.get("config") or {}).get("metrics") or {})]
    for model in models(doc):
        for name in model.get("metrics") or {}:
            if name not in names:
                names.append(str(name))
    return names


def default_bounds(doc: Mapping[str, Any], name: str) -> tuple[float, float, bool] | None:
    spec = ((doc.get("config") or {}).get("metrics") or {}).get(name)
    if not isinstance(spec, Mapping):
        return None
    return float(spec["approved"]), float(spec["review"]), bool(spec.get("higher_is_better", True))


def watched_metric(doc: Mapping[str, Any]) -> str | None:
    watched = ((doc.get("config") or {}).get("overfitting") or {}).get("metric")
    if watched:
        return str(watched)
    for model in models(doc):
        metric = (model.get("overfitting") or {}).get("metric")
        if metric:
            return str(metric)
    return None


def by_class(doc: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {c: [] for c in CLASS_ORDER}
    for model in models(doc):
        out.setdefault(str(model.get("classification")), []).append(model)
    return out


def class_counts(doc: Mapping[str, Any]) -> dict[str, int]:
    stored = doc.get("counts")
    if isinstance(stored, Mapping):
        return {c: int(stored.get(c, 0)) for c in CLASS_ORDER}
    return {c: len(rows) for c, rows in by_class(doc).items() if c in _RANK}


def is_overridden(doc: Mapping[str, Any], name: str, metric: Mapping[str, Any]) -> bool:
    """True when this model's bounds for the metric differ from the config's (an override)."""
    bounds = default_bounds(doc, name)
    if bounds is None:
        return False
    return (metric.get("approved"), metric.get("review")) != bounds[:2]


def finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def pct(value: float) -> str:
    return f"{value:+.1%}"


def delta_text(change: float) -> str:
    """'Δ-12.5%' (relative change from the baseline value), 'Δ0' when unchanged."""
    return "Δ0" if abs(change) < 0.0005 else f"Δ{pct(change)}"


def _baseline_pair(model: Mapping[str, Any], name: str) -> tuple[float, float] | None:
    """(baseline value, value) of a metric when both are finite numbers."""
    base = (model.get("baseline") or {}).get(name)
    if not isinstance(base, Mapping):
        return None
    b = finite(base.get("value"))
    v = finite(((model.get("metrics") or {}).get(name) or {}).get("value"))
    return None if b is None or v is None else (b, v)


def baseline_change(model: Mapping[str, Any], name: str) -> float | None:
    """Change of a metric from its baseline value (signed: + means it went up), relative to
    |baseline|; absolute from a baseline of 0 (as the gate measures it)."""
    pair = _baseline_pair(model, name)
    if pair is None:
        return None
    b, v = pair
    return v - b if b == 0 else (v - b) / abs(b)


def baseline_delta(model: Mapping[str, Any], name: str) -> str | None:
    """The Δ mark of a metric: 'Δ-12.5%' (relative), 'Δ+0.05 abs' from a baseline of 0,
    'Δ0' unchanged; None when the baseline or the value is not a finite number."""
    pair = _baseline_pair(model, name)
    change = baseline_change(model, name)
    if pair is None or change is None:
        return None
    if pair[0] == 0 and change != 0:
        return f"Δ{change:+.6g} abs"
    return delta_text(change)


def regression_change(r: Mapping[str, Any]) -> tuple[str, str]:
    """A regression record's (change, limit) texts: relative, or absolute from a 0 baseline."""
    return fmt_change(finite(r.get("change")), finite(r.get("limit")),
                      relative=r.get("relative") is not False)


def regressed(model: Mapping[str, Any]) -> set[str]:
    return {str(r.get("metric")) for r in model.get("regressions") or []}


# --- sparklines ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Spark:
    chars: str
    peak_pos: int | None  # index into chars of the peak (None: no finite point)
    points: int           # length of the history
    bucket: int           # history points per character


def sparkline(history: Sequence[Any], best_idx: int | None, higher_is_better: bool = True,
              width: int = SPARK_WIDTH) -> Spark:
    """Block characters for a history, min..max scaled; gaps (null, non-finite) are `·`.

    Longer histories are bucketed: a character stands for `bucket` points and shows the best
    of them, so the peak is never averaged away.
    """
    values = [finite(v) for v in history]
    n = len(values)
    bucket = max(1, math.ceil(n / width)) if n else 1
    reps: list[float | None] = []
    for start in range(0, n, bucket):
        chunk = [v for v in values[start:start + bucket] if v is not None]
        reps.append((max(chunk) if higher_is_better else min(chunk)) if chunk else None)
    real = [v for v in reps if v is not None]
    if not real:
        return Spark(GAP * len(reps), None, n, bucket)
    lo, hi = min(real), max(real)
    chars = []
    for v in reps:
        if v is None:
            chars.append(GAP)
        elif hi == lo:
            chars.append(SPARK_CHARS[3])
        else:
            chars.append(SPARK_CHARS[round((v - lo) / (hi - lo) * (len(SPARK_CHARS) - 1))])
    peak_pos = None
    if best_idx is not None and 0 <= best_idx < n:
        peak_pos = best_idx // bucket
    return Spark("".join(chars), peak_pos, n, bucket)


def model_spark(doc: Mapping[str, Any], model: Mapping[str, Any]) -> Spark:
    of = model.get("overfitting") or {}
    name = of.get("metric") or watched_metric(doc)
    hib = bool((((model.get("metrics") or {}).get(name)) or {}).get("higher_is_better", True))
    return sparkline(of.get("history") or [], model.get("best_idx"), hib)


def peak_text(model: Mapping[str, Any], spark: Spark) -> str:
    """'peak 0.8403 at 6/10, final 11.8% off peak' (plain text, no markup)."""
    of = model.get("overfitting") or {}
    if spark.peak_pos is None or model.get("best_idx") is None:
        return "no history" if not spark.points else "no finite point"
    text = f"peak {fmt_value(finite(of.get('peak')))} at {model['best_idx'] + 1}/{spark.points}"
    decline = finite(of.get("decline"))
    if decline is not None and decline >= 0.0005:
        text += f", final {decline:.1%} off peak"
    if spark.bucket > 1:
        text += f" ({spark.bucket} points per mark)"
    return text


# --- changes since the previous run --------------------------------------------------------

CHANGE_KINDS = ("new DROP", "demoted", "promoted", "appeared", "vanished")


@dataclass(frozen=True)
class Change:
    kind: str
    model_id: str
    before: str | None
    after: str | None


def compare_runs(doc: Mapping[str, Any], previous: Mapping[str, Any]) -> list[Change]:
    """Per model, how its class moved since `previous`: grouped by kind (CHANGE_KINDS order),
    the current run's model order inside a kind (the previous run's for vanished models)."""
    before = {str(m.get("id")): str(m.get("classification")) for m in models(previous)}
    now_ids: set[str] = set()
    found: dict[str, list[Change]] = {k: [] for k in CHANGE_KINDS}
    for model in models(doc):
        mid, cls = str(model.get("id")), str(model.get("classification"))
        now_ids.add(mid)
        old = before.get(mid)
        if cls == "DROP" and old != "DROP":
            found["new DROP"].append(Change("new DROP", mid, old, cls))
        elif old is None:
            found["appeared"].append(Change("appeared", mid, None, cls))
        elif old in _RANK and cls in _RANK and _RANK[cls] > _RANK[old]:
            found["demoted"].append(Change("demoted", mid, old, cls))
        elif old in _RANK and cls in _RANK and _RANK[cls] < _RANK[old]:
            found["promoted"].append(Change("promoted", mid, old, cls))
    for mid, old in before.items():
        if mid not in now_ids:
            found["vanished"].append(Change("vanished", mid, old, None))
    return [c for kind in CHANGE_KINDS for c in found[kind]]


def change_counts(changes: Sequence[Change]) -> dict[str, int]:
    out = dict.fromkeys(CHANGE_KINDS, 0)
    for c in changes:
        out[c.kind] += 1
    return out


def plural(n: int, kind: str) -> str:
    """'2 new DROPs', '1 demoted' (the kinds ending in -ed need no plural)."""
    return f"{n} {kind}" + ("s" if n != 1 and not kind.endswith("ed") else "")


def metadata_items(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Run metadata from the summary (timestamp first), values as compact JSON when not text."""
    info = doc.get("summary") or {}
    out = []
    for key, value in info.items():
        if key in ("path", "sha256") or value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(
            value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        if len(text) > 200:
            text = text[:199] + f"… ({len(text)} characters)"
        out.append((str(key), text))
    return out


def restore_text(model: Mapping[str, Any]) -> str:
    best = model.get("best_idx")
    n = len((model.get("overfitting") or {}).get("history") or [])
    update = model.get("checkpoint_update")
    if best is None:
        return "no checkpoint known"
    where = f"validation {best + 1} of {n}"
    if update is not None:
        return f"update {update} ({where})"
    return f"{where} (validation interval unknown)"


# --- markdown ------------------------------------------------------------------------------

def render_markdown(sections: Sequence[ReportSection]) -> str:
    out: list[str] = ["# Model gate report", ""]
    if len(sections) > 1:
        total = dict.fromkeys(CLASS_ORDER, 0)
        for s in sections:
            for c, n in class_counts(s.document).items():
                total[c] += n
        out += [f"{len(sections)} summaries: " + _counts_line(total), ""]
    for section in sections:
        out += _MarkdownSection(section).render()
    return "\n".join(out).rstrip() + "\n"


def _counts_line(c: Mapping[str, int]) -> str:
    return " · ".join(f"**{c.get(t, 0)} {t}**" for t in CLASS_ORDER) + \
        f" of {sum(c.values())} models"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _collapsible(lines: list[str], count: int, what: str, force: bool = False) -> list[str]:
    if count <= COLLAPSE_AT and not force:
        return lines
    return [f"<details><summary>{count} {what} (click to expand)</summary>", "", *lines, "",
            "</details>"]


class _MarkdownSection:
    def __init__(self, section: ReportSection) -> None:
        self.s = section
        self.doc = section.document
        self.names = metric_names(self.doc)
        self.long_ids: list[str] = []
        self.marks_used: set[str] = set()
        for model in models(self.doc):
            for name, metric in (model.get("metrics") or {}).items():
                if isinstance(metric, Mapping) and is_overridden(self.doc, name, metric):
                    self.marks_used.add("†")
                if baseline_change(model, name) is not None:
                    self.marks_used.add("Δ")

    def render(self) -> list[str]:
        out = self.header()
        out += self.changes()
        out += self.legend()
        groups = by_class(self.doc)
        for cls in CLASS_ORDER:
            out += self.class_table(cls, groups.get(cls, []))
        for cls, rows in groups.items():  # a class no release knows: still listed, never dropped
            if cls not in _RANK:
                out += self.class_table(cls, rows)
        out += self.checkpoints()
        out += self.regressions()
        if self.long_ids:
            out += ["Model ids shortened in the tables above, in full:", ""]
            out += [f"- {md_text(mid)}" for mid in self.long_ids] + [""]
        return out

    def header(self) -> list[str]:
        doc = self.doc
        info = doc.get("summary") or {}
        out = [f"## {md_text(info.get('path', 'summary'))}", ""]
        run_id = doc.get("run_id")
        out.append(f"- Run: {md_code(run_id)}" if run_id else "- Run: not archived")
        out.append(f"- Summary: {md_text(info.get('path', '?'))}, sha256 "
                   f"{md_code(info.get('sha256', '?'))}")
        out.append(f"- Config: sha256 {md_code(doc.get('config_sha256', '?'))}")
        meta = metadata_items(doc)
        if meta:
            out.append("- Summary metadata: " + ", ".join(
                f"{md_text(k)} {md_text(v)}" for k, v in meta))
        out.append("- Counts: " + _counts_line(class_counts(doc)))
        return [*out, ""]

    def changes(self) -> list[str]:
        out = ["### Changes since the previous archived run", ""]
        prev = self.s.previous
        if prev is None:
            text = ("No previous archived run to compare with." if self.doc.get("run_id")
                    else "Not archived: no previous run to compare with.")
            return [*out, text, ""]
        changes = compare_runs(self.doc, prev)
        n = change_counts(changes)
        unchanged = len(models(self.doc)) - sum(n[k] for k in CHANGE_KINDS if k != "vanished")
        prev_id = md_code(prev.get("run_id", "?"))
        out.append(f"Compared with run {prev_id}: " + ", ".join(
            plural(n[k], k) for k in CHANGE_KINDS) + f"; {unchanged} unchanged.")
        if prev.get("config_sha256") != self.doc.get("config_sha256"):
            out.append("")
            out.append(f"The gating config changed since then (sha256 "
                       f"{md_code(str(prev.get('config_sha256', '?'))[:12])} → "
                       f"{md_code(str(self.doc.get('config_sha256', '?'))[:12])}): "
                       "some changes may come from it.")
        out.append("")
        if changes:
            rows = ["| change | model | was | now |", "|---|---|---|---|"]
            rows += [_row([c.kind, self.model_cell(c.model_id), c.before or "—", c.after or "—"])
                     for c in changes]
            out += _collapsible(rows, len(changes), "changes")
            out.append("")
        return out

    def model_cell(self, model_id: Any) -> str:
        mid = str(model_id)
        shown = short_id(mid)
        if shown != mid and mid not in self.long_ids:
            self.long_ids.append(mid)
        return md_text(shown)

    def metric_cell(self, model: Mapping[str, Any], name: str) -> str:
        metric = (model.get("metrics") or {}).get(name)
        if not isinstance(metric, Mapping):
            return "—"
        status = metric.get("status", "ok")
        text = fmt_value(finite(metric.get("value"))) if status == "ok" else str(status)
        tier = metric.get("tier")
        if is_overridden(self.doc, name, metric):
            text += " †"
        if tier == "DROP":
            text = f"**{text} ✗**"
        elif tier == "REVIEW":
            text += " ⚠"
        delta = baseline_delta(model, name)
        if delta is not None:
            text += f" **{delta}**" if name in regressed(model) else f" {delta}"
        return text

    def class_table(self, cls: str, rows: list[Mapping[str, Any]]) -> list[str]:
        if not rows:
            return []
        watched = watched_metric(self.doc) or "watched"
        head = ["model", *(md_text(n) for n in self.names), "flags",
                f"{md_text(watched)} history"]
        lines = [_row(head), "|---|" + "---:|" * len(self.names) + "---|---|"]
        for model in rows:
            spark = model_spark(self.doc, model)
            lines.append(_row([
                self.model_cell(model.get("id")),
                *(self.metric_cell(model, n) for n in self.names),
                md_text(", ".join(map(str, model.get("flags") or []))) or "—",
                self.spark_cell(model, spark)]))
        out = [f"### {md_text(cls)} ({len(rows)})", ""]
        if cls == "APPROVED":
            out += _collapsible(lines, len(rows), "APPROVED models")
        else:
            out += lines
        return [*out, ""]

    @staticmethod
    def spark_cell(model: Mapping[str, Any], spark: Spark) -> str:
        if not spark.points:
            return "no history"
        chars = spark.chars
        if spark.peak_pos is not None:
            p = spark.peak_pos
            chars = f"{chars[:p]}**{chars[p]}**{chars[p + 1:]}"
        return f"{chars} {md_text(peak_text(model, spark))}"

    def legend(self) -> list[str]:
        parts = ["✗ misses the REVIEW bound (DROP)", "⚠ misses the APPROVED bound (REVIEW)",
                 "**bold** mark in a history: the peak"]
        if "†" in self.marks_used:
            parts.append("† bounds from an override")
        if "Δ" in self.marks_used:
            parts.append("Δ change from the baseline run (bold: a regression)")
        bounds = []
        for name in self.names:
            b = default_bounds(self.doc, name)
            if b is not None:
                op = "≥" if b[2] else "≤"
                bounds.append(f"{md_text(name)} {op} {b[0]:g} / {b[1]:g}")
        out = ["Marks: " + "; ".join(parts) + "."]
        if bounds:
            out += ["", "Bounds (APPROVED / REVIEW): " + ", ".join(bounds) + "."]
        return [*out, ""]

    def checkpoints(self) -> list[str]:
        advice = [m for m in models(self.doc) if m.get("use_checkpoint")]
        out = ["### Checkpoints", ""]
        if not advice:
            return [*out, "No model needs an earlier checkpoint.", ""]
        watched = md_text(watched_metric(self.doc) or "watched")
        threshold = finite(((self.doc.get("config") or {}).get("overfitting") or {})
                           .get("decline_threshold"))
        by = f"more than {threshold:.0%}" if threshold is not None else "too far"
        out += [f"{plural(len(advice), 'model')} ended {by} below their peak {watched}: "
                "restore the checkpoint of the peak before deploying.", ""]
        rows = [f"| model | class | restore | peak {watched} | final | off peak |",
                "|---|---|---|---:|---:|---:|"]
        for m in advice:
            of = m.get("overfitting") or {}
            name = of.get("metric") or watched_metric(self.doc)
            final = finite(((m.get("metrics") or {}).get(name) or {}).get("value"))
            decline = finite(of.get("decline"))
            rows.append(_row([self.model_cell(m.get("id")), md_text(m.get("classification")),
                              restore_text(m), fmt_value(finite(of.get("peak"))),
                              fmt_value(final),
                              f"{decline:.1%}" if decline is not None else "—"]))
        out += _collapsible(rows, len(advice), "checkpoint recommendations")
        return [*out, ""]

    def regressions(self) -> list[str]:
        found = [(m, r) for m in models(self.doc) for r in m.get("regressions") or []]
        if not found:
            return []
        out = ["### Regressions against the baseline", "",
               "| model | metric | baseline | baseline run | now | change | limit |",
               "|---|---|---:|---|---:|---:|---:|"]
        for m, r in found:
            change, limit = regression_change(r)
            out.append(_row([
                self.model_cell(m.get("id")), md_text(r.get("metric")),
                fmt_value(finite(r.get("baseline"))), md_code(r.get("run_id", "?")),
                fmt_value(finite(r.get("value"))), change, limit]))
        return [*out, ""]


# --- writing -------------------------------------------------------------------------------

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


def step_summary_text(text: str, full_path: str | Path,
                      limit: int = STEP_SUMMARY_LIMIT) -> str:
    """The report as the CI step summary shows it: whole when it fits GitHub's limit, else
    cut at a line, open <details> closed, and a notice that says where the full report is."""
    if len(text.encode("utf-8")) <= limit:
        return text
    notice = (f"> **Report cut here for the CI step summary** (it has "
              f"{len(text.encode('utf-8'))} bytes; the step summary takes at most {limit}). "
              f"The full report, with every model, is {md_text(full_path)} (also "
              "recommendations.md in the archived run).")
    budget = limit - len(notice.encode("utf-8")) - 64
    kept: list[str] = []
    size = 0
    open_details = 0
    for line in text.split("\n"):
        size += len(line.encode("utf-8")) + 1
        if size > budget:
            break
        kept.append(line)
        if line.startswith("<details>"):
            open_details += 1
        elif line.startswith("</details>"):
            open_details -= 1
    kept.append("")
    kept += ["</details>", ""] * open_details
    return "\n".join([*kept, notice]) + "\n"


def write_markdown(path: str | Path, text: str) -> None:
    """Write the report (complete or not at all); append it to $GITHUB_STEP_SUMMARY if set."""
    _atomic_write(path, text)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8", newline="\n") as f:
            f.write(step_summary_text(text, path) + "\n")


def render_html(sections: Sequence[ReportSection]) -> str:
    from .html_report import render_html as _render

    return _render(sections)


def write_html(path: str | Path, sections: Sequence[ReportSection]) -> None:
    _atomic_write(path, render_html(sections))
