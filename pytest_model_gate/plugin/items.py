"""Collection: a `SummaryNode` (pytest.File) per training summary, a `ModelItem` per model.

The nodes map verdicts onto pytest's vocabulary: APPROVED passes, REVIEW xfails (or fails /
passes, per `on_review`), DROP fails. The gating itself happens in the pipeline.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest._code.code import (
    ReprEntryNative,
    ReprExceptionInfo,
    ReprFileLocation,
    ReprTraceback,
    TerminalRepr,
)

from pytest_model_gate.core.explain import explain, short_message
from pytest_model_gate.core.gating import INVALID_METRIC, MISSING_METRIC, Assessment
from pytest_model_gate.core.summary import model_lines
from pytest_model_gate.errors import ModelGateError
from pytest_model_gate.plugin.state import GateState
from pytest_model_gate.text import fmt_value, inert


class GateVerdict(AssertionError):
    """Raised by a model item whose class is not APPROVED; its text is the whole report.

    An AssertionError, so report plugins (allure, pytest-html) count a verdict as a failed
    check, not as a broken test."""

    def __init__(self, text: str, message: str | None = None) -> None:
        super().__init__(message or text)
        self.text = text
        self.message = message or text


class ModelDropped(GateVerdict):
    """A DROP verdict: the item fails."""


class ModelNeedsReview(GateVerdict):
    """A REVIEW verdict: xfailed by a marker with raises=ModelNeedsReview (or failed)."""


class SummaryCollector:
    """pytest plugin registered only with --model-gate: collects exactly the named summaries."""

    def __init__(self, state: GateState) -> None:
        self.state = state

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector
                            ) -> SummaryNode | None:
        key = self.state.key_of(file_path)
        if key is not None:
            return SummaryNode.from_parent(parent, path=file_path, state=self.state, key=key,
                                           nodeid=_file_nodeid(file_path, parent.config))
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector
                                   ) -> Generator[None, pytest.CollectReport,
                                                  pytest.CollectReport]:
        """Sources are not paths pytest can walk (a URI, a folder of tool output): each
        becomes a collector of its own under the session, node id = the source as given."""
        report = yield
        if isinstance(collector, pytest.Session) and report.passed and self.state.sources:
            result = list(report.result or [])
            for spec in self.state.sources:
                result.append(SourceNode.from_parent(collector, name=spec, nodeid=spec,
                                                     state=self.state))
            report.result = result
        return report

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """A summary path that does not exist is our collection error (exit 2, one line),
        not pytest's usage error: it is bad input like any unreadable summary."""
        for path in self.state.missing:
            try:
                self.state.gate(path)
            except ModelGateError as exc:
                report = pytest.CollectReport(self.state.summaries[path], "failed",
                                              f"model-gate: {exc}", [])
                session.ihook.pytest_collectreport(report=report)


def item_name(model_id: str) -> str:
    """A model's test name: its id, with control and invisible characters shown escaped
    (`text.inert`), so a node id never carries an escape sequence or a line break."""
    return inert(model_id)


def item_nodeid(summary_id: str, model_id: str) -> str:
    return f"{summary_id}::{item_name(model_id)}"


def summary_nodeid(path: Path, config: pytest.Config) -> str:
    """The node id pytest gives (or we give) the summary file at `path`."""
    own = _file_nodeid(path, config)
    return own if own is not None else path.relative_to(config.rootpath).as_posix()


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


class SummaryNode(pytest.File):
    """A training summary: one item per model, in the summary's order."""

    def __init__(self, *, state: GateState, key: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.key = key  # the summary's key in GateState (the path as given, made absolute)

    @functools.cached_property
    def model_lines(self) -> dict[str, int]:
        """Model id -> its 1-based line in the summary (one scan, on first use)."""
        gated = self.state.gate(self.key)
        is_yaml = self.path.suffix.lower() in (".yaml", ".yml")
        return model_lines(gated.summary.raw, [a.model_id for a in gated.assessments],
                           yaml_format=is_yaml)

    def collect(self) -> Iterator[ModelItem]:
        try:
            gated = self.state.gate(self.key)
        except ModelGateError as exc:
            raise self.CollectError(f"model-gate: {exc}") from None
        for assessment in gated.assessments:
            # The node id is given as a string so that pytest >= 9 parses it exactly as it
            # parses the ids it stored (--lf cache, xdist reports): an id with `::` or `[`
            # otherwise gets a structured id that never equals the parsed one, and --lf
            # silently drops those models.
            name = item_name(assessment.model_id)
            yield ModelItem.from_parent(self, name=name, assessment=assessment,
                                        on_review=self.state.on_review,
                                        nodeid=f"{self.nodeid}::{name}")


class SourceNode(pytest.Collector):
    """A source (`hf:runs/bert`, `mlflow:sqlite:///m.db?experiment=x`): one item per model,
    in the source's order, each pointing at the file its numbers came from (reportinfo)."""

    def __init__(self, *, state: GateState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = state

    def collect(self) -> Iterator[ModelItem]:
        try:
            gated = self.state.gate(self.name)
        except ModelGateError as exc:
            raise self.CollectError(f"model-gate: {exc}") from None
        for assessment in gated.assessments:
            where = gated.model_files.get(assessment.model_id) or gated.anchor
            extra: dict[str, Any] = {"path": where.resolve()} if where is not None else {}
            yield ModelItem.from_parent(self, name=item_name(assessment.model_id),
                                        assessment=assessment,
                                        on_review=self.state.on_review,
                                        nodeid=item_nodeid(self.nodeid, assessment.model_id),
                                        **extra)


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
    if a.checkpoint_path is not None:
        props.append(("checkpoint_path", a.checkpoint_path))
    return props


class ModelItem(pytest.Item):
    """One model's verdict as a test."""

    def __init__(self, *, assessment: Assessment, on_review: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.assessment = assessment
        # A missing or non-finite metric never makes a test pass (No silent verdicts): with
        # on_invalid: review and on_review: pass, such a model xfails at best.
        invalid = {MISSING_METRIC, INVALID_METRIC}.intersection(assessment.flags)
        self.on_review = "xfail" if on_review == "pass" and invalid else on_review
        self.user_properties.extend(_properties(assessment))
        if assessment.classification == "REVIEW" and self.on_review == "xfail":
            self.add_marker(pytest.mark.xfail(reason=self.message,
                                              raises=ModelNeedsReview, strict=False))

    @functools.cached_property
    def verdict_text(self) -> str:
        """The stand-alone explanation (metric table, flags, checkpoint), built once."""
        return explain(self.assessment)

    @functools.cached_property
    def message(self) -> str:
        """The verdict in a few whole lines (JUnit `message=`, the short test summary)."""
        return short_message(self.assessment)

    def runtest(self) -> None:
        a = self.assessment
        if a.classification == "DROP":
            raise ModelDropped(self.verdict_text, self.message)
        if a.classification == "REVIEW" and self.on_review != "pass":
            raise ModelNeedsReview(self.verdict_text, self.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, GateVerdict):
            return verdict_repr(excinfo.value, str(self.path), self.line)
        return super().repr_failure(excinfo, style=style)

    @property
    def line(self) -> int | None:
        """The model's 1-based line in the summary, when found."""
        parent = self.parent
        if not isinstance(parent, SummaryNode):
            return None
        return parent.model_lines.get(self.assessment.model_id)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.line
        return self.path, None if line is None else line - 1, f"model {self.name}"


def verdict_repr(verdict: GateVerdict, path: str, line: int | None) -> TerminalRepr:
    """The failure as pytest shows it: the whole table in the FAILURES section and the JUnit
    element text; the short message as the "crash" line (JUnit `message=`, `-ra`). Built from
    pytest's own repr classes, so it crosses the pytest-xdist wire unchanged."""
    text = verdict.text if verdict.text.endswith("\n") else verdict.text + "\n"
    return ReprExceptionInfo(
        reprtraceback=ReprTraceback([ReprEntryNative([text])], None, "native"),
        reprcrash=ReprFileLocation(path, line or 0, verdict.message))
