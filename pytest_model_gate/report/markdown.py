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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from pytest_model_gate.text import TIER_RANK, finite, fmt_change, fmt_value

CLASS_ORDER = ("DROP", "REVIEW", "APPROVED")
_RANK = TIER_RANK
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
# An underscore is escaped unless it sits between two ASCII letters/digits. (Written as one
# character class first, then the underscore's condition, so the regex engine can skip
# ahead to candidate characters: several times faster than an alternation.)
_MD_SPECIAL = re.compile(r"[\\`*{}\[\]()#!|~<>&$@:^+_]"
                         r"(?:(?<=[^_])|(?<![0-9A-Za-z]_)|(?![0-9A-Za-z]))")


def plain(text: Any) -> str:
    """One line of display text: whitespace runs collapsed, control and bidi characters
    (which could reorder or hide what a reviewer reads) replaced by U+FFFD."""
    value = text if type(text) is str else str(text)
    # Fast path: a printable string has no control/bidi character and no whitespace but the
    # ASCII space (str.isprintable is False for every other one), so only space runs and
    # leading/trailing spaces could change.
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        return value
    return _CONTROL.sub("\ufffd", " ".join(value.split()))


def _md_escape(m: re.Match[str]) -> str:
    return "\\" + m.group(0)


def md_text(text: Any) -> str:
    """Escape text from the summary for markdown (table cells, headings, list items): no
    markup, no raw HTML, no line breaks, no table pipes. Underscores inside words stay bare."""
    return _MD_SPECIAL.sub(_md_escape, plain(text))


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
    seen = set(names)
    for model in models(doc):
        for name in model.get("metrics") or {}:
            if name not in seen:
                names.append(str(name))
                seen.add(names[-1])
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


def _fmt(value: Any) -> str:
    """`fmt_value(finite(value))`."""
    if type(value) is float and value - value == 0.0:
        return f"{value:.6g}"
    return fmt_value(finite(value))


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
    baseline = model.get("baseline")
    if not baseline:
        return None
    return _delta(baseline, (model.get("metrics") or {}).get(name) or {}, name)


def _delta(baseline: Any, metric: Mapping[str, Any], name: Any) -> str | None:
    """`baseline_delta` from a model's (non-empty) "baseline" and its record of metric `name`
    (the renderers have both at hand)."""
    base = baseline.get(name)
    if type(base) is not dict and not isinstance(base, Mapping):
        return None
    b = finite(base.get("value"))
    v = finite(metric.get("value"))
    if b is None or v is None:
        return None
    if b == 0:
        change = v - b
        if change != 0:
            return f"Δ{change:+.6g} abs"
    else:
        change = (v - b) / abs(b)
    return delta_text(change)


_MISSING: Any = object()


class _DocFacts:
    """What the renderers look up for every model of a document, computed once per document
    (the config's bounds per metric, the watched metric)."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self._bounds: dict[Any, tuple[float, float, bool] | None] = {}
        self._pairs: dict[Any, tuple[float, float] | None] = {}
        self._watched: Any = _MISSING

    def bounds(self, name: Any) -> tuple[float, float, bool] | None:
        """`default_bounds(doc, name)`."""
        b = self._bounds.get(name, _MISSING)
        if b is _MISSING:
            b = self._bounds[name] = default_bounds(self.doc, name)
            self._pairs[name] = None if b is None else (b[0], b[1])
        return b  # type: ignore[no-any-return]

    def name_bounds(self, names: Sequence[str]) -> list[tuple[str, tuple[float, float] | None]]:
        """(name, the config's (approved, review) for it or None) for each of `names`: a
        model's bounds that differ from these come from an override (`is_overridden`)."""
        for name in names:
            self.bounds(name)
        return [(name, self._pairs[name]) for name in names]

    def watched(self) -> str | None:
        """`watched_metric(doc)`."""
        if self._watched is _MISSING:
            self._watched = watched_metric(self.doc)
        return self._watched  # type: ignore[no-any-return]

    def spark(self, model: Mapping[str, Any]) -> tuple[str, int | None, int, int]:
        """`model_spark(doc, model)` as a tuple."""
        of = model.get("overfitting") or {}
        name = of.get("metric") or self.watched()
        hib = bool((((model.get("metrics") or {}).get(name)) or {}).get("higher_is_better",
                                                                          True))
        return _spark(of.get("history") or [], model.get("best_idx"), hib)


def regression_change(r: Mapping[str, Any]) -> tuple[str, str]:
    """A regression record's (change, limit) texts: relative, or absolute from a 0 baseline."""
    return fmt_change(finite(r.get("change")), finite(r.get("limit")),
                      relative=r.get("relative") is not False)


def regressed(model: Mapping[str, Any]) -> set[str]:
    return {str(r.get("metric")) for r in model.get("regressions") or []}


class CellFacts(NamedTuple):
    """What both renderers show in one metric cell; each renders it in its own markup."""

    status: Any          # "ok", or what the record says instead of a value
    value: str           # the formatted value (meaningful when status is "ok")
    tier: Any
    overridden: bool     # bounds differ from the config's: an override applied
    delta: str | None    # the Δ mark against the baseline, if any
    regressed: bool      # the metric raised REGRESSION


def metric_cell_facts(model: Mapping[str, Any],
                      names: Sequence[tuple[str, tuple[float, float] | None]]
                      ) -> list[CellFacts | None]:
    """Per metric of `names` (`_DocFacts.name_bounds`), the cell's facts; None when the model
    has no record of that metric."""
    metrics = model.get("metrics") or {}
    baseline = model.get("baseline")
    reg: set[str] | None = None
    out: list[CellFacts | None] = []
    for name, bounds in names:
        metric = metrics.get(name)
        if type(metric) is not dict and not isinstance(metric, Mapping):
            out.append(None)
            continue
        status = metric.get("status", "ok")
        delta = _delta(baseline, metric, name) if baseline else None
        is_regressed = False
        if delta is not None:
            if reg is None:
                reg = regressed(model)
            is_regressed = name in reg
        out.append(CellFacts(
            status=status, value=_fmt(metric.get("value")) if status == "ok" else "",
            tier=metric.get("tier"),
            overridden=bounds is not None
            and (metric.get("approved"), metric.get("review")) != bounds,
            delta=delta, regressed=is_regressed))
    return out


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
    return Spark(*_spark(history, best_idx, higher_is_better, width))


_FLOAT_ONLY = frozenset((float,))
_SPARK_TOP = len(SPARK_CHARS) - 1


def _spark(history: Sequence[Any], best_idx: int | None, higher_is_better: bool = True,
           width: int = SPARK_WIDTH) -> tuple[str, int | None, int, int]:
    """`sparkline` as a plain (chars, peak_pos, points, bucket) tuple."""
    n = len(history)
    if 0 < n <= width and _FLOAT_ONLY.issuperset(map(type, history)):
        # The usual case, one point per character, all floats: a non-finite point makes the
        # sum non-finite, so a finite sum means no gaps (else the general path below).
        total = sum(history)
        if total - total == 0.0:
            lo, hi = min(history), max(history)
            if hi == lo:
                line = SPARK_CHARS[3] * n
            else:
                span = hi - lo
                line = "".join([SPARK_CHARS[round((v - lo) / span * _SPARK_TOP)]
                                for v in history])
            peak = best_idx // 1 if best_idx is not None and 0 <= best_idx < n else None
            return line, peak, n, 1
    values = [finite(v) for v in history]
    n = len(values)
    bucket = max(1, math.ceil(n / width)) if n else 1
    reps: list[float | None] = []
    for start in range(0, n, bucket):
        chunk = [v for v in values[start:start + bucket] if v is not None]
        reps.append((max(chunk) if higher_is_better else min(chunk)) if chunk else None)
    real = [v for v in reps if v is not None]
    if not real:
        return GAP * len(reps), None, n, bucket
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
    return "".join(chars), peak_pos, n, bucket


def model_spark(doc: Mapping[str, Any], model: Mapping[str, Any]) -> Spark:
    return Spark(*_DocFacts(doc).spark(model))


def peak_text(model: Mapping[str, Any], spark: Spark) -> str:
    """'peak 0.8403 at 6/10, final 11.8% off peak' (plain text, no markup)."""
    return _peak_text(model, spark.peak_pos, spark.points, spark.bucket)


def _peak_text(model: Mapping[str, Any], peak_pos: int | None, points: int,
               bucket: int) -> str:
    of = model.get("overfitting") or {}
    if peak_pos is None or model.get("best_idx") is None:
        return "no history" if not points else "no finite point"
    text = f"peak {_fmt(of.get('peak'))} at {model['best_idx'] + 1}/{points}"
    decline = finite(of.get("decline"))
    if decline is not None and decline >= 0.0005:
        text += f", final {decline:.1%} off peak"
    if bucket > 1:
        text += f" ({bucket} points per mark)"
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
        self.facts = _DocFacts(self.doc)
        self.names = metric_names(self.doc)
        self.long_ids: list[str] = []
        self._long_seen: set[str] = set()
        self._flag_text: dict[str, str] = {}
        # Marks the tables use (the legend explains only those): found while rendering them.
        self.marks_used: set[str] = set()

    def render(self) -> list[str]:
        out = self.header()
        out += self.changes()
        groups = by_class(self.doc)
        tables: list[str] = []
        for cls in CLASS_ORDER:
            tables += self.class_table(cls, groups.get(cls, []))
        for cls, rows in groups.items():  # a class no release knows: still listed, never dropped
            if cls not in _RANK:
                tables += self.class_table(cls, rows)
        out += self.legend()  # after the tables: they collect the marks it explains
        out += tables
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
        mid = model_id if type(model_id) is str else str(model_id)
        if len(mid) <= ID_WIDTH:
            return md_text(mid)
        shown = short_id(mid)
        if shown != mid and mid not in self._long_seen:
            self._long_seen.add(mid)
            self.long_ids.append(mid)
        return md_text(shown)

    def metric_cells(self, model: Mapping[str, Any],
                     names: list[tuple[str, tuple[float, float] | None]]) -> list[str]:
        """The model's cell for each metric of `names` (`_DocFacts.name_bounds`)."""
        cells = []
        for (name, _), facts in zip(names, metric_cell_facts(model, names), strict=True):
            if facts is None:
                metrics = model.get("metrics") or {}
                if model.get("baseline") and name in metrics:
                    # no Δ (no value), but a malformed baseline or metric raises as it did
                    # when the marks were found in a pass of their own
                    _baseline_pair(model, name)
                cells.append("—")
                continue
            text = facts.value if facts.status == "ok" else str(facts.status)
            if facts.overridden:
                text += " †"
                self.marks_used.add("†")
            if facts.tier == "DROP":
                text = f"**{text} ✗**"
            elif facts.tier == "REVIEW":
                text += " ⚠"
            if facts.delta is not None:
                self.marks_used.add("Δ")
                text += f" **{facts.delta}**" if facts.regressed else f" {facts.delta}"
            cells.append(text)
        return cells

    def flags_cell(self, flags: Any) -> str:
        joined = ", ".join(map(str, flags or []))
        text = self._flag_text.get(joined)
        if text is None:
            text = self._flag_text[joined] = md_text(joined) or "—"
        return text

    def class_table(self, cls: str, rows: list[Mapping[str, Any]]) -> list[str]:
        if not rows:
            return []
        watched = self.facts.watched() or "watched"
        head = ["model", *(md_text(n) for n in self.names), "flags",
                f"{md_text(watched)} history"]
        lines = [_row(head), "|---|" + "---:|" * len(self.names) + "---|---|"]
        spark = self.facts.spark
        names = self.facts.name_bounds(self.names)
        for model in rows:
            chars, peak_pos, points, bucket = spark(model)
            cells = [self.model_cell(model.get("id"))]
            cells += self.metric_cells(model, names)
            cells.append(self.flags_cell(model.get("flags")))
            if not points:
                cells.append("no history")
            else:
                if peak_pos is not None:
                    p = peak_pos
                    chars = f"{chars[:p]}**{chars[p]}**{chars[p + 1:]}"
                cells.append(f"{chars} {md_text(_peak_text(model, peak_pos, points, bucket))}")
            lines.append("| " + " | ".join(cells) + " |")
        out = [f"### {md_text(cls)} ({len(rows)})", ""]
        if cls == "APPROVED":
            out += _collapsible(lines, len(rows), "APPROVED models")
        else:
            out += lines
        return [*out, ""]

    def legend(self) -> list[str]:
        parts = ["✗ misses the REVIEW bound (DROP)", "⚠ misses the APPROVED bound (REVIEW)",
                 "**bold** mark in a history: the peak"]
        if "†" in self.marks_used:
            parts.append("† bounds from an override")
        if "Δ" in self.marks_used:
            parts.append("Δ change from the baseline run (bold: a regression)")
        bounds = []
        for name in self.names:
            b = self.facts.bounds(name)
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
        watched = md_text(self.facts.watched() or "watched")
        threshold = finite(((self.doc.get("config") or {}).get("overfitting") or {})
                           .get("decline_threshold"))
        by = f"more than {threshold:.0%}" if threshold is not None else "too far"
        out += [f"{plural(len(advice), 'model')} ended {by} below their peak {watched}: "
                "restore the checkpoint of the peak before deploying.", ""]
        rows = [f"| model | class | restore | peak {watched} | final | off peak |",
                "|---|---|---|---:|---:|---:|"]
        for m in advice:
            of = m.get("overfitting") or {}
            name = of.get("metric") or self.facts.watched()
            final = ((m.get("metrics") or {}).get(name) or {}).get("value")
            decline = finite(of.get("decline"))
            rows.append(_row([self.model_cell(m.get("id")), md_text(m.get("classification")),
                              restore_text(m), _fmt(of.get("peak")), _fmt(final),
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
    """Write a UTF-8 file complete or not at all (the archive's local replace)."""
    from pytest_model_gate.archive.storage import LocalStorage

    target = Path(path)
    LocalStorage(target.parent).replace(target.name, text.encode("utf-8"))


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
    from pytest_model_gate.report.html import render_html as _render

    return _render(sections)


def write_html(path: str | Path, sections: Sequence[ReportSection]) -> None:
    _atomic_write(path, render_html(sections))
