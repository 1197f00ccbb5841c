"""Once-per-session work: archive, report, exit status and the terminal section.

Registered on the controller only (never on pytest-xdist workers, which must write nothing),
as pytest-mypy registers its own controller plugin object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_model_gate.errors import ExitCode, ModelGateError
from pytest_model_gate.pipeline import GatedSummary, PublishResult, publish
from pytest_model_gate.plugin.state import GateState
from pytest_model_gate.plugin.terminal import write_gate_section


class GateController:
    """Gates every summary once more on the controller (cached), then publishes."""

    def __init__(self, config: pytest.Config, state: GateState) -> None:
        self.config = config
        self.state = state
        self.published: PublishResult | None = None
        self.results: list[GatedSummary] = []
        self.failed: list[ModelGateError] = []
        self.skipped_reason: str | None = None
        self.collection_failed = False  # a collection error was reported (here or by a worker)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_failed = True

    def _gate_all(self) -> None:
        keys: list[Path | str] = [*self.state.summaries, *self.state.sources]
        for path in keys:
            try:
                self.results.append(self.state.gate(path))
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
        settings = self.state.settings
        if (settings.archive is None and settings.report is None and settings.html is None
                and settings.comment is None):
            return  # nothing to write: not even the run document is needed
        self.published = publish(self.results, settings)
        if self.published.errors and session.exitstatus in (pytest.ExitCode.OK,
                                                            pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = int(ExitCode.OUTPUT_FAILED)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.results:
            write_gate_section(terminalreporter, self.results, self.published,
                               skipped_reason=self.skipped_reason,
                               verbose=self.config.option.verbose > 0)
