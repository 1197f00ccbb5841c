"""The "model gate" section of pytest's terminal summary.

Each non-APPROVED model's reason appears once: a model whose table FAILURES already shows
is only named here (`-v` prints every reason); REVIEW models (xfailed), DROP models whose
test did not run (`not run but DROP`) and the changes since the previous archived run are
what only this section says. Every id is made inert (`text.inert`) before it is printed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_model_gate.core.explain import checkpoint_advice, reason_line
from pytest_model_gate.core.gating import Assessment, counts
from pytest_model_gate.pipeline import GatedSummary, PublishResult
from pytest_model_gate.plugin.items import item_nodeid
from pytest_model_gate.text import TIER_RANK, TIERS, inert

TERMINAL_LIST_LIMIT = 30  # per list, in the terminal summary without -v


@dataclass
class SessionFacts:
    """What the controller knows at the end of the session."""

    results: Sequence[GatedSummary]
    nodeids: Sequence[str]  # per result, the summary's node id
    published: PublishResult | None
    skipped_reason: str | None
    verbose: bool
    ran: set[str]  # node ids of the items that ran
    shown_failed: set[str]  # node ids whose failure FAILURES shows
    listing: bool  # --co, --fixtures, ...: no test ran, by design
    xfail_reasons_shown: bool = False  # -rx / -ra: pytest's short summary lists REVIEW reasons


def write_gate_section(tr: Any, facts: SessionFacts) -> None:
    """Write the section through pytest's TerminalReporter `tr`."""
    tr.section("model gate")
    sections = facts.published.sections if facts.published is not None else []
    for i, (gated, nodeid) in enumerate(zip(facts.results, facts.nodeids, strict=True)):
        c = counts(gated.assessments)
        tr.write_line(f"{inert(gated.summary.source)}: {len(gated.assessments)} models: "
                      + ", ".join(f"{c[t]} {t}" for t in TIERS))
        _write_models(tr, gated.assessments, nodeid, facts)
        _write_advice(tr, gated.assessments, facts.verbose)
        previous = getattr(sections[i], "previous", None) if i < len(sections) else None
        if previous is not None:
            _write_changes(tr, gated.assessments, previous)
    _write_outputs(tr, facts)


def _write_models(tr: Any, assessments: Sequence[Assessment], nodeid: str,
                  facts: SessionFacts) -> None:
    not_run: list[Assessment] = []
    for tier in ("DROP", "REVIEW"):
        named: list[Assessment] = []  # their reason is printed elsewhere: named only
        others: list[Assessment] = []
        for a in assessments:
            if a.classification != tier:
                continue
            item = item_nodeid(nodeid, a.model_id)
            if item in facts.shown_failed or (facts.xfail_reasons_shown and item in facts.ran):
                named.append(a)
            elif tier == "DROP" and not facts.listing and item not in facts.ran:
                not_run.append(a)
            else:
                others.append(a)
        if named and not facts.verbose:
            names = [inert(a.model_id) for a in named]
            shown = names[:TERMINAL_LIST_LIMIT]
            more = f", ... ({len(names)} in all)" if len(names) > len(shown) else ""
            where = ("table under FAILURES" if all(item_nodeid(nodeid, a.model_id)
                                                   in facts.shown_failed for a in named)
                     else "reasons in the short test summary")
            tr.write_line(f"  {tier} ({where}): {', '.join(shown)}{more}",
                          red=tier == "DROP", yellow=tier == "REVIEW")
        else:
            others = named + others
        _write_reasons(tr, others, "", tier, facts.verbose)
    _write_reasons(tr, not_run, "not run but DROP: ", "DROP", facts.verbose)


def _write_reasons(tr: Any, rows: Sequence[Assessment], prefix: str, tier: str,
                   verbose: bool) -> None:
    shown = rows if verbose else rows[:TERMINAL_LIST_LIMIT]
    for a in shown:
        tr.write_line(f"  {prefix}{inert(a.model_id)}: {reason_line(a)}",
                      red=tier == "DROP", yellow=tier == "REVIEW")
    if len(rows) > len(shown):
        what = f"{prefix.rstrip(': ')} models" if prefix else f"{tier} models"
        tr.write_line(f"  ... and {len(rows) - len(shown)} more {what} "
                      "(-v lists all; the report has every model)")


def _write_advice(tr: Any, assessments: Sequence[Assessment], verbose: bool) -> None:
    advice = [(a, checkpoint_advice(a)) for a in assessments if a.use_checkpoint]
    shown = advice if verbose else advice[:TERMINAL_LIST_LIMIT]
    for a, text in shown:
        tr.write_line(f"  checkpoint: {inert(a.model_id)}: {text}")
    if len(advice) > len(shown):
        tr.write_line(f"  ... and {len(advice) - len(shown)} more checkpoint "
                      "recommendations (-v lists all)")


def class_changes(assessments: Sequence[Assessment], previous: Mapping[str, Any]
                  ) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(new DROPs as (id, class before or "new"), demotions to REVIEW as (id, before,
    after)) against the previous archived run's document."""
    models = previous.get("models")
    before: dict[str, str] = {}
    if isinstance(models, list):
        for m in models:
            if isinstance(m, Mapping) and isinstance(m.get("id"), str):
                before[m["id"]] = str(m.get("classification"))
    new_drops: list[tuple[str, str]] = []
    demoted: list[tuple[str, str, str]] = []
    for a in assessments:
        old = before.get(a.model_id)
        if a.classification == "DROP" and old != "DROP":
            new_drops.append((a.model_id, old or "new"))
        elif (a.classification == "REVIEW" and old in TIER_RANK
              and TIER_RANK[old] < TIER_RANK["REVIEW"]):
            demoted.append((a.model_id, str(old), str(a.classification)))
    return new_drops, demoted


def _write_changes(tr: Any, assessments: Sequence[Assessment],
                   previous: Mapping[str, Any]) -> None:
    run = inert(str(previous.get("run_id") or "the previous run"))
    new_drops, demoted = class_changes(assessments, previous)
    if not new_drops and not demoted:
        tr.write_line(f"  changes since run {run}: no new DROP, no demotion")
        return
    if new_drops:
        items = [f"{inert(i)} (was {old})" if old != "new" else f"{inert(i)} (new model)"
                 for i, old in new_drops[:TERMINAL_LIST_LIMIT]]
        more = f", ... ({len(new_drops)} in all)" if len(new_drops) > len(items) else ""
        tr.write_line(f"  changes since run {run}: new DROP: {', '.join(items)}{more}",
                      red=True)
    if demoted:
        items = [f"{inert(i)} ({old} -> {new})" for i, old, new in demoted[:TERMINAL_LIST_LIMIT]]
        more = f", ... ({len(demoted)} in all)" if len(demoted) > len(items) else ""
        tr.write_line(f"  changes since run {run}: demoted: {', '.join(items)}{more}",
                      yellow=True)


def _write_outputs(tr: Any, facts: SessionFacts) -> None:
    p = facts.published
    if p is None:
        if facts.skipped_reason:
            tr.write_line(f"model-gate: nothing archived or reported ({facts.skipped_reason})")
        return
    for gated, run_id, reused in zip(facts.results, p.run_ids, p.reused, strict=False):
        if run_id is not None:
            verb = "already archived as run" if reused else "archived as run"
            tr.write_line(f"model-gate: {inert(gated.summary.source)} {verb} {run_id} in "
                          f"{p.archive}")
    if p.report:
        tr.write_line(f"model-gate: report written to {p.report}")
    if p.html:
        tr.write_line(f"model-gate: HTML report written to {p.html}")
    if p.comment:
        tr.write_line(f"model-gate: PR comment written to {p.comment}")
    for error in p.errors:
        tr.write_line(f"model-gate: ERROR: {inert(error)}", red=True, bold=True)
