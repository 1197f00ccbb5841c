"""The summary shape's `<metric>_steps` and `checkpoints`, and what gating does with them."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_model_gate.core.config import GateConfig
from pytest_model_gate.core.document import assessment_record, run_document
from pytest_model_gate.core.explain import checkpoint_advice
from pytest_model_gate.core.gating import assess
from pytest_model_gate.core.summary import TrainingSummary, parse_summary
from pytest_model_gate.errors import SummaryError
from pytest_model_gate.report.markdown import render_markdown
from pytest_model_gate.report.view import ReportSection

REVIEW = {"fitness_score": [0.55, 0.70, 0.60, 0.58], "profit_factor": 1.4,
          "consistency": 0.70, "max_drawdown": 0.12}


def model(extra: dict[str, Any], **fields: Any) -> Any:
    data = {"validation_interval": 40,
            "models": {"TSLA_1Hour": {"metrics": {**REVIEW, **extra}, **fields}}}
    return parse_summary(data, config=GateConfig()).models[0]


def test_steps_give_checkpoint_update() -> None:
    m = model({"fitness_score_steps": [300, 600, 900, 1200]},
              checkpoints={"600": "checkpoint-600/", "1200": "checkpoint-1200/"})
    assert m.series["fitness_score"].steps == (300, 600, 900, 1200)
    a = assess(m, GateConfig())
    assert (a.best_idx, a.checkpoint_update, a.checkpoint_path) == (1, 600, "checkpoint-600/")
    assert checkpoint_advice(a) == ("use the checkpoint at update 600: checkpoint-600/ "
                                    "(validation 2 of 4, fitness 0.7)")
    record = assessment_record(a)
    assert record["checkpoint_path"] == "checkpoint-600/"
    assert "| update 600 (validation 2 of 4) checkpoint-600/ |" in markdown_of(m)


def markdown_of(m: Any) -> str:
    summary = TrainingSummary(source="s.json", sha256="0" * 64, metadata={}, models=(m,))
    doc = run_document(summary, [assess(m, GateConfig())], GateConfig())
    return render_markdown([ReportSection(document=doc)])


def test_without_steps_the_interval_rule_stands() -> None:
    a = assess(model({}), GateConfig())
    assert (a.checkpoint_update, a.checkpoint_path) == (80, None)
    assert "checkpoint_path" not in assessment_record(a)


def test_steps_of_a_history_list() -> None:
    m = model({"fitness_score": 0.58, "fitness_score_history": [0.55, 0.70, 0.60, 0.58],
               "fitness_score_steps": [5, 10, 15, 20]})
    assert assess(m, GateConfig()).checkpoint_update == 10


def test_steps_key_without_its_metric_is_an_ordinary_entry() -> None:
    m = model({"global_steps": [1, 2]})
    assert "global_steps" in m.series and m.series["global_steps"].steps is None


@pytest.mark.parametrize(("steps", "message"), [
    ([1, 2, 3], "3 steps for a history of 4 points; give one step per point"),
    ([1, 2, 3.5, 4], "expected a list of whole-number steps, got a list"),
    ("x", 'expected a list of whole-number steps, got "x"'),
])
def test_bad_steps_of_a_gated_metric(steps: Any, message: str) -> None:
    with pytest.raises(SummaryError) as info:
        model({"fitness_score_steps": steps})
    assert str(info.value) == (
        f"<summary>: models.TSLA_1Hour.metrics.fitness_score_steps: {message}")


def test_checkpoint_path_is_escaped_in_markdown() -> None:
    m = model({"fitness_score_steps": [1, 2, 3, 4]}, checkpoints={"2": "ck|<b>x</b>"})
    line = next(x for x in markdown_of(m).splitlines() if x.startswith("| TSLA_1Hour | REVIEW"))
    assert "<b>" not in line and line.count(" | ") == 5
