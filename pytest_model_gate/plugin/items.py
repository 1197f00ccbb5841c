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

from pytest_model_gate.core.explain import explain
from pytest_model_gate.core.gating import Assessment
from pytest_model_gate.errors import ModelGateError
from pytest_model_gate.plugin.state import GateState
from pytest_model_gate.text import fmt_value


class GateVerdict(Exception):
    """Raised by a model item whose class is not APPROVED; its text is the whole report."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


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
        if file_path in self.state.summaries:
            return SummaryNode.from_parent(parent, path=file_path, state=self.state,
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

    def __init__(self, *, state: GateState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = state

    def collect(self) -> Iterator[ModelItem]:
        try:
            gated = self.state.gate(self.path)
        except ModelGateError as exc:
            raise self.CollectError(f"model-gate: {exc}") from None
        for assessment in gated.assessments:
            # The node id is given as a string so that pytest >= 9 parses it exactly as it
            # parses the ids it stored (--lf cache, xdist reports): an id with `::` or `[`
            # otherwise gets a structured id that never equals the parsed one, and --lf
            # silently drops those models.
            yield ModelItem.from_parent(self, name=assessment.model_id, assessment=assessment,
                                        on_review=self.state.on_review,
                                        nodeid=f"{self.nodeid}::{assessment.model_id}")


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
            yield ModelItem.from_parent(self, name=assessment.model_id, assessment=assessment,
                                        on_review=self.state.on_review,
                                        nodeid=f"{self.nodeid}::{assessment.model_id}",
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
