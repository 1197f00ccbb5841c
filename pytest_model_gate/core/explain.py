"""Verdict text: the stand-alone explanation of one assessment (pytest messages, CLI)."""

from __future__ import annotations

from pytest_model_gate.core.gating import Assessment, MetricResult
from pytest_model_gate.text import fmt_change, fmt_value, inert, table


def fmt_bounds(m: MetricResult) -> str:
    op = ">=" if m.higher_is_better else "<="
    return f"approved {op} {m.approved:g}, review {op} {m.review:g}"


def checkpoint_advice(a: Assessment) -> str | None:
    """'use the checkpoint at update 80 (validation 2 of 4, fitness 0.70)', or None."""
    if not a.use_checkpoint or a.best_idx is None:
        return None
    of = a.overfitting
    peak = fmt_value(of.peak)
    where = f"validation {a.best_idx + 1} of {len(of.history)}, {inert(of.metric)} {peak}"
    if a.checkpoint_update is not None:
        saved = f": {a.checkpoint_path}" if a.checkpoint_path else ""
        return f"use the checkpoint at update {a.checkpoint_update}{saved} ({where})"
    return f"use the checkpoint of {where} (validation interval unknown)"


def explain(a: Assessment) -> str:
    """A stand-alone verdict: class line, metric table, flags, checkpoint advice."""
    lines = [f"{inert(a.model_id)}: {reason_line(a)}"]
    rows = []
    for m in a.metrics:
        rows.append([inert(m.name), fmt_value(m.value), fmt_bounds(m),
                     m.tier + ("" if m.status == "ok" else f" ({m.status})")])
    lines += ["  " + line for line in table(rows, ["metric", "value", "bounds", "tier"])]
    if a.flags:
        lines.append("  flags: " + ", ".join(map(inert, a.flags)))
    for r in a.regressions:
        change, limit = fmt_change(r.change, r.limit, relative=r.relative)
        lines.append(f"  regression: {inert(r.metric)} {fmt_value(r.value)} vs baseline "
                     f"{fmt_value(r.baseline)} from run {inert(r.run_id)} "
                     f"({change}, limit {limit})")
    advice = checkpoint_advice(a)
    if advice:
        lines.append("  checkpoint: " + advice)
    return "\n".join(lines)


def reason_line(a: Assessment) -> str:
    """One line: why this model is not APPROVED, the deciding misses first.

    `DROP: profit_factor 1.2 < 1.3 (review); below approved: consistency 0.8 < 0.85` reads
    as what dropped the model, then what keeps it from APPROVED; a lower-is-better metric
    shows `>`. Used by terminal summaries, xfail reasons and JUnit messages."""
    drop: list[str] = []
    review: list[str] = []
    for m in a.metrics:
        if m.tier == "APPROVED":
            continue
        if m.status != "ok":
            text = f"{inert(m.name)} {m.status}"
        else:
            op = "<" if m.higher_is_better else ">"
            bound = m.approved if m.tier == "REVIEW" else m.review
            text = f"{inert(m.name)} {fmt_value(m.value)} {op} {bound:g}"
        (drop if m.tier == "DROP" else review).append(text)
    parts = []
    if drop:
        parts.append("; ".join(drop) + (" (review bound)" if len(drop) == 1 else
                                        " (review bounds)"))
    if review:
        parts.append(("below approved: " if drop else "") + "; ".join(review))
    extra = [f for f in a.flags if f not in {"MISSING_METRIC", "INVALID_METRIC"}]
    text = "; ".join(parts) if parts else "all metrics meet APPROVED"
    if extra:
        text += " [" + ", ".join(map(inert, extra)) + "]"
    return f"{a.classification}: {text}"


MESSAGE_BUDGET = 480
"""JUnit viewers show a failure's `message` attribute; pytest >= 9.2 cuts it at 500
characters. Ours stays under that in whole lines, the table going to the element text."""


def short_message(a: Assessment, budget: int = MESSAGE_BUDGET) -> str:
    """The verdict on one line under `budget` characters: the reason (deciding misses
    first, flags in brackets) and the checkpoint advice. For JUnit `message=`, xfail reasons
    and pytest's short test summary; a line too long is cut at a word, and says so."""
    text = f"{inert(a.model_id)}: {reason_line(a)}"
    advice = checkpoint_advice(a)
    if advice:
        text += f"; checkpoint: {advice}"
    if len(text) <= budget:
        return text
    cut = text[:budget - len(_CUT)].rsplit(" ", 1)[0].rstrip(";,")
    return cut + _CUT


_CUT = " ... (see the full table)"
