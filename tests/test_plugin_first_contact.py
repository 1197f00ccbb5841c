"""First contact (issue 11): no silent verdicts, and every CI viewer shows the verdict right.

Each test is what a new user meets: a pytester session or a `model-gate` subprocess with
their own files, read the way they would read it (terminal lines, JUnit XML, allure's
result files, GitHub workflow commands).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pytest_model_gate.core.explain import MESSAGE_BUDGET

APPROVED = {"fitness_score": [0.62, 0.71, 0.78, 0.80], "profit_factor": 2.2,
            "consistency": 0.92, "max_drawdown": 0.05}
REVIEW = {"fitness_score": [0.55, 0.70, 0.60, 0.58], "profit_factor": 1.4,
          "consistency": 0.70, "max_drawdown": 0.12}
# DROP on profit_factor (review tier) and consistency (DROP tier at 0.6 < 0.65) ...
DROP = {"fitness_score": [0.80, 0.81], "profit_factor": 1.5679, "consistency": 0.6417,
        "max_drawdown": 0.05}
SMALL = {"validation_interval": 40, "models": {
    "AAPL_1Hour": {"metrics": APPROVED}, "TSLA_1Hour": {"metrics": REVIEW},
    "MSFT_1Hour": {"metrics": DROP}}}
NO_ARCHIVE = "--no-model-gate-archive"


@pytest.fixture(autouse=True)
def _clean_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("PYTHONIOENCODING", "utf-8")
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")


def write_json(folder: Path, name: str, data: Any, *, indent: int | None = None) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent), encoding="utf-8")
    return path


def model_gate(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run([sys.executable, "-m", "pytest_model_gate.cli", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def text_of(result: pytest.RunResult) -> str:
    return "\n".join([*result.outlines, *result.errlines])


# --- no silent verdicts ----------------------------------------------------------------------

VAL_METRICS = {"models": {f"M{i}_1Hour": {"val_metrics": {
    "fitness": 0.8, "pf": 2.0, "final_consistency": 0.9, "max_dd": 0.05}} for i in range(24)}}


def test_metrics_under_another_key_is_bad_input_naming_the_fix(pytester: pytest.Pytester) -> None:
    write_json(pytester.path, "s.json", VAL_METRICS)
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE)
    assert result.ret == pytest.ExitCode.INTERRUPTED  # 2: a collection error, no verdicts
    result.stdout.fnmatch_lines([
        'model-gate: s.json: no gated metric found in any of 24 models; models carry '
        '"val_metrics" with keys fitness, pf, final_consistency, max_dd: set metrics_key: '
        'val_metrics in gate.yaml'])
    result.assert_outcomes(errors=1)  # not one model gated
    assert "MISSING_METRIC" not in text_of(result)


def test_metrics_key_reads_that_container(pytester: pytest.Pytester) -> None:
    write_json(pytester.path, "s.json", VAL_METRICS)
    pytester.path.joinpath("gate.yaml").write_text("metrics_key: val_metrics\nreport: null\n",
                                                   encoding="utf-8")
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE)
    result.assert_outcomes(passed=24)


def test_metric_under_another_name_suggests_the_key(tmp_path: Path) -> None:
    write_json(tmp_path, "s.json", {"models": {"a": {"metrics": {"val_acc": 0.9}}}})
    (tmp_path / "gate.yaml").write_text(
        "metrics:\n  accuracy: {approved: 0.8, review: 0.7}\n", encoding="utf-8")
    result = model_gate("check", "s.json", "--no-archive", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "model-gate: error: s.json: no gated metric found in any of 1 model (gated: accuracy "
        "(accuracy)); models carry metric keys val_acc; nearest match: set "
        "metrics.accuracy.key: val_acc in gate.yaml\n")


def test_every_config_error_at_once_with_lines(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text(
        "metrics:\n"
        "  val_acc: {aproved: 0.9, review: 0.8}\n"
        "  f1:\n"
        "    approved: 0.7\n"
        "    reveiw: 0.6\n"
        "onreview: fail\n", encoding="utf-8")
    write_json(tmp_path, "s.json", SMALL)
    result = model_gate("check", "s.json", "--no-archive", cwd=tmp_path)
    assert result.returncode == 2
    gate = tmp_path / "gate.yaml"
    allowed = "allowed: key, aliases, higher_is_better, approved, review, flag"
    assert result.stderr.splitlines() == [
        f"model-gate: error: {gate}: 3 errors:",
        f"  {gate}:2: metrics.val_acc.aproved: unknown key 'aproved' (did you mean "
        f"'approved'?); {allowed}",
        f"  {gate}:5: metrics.f1.reveiw: unknown key 'reveiw' (did you mean 'review'?); "
        f"{allowed}",
        f"  {gate}:6: onreview: unknown key 'onreview' (did you mean 'on_review'?); allowed: "
        "version, metrics_key, metrics, overfitting, validation_interval, on_review, "
        "on_invalid, overrides, baseline, archive, report, html, table, max_summary_bytes, "
        "write_back",
    ]


def test_every_config_error_at_once_in_pytest(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("gate.yaml").write_text(
        "metrics:\n  val_acc: {aproved: 0.9, review: 0.8}\nonreview: fail\n", encoding="utf-8")
    write_json(pytester.path, "s.json", SMALL)
    result = pytester.runpytest("--model-gate", "s.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: model-gate: *gate.yaml: 2 errors:",
                                 "  *gate.yaml:2: metrics.val_acc.aproved: unknown key 'aproved'*",
                                 "  *gate.yaml:3: onreview: unknown key 'onreview'*"])


def project(root: Path, gate_yaml: str = "metrics:\n  fitness: {approved: 0.5, review: 0.4}\n"
            ) -> Path:
    """A repository (`.git`) with gate.yaml at its root and a summary under runs/today."""
    (root / ".git").mkdir()
    (root / "gate.yaml").write_text(gate_yaml, encoding="utf-8")
    runs = root / "runs" / "today"
    write_json(runs, "summary.json", {"models": {"A_1": {"fitness_score": 0.6}}})
    return runs


def test_pytest_finds_gate_yaml_walking_up(pytester: pytest.Pytester) -> None:
    """`cd runs/today && pytest --model-gate summary.json` with gate.yaml at the repository
    root (no pytest ini file): that gate.yaml gates, archive and report go beside it."""
    runs = project(pytester.path)
    os.chdir(runs)
    result = pytester.runpytest("--model-gate", "summary.json")
    result.assert_outcomes(passed=1)  # 0.6 meets the project's 0.5 (not the built-in 0.7)
    result.stdout.fnmatch_lines([f"model-gate: config {pytester.path / 'gate.yaml'} (sha256 *"])
    assert (pytester.path / "training_archives").is_dir()
    assert (pytester.path / "model-gate-report.md").is_file()
    assert not (runs / "training_archives").exists()


def test_gate_yaml_beyond_the_repository_warns(pytester: pytest.Pytester) -> None:
    (pytester.path / "gate.yaml").write_text("report: null\n", encoding="utf-8")
    repo = pytester.path / "repo"
    (repo / ".git").mkdir(parents=True)
    write_json(repo, "s.json", SMALL)
    os.chdir(repo)
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE)
    result.stdout.fnmatch_lines(["model-gate: config built-in defaults (sha256 *",
                                 "*PytestConfigWarning: model-gate: using the built-in defaults: "
                                 f"no gate.yaml between {repo} and the repository root {repo}; "
                                 f"{pytester.path / 'gate.yaml'} lies beyond it*"])


LOSS_GATE = "metrics:\n  val_loss: {approved: 0.3, review: 0.5}\nreport: null\n"


def test_inverted_bounds_suggest_lower_is_better(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text(LOSS_GATE, encoding="utf-8")
    write_json(tmp_path, "s.json", {"models": {"a": {"val_loss": 0.2}}})
    result = model_gate("check", "s.json", "--no-archive", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"model-gate: error: {tmp_path / 'gate.yaml'}:2: metrics.val_loss: review bound 0.5 is "
        "stricter than approved bound 0.3 (higher is better, so review must be <= approved); "
        "if lower is better for this metric (a loss, an error), write higher_is_better: false\n")


@pytest.mark.parametrize("name", ["val_loss", "eval/error_rate", "p95_latency_ms", "valMAE",
                                  "rmse", "test_wer"])
def test_loss_like_name_gated_higher_is_better_warns(tmp_path: Path, name: str) -> None:
    (tmp_path / "gate.yaml").write_text(
        f'metrics:\n  "{name}": {{approved: 0.5, review: 0.3}}\nreport: null\n',
        encoding="utf-8")
    write_json(tmp_path, "s.json", {"models": {"a": {name: 0.9}}})
    result = model_gate("check", "s.json", "--no-archive", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr == (
        f"model-gate: warning: {tmp_path / 'gate.yaml'}:2: metrics.{name}: the name says lower "
        "is better, but higher_is_better defaults to true; write higher_is_better: false (or "
        "higher_is_better: true to keep it and silence this warning)\n")
    # written explicitly: silent
    (tmp_path / "gate.yaml").write_text(
        f'metrics:\n  "{name}": {{approved: 0.5, review: 0.3, higher_is_better: true}}\n'
        "report: null\n", encoding="utf-8")
    quiet = model_gate("check", "s.json", "--no-archive", cwd=tmp_path)
    assert (quiet.returncode, quiet.stderr) == (0, "")


@pytest.mark.parametrize("name", ["accuracy", "maestro_score", "f1", "precision"])
def test_other_names_do_not_warn(tmp_path: Path, name: str) -> None:
    (tmp_path / "gate.yaml").write_text(
        f"metrics:\n  {name}: {{approved: 0.5, review: 0.3}}\nreport: null\n", encoding="utf-8")
    write_json(tmp_path, "s.json", {"models": {"a": {name: 0.9}}})
    result = model_gate("check", "s.json", "--no-archive", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


def test_loss_warning_in_pytest(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("gate.yaml").write_text(
        "metrics:\n  val_loss: {approved: 0.5, review: 0.3}\nreport: null\n", encoding="utf-8")
    write_json(pytester.path, "s.json", {"models": {"a": {"val_loss": 0.9}}})
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*PytestConfigWarning: model-gate: *gate.yaml:2: "
                                 "metrics.val_loss: the name says lower is better*"])


# --- what CI viewers show --------------------------------------------------------------------

def test_allure_counts_drop_as_failed_not_broken(pytester: pytest.Pytester) -> None:
    pytest.importorskip("allure_pytest")
    write_json(pytester.path, "s.json", SMALL)
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE, "--alluredir=allure")
    result.assert_outcomes(passed=1, xfailed=1, failed=1)
    statuses = {}
    for path in (pytester.path / "allure").glob("*-result.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        statuses[data["name"]] = data["status"]
    assert statuses == {"AAPL_1Hour": "passed", "TSLA_1Hour": "skipped",
                        "MSFT_1Hour": "failed"}


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if text in line)


@pytest.mark.parametrize("mode", ["in-process", "xdist"])
def test_github_annotation_points_at_the_model_line(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    mode: str) -> None:
    pytest.importorskip("pytest_github_actions_annotate_failures")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    path = write_json(pytester.path, "s.json", SMALL, indent=2)
    args = ["--model-gate", "s.json", NO_ARCHIVE]
    result = (pytester.runpytest_subprocess("-n", "2", *args) if mode == "xdist"
              else pytester.runpytest(*args))
    result.assert_outcomes(passed=1, xfailed=1, failed=1)
    line = line_of(path, '"MSFT_1Hour"')
    annotations = [x for x in result.errlines if x.startswith("::error ")]
    assert len(annotations) == 1
    assert annotations[0].startswith(f"::error file=s.json,line={line}::")
    # the message: the head line and the short verdict, whole lines (%0A is a newline)
    assert "MSFT_1Hour: DROP: consistency 0.6417 < 0.65 (review bound)" in annotations[0]


def test_yaml_summary_items_carry_their_line(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("s.yaml").write_text(
        "models:\n"
        "  - id: A_1\n"
        "    fitness_score: 0.9\n"
        "  - name: 'B 1'\n"
        "    fitness_score: 0.1\n", encoding="utf-8")
    items, _ = pytester.inline_genitems("--model-gate", "s.yaml", NO_ARCHIVE)
    assert [(i.name, i.location) for i in items] == [
        ("A_1", ("s.yaml", 1, "model A_1")), ("B 1", ("s.yaml", 3, "model B 1"))]


def test_junit_message_is_short_whole_lines_and_the_text_whole(
        pytester: pytest.Pytester) -> None:
    """JUnit viewers show `message=`: one line with the reason, flags and checkpoint, under
    500 characters (pytest >= 9.2 would cut it mid-table); the element text is the whole table,
    and an xfail's `<skipped>` element carries its table as text (GitLab shows only that)."""
    names = [f"metric_with_a_long_name_{i:02d}" for i in range(40)]
    gate = "metrics:\n" + "".join(f"  {n}: {{approved: 0.9, review: 0.5}}\n" for n in names)
    pytester.path.joinpath("gate.yaml").write_text(gate + "report: null\n", encoding="utf-8")
    write_json(pytester.path, "s.json", {"validation_interval": 10, "models": {
        "wide": {n: 0.1 for n in names}, "fine": {n: 0.95 for n in names},
        "meh": {n: 0.7 for n in names},
        "drop": {**{n: 0.95 for n in names}, names[0]: [0.95, 0.2, 0.1], names[1]: 0.1}}})
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE, "--junitxml=r.xml")
    result.assert_outcomes(passed=1, xfailed=1, failed=2)
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "r.xml").getroot().iter(
        "testcase")}
    for name in ("wide", "drop"):
        failure = cases[name].find("failure")
        assert failure is not None
        message = failure.get("message", "")
        assert len(message) <= MESSAGE_BUDGET < 500
        assert f"{names[39]} " in (failure.text or "")  # the last table row: the whole table
        assert "full report in element text" not in message  # pytest did not have to cut
    wide = cases["wide"].find("failure")
    assert wide is not None  # one reason line too long for the budget: cut at a word, said so
    assert wide.get("message", "").startswith(f"wide: DROP: {names[0]} 0.1 < 0.5; ")
    assert wide.get("message", "").endswith(" ... (see the full table)")
    drop = cases["drop"].find("failure")
    assert drop is not None
    flags = f"FITNESS_DECLINE, LOW_{names[0].upper()}, LOW_{names[1].upper()}, UNSTABLE_TRAINING"
    assert drop.get("message", "") == (
        f"drop: DROP: {names[0]} 0.1 < 0.5; {names[1]} 0.1 < 0.5 (review bounds) [{flags}]; "
        f"checkpoint: use the checkpoint at update 10 (validation 1 of 3, {names[0]} 0.95)")
    skipped = cases["meh"].find("skipped")
    assert skipped is not None
    assert skipped.get("message", "").startswith("meh: REVIEW: ")
    assert f"  {names[39]} " in (skipped.text or "")  # the table, as element text


def test_terminal_reason_once_deciding_misses_first(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CI", "BUILD_NUMBER"):  # on CI pytest prints the short summary uncut
        monkeypatch.delenv(name, raising=False)
    write_json(pytester.path, "s.json", SMALL)
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE)
    reason = ("MSFT_1Hour: DROP: consistency 0.6417 < 0.65 (review bound); below approved: "
              "profit_factor 1.5679 < 1.8")
    out = text_of(result)
    assert out.count(reason) == 1  # FAILURES only (the short summary line is cut to width)
    result.stdout.fnmatch_lines(["  DROP (table under FAILURES): MSFT_1Hour",
                                 "  TSLA_1Hour: REVIEW: *"])
    verbose = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE, "-v")
    verbose.stdout.fnmatch_lines([f"  {reason} [[]LOW_CONSISTENCY]"])


def test_terminal_changes_since_previous_run(pytester: pytest.Pytester) -> None:
    write_json(pytester.path, "s.json", SMALL)
    pytester.runpytest("--model-gate", "s.json").assert_outcomes(passed=1, xfailed=1, failed=1)
    worse = {"validation_interval": 40, "models": {
        "AAPL_1Hour": {"metrics": REVIEW}, "TSLA_1Hour": {"metrics": DROP},
        "MSFT_1Hour": {"metrics": DROP}, "NEW_1Hour": {"metrics": DROP}}}
    write_json(pytester.path, "s.json", worse)
    result = pytester.runpytest("--model-gate", "s.json")
    result.stdout.fnmatch_lines([
        "  changes since run *: new DROP: TSLA_1Hour (was REVIEW), NEW_1Hour (new model)",
        "  changes since run *: demoted: AAPL_1Hour (APPROVED -> REVIEW)"])


def test_cli_legend_is_right_for_lower_is_better(tmp_path: Path) -> None:
    write_json(tmp_path, "s.json", SMALL)
    result = model_gate("check", "s.json", "--no-archive", "--report", "", cwd=tmp_path)
    assert "below APPROVED bound" not in result.stdout
    assert ("value marks: * misses its APPROVED bound (REVIEW), ! misses its REVIEW bound "
            "(DROP); bounds are >= for higher-is-better metrics, <= for lower-is-better ones"
            in result.stdout)


def test_doctor_says_what_would_be_used_and_why(tmp_path: Path) -> None:
    runs = project(tmp_path, "metrics_key: val_metrics\nmetrics:\n  fitness: {approved: 0.5, "
                             "review: 0.4}\n  val_loss: {approved: 0.3, review: 0.6, "
                             "higher_is_better: false}\n")
    write_json(runs, "summary.json", {"models": [
        {"id": "A_1", "val_metrics": {"fitness": 0.6, "val_loss": 0.2}},
        {"id": "B_1", "val_metrics": {"fitness": 0.6}}]})
    result = model_gate("doctor", "summary.json", cwd=runs)
    assert result.returncode == 0, result.stderr
    gate = tmp_path / "gate.yaml"
    lines = result.stdout.splitlines()
    assert lines[0] == f"gate.yaml: {gate} (found walking up from {runs})"
    assert ("metrics: read from a model's val_metrics / metrics / validation_metrics object, "
            "else from the model itself") in lines
    assert ("  val_loss: reads val_loss; lower is better; APPROVED <= 0.3, REVIEW <= 0.6; "
            "flag HIGH_VAL_LOSS") in lines
    assert f"archive: {tmp_path / 'training_archives'} (built-in default)" in lines
    assert f"report: {tmp_path / 'model-gate-report.md'} (built-in default)" in lines
    assert "html: off (built-in default)" in lines
    assert lines[-6:] == [
        "summary summary.json:",
        '  shape: "models" holds a list of 2 models (id from id / name / symbol)',
        "  metrics under: val_metrics in 2",
        "  metric fitness: found in 2 of 2 models (fitness in 2)",
        "  metric val_loss: found in 1 of 2 models (val_loss in 1)",
        "  can be gated"]


def test_doctor_names_the_mistake(tmp_path: Path) -> None:
    write_json(tmp_path, "s.json", VAL_METRICS)
    result = model_gate("doctor", "s.json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout.splitlines()[-1] == (
        '  cannot be gated: s.json: no gated metric found in any of 24 models; models carry '
        '"val_metrics" with keys fitness, pf, final_consistency, max_dd: set metrics_key: '
        'val_metrics in gate.yaml')


def test_doctor_reads_a_source(tmp_path: Path) -> None:
    fixtures = Path(__file__).parent / "sources" / "fixtures" / "keras"
    if not fixtures.is_dir():
        pytest.skip("keras fixtures not in this checkout")
    (tmp_path / "gate.yaml").write_text(
        "metrics:\n  val_accuracy: {approved: 0.9, review: 0.5}\n", encoding="utf-8")
    import shutil

    shutil.copytree(fixtures, tmp_path / "keras")
    result = model_gate("doctor", "keras:keras", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-4:] == [
        "source keras:keras:", "  kind keras: 2 models",
        "  metric val_accuracy: found in 2 of 2 models (val_accuracy in 2)", "  can be gated"]


def test_junit_xfail_text_and_message_under_xdist(pytester: pytest.Pytester) -> None:
    """The controller writes the JUnit XML from the workers' reports: same message, same
    table as element text."""
    write_json(pytester.path, "s.json", SMALL)
    result = pytester.runpytest_subprocess("-n", "2", "--model-gate", "s.json", NO_ARCHIVE,
                                           "--junitxml=r.xml")
    result.assert_outcomes(passed=1, xfailed=1, failed=1)
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "r.xml").getroot().iter(
        "testcase")}
    skipped, failure = cases["TSLA_1Hour"].find("skipped"), cases["MSFT_1Hour"].find("failure")
    assert skipped is not None and failure is not None
    assert "  metric " in (skipped.text or "") and "  flags: " in (skipped.text or "")
    assert failure.get("message", "").startswith(
        "MSFT_1Hour: DROP: consistency 0.6417 < 0.65 (review bound); below approved: ")
    assert "\n" not in failure.get("message", "")
    assert "  metric " in (failure.text or "")
