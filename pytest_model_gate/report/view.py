"""Run documents -> view models: what each report section shows, computed once.

The markdown and HTML formatters render these plain objects in their own markup and share
nothing else, so both say the same thing about a run. Everything here reads the typed run
document (`core.document.RunDocument`), never live objects, so an archived run re-renders
identically years later; text is kept as data and escaped by each formatter.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pytest_model_gate.core.document import MetricRecord, ModelRecord, RunDocument
from pytest_model_gate.text import TIER_RANK, finite, fmt_change, fmt_value

CLASS_ORDER = ("DROP", "REVIEW", "APPROVED")
RANK = TIER_RANK
COLLAPSE_AT = 50
"""Tables with more rows than this (APPROVED models, changes, checkpoints) fold."""
SPARK_WIDTH = 40
"""Longest sparkline; longer histories are bucketed (each bucket shows its best point)."""
SPARK_CHARS = "▁▂▃▄▅▆▇█"
GAP = "·"
CHANGE_KINDS = ("new DROP", "demoted", "promoted", "appeared", "vanished")


@dataclass(frozen=True)
class ReportSection:
    """One summary's part of a report: its run document, the previous archived run's (for
    "changes since"), and earlier documents oldest first (for trends)."""

    document: RunDocument
    previous: RunDocument | None = None
    history: Sequence[RunDocument] = ()


# --- display text --------------------------------------------------------------------------

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(text: object) -> str:
    """One line of display text: whitespace runs collapsed, control and bidi characters
    (which could reorder or hide what a reviewer reads) replaced by U+FFFD."""
    value = text if type(text) is str else str(text)
    # Fast path: a printable string has no control/bidi character and no whitespace but the
    # ASCII space (str.isprintable is False for every other one), so only space runs and
    # leading/trailing spaces could change.
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        return value
    return _CONTROL.sub("\ufffd", " ".join(value.split()))


def fmt(value: float | None) -> str:
    """`fmt_value(finite(value))`, fast for the usual finite float."""
    if type(value) is float and value - value == 0.0:
        return f"{value:.6g}"
    return fmt_value(finite(value))


def plural(n: int, kind: str) -> str:
    """'2 new DROPs', '1 demoted' (the kinds ending in -ed need no plural)."""
    return f"{n} {kind}" + ("s" if n != 1 and not kind.endswith("ed") else "")


def class_key(cls: str) -> str:
    """A class as a CSS/anchor-safe key: a class no release knows is 'other'."""
    return cls if cls in RANK else "other"


# --- document facts ------------------------------------------------------------------------

@dataclass(frozen=True)
class Bounds:
    approved: float
    review: float
    higher_is_better: bool


def metric_names(doc: RunDocument) -> list[str]:
    """Gated metrics in config order, plus any a model carries that the config does not list."""
    names = list(doc["config"]["metrics"])
    seen = set(names)
    for model in doc["models"]:
        for name in model["metrics"]:
            if name not in seen:
                names.append(name)
                seen.add(name)
    return names


def config_bounds(doc: RunDocument, name: str) -> Bounds | None:
    spec = doc["config"]["metrics"].get(name)
    if spec is None:
        return None
    return Bounds(float(spec["approved"]), float(spec["review"]), spec["higher_is_better"])


def watched_metric(doc: RunDocument) -> str | None:
    watched = doc["config"]["overfitting"].get("metric")
    if watched:
        return watched
    for model in doc["models"]:
        if model["overfitting"]["metric"]:
            return model["overfitting"]["metric"]
    return None


def by_class(doc: RunDocument) -> dict[str, list[ModelRecord]]:
    """Models per class, DROP, REVIEW, APPROVED first, then any class no release knows."""
    out: dict[str, list[ModelRecord]] = {c: [] for c in CLASS_ORDER}
    for model in doc["models"]:
        out.setdefault(model["classification"], []).append(model)
    return out


def class_counts(doc: RunDocument) -> dict[str, int]:
    stored = doc["counts"]
    return {c: stored.get(c, 0) for c in CLASS_ORDER}


def total_counts(sections: Sequence[ReportSection]) -> dict[str, int]:
    total = dict.fromkeys(CLASS_ORDER, 0)
    for s in sections:
        for c, n in class_counts(s.document).items():
            total[c] += n
    return total


def metadata_items(doc: RunDocument) -> list[tuple[str, str]]:
    """Run metadata from the summary (timestamp first), values as compact JSON when not text."""
    out = []
    for key, value in dict(doc["summary"]).items():
        if key in ("path", "sha256") or value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(
            value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        if len(text) > 200:
            text = text[:199] + f"… ({len(text)} characters)"
        out.append((key, text))
    return out


def delta_text(change: float) -> str:
    """'Δ-12.5%' (relative change from the baseline value), 'Δ0' when unchanged."""
    return "Δ0" if abs(change) < 0.0005 else f"Δ{change:+.1%}"


def _delta(model: ModelRecord, name: str, value: float | None, higher_is_better: bool
           ) -> tuple[str, bool | None] | None:
    """The Δ mark of a metric against the baseline: 'Δ-12.5%' (relative), 'Δ+0.05 abs' from a
    baseline of 0, 'Δ0' unchanged; with whether that is better (None: unchanged). None
    without a finite baseline and value."""
    base = model.get("baseline", {}).get(name)
    if base is None:
        return None
    b, v = finite(base["value"]), finite(value)
    if b is None or v is None:
        return None
    better = None if v == b else (v > b) == higher_is_better
    if b == 0:
        change = v - b
        if change != 0:
            return f"Δ{change:+.6g} abs", better
    else:
        change = (v - b) / abs(b)
    text = delta_text(change)
    return text, None if text == "Δ0" else better


def restore_text(model: ModelRecord) -> str:
    best = model["best_idx"]
    n = len(model["overfitting"]["history"])
    update = model["checkpoint_update"]
    if best is None:
        return "no checkpoint known"
    where = f"validation {best + 1} of {n}"
    if update is not None:
        return f"update {update} ({where})"
    return f"{where} (validation interval unknown)"


# --- sparklines ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Spark:
    chars: str
    peak_pos: int | None  # index into chars of the peak (None: no finite point)
    points: int           # length of the history
    bucket: int           # history points per character


_FLOAT_ONLY = frozenset((float,))
_SPARK_TOP = len(SPARK_CHARS) - 1


def all_finite_floats(values: Sequence[object]) -> bool:
    """True when every value is a finite float (a non-finite one makes the sum non-finite)."""
    if not _FLOAT_ONLY.issuperset(map(type, values)):
        return False
    total = sum(values)  # type: ignore[arg-type]
    return bool(total - total == 0.0)


def sparkline(history: Sequence[float | None], best_idx: int | None,
              higher_is_better: bool = True, width: int = SPARK_WIDTH) -> Spark:
    """Block characters for a history, min..max scaled; gaps (null, non-finite) are `·`.

    Longer histories are bucketed: a character stands for `bucket` points and shows the best
    of them, so the peak is never averaged away.
    """
    n = len(history)
    if 0 < n <= width and all_finite_floats(history):
        floats: Sequence[float] = history  # type: ignore[assignment]
        lo, hi = min(floats), max(floats)
        if hi == lo:
            line = SPARK_CHARS[3] * n
        else:
            span = hi - lo
            line = "".join([SPARK_CHARS[round((v - lo) / span * _SPARK_TOP)] for v in floats])
        peak = best_idx if best_idx is not None and 0 <= best_idx < n else None
        return Spark(line, peak, n, 1)
    values = [finite(v) for v in history]
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
            chars.append(SPARK_CHARS[round((v - lo) / (hi - lo) * _SPARK_TOP)])
    peak_pos = best_idx // bucket if best_idx is not None and 0 <= best_idx < n else None
    return Spark("".join(chars), peak_pos, n, bucket)


def peak_text(model: ModelRecord, spark: Spark) -> str:
    """'peak 0.8403 at 6/10, final 11.8% off peak' (plain text, no markup)."""
    best = model["best_idx"]
    if spark.peak_pos is None or best is None:
        return "no history" if not spark.points else "no finite point"
    of = model["overfitting"]
    text = f"peak {fmt(of['peak'])} at {best + 1}/{spark.points}"
    decline = finite(of["decline"])
    if decline is not None and decline >= 0.0005:
        text += f", final {decline:.1%} off peak"
    if spark.bucket > 1:
        text += f" ({spark.bucket} points per mark)"
    return text


# --- changes since the previous run --------------------------------------------------------

@dataclass(frozen=True)
class Change:
    kind: str
    model_id: str
    before: str | None
    after: str | None


def compare_runs(doc: RunDocument, previous: RunDocument) -> list[Change]:
    """Per model, how its class moved since `previous`: grouped by kind (CHANGE_KINDS order),
    the current run's model order inside a kind (the previous run's for vanished models)."""
    before = {m["id"]: m["classification"] for m in previous["models"]}
    now_ids: set[str] = set()
    found: dict[str, list[Change]] = {k: [] for k in CHANGE_KINDS}
    for model in doc["models"]:
        mid, cls = model["id"], model["classification"]
        now_ids.add(mid)
        old = before.get(mid)
        if cls == "DROP" and old != "DROP":
            found["new DROP"].append(Change("new DROP", mid, old, cls))
        elif old is None:
            found["appeared"].append(Change("appeared", mid, None, cls))
        elif old in RANK and cls in RANK and RANK[cls] > RANK[old]:
            found["demoted"].append(Change("demoted", mid, old, cls))
        elif old in RANK and cls in RANK and RANK[cls] < RANK[old]:
            found["promoted"].append(Change("promoted", mid, old, cls))
    for mid, old in before.items():
        if mid not in now_ids:
            found["vanished"].append(Change("vanished", mid, old, None))
    return [c for kind in CHANGE_KINDS for c in found[kind]]


@dataclass(frozen=True)
class ChangesView:
    """"Changes since the previous archived run"; `previous_id` None: nothing to compare."""

    archived: bool
    previous_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    config_before: str | None = None   # both set when the gating config changed
    config_now: str | None = None
    rows: list[Change] = field(default_factory=list)

    def summary_line(self) -> str:
        """'1 new DROP, 0 demoted, ...' (plain text)."""
        return ", ".join(plural(self.counts[k], k) for k in CHANGE_KINDS)


def changes_view(doc: RunDocument, previous: RunDocument | None) -> ChangesView:
    archived = "run_id" in doc
    if previous is None:
        return ChangesView(archived)
    rows = compare_runs(doc, previous)
    n = dict.fromkeys(CHANGE_KINDS, 0)
    for c in rows:
        n[c.kind] += 1
    unchanged = len(doc["models"]) - sum(n[k] for k in CHANGE_KINDS if k != "vanished")
    changed = previous["config_sha256"] != doc["config_sha256"]
    return ChangesView(archived, previous.get("run_id", "?"), n, unchanged,
                       previous["config_sha256"][:12] if changed else None,
                       doc["config_sha256"][:12] if changed else None, rows)


# --- the class tables ----------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One metric cell: value or status, tier, marks."""

    status: str          # "ok", or what the record says instead of a value
    value: str           # the formatted value (meaningful when status is "ok")
    tier: str
    overridden: bool     # bounds differ from the config's: an override applied
    delta: str | None    # the Δ mark against the baseline, if any
    regressed: bool      # the metric raised REGRESSION
    better: bool | None = None  # the Δ in the metric's good direction (None: unchanged)


@dataclass(frozen=True)
class ModelRow:
    """One model in its class table (and the record, for its chart)."""

    record: ModelRecord
    position: int        # in the summary's order
    cells: list[Cell | None]
    flags: str           # "A, B" or ""
    spark: Spark
    peak: str            # peak_text


@dataclass(frozen=True)
class ClassTable:
    cls: str
    rows: list[ModelRow]


@dataclass(frozen=True)
class CheckpointRow:
    model_id: str
    classification: str
    restore: str
    peak: str
    final: str
    off_peak: str
    path: str | None = None  # the checkpoint folder / file the source saved there (data)


@dataclass(frozen=True)
class RegressionRow:
    model_id: str
    metric: str
    baseline: str
    run_id: str
    value: str
    change: str
    limit: str


@dataclass(frozen=True)
class SectionView:
    """Everything one section of a report shows, in display order."""

    section: ReportSection
    title: str                       # the summary's path
    run_id: str | None
    summary_sha256: str
    config_sha256: str
    metadata: list[tuple[str, str]]
    counts: dict[str, int]
    names: list[str]                 # metric columns
    bounds: list[tuple[str, Bounds]]  # the config's bounds of the columns that have them
    watched: str                     # the watched metric ("watched" when unknown)
    changes: ChangesView
    tables: list[ClassTable]         # non-empty ones, DROP, REVIEW, APPROVED, then others
    has_override: bool
    has_delta: bool
    decline_threshold: float | None
    checkpoints: list[CheckpointRow]
    regressions: list[RegressionRow]


def section_view(section: ReportSection) -> SectionView:
    doc = section.document
    names = metric_names(doc)
    config_pairs = [(name, config_bounds(doc, name)) for name in names]
    watched = watched_metric(doc) or "watched"
    groups = by_class(doc)
    position = {id(m): i for i, m in enumerate(doc["models"])}
    tables: list[ClassTable] = []
    has_override = has_delta = False
    flag_text: dict[tuple[str, ...], str] = {}
    for cls, records in groups.items():
        rows = []
        for model in records:
            cells = _cells(model, config_pairs)
            for cell in cells:
                if cell is not None:
                    has_override = has_override or cell.overridden
                    has_delta = has_delta or cell.delta is not None
            flags = tuple(model["flags"])
            text = flag_text.get(flags)
            if text is None:
                text = flag_text[flags] = ", ".join(flags)
            of = model["overfitting"]
            metric = model["metrics"].get(of["metric"] or watched)
            spark = sparkline(of["history"], model["best_idx"],
                              metric["higher_is_better"] if metric else True)
            rows.append(ModelRow(model, position[id(model)], cells, text, spark,
                                 peak_text(model, spark)))
        if rows:
            tables.append(ClassTable(cls, rows))
    threshold = finite(doc["config"]["overfitting"].get("decline_threshold"))
    return SectionView(
        section=section, title=doc["summary"]["path"], run_id=doc.get("run_id"),
        summary_sha256=doc["summary"]["sha256"], config_sha256=doc["config_sha256"],
        metadata=metadata_items(doc), counts=class_counts(doc), names=names,
        bounds=[(n, b) for n, b in config_pairs if b is not None], watched=watched,
        changes=changes_view(doc, section.previous), tables=tables,
        has_override=has_override, has_delta=has_delta, decline_threshold=threshold,
        checkpoints=_checkpoints(doc, watched), regressions=_regressions(doc))


def _cells(model: ModelRecord, names: list[tuple[str, Bounds | None]]) -> list[Cell | None]:
    metrics = model["metrics"]
    baseline = model.get("baseline")
    regressed: set[str] | None = None
    out: list[Cell | None] = []
    for name, bounds in names:
        metric = metrics.get(name)
        if metric is None:
            out.append(None)
            continue
        status = metric["status"]
        value = metric["value"]
        mark = _delta(model, name, value, metric["higher_is_better"]) if baseline else None
        delta, better = mark if mark is not None else (None, None)
        is_regressed = False
        if delta is not None:
            if regressed is None:
                regressed = {r["metric"] for r in model.get("regressions", [])}
            is_regressed = name in regressed
        out.append(Cell(
            status=status, value=fmt(value) if status == "ok" else "", tier=metric["tier"],
            overridden=bounds is not None
            and (metric["approved"], metric["review"]) != (bounds.approved, bounds.review),
            delta=delta, regressed=is_regressed, better=better))
    return out


def _checkpoints(doc: RunDocument, watched: str) -> list[CheckpointRow]:
    out = []
    for m in doc["models"]:
        if not m["use_checkpoint"]:
            continue
        of = m["overfitting"]
        metric = m["metrics"].get(of["metric"] or watched)
        decline = finite(of["decline"])
        out.append(CheckpointRow(
            m["id"], m["classification"], restore_text(m), fmt(of["peak"]),
            fmt(metric["value"] if metric else None),
            f"{decline:.1%}" if decline is not None else "—", m.get("checkpoint_path")))
    return out


def _regressions(doc: RunDocument) -> list[RegressionRow]:
    out = []
    for m in doc["models"]:
        for r in m.get("regressions", []):
            change, limit = fmt_change(finite(r["change"]), finite(r["limit"]),
                                       relative=r["relative"])
            out.append(RegressionRow(m["id"], r["metric"], fmt(r["baseline"]), r["run_id"],
                                     fmt(r["value"]), change, limit))
    return out


# --- at a glance: severity, grouped reasons, top models ------------------------------------

def miss(metric: MetricRecord, bound: float) -> float:
    """How far a metric's value is past `bound` in its bad direction, relative to |bound|
    (absolute from a bound of 0); infinite when the value is missing or not finite."""
    value = finite(metric["value"])
    if value is None:
        return math.inf
    gap = bound - value if metric["higher_is_better"] else value - bound
    return gap / abs(bound) if bound != 0 else gap


def deciding(model: ModelRecord) -> list[str]:
    """The metrics that decided the verdict: those in the model's own (worst) tier; for an
    APPROVED model none. Config order."""
    cls = model["classification"]
    if cls not in ("DROP", "REVIEW"):
        return []
    return [name for name, m in model["metrics"].items() if m["tier"] == cls]


def severity(model: ModelRecord) -> tuple[int, int, float]:
    """Sort key, larger is worse: class, how many metrics are in that tier, summed misses
    (past the REVIEW bound for DROP-tier metrics, past APPROVED for REVIEW-tier ones)."""
    names = deciding(model)
    total = 0.0
    for name in names:
        m = model["metrics"][name]
        total += miss(m, m["review"] if m["tier"] == "DROP" else m["approved"])
    return RANK.get(model["classification"], 0), len(names), total


def by_severity(doc: RunDocument, limit: int | None = None) -> list[ModelRecord]:
    """DROP and REVIEW models, worst first (the summary's order among equals)."""
    flagged = [m for m in doc["models"] if m["classification"] in ("DROP", "REVIEW")]
    flagged.sort(key=severity, reverse=True)
    return flagged if limit is None else flagged[:limit]


# flags that are not the DROP flag of one metric: grouped by themselves
_OWN_REASON = {"MISSING_METRIC": "a gated metric is missing",
               "INVALID_METRIC": "a gated metric is not a finite number",
               "REGRESSION": "worse than its baseline by more than allowed",
               "FITNESS_DECLINE": "ended below its peak (restore the checkpoint)",
               "UNSTABLE_TRAINING": "a sudden fall in its validation history"}
_DECIDING_REASON = {k: v for k, v in _OWN_REASON.items()
                    if k not in ("FITNESS_DECLINE", "UNSTABLE_TRAINING")}


@dataclass(frozen=True)
class Reason:
    """One reason shared by models of one class: 'LOW_PF: profit_factor misses its REVIEW
    bound' and the models it applies to (summary order)."""

    key: str              # flag, or metric name for a REVIEW-tier miss
    text: str
    model_ids: list[str]


def reasons(doc: RunDocument, cls: str) -> list[Reason]:
    """Why the models of class `cls` (DROP or REVIEW) got it, grouped across models, the
    largest group first: a metric in that tier, or a flag such as REGRESSION."""
    groups: dict[str, tuple[str, list[str]]] = {}
    settings = doc["config"]["metrics"]

    def add(key: str, text: str, mid: str) -> None:
        entry = groups.get(key)
        if entry is None:
            entry = groups[key] = (text, [])
        entry[1].append(mid)

    for model in doc["models"]:
        if model["classification"] != cls:
            continue
        mid = model["id"]
        for name, m in model["metrics"].items():
            if m["tier"] != cls or m["status"] != "ok":
                continue
            spec = settings.get(name)
            flag = str(spec.get("flag", "")) if spec is not None else ""
            bound = "REVIEW" if cls == "DROP" else "APPROVED"
            op = "<" if m["higher_is_better"] else ">"
            key = flag if cls == "DROP" and flag else f"{name} {bound}"
            label = f"{name} {op} its {bound} bound"
            add(key, f"{flag}: {label}" if key == flag else label, mid)
        # the overfitting flags decide a class only when nothing else did (`demote`)
        own = _OWN_REASON if not deciding(model) else _DECIDING_REASON
        for flag in model["flags"]:
            if flag in own:
                add(flag, f"{flag}: {own[flag]}", mid)
    out = [Reason(k, text, ids) for k, (text, ids) in groups.items()]
    out.sort(key=lambda r: -len(r.model_ids))
    return out
