"""`pytest --model-gate=KIND:path`: one item per model of the source, JUnit and exit codes."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from source_fixtures import FIXTURES, GATE_YAML

# Loaded before any in-process run: pytester drops the modules a run imported, and a second
# run would otherwise raise errors of a re-imported module that the first run's cached
# plugin modules do not catch.
import pytest_model_gate.pipeline
import pytest_model_gate.plugin.controller
import pytest_model_gate.plugin.items
import pytest_model_gate.sources.loader  # noqa: F401

NO_ARCHIVE = "--no-model-gate-archive"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    for child in FIXTURES.iterdir():
        if child.is_dir():
            shutil.copytree(child, pytester.path / child.name)
    (pytester.path / "gate.yaml").write_text(GATE_YAML, encoding="utf-8")
    return pytester


def junit(path: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """testcase name -> (outcome, properties)."""
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "skipped", "error"):
            if case.find(tag) is not None:
                outcome = tag
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        out[f"{case.get('classname')}::{case.get('name')}"] = (outcome, props)
    return out


@pytest.mark.parametrize(("spec", "outcomes"), [
    ("hf:hf", {"passed": 1, "xfailed": 1}),
    ("lightning:lightning", {"passed": 1, "xfailed": 1}),
    ("keras:keras", {"passed": 1, "xfailed": 1}),
    ("mlflow:sqlite:///mlflow/mlflow.db?experiment=sweep-3",
     {"passed": 2, "xfailed": 1, "failed": 1}),
    ("mlflow:mlflow/mlruns?experiment=sweep-3", {"passed": 2, "xfailed": 1, "failed": 1}),
    ("tensorboard:tensorboard", {"passed": 1, "xfailed": 1, "failed": 1}),
    ("dvclive:dvclive", {"passed": 1, "xfailed": 1}),
    ("tensorboard", {"passed": 1, "xfailed": 1, "failed": 1}),  # kind detected
])
def test_each_kind_gates(project: pytest.Pytester, spec: str, outcomes: dict[str, int]) -> None:
    result = project.runpytest(f"--model-gate={spec}", NO_ARCHIVE, "-p", "no:cacheprovider")
    result.assert_outcomes(**outcomes)
    assert result.ret == (1 if "failed" in outcomes else 0)


def test_node_ids_junit_and_checkpoint_folder(project: pytest.Pytester) -> None:
    result = project.runpytest("--model-gate=hf:hf", NO_ARCHIVE, "--junitxml=j.xml", "-rxX",
                               "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, xfailed=1)
    cases = junit(project.path / "j.xml")
    assert sorted(cases) == ["hf:hf::bert-good", "hf:hf::bert-overfit"]
    outcome, props = next(v for k, v in cases.items() if k.endswith("bert-overfit"))
    assert outcome == "skipped"  # xfail in JUnit
    assert props["classification"] == "REVIEW" and props["checkpoint_update"] == "1000"
    result.stdout.fnmatch_lines(["*bert-overfit: use the checkpoint at update 1000: "
                                 "checkpoint-1000/*"])


def test_collect_only_lists_models(project: pytest.Pytester) -> None:
    result = project.runpytest("--model-gate=mlflow:sqlite:///mlflow/mlflow.db", NO_ARCHIVE,
                               "--co", "-q", "-p", "no:cacheprovider")
    ids = [line for line in result.stdout.lines if "::" in line]
    assert ids[:4] == [f"mlflow:sqlite:///mlflow/mlflow.db::{m}"
                       for m in ("lr-0.01", "lr-0.03", "lr-0.1", "lr-nan")]
    assert len(ids) == 6


def test_k_selects_models_of_a_source(project: pytest.Pytester) -> None:
    result = project.runpytest("--model-gate=tensorboard:tensorboard", NO_ARCHIVE, "-k",
                               "run-a", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=2)


def test_source_beside_user_tests(project: pytest.Pytester) -> None:
    project.makepyfile(test_user="def test_user():\n    pass\n")
    result = project.runpytest("test_user.py", "--model-gate=dvclive:dvclive", NO_ARCHIVE,
                               "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, xfailed=1)


def test_bad_source_is_a_collection_error(project: pytest.Pytester) -> None:
    result = project.runpytest("--model-gate=mlflow:sqlite:///mlflow/mlflow.db?experiment=prod",
                               "-p", "no:cacheprovider")
    assert result.ret == 2
    result.stdout.fnmatch_lines(['*experiment "prod" not found (have: Default, sweep-3)*'])
    assert "Traceback" not in result.stdout.str()
    assert not (project.path / "training_archives").exists()


def test_reportinfo_points_at_the_models_file(project: pytest.Pytester) -> None:
    project.makeconftest(
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        path, _, _ = item.reportinfo()\n"
        "        print('INFO', item.nodeid, path)\n")
    result = project.runpytest("--model-gate=hf:hf", NO_ARCHIVE, "-s", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([
        "INFO hf:hf::bert-good */hf/bert-good/trainer_state.json",
        "INFO hf:hf::bert-overfit */hf/bert-overfit/checkpoint-1500/trainer_state.json"])


def test_under_xdist_with_archive(project: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result = project.runpytest_subprocess("--model-gate=tensorboard:tensorboard", "-n", "2",
                                          "--model-gate-archive=arch", "--junitxml=j.xml")
    result.assert_outcomes(passed=1, xfailed=1, failed=1)
    runs = [p for p in (project.path / "arch").iterdir() if p.is_dir() and p.name[0].isdigit()]
    assert len(runs) == 1
    assert len(junit(project.path / "j.xml")) == 3
