"""Verdict text: the stand-alone explanation of one assessment (pytest messages, CLI)."""

from __future__ import annotations

from pytest_model_gate.core.gating import Assessment, MetricResult
from pytest_model_gate.text import fmt_change, fmt_value, table


def fmt_bounds(m: MetricResult) -> str:
    op = ">=" if m.higher_is_better else "<="
    return f"approved {op} {m.approved:g}, review {op} {m.review:g}"


def checkpoint_advice(a: Assessment) -> str | None:
    """'use the checkpoint at update 80 (validation 2 of 4, fitness 0.70)', or None."""
    if not a.use_checkpoint or a.best_idx is None:
        return None
    of = a.overfitting
    peak = fmt_value(of.peak)
    where = f"validation {a.best_idx + 1} of {len(of.history)}, {of.metric} {peak}"
    if a.checkpoint_update is not None:
        saved = f": {a.checkpoint_path}" if a.checkpoint_path else ""
        return f"use the checkpoint at update {a.checkpoint_update}{saved} ({where})"
    return f"use the checkpoint of {where} (validation interval unknown)"


def explain(a: Assessment) -> str:
    """A stand-alone verdict: class line, metric table, flags, checkpoint advice."""
    lines = [f"{a.model_id}: {reason_line(a)}"]
    rows = []
    for m in a.metrics:
        rows.append([m.name, fmt_value(m.value), fmt_bounds(m),
                     m.tier + ("" if m.status == "ok" else f" ({m.status})")])
    lines += ["  " + line for line in table(rows, ["metric", "value", "bounds", "tier"])]
    if a.flags:
        lines.append("  flags: " + ", ".join(a.flags))
    for r in a.regressions:
        change, limit = fmt_change(r.change, r.limit, relative=r.relative)
        lines.append(f"  regression: {r.metric} {fmt_value(r.value)} vs baseline "
                     f"{fmt_value(r.baseline)} from run {r.run_id} "
                     f"({change}, limit {limit})")
    advice = checkpoint_advice(a)
    if advice:
        lines.append("  checkpoint: " + advice)
    return "\n".join(lines)


def reason_line(a: Assessment) -> str:
    """One line: why this model is not APPROVED (for terminal summaries and xfail reasons)."""
    parts = []
    for m in a.metrics:
        if m.tier == "APPROVED":
            continue
        if m.status != "ok":
            parts.append(f"{m.name} {m.status}")
        else:
            op = "<" if m.higher_is_better else ">"
            bound = m.approved if m.tier == "REVIEW" else m.review
            parts.append(f"{m.name} {fmt_value(m.value)} {op} {bound:g}")
    extra = [f for f in a.flags if f not in {"MISSING_METRIC", "INVALID_METRIC"}]
    text = "; ".join(parts) if parts else "all metrics meet APPROVED"
    if extra:
        text += " [" + ", ".join(extra) + "]"
    return f"{a.classification}: {text}"
