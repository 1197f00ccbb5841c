"""The "model gate" section of pytest's terminal summary: counts, models to look at,
checkpoint advice, and where the archive run and the reports went."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_model_gate.core.explain import checkpoint_advice, reason_line
from pytest_model_gate.core.gating import counts
from pytest_model_gate.pipeline import GatedSummary, PublishResult
from pytest_model_gate.text import TIERS

TERMINAL_LIST_LIMIT = 30  # per class, in the terminal summary without -v


def write_gate_section(tr: Any, results: Sequence[GatedSummary],
                       published: PublishResult | None, *, skipped_reason: str | None,
                       verbose: bool) -> None:
    """Write the section through pytest's TerminalReporter `tr`."""
    tr.section("model gate")
    for gated in results:
        c = counts(gated.assessments)
        tr.write_line(f"{gated.summary.source}: {len(gated.assessments)} models: "
                      + ", ".join(f"{c[t]} {t}" for t in TIERS))
        for tier in ("DROP", "REVIEW"):
            rows = [a for a in gated.assessments if a.classification == tier]
            shown = rows if verbose else rows[:TERMINAL_LIST_LIMIT]
            for a in shown:
                tr.write_line(f"  {a.model_id}: {reason_line(a)}",
                              red=tier == "DROP", yellow=tier == "REVIEW")
            if len(rows) > len(shown):
                tr.write_line(f"  ... and {len(rows) - len(shown)} more {tier} models "
                              "(-v lists all; the report has every model)")
        advice = [(a, checkpoint_advice(a)) for a in gated.assessments if a.use_checkpoint]
        shown_advice = advice if verbose else advice[:TERMINAL_LIST_LIMIT]
        for a, text in shown_advice:
            tr.write_line(f"  checkpoint: {a.model_id}: {text}")
        if len(advice) > len(shown_advice):
            tr.write_line(f"  ... and {len(advice) - len(shown_advice)} more checkpoint "
                          "recommendations (-v lists all)")
    p = published
    if p is None:
        if skipped_reason:
            tr.write_line(f"model-gate: nothing archived or reported ({skipped_reason})")
        return
    for gated, run_id, reused in zip(results, p.run_ids, p.reused, strict=False):
        if run_id is not None:
            verb = "already archived as run" if reused else "archived as run"
            tr.write_line(f"model-gate: {gated.summary.source} {verb} {run_id} in {p.archive}")
    if p.report:
        tr.write_line(f"model-gate: report written to {p.report}")
    if p.html:
        tr.write_line(f"model-gate: HTML report written to {p.html}")
    if p.comment:
        tr.write_line(f"model-gate: PR comment written to {p.comment}")
    for error in p.errors:
        tr.write_line(f"model-gate: ERROR: {error}", red=True, bold=True)
