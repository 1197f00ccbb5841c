"""Once-per-session work: archive, report, exit status and the terminal section.

Registered on the controller only (never on pytest-xdist workers, which must write nothing),
as pytest-mypy registers its own controller plugin object.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from pytest_model_gate.core.explain import explain
from pytest_model_gate.core.gating import Assessment
from pytest_model_gate.errors import ExitCode, ModelGateError
from pytest_model_gate.pipeline import GatedSummary, PublishResult, publish
from pytest_model_gate.plugin.items import item_nodeid, summary_nodeid
from pytest_model_gate.plugin.junit import add_xfail_text
from pytest_model_gate.plugin.state import GateState
from pytest_model_gate.plugin.terminal import SessionFacts, write_gate_section


def no_run_reason(config: pytest.Config) -> str | None:
    """Why this session runs no tests (then it publishes nothing), or None."""
    opt = config.option
    for flag, name in (("collectonly", "--collect-only"), ("showfixtures", "--fixtures"),
                       ("show_fixtures_per_test", "--fixtures-per-test"),
                       ("setupplan", "--setup-plan"), ("setuponly", "--setup-only")):
        if getattr(opt, flag, False):
            return name
    return None


class GateController:
    """Gates every summary once more on the controller (cached), then publishes."""

    def __init__(self, config: pytest.Config, state: GateState) -> None:
        self.config = config
        self.state = state
        self.published: PublishResult | None = None
        self.results: list[GatedSummary] = []
        self.nodeids: list[str] = []  # per result, its summary's node id
        self.failed: list[ModelGateError] = []
        self.skipped_reason: str | None = None
        self.collection_failed = False  # a collection error was reported (here or by a worker)
        self.ran: set[str] = set()  # node ids of items that ran (any outcome)
        self.shown_failed: set[str] = set()  # node ids whose table FAILURES shows
        self._assessments: dict[str, Assessment] | None = None

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_failed = True

    @pytest.hookimpl(trylast=True)  # after junitxml wrote the report's element
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.failed:
            self.ran.add(report.nodeid)
        if report.failed:
            self.shown_failed.add(report.nodeid)
        if report.when == "call" and hasattr(report, "wasxfail"):
            assessment = self._by_nodeid().get(report.nodeid)
            if assessment is not None:
                add_xfail_text(self.config, report, functools.partial(explain, assessment))

    def _by_nodeid(self) -> dict[str, Assessment]:
        """Node id -> assessment of every gated model (built once, on first use)."""
        if self._assessments is None:
            self._assessments = {}
            for key, nodeid in self._keys():
                try:
                    gated = self.state.gate(key)
                except ModelGateError:
                    continue
                for a in gated.assessments:
                    self._assessments[item_nodeid(nodeid, a.model_id)] = a
        return self._assessments

    def _keys(self) -> list[tuple[Path | str, str]]:
        """(state key, node id of its collector) of every summary and source."""
        keys: list[tuple[Path | str, str]] = [
            (path, summary_nodeid(path, self.config)) for path in self.state.summaries]
        keys += [(spec, spec) for spec in self.state.sources]
        return keys

    def _gate_all(self) -> None:
        for key, nodeid in self._keys():
            try:
                self.results.append(self.state.gate(key))
                self.nodeids.append(nodeid)
            except ModelGateError as exc:
                self.failed.append(exc)

    def not_run_drops(self) -> list[tuple[GatedSummary, list[str]]]:
        """DROP models whose test did not run (-k, --deselect, --lf, -x): they still block."""
        out = []
        for gated, nodeid in zip(self.results, self.nodeids, strict=True):
            ids = [a.model_id for a in gated.assessments if a.classification == "DROP"
                   and item_nodeid(nodeid, a.model_id) not in self.ran]
            if ids:
                out.append((gated, ids))
        return out

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._gate_all()
        if self.failed:
            self.skipped_reason = "a summary could not be gated"
            # A bad summary is a collection error: exit 2, as pytest alone gives. Under
            # pytest-xdist a collection error on the workers ends the run with 1 instead.
            if (self.collection_failed and not self.config.option.continue_on_collection_errors
                    and session.exitstatus in (pytest.ExitCode.OK,
                                               pytest.ExitCode.TESTS_FAILED,
                                               pytest.ExitCode.NO_TESTS_COLLECTED)):
                session.exitstatus = pytest.ExitCode.INTERRUPTED
            return
        reason = no_run_reason(self.config)
        if reason is not None:
            self.skipped_reason = reason
            return
        if exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.USAGE_ERROR,
                          pytest.ExitCode.INTERNAL_ERROR):
            self.skipped_reason = "the session was interrupted"
            return
        if self.not_run_drops() and session.exitstatus in (pytest.ExitCode.OK,
                                                           pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        settings = self.state.settings
        if (settings.archive is None and settings.report is None and settings.html is None
                and settings.comment is None and not settings.write_back):
            return  # nothing to write: not even the run document is needed
        self.published = publish(self.results, settings)
        if self.published.errors and session.exitstatus in (pytest.ExitCode.OK,
                                                            pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = int(ExitCode.OUTPUT_FAILED)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results:
            return
        if no_run_reason(self.config) is not None and self.config.option.verbose < 0:
            return  # `-q --co` lists node ids and nothing else
        facts = SessionFacts(
            results=self.results, nodeids=self.nodeids, published=self.published,
            skipped_reason=self.skipped_reason, verbose=self.config.option.verbose > 0,
            ran=self.ran, shown_failed=self.shown_failed,
            listing=no_run_reason(self.config) is not None,
            xfail_reasons_shown=any(c in (self.config.option.reportchars or "")
                                    for c in "xaA"))
        write_gate_section(terminalreporter, facts)
