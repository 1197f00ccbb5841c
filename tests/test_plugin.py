"""The pytest plugin, end to end: real pytest sessions run by `pytester`.

The main scenarios run twice: in-process (`pytester.runpytest`) and under pytest-xdist
(`-n 2`, in a subprocess). Every run passes `--no-model-gate-archive` except the tests
about the archive itself and about bad input (where nothing may be archived).
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from pytest_model_gate.core.config import GateConfig, load_config
from pytest_model_gate.core.gating import Assessment, assess_all
from pytest_model_gate.core.summary import load_summary
from pytest_model_gate.plugin import ModelItem, ModelNeedsReview

NO_ARCHIVE = "--no-model-gate-archive"

APPROVED = {"fitness_score": [0.62, 0.71, 0.78, 0.80], "profit_factor": 2.2,
            "consistency": 0.92, "max_drawdown": 0.05}
# DESIGN.md's worked example: REVIEW, FITNESS_DECLINE + UNSTABLE_TRAINING, checkpoint 80.
REVIEW = {"fitness_score": [0.55, 0.70, 0.60, 0.58], "profit_factor": 1.4,
          "consistency": 0.70, "max_drawdown": 0.12}
# The same history with a DROP profit factor.
DROP = {"fitness_score": [0.55, 0.70, 0.60, 0.58], "profit_factor": 1.0,
        "consistency": 0.92, "max_drawdown": 0.05}
SMALL = {"timestamp": "20251227_101500", "validation_interval": 40,
         "models": {"AAPL_1Hour": {"metrics": APPROVED}, "TSLA_1Hour": {"metrics": REVIEW},
                    "MSFT_1Hour": {"metrics": DROP}}}
CHECKPOINT_80 = "use the checkpoint at update 80 (validation 2 of 4, fitness 0.7)"

HOSTILE_IDS = {  # id -> outcome (summary order)
    "my model": "XFAIL", "net[x]": "FAILED", "café_日本": "FAILED", "a::b": "FAILED",
    "runs/x": "PASSED",
}
HOSTILE = {"validation_interval": 40, "models": [
    {"id": "my model", **REVIEW},
    {"id": "net[x]", **DROP},
    {"id": "café_日本", **DROP},
    {"id": "a::b", **DROP},
    {"id": "runs/x", **APPROVED},
]}

BAD_SUMMARY = {"models": {"A_1": {"metrics": {"fitness_score": "n/a"}}}}
BAD_SUMMARY_MESSAGE = ('model-gate: bad.json: models.A_1.metrics.fitness_score: expected a '
                       'number or a list of numbers, got "n/a"')

# Records the collected node ids of every process (controller or xdist worker).
RECORD_COLLECTION_CONFTEST = """
import json

def pytest_collection_finish(session):
    if session.items:
        worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
        out = session.config.rootpath / f"collected-{worker}.json"
        out.write_text(json.dumps([item.nodeid for item in session.items]), encoding="utf-8")
"""


# --- helpers ---------------------------------------------------------------------------------

class Runner:
    """Runs pytest in-process, or under pytest-xdist (-n 2) in a subprocess."""

    def __init__(self, pytester: pytest.Pytester, mode: str) -> None:
        self.pytester = pytester
        self.mode = mode

    @property
    def xdist(self) -> bool:
        return self.mode == "xdist"

    def __call__(self, *args: str | Path) -> pytest.RunResult:
        if self.xdist:
            return self.pytester.runpytest_subprocess("-n", "2", *args)
        return self.pytester.runpytest(*args)


@pytest.fixture(params=["in-process", "xdist"])
def run(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> Runner:
    return Runner(pytester, request.param)


@pytest.fixture(autouse=True)
def _clean_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    # The report is appended to $GITHUB_STEP_SUMMARY: not from these runs.
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("PYTHONIOENCODING", "utf-8")
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS: set it after
        # hypothesis' plugin imports hypothesis in every run (in-process runs too, as
        # pytester restores sys.modules after each): ~0.6-1.5 s a run, for nothing here.
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")


def write_json(pytester: pytest.Pytester, name: str, data: Any) -> Path:
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def output(result: pytest.RunResult) -> str:
    return "\n".join([*result.outlines, *result.errlines])


def lines_starting(result: pytest.RunResult, prefix: str) -> list[str]:
    return [line for line in result.outlines if line.startswith(prefix)]


def section_count(result: pytest.RunResult) -> int:
    return sum(1 for line in result.outlines if re.fullmatch(r"=+ model gate =+", line))


def assert_no_traceback(result: pytest.RunResult) -> None:
    text = output(result)
    assert "Traceback" not in text
    assert "plugin.py" not in text
    assert not [line for line in result.outlines if re.match(r"\s*(E\s+)?raise\b", line)]


def collected(result: pytest.RunResult) -> list[str]:
    """Node ids printed by `--co -q`, in order."""
    return [line for line in result.outlines if "::" in line and not line.startswith(" ")]


def assess(path: Path, config: GateConfig | None = None) -> list[Assessment]:
    config = config or GateConfig()
    return assess_all(load_summary(path, config).models, config)


def short_summary(result: pytest.RunResult) -> dict[str, str]:
    """nodeid -> PASSED/XFAIL/FAILED from the -rA short test summary."""
    out: dict[str, str] = {}
    for line in result.outlines:
        m = re.match(r"(PASSED|XFAIL|FAILED) (.*?)(?: - .*)?$", line)
        if m:
            out[m.group(2)] = m.group(1)
    return out


# --- the bundled examples ----------------------------------------------------------------------

def test_trading_example(run: Runner, pytester: pytest.Pytester, trading_summary: Path) -> None:
    shutil.copy(trading_summary, pytester.path / "summary.json")
    pytester.makeconftest(RECORD_COLLECTION_CONFTEST)
    result = run("--model-gate", "summary.json", NO_ARCHIVE)

    result.assert_outcomes(passed=13, xfailed=9, failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # Report header and terminal summary: once, from the controller only.
    header = lines_starting(result, "model-gate: config ")
    assert len(header) == 1
    assert header[0].startswith("model-gate: config built-in defaults (sha256 ")
    assert "archive off" in header[0]
    assert section_count(result) == 1
    result.stdout.fnmatch_lines([
        "summary.json: 24 models: 13 APPROVED, 9 REVIEW, 2 DROP",
        # FAILURES shows the DROP tables: the section names them once, without the reason
        "  DROP (table under FAILURES): MSFT_1Min, SOLUSD_1Min",
        "  AAPL_1Min: REVIEW: profit_factor 1.6553 < 1.8; *",
        "  checkpoint: QQQ_1Min: use the checkpoint at update 80 (validation 2 of 10, "
        "fitness 0.6865)",
        f"model-gate: report written to {pytester.path / 'model-gate-report.md'}",
    ])
    assert (pytester.path / "model-gate-report.md").is_file()
    assert not (pytester.path / "training_archives").exists()
    # Node ids in the summary's order, on every process that collected.
    ids = list(json.loads(trading_summary.read_text(encoding="utf-8"))["models"])
    records = sorted(pytester.path.glob("collected-*.json"))
    assert [p.name for p in records] == (["collected-gw0.json", "collected-gw1.json"]
                                         if run.xdist else ["collected-main.json"])
    for record in records:
        assert json.loads(record.read_text(encoding="utf-8")) == [
            f"summary.json::{model_id}" for model_id in ids]


def test_classifier_example(run: Runner, pytester: pytest.Pytester, classifier_summary: Path,
                            classifier_config: Path) -> None:
    # A copy: the example config writes its report next to itself.
    config = pytester.path / "classifier-gate.yaml"
    shutil.copy(classifier_config, config)
    shutil.copy(classifier_summary, pytester.path / "sweep.json")
    result = run("--model-gate", "sweep.json", "--model-gate-config", config.name, NO_ARCHIVE)

    result.assert_outcomes(passed=0, xfailed=2, failed=10)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert lines_starting(result, f"model-gate: config {config.name} (sha256 ")
    result.stdout.fnmatch_lines([
        "sweep.json: 12 models: 0 APPROVED, 2 REVIEW, 10 DROP",
        "  DROP (table under FAILURES): *vit-s16-lr1e-4*",
        "  convnext-t-lr1e-4: REVIEW: *",
        "  checkpoint: convnext-t-lr3e-4: use the checkpoint at update 3000 "
        "(validation 6 of 8, accuracy 0.9257)",
        "model-gate: report written to sweep-report.md",  # beside the config named
    ])
    assert section_count(result) == 1
    assert (pytester.path / "sweep-report.md").is_file()


def test_no_drop_exits_zero(run: Runner, pytester: pytest.Pytester) -> None:
    write_json(pytester, "s.json", {"models": {"AAPL_1Hour": APPROVED, "TSLA_1Hour": REVIEW}})
    result = run("--model-gate", "s.json", NO_ARCHIVE)
    result.assert_outcomes(passed=1, xfailed=1, failed=0)
    assert result.ret == pytest.ExitCode.OK


# --- collection: which files, node ids, order --------------------------------------------------

@pytest.mark.parametrize(("run", "form"), [
    ("in-process", "space"), ("in-process", "equals"), ("xdist", "space")], indirect=["run"])
def test_summary_is_a_path_argument(run: Runner, pytester: pytest.Pytester, form: str) -> None:
    """Exactly the named file, whatever its name and even outside testpaths; alone it
    replaces testpaths, beside the user's paths it is added to them."""
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    pytester.mkdir("tests")
    pytester.path.joinpath("tests", "test_user.py").write_text(
        "def test_user():\n    pass\n", encoding="utf-8")
    write_json(pytester, "runs/gate-input.data", SMALL)
    write_json(pytester, "runs/other.json", SMALL)  # never collected: not named
    gate = (["--model-gate", "runs/gate-input.data"] if form == "space"
            else ["--model-gate=runs/gate-input.data"])

    alone = run(*gate, NO_ARCHIVE, "-rA")
    alone.assert_outcomes(passed=1, xfailed=1, failed=1)
    assert set(short_summary(alone)) == {f"runs/gate-input.data::{m}" for m in SMALL["models"]}

    beside = run("tests", *gate, NO_ARCHIVE, "-rA")
    beside.assert_outcomes(passed=2, xfailed=1, failed=1)
    assert short_summary(beside)["tests/test_user.py::test_user"] == "PASSED"
    assert "runs/other.json" not in output(beside)


def test_summary_given_twice_is_collected_once(pytester: pytest.Pytester) -> None:
    write_json(pytester, "s.json", SMALL)
    for args in (["--model-gate", "s.json", "--model-gate=s.json"],
                 ["s.json", "--model-gate", "s.json"],
                 ["s.json::TSLA_1Hour", "--model-gate", "s.json"]):
        result = pytester.runpytest(*args, NO_ARCHIVE, "--co", "-q")
        expected = (["s.json::TSLA_1Hour"] if "::" in args[0]
                    else [f"s.json::{m}" for m in SMALL["models"]])
        assert collected(result) == expected, args


def test_several_summaries_same_model_ids(run: Runner, pytester: pytest.Pytester) -> None:
    write_json(pytester, "a/s.json", SMALL)
    write_json(pytester, "b/s.json", SMALL)
    result = run("--model-gate", "a/s.json", "--model-gate=b/s.json", NO_ARCHIVE, "-rA")
    result.assert_outcomes(passed=2, xfailed=2, failed=2)
    outcomes = short_summary(result)
    assert {nodeid for nodeid, outcome in outcomes.items() if outcome == "FAILED"} == {
        "a/s.json::MSFT_1Hour", "b/s.json::MSFT_1Hour"}
    assert section_count(result) == 1
    result.stdout.fnmatch_lines(["a/s.json: 3 models: 1 APPROVED, 1 REVIEW, 1 DROP",
                                 "b/s.json: 3 models: 1 APPROVED, 1 REVIEW, 1 DROP"])


@pytest.mark.parametrize("with_ini", [False, True], ids=["no-ini", "ini"])
def test_rootdir_and_config_same_for_both_forms(pytester: pytest.Pytester,
                                                with_ini: bool) -> None:
    """pytest picks the rootdir before plugins add options, so the space form's value is
    taken for a path then: for a summary inside the project that must change nothing."""
    if with_ini:
        pytester.makeini("[pytest]\ntestpaths = tests\n")
    pytester.path.joinpath("gate.yaml").write_text("version: 1\non_review: fail\n",
                                                   encoding="utf-8")
    write_json(pytester, "runs/s.json", SMALL)
    seen = []
    for gate in (["--model-gate", "runs/s.json"], ["--model-gate=runs/s.json"]):
        result = pytester.runpytest(*gate, NO_ARCHIVE)
        result.assert_outcomes(passed=1, failed=2)  # on_review: fail from gate.yaml
        seen.append((lines_starting(result, "rootdir:"), lines_starting(result, "configfile:"),
                     [line.split(" (sha256")[0]
                      for line in lines_starting(result, "model-gate: config ")]))
    assert seen[0] == seen[1]
    rootdir, configfile, gate_config = seen[0]
    assert rootdir == [f"rootdir: {pytester.path}"]
    assert configfile == (["configfile: tox.ini"] if with_ini else [])
    assert gate_config == [f"model-gate: config {pytester.path / 'gate.yaml'}"]


def test_summary_outside_project_equals_form(pytester: pytest.Pytester,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented form for a summary outside the project keeps the project's rootdir,
    ini file and gate.yaml, and gives readable, distinct node ids."""
    project = pytester.mkdir("project")
    project.joinpath("tox.ini").write_text("[pytest]\ntestpaths = tests\n", encoding="utf-8")
    project.joinpath("gate.yaml").write_text("version: 1\non_review: fail\n", encoding="utf-8")
    write_json(pytester, "out/s.json", SMALL)
    write_json(pytester, "out/more/s.json", SMALL)
    monkeypatch.chdir(project)
    args = ("--model-gate=../out/s.json", "--model-gate=../out/more/s.json", NO_ARCHIVE)

    listing = pytester.runpytest(*args, "--co", "-q")
    assert collected(listing) == [f"../out/{where}s.json::{m}" for where in ("", "more/")
                                  for m in SMALL["models"]]
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=2, failed=4)
    assert lines_starting(result, "rootdir:") == [f"rootdir: {project}"]
    assert lines_starting(result, "configfile:") == ["configfile: tox.ini"]
    assert lines_starting(result, f"model-gate: config {project / 'gate.yaml'} ")


def test_space_form_outside_project_warns(pytester: pytest.Pytester,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The space form with a summary outside the project lets pytest pick another rootdir:
    the plugin cannot undo that, so it says so and names the `=` form."""
    project = pytester.mkdir("project")
    project.joinpath("tox.ini").write_text("[pytest]\ntestpaths = tests\n", encoding="utf-8")
    write_json(pytester, "out/s.json", SMALL)
    monkeypatch.chdir(project)
    result = pytester.runpytest("--model-gate", "../out/s.json", NO_ARCHIVE)
    result.assert_outcomes(passed=1, xfailed=1, failed=1, warnings=1)
    text = output(result)
    assert "PytestConfigWarning: model-gate: ../out/s.json is outside the current directory" in text
    assert "write `--model-gate=../out/s.json`" in text
    quiet = pytester.runpytest("--model-gate=../out/s.json", NO_ARCHIVE)
    assert "is outside the current directory" not in output(quiet)


# --- hostile model ids -----------------------------------------------------------------------

def test_hostile_ids_collect_report_and_rerun(run: Runner, pytester: pytest.Pytester) -> None:
    write_json(pytester, "h.json", HOSTILE)
    expected = {f"h.json::{model_id}": outcome for model_id, outcome in HOSTILE_IDS.items()}
    if not run.xdist:  # --co does not distribute; order on workers: test_trading_example
        assert collected(pytester.runpytest("--model-gate", "h.json", NO_ARCHIVE, "--co",
                                            "-q")) == list(expected)

    result = run("--model-gate", "h.json", NO_ARCHIVE, "-rA")
    result.assert_outcomes(passed=1, xfailed=1, failed=3)
    assert short_summary(result) == expected
    result.stdout.fnmatch_lines(["  DROP (table under FAILURES): net[[]x], café_日本, a::b",
                                 "  REVIEW (reasons in the short test summary): my model",
                                 "  checkpoint: my model: " + CHECKPOINT_80])

    # --lf re-runs exactly the failed ones (ids with `::` and `[` included).
    rerun = run("--model-gate", "h.json", NO_ARCHIVE, "-rA", "--lf")
    rerun.assert_outcomes(failed=3)
    assert short_summary(rerun) == {k: v for k, v in expected.items() if v == "FAILED"}


@pytest.mark.parametrize(("expression", "model_id"), [
    ("café", "café_日本"), ("日本", "café_日本"), ("net[x]", "net[x]"), ("a::b", "a::b"),
    ("runs/x", "runs/x"), ("my and model", "my model"),
    ("not (net or my or runs or b)", "café_日本"),
])
def test_hostile_ids_keyword_selection(pytester: pytest.Pytester, expression: str,
                                       model_id: str) -> None:
    write_json(pytester, "h.json", HOSTILE)
    result = pytester.runpytest("--model-gate", "h.json", NO_ARCHIVE, "--co", "-q",
                                "-k", expression)
    assert collected(result) == [f"h.json::{model_id}"]


def test_hostile_ids_deselect_and_node_id_arguments(pytester: pytest.Pytester) -> None:
    write_json(pytester, "h.json", HOSTILE)
    deselect = [arg for model_id, outcome in HOSTILE_IDS.items() if outcome == "FAILED"
                for arg in ("--deselect", f"h.json::{model_id}")]
    result = pytester.runpytest("--model-gate", "h.json", NO_ARCHIVE, *deselect)
    result.assert_outcomes(passed=1, xfailed=1, failed=0, deselected=3)
    # A DROP blocks even when its test did not run: exit 1, each named.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"  not run but DROP: {model_id.replace('[', '[[]')}: DROP: *"
                                 for model_id, outcome in HOSTILE_IDS.items()
                                 if outcome == "FAILED"])
    # A node id argument selects one model (not for an id containing `::`, which pytest
    # splits into two names: use -k or --deselect for those).
    for model_id in ("my model", "net[x]", "café_日本", "runs/x"):
        listing = pytester.runpytest(f"h.json::{model_id}", "--model-gate", "h.json",
                                     NO_ARCHIVE, "--co", "-q")
        assert collected(listing) == [f"h.json::{model_id}"]


# --- outcomes --------------------------------------------------------------------------------

ON_REVIEW_CASES = {  # id: (gate.yaml on_review, options, REVIEW outcome, also under xdist)
    "default": (None, [], "xfailed", False),
    "yaml-xfail": ("xfail", [], "xfailed", False),
    "yaml-fail": ("fail", [], "failed", True),
    "yaml-pass": ("pass", [], "passed", True),
    "option-fail": ("pass", ["--model-gate-review", "fail"], "failed", False),
    "option-pass": ("fail", ["--model-gate-review=pass"], "passed", False),
    "option-xfail": ("fail", ["--model-gate-review", "xfail"], "xfailed", True),
    "runxfail": (None, ["--runxfail"], "failed", True),
}


@pytest.mark.parametrize(("run", "on_review", "args", "review_outcome"), [
    pytest.param(mode, on_review, args, outcome, id=f"{mode}-{case}")
    for case, (on_review, args, outcome, xdist) in ON_REVIEW_CASES.items()
    for mode in (["in-process", "xdist"] if xdist else ["in-process"])
], indirect=["run"])
def test_on_review_modes(run: Runner, pytester: pytest.Pytester, on_review: str | None,
                         args: list[str], review_outcome: str) -> None:
    if on_review is not None:
        pytester.path.joinpath("gate.yaml").write_text(f"version: 1\non_review: {on_review}\n",
                                                       encoding="utf-8")
    write_json(pytester, "s.json", SMALL)
    result = run("--model-gate", "s.json", NO_ARCHIVE, *args)
    outcomes = {"passed": 1, "xfailed": 0, "failed": 1}  # AAPL passes, MSFT is a DROP
    outcomes[review_outcome] += 1
    result.assert_outcomes(**outcomes)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    if review_outcome == "failed":
        result.stdout.fnmatch_lines(["TSLA_1Hour: REVIEW: fitness 0.58 < 0.7; *",
                                     "  checkpoint: " + CHECKPOINT_80])
        assert_no_traceback(result)


GENUINE_ERROR_CONFTEST = """
def pytest_collection_modifyitems(items):
    for item in items:
        if item.name in ("TSLA_1Hour", "AAPL_1Hour"):
            def runtest(name=item.name):
                raise RuntimeError(f"disk on fire in {name}")
            item.runtest = runtest
"""


def test_genuine_error_in_an_item_fails(run: Runner, pytester: pytest.Pytester) -> None:
    """REVIEW xfails only on ModelNeedsReview: any other error inside the item fails."""
    pytester.makeconftest(GENUINE_ERROR_CONFTEST)
    write_json(pytester, "s.json", SMALL)
    result = run("--model-gate", "s.json", NO_ARCHIVE)
    result.assert_outcomes(passed=0, xfailed=0, failed=3)
    result.stdout.fnmatch_lines(["*RuntimeError: disk on fire in TSLA_1Hour",
                                 "*RuntimeError: disk on fire in AAPL_1Hour"])


def test_items_markers_and_properties(pytester: pytest.Pytester) -> None:
    write_json(pytester, "s.json", SMALL)
    items, _ = pytester.inline_genitems("--model-gate", "s.json", NO_ARCHIVE)
    assert [item.nodeid for item in items] == [f"s.json::{m}" for m in SMALL["models"]]
    by_name = {item.name: item for item in items}
    assert all(isinstance(item, ModelItem) for item in items)
    marker = by_name["TSLA_1Hour"].get_closest_marker("xfail")
    assert marker is not None
    assert marker.kwargs["raises"] is ModelNeedsReview
    assert marker.kwargs["strict"] is False
    assert "TSLA_1Hour: REVIEW" in marker.kwargs["reason"]
    assert by_name["AAPL_1Hour"].get_closest_marker("xfail") is None
    assert by_name["MSFT_1Hour"].get_closest_marker("xfail") is None
    for item in items:  # plain values only: they cross the xdist wire
        for name, value in item.user_properties:
            assert type(name) is str
            assert type(value) in (str, int, float), (item.name, name, value)


def test_failure_text(run: Runner, pytester: pytest.Pytester) -> None:
    write_json(pytester, "s.json", SMALL)
    result = run("--model-gate", "s.json", NO_ARCHIVE, "-rx")
    result.assert_outcomes(passed=1, xfailed=1, failed=1)
    assert_no_traceback(result)
    table = [
        r"  metric\s+value\s+bounds\s+tier",
        r"  fitness\s+0\.58\s+approved >= 0\.7, review >= 0\.5\s+REVIEW",
        r"  profit_factor\s+1\s+approved >= 1\.8, review >= 1\.3\s+DROP",
        r"  consistency\s+0\.92\s+approved >= 0\.85, review >= 0\.65\s+APPROVED",
        r"  max_drawdown\s+0\.05\s+approved <= 0\.08, review <= 0\.15\s+APPROVED",
        r"  flags: FITNESS_DECLINE, LOW_PF, UNSTABLE_TRAINING",
        r"  checkpoint: " + re.escape(CHECKPOINT_80),
    ]
    # The DROP failure, under its own header (then "[gw0] linux -- Python ..." under xdist),
    # is the table and nothing else.
    result.stdout.re_match_lines([r"_+ model MSFT_1Hour _+", r"(\[gw\d\] .*)?"],
                                 consecutive=True)
    result.stdout.re_match_lines([
        r"MSFT_1Hour: DROP: profit_factor 1 < 1\.3 \(review bound\); below approved: "
        r"fitness 0\.58 < 0\.7 \[FITNESS_DECLINE, LOW_PF, UNSTABLE_TRAINING\]", *table],
        consecutive=True)
    # The REVIEW xfail reason (-rx) is the one-line message: the reason with its flags, the
    # checkpoint; the table goes to the JUnit element text (test_plugin_first_contact).
    result.stdout.re_match_lines([
        r"XFAIL s\.json::TSLA_1Hour - TSLA_1Hour: REVIEW: fitness 0\.58 < 0\.7; .*"
        r"\[FITNESS_DECLINE, UNSTABLE_TRAINING\]; checkpoint: " + re.escape(CHECKPOINT_80)])


def test_exitfirst_and_keyword(run: Runner, pytester: pytest.Pytester,
                               trading_summary: Path) -> None:
    shutil.copy(trading_summary, pytester.path / "s.json")
    selected = run("--model-gate", "s.json", NO_ARCHIVE, "-k", "AAPL")
    selected.assert_outcomes(passed=1, xfailed=1)  # AAPL_15Min, AAPL_1Min
    if not run.xdist:  # -x under xdist stops at a scheduling-dependent point
        first = run("--model-gate", "s.json", NO_ARCHIVE, "-x")
        first.assert_outcomes(xfailed=1, failed=1)  # AAPL_1Min xfails, MSFT_1Min stops it
        first.stdout.fnmatch_lines(["*stopping after 1 failures*"])


# --- JUnit XML -------------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["xunit2", "xunit1"])
def test_junit_properties(run: Runner, pytester: pytest.Pytester, trading_summary: Path,
                          family: str) -> None:
    shutil.copy(trading_summary, pytester.path / "s.json")
    family_args = [] if family == "xunit2" else ["-o", "junit_family=xunit1"]
    result = run("--model-gate", "s.json", NO_ARCHIVE, "--junitxml=report.xml", *family_args)
    result.assert_outcomes(passed=13, xfailed=9, failed=2)

    root = ET.parse(pytester.path / "report.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("24", "2", "9")
    cases = {}
    for case in root.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        cases[props["model_id"]] = (case, props)
    expected = assess(trading_summary)
    ids = [a.model_id for a in expected]
    # xdist writes the test cases in the order they finished.
    assert (sorted(cases) == sorted(ids)) if run.xdist else (list(cases) == ids)
    for a in expected:
        case, props = cases[a.model_id]
        assert case.get("classname") == "s.json"
        assert case.get("name") == a.model_id
        assert case.get("file") == ("s.json" if family == "xunit1" else None)
        assert props["classification"] == a.classification
        assert props["symbol"] == a.symbol
        for m in a.metrics:
            assert float(props[m.name]) == pytest.approx(m.value, rel=1e-12)
        assert props["flags"] == ",".join(a.flags)
        assert props.get("best_idx") == (None if a.best_idx is None else str(a.best_idx))
        assert props.get("checkpoint_update") == (
            None if a.checkpoint_update is None else str(a.checkpoint_update))
        failure, skipped = case.find("failure"), case.find("skipped")
        if a.classification == "DROP":
            assert failure is not None and skipped is None
            assert failure.get("message", "").startswith(f"{a.model_id}: DROP: ")
            assert "Traceback" not in (failure.text or "")
            assert "  flags: " in (failure.text or "")
        elif a.classification == "REVIEW":
            assert skipped is not None and failure is None
            assert skipped.get("type") == "pytest.xfail"
            assert skipped.get("message", "").startswith(f"{a.model_id}: REVIEW: ")
        else:
            assert failure is None and skipped is None
    # Spot checks against DESIGN.md-level facts, independent of the core.
    qqq = cases["QQQ_1Min"][1]
    assert (qqq["classification"], qqq["flags"], qqq["best_idx"], qqq["checkpoint_update"]) == (
        "REVIEW", "FITNESS_DECLINE", "1", "80")
    assert float(qqq["fitness"]) == 0.6218
    assert cases["MSFT_1Min"][1]["flags"] == "HIGH_DRAWDOWN,LOW_CONSISTENCY,LOW_FITNESS,LOW_PF"


# --- errors ----------------------------------------------------------------------------------

def assert_nothing_published(pytester: pytest.Pytester) -> None:
    assert not (pytester.path / "training_archives").exists()
    assert not (pytester.path / "model-gate-report.md").exists()


def test_bad_summary_is_a_collection_error(run: Runner, pytester: pytest.Pytester) -> None:
    write_json(pytester, "bad.json", BAD_SUMMARY)
    write_json(pytester, "s.json", SMALL)
    result = run("--model-gate", "bad.json", "--model-gate", "s.json")  # archive not disabled
    assert result.ret == pytest.ExitCode.INTERRUPTED  # 2, also under xdist
    result.stdout.fnmatch_lines(["*ERROR collecting bad.json*", BAD_SUMMARY_MESSAGE,
                                 "*nothing archived or reported (a summary could not be gated)"])
    assert_no_traceback(result)
    assert_nothing_published(pytester)


@pytest.mark.parametrize(("content", "message"), [
    ('{"models": {"A_1": {"fitness_score": 0.5,}}}',
     "model-gate: bad.json:1: invalid JSON: *"),
    ('{"models": {}}', "model-gate: bad.json: *"),
    ('{"models": [{"id": "A_1", "fitness_score": true}]}', "model-gate: bad.json: models*"),
], ids=["syntax", "no-models", "boolean"])
def test_bad_summary_messages(pytester: pytest.Pytester, content: str, message: str) -> None:
    pytester.path.joinpath("bad.json").write_text(content, encoding="utf-8")
    result = pytester.runpytest("--model-gate", "bad.json")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([message])
    assert_no_traceback(result)
    assert_nothing_published(pytester)


USAGE_ERRORS = {
    "unknown-key": ("gate.yaml", "version: 1\nonreview: fail\n", [],
                    "*gate.yaml:2: onreview: unknown key 'onreview' (did you mean 'on_review'?)*"),
    "inverted-bounds": ("gate.yaml", "metrics:\n  fitness: {approved: 0.5, review: 0.7}\n", [],
                        "*gate.yaml:2: metrics.fitness: review bound 0.7 is stricter than "
                        "approved bound 0.5*"),
    "missing-config": (None, None, ["--model-gate-config", "nope.yaml"],
                       "ERROR: model-gate: nope.yaml: config file not found"),
    "missing-ini-config": ("tox.ini", "[pytest]\nmodel_gate_config = conf/gate.yaml\n", [],
                           "ERROR: model-gate: *conf*gate.yaml: config file not found"),
    "bad-review-option": (None, None, ["--model-gate-review", "maybe"],
                          "*argument --model-gate-review: invalid choice: 'maybe'*"),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_usage_errors(pytester: pytest.Pytester, case: str) -> None:
    name, content, args, message = USAGE_ERRORS[case]
    if name is not None:
        pytester.path.joinpath(name).write_text(content, encoding="utf-8")
    write_json(pytester, "s.json", SMALL)
    result = pytester.runpytest("--model-gate", "s.json", *args)  # archive not disabled
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any(fnmatch(line, message) for line in [*result.errlines, *result.outlines]), \
        output(result)
    assert "Traceback" not in output(result)
    assert_nothing_published(pytester)


def test_missing_summary_is_bad_input(run: Runner, pytester: pytest.Pytester) -> None:
    """A summary path that does not exist is bad input like any unreadable summary: our
    one-line collection error and exit 2 (not pytest's "file or directory not found", 4)."""
    result = run("--model-gate", "nothere.json")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*model-gate: nothere.json: summary file not found*"])
    assert "file or directory not found" not in output(result)
    assert_no_traceback(result)
    assert_nothing_published(pytester)


def test_usage_error_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("gate.yaml").write_text("version: 1\nonreview: fail\n",
                                                   encoding="utf-8")
    write_json(pytester, "s.json", SMALL)
    result = Runner(pytester, "xdist")("--model-gate", "s.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown key 'onreview'*"])
    assert_nothing_published(pytester)


# --- the plugin stays out of the way --------------------------------------------------------

def test_without_model_gate_the_plugin_does_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_user():\n    pass\n")
    write_json(pytester, "s.json", SMALL)
    pytester.path.joinpath("gate.yaml").write_text("this: is not read\n", encoding="utf-8")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert "model-gate:" not in output(result)
    assert section_count(result) == 0
    assert_nothing_published(pytester)


def test_disabled_with_p_no(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_user():\n    pass\n")
    write_json(pytester, "s.json", SMALL)
    plain = pytester.runpytest("-p", "no:model_gate")
    plain.assert_outcomes(passed=1)
    assert "model-gate" not in output(plain)  # not even in the "plugins:" line
    refused = pytester.runpytest("-p", "no:model_gate", "--model-gate", "s.json")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*unrecognized arguments: --model-gate*"])
    assert_nothing_published(pytester)


# --- archive and report ---------------------------------------------------------------------

def test_report_option(pytester: pytest.Pytester) -> None:
    """The report goes where --model-gate-report says (the xdist case is in
    test_trading_example: the default report, written once by the controller)."""
    write_json(pytester, "s.json", SMALL)
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE,
                                "--model-gate-report", "out/gate.md")
    result.assert_outcomes(passed=1, xfailed=1, failed=1)
    report = pytester.path / "out" / "gate.md"
    result.stdout.fnmatch_lines([f"model-gate: report written to {report}"])
    text = report.read_text(encoding="utf-8")
    assert all(model_id in text for model_id in SMALL["models"])
    assert not (pytester.path / "training_archives").exists()


def test_archive_written_once(run: Runner, pytester: pytest.Pytester) -> None:
    """One run archived per summary, by the controller only (not by each xdist worker)."""
    archive = pytest.importorskip("pytest_model_gate.api")
    write_json(pytester, "s.json", SMALL)
    first = run("--model-gate", "s.json")
    first.assert_outcomes(passed=1, xfailed=1, failed=1)
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    runs = archive.TrainingArchiveManager(str(pytester.path / "training_archives")).list_runs()
    assert len(runs) == 1
    run_id = runs[0]["run_id"]
    first.stdout.fnmatch_lines([f"model-gate: s.json archived as run {run_id} in *"])
    assert (pytester.path / "training_archives" / run_id / "summary.json").read_bytes() == (
        pytester.path / "s.json").read_bytes()
    # A CI re-run of the same summary does not archive it twice.
    again = pytester.runpytest("--model-gate", "s.json")
    again.stdout.fnmatch_lines([f"model-gate: s.json already archived as run {run_id} in *"])
    assert len(archive.TrainingArchiveManager(
        str(pytester.path / "training_archives")).list_runs()) == 1


def test_classifier_config_counts_match_cli(classifier_summary: Path,
                                            classifier_config: Path) -> None:
    """The counts test_classifier_example expects, from the core the CLI uses."""
    classes = [a.classification for a in assess(classifier_summary,
                                                 load_config(classifier_config))]
    assert (classes.count("APPROVED"), classes.count("REVIEW"), classes.count("DROP")) == (
        0, 2, 10)
