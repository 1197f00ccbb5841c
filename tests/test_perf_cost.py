"""Cost properties (issue 9): gating a plain JSON summary with no archive and no report loads
neither the archive, the report renderers, the run document nor the MLflow readers (whose
urllib / ssl / sqlite3 imports are most of the sources' import time)."""

from __future__ import annotations

from pathlib import Path

import pytest

SUMMARY = """{"models": {
  "AAPL_1Hour": {"symbol": "AAPL", "metrics": {"fitness_score": 0.8, "profit_factor": 2.0,
                 "consistency": 0.9, "max_drawdown": 0.05}},
  "MSFT_1Hour": {"symbol": "MSFT", "metrics": {"fitness_score": 0.3, "profit_factor": 2.0,
                 "consistency": 0.9, "max_drawdown": 0.05}}}}
"""

RECORD_MODULES = """import sys


def pytest_unconfigure(config):
    names = sorted(m for m in sys.modules if m.startswith("pytest_model_gate"))
    (config.rootpath / "modules.txt").write_text("\\n".join(names), encoding="utf-8")
"""

NOT_LOADED = ("pytest_model_gate.archive", "pytest_model_gate.report",
              "pytest_model_gate.core.document", "pytest_model_gate.sources.mlflow")


def loaded_modules(pytester: pytest.Pytester, *args: str) -> list[str]:
    pytester.makefile(".json", s=SUMMARY)
    pytester.makefile(".yaml", gate="archive: null\nreport: null\n")
    pytester.makeconftest(RECORD_MODULES)
    result = pytester.runpytest_subprocess("--model-gate", "s.json", *args)
    result.assert_outcomes(passed=1, failed=1)
    return Path(pytester.path / "modules.txt").read_text(encoding="utf-8").split()


def test_json_summary_without_outputs_loads_no_output_code(pytester: pytest.Pytester) -> None:
    modules = loaded_modules(pytester, "--no-model-gate-archive")
    assert "pytest_model_gate.plugin.items" in modules  # the gate did run in this process
    assert [m for m in modules if m.startswith(NOT_LOADED)] == []


def test_report_modules_load_when_a_report_is_written(pytester: pytest.Pytester) -> None:
    modules = loaded_modules(pytester, "--no-model-gate-archive",
                             "--model-gate-report=report.md")
    assert (pytester.path / "report.md").is_file()
    assert "pytest_model_gate.report.markdown" in modules
