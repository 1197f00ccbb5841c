"""What a pytest session with `--model-gate` does: settings, collection, items, controller.

Imported by `plugin.py` only when `--model-gate` is given. The gating itself lives in
`gating.py`; this module maps verdicts onto pytest's vocabulary. Work that belongs once per
session (archive, report, terminal summary) happens in `GateController`, registered on the
controller only, as pytest-xdist workers must not write anything.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_model_gate.core.explain import checkpoint_advice, explain, reason_line
from pytest_model_gate.core.gating import TIERS, Assessment, counts
from pytest_model_gate.errors import ExitCode, ModelGateError
from pytest_model_gate.pipeline import (
    GatedSummary,
    GateSettings,
    PublishResult,
    gate_file,
    publish,
    resolve_settings,
)
from pytest_model_gate.text import fmt_value

TERMINAL_LIST_LIMIT = 30  # per class, in the terminal summary without -v


class GateVerdict(Exception):
    """Raised by a model item whose class is not APPROVED; its text is the whole report."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class ModelDropped(GateVerdict):
    """A DROP verdict: the item fails."""


class ModelNeedsReview(GateVerdict):
    """A REVIEW verdict: xfailed by a marker with raises=ModelNeedsReview (or failed)."""


# --- per-session state ---------------------------------------------------------------------

@dataclass
class GateSession:
    """What one pytest session gates: settings, the summary files, gated results (cached)."""

    settings: GateSettings
    on_review: str
    summaries: dict[Path, str]  # resolved path -> the argument as given
    gated: dict[Path, GatedSummary | ModelGateError] = field(default_factory=dict)

    def gate(self, path: Path) -> GatedSummary:
        """Load and gate one summary once per process; errors are cached too."""
        if path not in self.gated:
            try:
                self.gated[path] = gate_file(path, self.settings, source=self.summaries[path])
            except ModelGateError as exc:
                self.gated[path] = exc
        result = self.gated[path]
        if isinstance(result, ModelGateError):
            raise result
        return result


def _ini_path(config: pytest.Config, name: str) -> str | None:
    value = config.getini(name)
    return str(value) if value else None


def build_session(config: pytest.Config) -> GateSession:
    opt = config.option
    ini_base = config.inipath.parent if config.inipath is not None else config.rootpath
    config_file = opt.model_gate_config
    if config_file is None and (ini_config := _ini_path(config, "model_gate_config")):
        config_file = str(ini_base / ini_config)
    try:
        settings = resolve_settings(
            config_file=config_file, search_dir=config.rootpath, base_dir=config.rootpath,
            archive=opt.model_gate_archive, no_archive=opt.model_gate_no_archive,
            report=opt.model_gate_report, html=opt.model_gate_html,
            ini_archive=_ini_path(config, "model_gate_archive"),
            ini_report=_ini_path(config, "model_gate_report"), ini_base=ini_base)
    except ModelGateError as exc:
        raise pytest.UsageError(f"model-gate: {exc}") from None
    on_review = opt.model_gate_review or settings.config.on_review
    invocation = config.invocation_params.dir
    summaries: dict[Path, str] = {}
    for arg in opt.model_gate:
        path = (invocation / arg).resolve()
        summaries.setdefault(path, arg)
    return GateSession(settings=settings, on_review=on_review, summaries=summaries)


# --- collection ------------------------------------------------------------------------------

class SummaryCollector:
    """Registered only when --model-gate is given: collects exactly the named summaries."""

    def __init__(self, session: GateSession) -> None:
        self.session = session

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector
                            ) -> SummaryFile | None:
        if file_path in self.session.summaries:
            return SummaryFile.from_parent(parent, path=file_path, gate=self.session,
                                           nodeid=_file_nodeid(file_path, parent.config))
        return None


def _file_nodeid(path: Path, config: pytest.Config) -> str | None:
    """None (pytest's own id) inside the rootdir. Outside it pytest would give the file the
    empty id (`::AAPL_1Hour`, the same for every summary); use its path relative to the
    rootdir instead (`../runs/summary.json::AAPL_1Hour`), absolute across drives."""
    try:
        path.relative_to(config.rootpath)
        return None
    except ValueError:
        pass
    try:
        return Path(os.path.relpath(path, config.rootpath)).as_posix()
    except ValueError:
        return path.as_posix()


class SummaryFile(pytest.File):
    """A training summary: one item per model, in the summary's order."""

    def __init__(self, *, gate: GateSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    def collect(self) -> Iterator[ModelItem]:
        try:
            gated = self.gate.gate(self.path)
        except ModelGateError as exc:
            raise self.CollectError(f"model-gate: {exc}") from None
        for assessment in gated.assessments:
            # The node id is given as a string so that pytest >= 9 parses it exactly as it
            # parses the ids it stored (--lf cache, xdist reports): an id with `::` or `[`
            # otherwise gets a structured id that never equals the parsed one, and --lf
            # silently drops those models.
            yield ModelItem.from_parent(self, name=assessment.model_id, assessment=assessment,
                                        on_review=self.gate.on_review,
                                        nodeid=f"{self.nodeid}::{assessment.model_id}")


def _properties(a: Assessment) -> list[tuple[str, object]]:
    """JUnit properties: plain str/int/float only (they cross the xdist wire)."""
    props: list[tuple[str, object]] = [("model_id", a.model_id), ("symbol", a.symbol),
                                       ("classification", a.classification)]
    for m in a.metrics:
        props.append((m.name, m.finite_value if m.finite_value is not None
                      else fmt_value(m.value)))
    props.append(("flags", ",".join(a.flags)))
    if a.best_idx is not None:
        props.append(("best_idx", a.best_idx))
    if a.checkpoint_update is not None:
        props.append(("checkpoint_update", a.checkpoint_update))
    return props


class ModelItem(pytest.Item):
    """One model's verdict as a test."""

    def __init__(self, *, assessment: Assessment, on_review: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.assessment = assessment
        self.on_review = on_review
        self.user_properties.extend(_properties(assessment))
        if assessment.classification == "REVIEW" and on_review == "xfail":
            self.add_marker(pytest.mark.xfail(reason=self.verdict_text,
                                              raises=ModelNeedsReview, strict=False))

    @functools.cached_property
    def verdict_text(self) -> str:
        """The stand-alone explanation (metric table, flags, checkpoint), built once."""
        return explain(self.assessment)

    def runtest(self) -> None:
        a = self.assessment
        if a.classification == "DROP":
            raise ModelDropped(self.verdict_text)
        if a.classification == "REVIEW" and self.on_review != "pass":
            raise ModelNeedsReview(self.verdict_text)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        if isinstance(excinfo.value, GateVerdict):
            return excinfo.value.text
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"model {self.name}"


# --- controller: archive, report, terminal summary ----------------------------------------

class GateController:
    """Once-per-session work; registered on the controller only (never on xdist workers)."""

    def __init__(self, config: pytest.Config, session: GateSession) -> None:
        self.config = config
        self.session = session
        self.published: PublishResult | None = None
        self.results: list[GatedSummary] = []
        self.failed: list[ModelGateError] = []
        self.skipped_reason: str | None = None
        self.collection_failed = False  # a collection error was reported (here or by a worker)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_failed = True

    def _gate_all(self) -> None:
        for path in self.session.summaries:
            try:
                self.results.append(self.session.gate(path))
            except ModelGateError as exc:
                self.failed.append(exc)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._gate_all()
        if self.failed:
            self.skipped_reason = "a summary could not be gated"
            # A bad summary is a collection error: exit 2, as pytest alone gives. Under
            # pytest-xdist a collection error on the workers ends the run with 1 instead.
            if (self.collection_failed and not self.config.option.continue_on_collection_errors
                    and session.exitstatus in (pytest.ExitCode.OK,
                                               pytest.ExitCode.TESTS_FAILED)):
                session.exitstatus = pytest.ExitCode.INTERRUPTED
            return
        if self.config.option.collectonly:
            self.skipped_reason = "--collect-only"
            return
        if exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.USAGE_ERROR,
                          pytest.ExitCode.INTERNAL_ERROR):
            self.skipped_reason = "the session was interrupted"
            return
        settings = self.session.settings
        if settings.archive is None and settings.report is None and settings.html is None:
            return  # nothing to write: not even the run document is needed
        self.published = publish(self.results, settings)
        if self.published.errors and session.exitstatus in (pytest.ExitCode.OK,
                                                            pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = int(ExitCode.OUTPUT_FAILED)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        if not self.results:
            return
        verbose = self.config.option.verbose > 0
        tr.section("model gate")
        for gated in self.results:
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
        p = self.published
        if p is None:
            if self.skipped_reason:
                tr.write_line(f"model-gate: nothing archived or reported ({self.skipped_reason})")
            return
        for gated, run_id, reused in zip(self.results, p.run_ids, p.reused, strict=False):
            if run_id is not None:
                verb = "already archived as run" if reused else "archived as run"
                tr.write_line(f"model-gate: {gated.summary.source} {verb} {run_id} in {p.archive}")
        if p.report:
            tr.write_line(f"model-gate: report written to {p.report}")
        if p.html:
            tr.write_line(f"model-gate: HTML report written to {p.html}")
        for error in p.errors:
            tr.write_line(f"model-gate: ERROR: {error}", red=True, bold=True)

