"""Trust (issue 10, the gate's part): every promise holds under hostile input and odd CI
conditions. Each test asserts the promise itself (what a user or a CI log sees), not only
that nothing crashed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_model_gate.cli import main
from pytest_model_gate.errors import ExitCode
from pytest_model_gate.text import inert

APPROVED = {"fitness_score": [0.62, 0.71, 0.78, 0.80], "profit_factor": 2.2,
            "consistency": 0.92, "max_drawdown": 0.05}
REVIEW = {"fitness_score": [0.55, 0.70, 0.60, 0.58], "profit_factor": 1.4,
          "consistency": 0.70, "max_drawdown": 0.12}
DROP = {"fitness_score": [0.55, 0.70, 0.60, 0.58], "profit_factor": 1.0,
        "consistency": 0.92, "max_drawdown": 0.05}
SMALL = {"validation_interval": 40, "models": {
    "AAPL_1Hour": {"metrics": APPROVED}, "TSLA_1Hour": {"metrics": REVIEW},
    "MSFT_1Hour": {"metrics": DROP}}}
NO_ARCHIVE = "--no-model-gate-archive"

# Ids an attacker (or an unlucky data pipeline) puts in a summary.
HOSTILE = {
    "::error title=x::pwned": DROP,
    "ok\n::stop-commands::token": DROP,
    "\x1b[31mred\x1b[0m": REVIEW,
    "AAPL_1Hour ": DROP,  # trailing space: must not look like AAPL_1Hour
    "AAPL_1Hour": APPROVED,
    "a\u061cb\u200bc\u202e": DROP,  # Arabic letter mark, zero-width space, RTL override
}


@pytest.fixture(autouse=True)
def _clean_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("MODEL_GATE_MAX_SUMMARY_BYTES", raising=False)
    monkeypatch.setenv("PYTHONIOENCODING", "utf-8")
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")


def write_json(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def model_gate(*args: str | Path, cwd: Path, timeout: float = 60,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
    full.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run([sys.executable, "-m", "pytest_model_gate.cli", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, env=full, timeout=timeout)


def assert_inert(text: str) -> None:
    """What a terminal or a GitHub Actions log must never receive from data."""
    assert "\x1b" not in text
    for ch in "\u061c\u200b\u202e\r":
        assert ch not in text
    for line in text.splitlines():
        assert not line.startswith("::"), line
        assert not line.lstrip().startswith("::stop-commands"), line


# --- (4) text from data is inert --------------------------------------------------------------

def test_check_table_is_inert_and_json_verbatim(tmp_path: Path) -> None:
    write_json(tmp_path, "h.json", {"models": HOSTILE})
    text = model_gate("check", "h.json", "--no-archive", "--report", "out.md", cwd=tmp_path)
    assert text.returncode == 1, text.stderr
    assert_inert(text.stdout + text.stderr)
    # one table row per model, in order: a newline in an id forges no line
    lines = text.stdout.splitlines()
    assert lines[0] == "h.json: 6 models: 1 APPROVED, 1 REVIEW, 4 DROP"
    assert [line.split("  ")[0] for line in lines[2:8]] == [inert(i) for i in HOSTILE]
    assert "AAPL_1Hour\\x20" in text.stdout  # visibly not AAPL_1Hour
    js = model_gate("check", "h.json", "--no-archive", "--report", "out.md", "--format", "json",
                    cwd=tmp_path)
    assert [m["id"] for m in json.loads(js.stdout)["models"]] == list(HOSTILE)


def test_pytest_output_is_inert(pytester: pytest.Pytester) -> None:
    write_json(pytester.path, "h.json", {"models": HOSTILE})
    for args in ([], ["-v", "-rA"]):
        result = pytester.runpytest("--model-gate", "h.json", NO_ARCHIVE, "--color=no", *args)
        result.assert_outcomes(passed=1, xfailed=1, failed=4)
        assert_inert("\n".join([*result.outlines, *result.errlines]))
    result.stdout.fnmatch_lines(["*h.json::\\x3a:error title=x::pwned*",
                                 "*AAPL_1Hour\\x20*"])


def test_junit_ids_are_inert(pytester: pytest.Pytester) -> None:
    write_json(pytester.path, "h.json", {"models": HOSTILE})
    pytester.runpytest("--model-gate", "h.json", NO_ARCHIVE, "--junitxml=r.xml")
    root = ET.parse(pytester.path / "r.xml").getroot()
    assert len(list(root.iter("testcase"))) == len(HOSTILE)
    for case in root.iter("testcase"):
        assert_inert(case.get("name", "") + case.get("classname", ""))
        failure = case.find("failure")
        if failure is not None:
            assert_inert(failure.get("message", "") + "\n" + (failure.text or ""))


NO_BACKSLASH = st.text(st.characters(blacklist_characters="\\"), max_size=20)


@settings(max_examples=400, deadline=None)
@given(NO_BACKSLASH, NO_BACKSLASH)
def test_inert_is_printable_one_line_and_tells_ids_apart(a: str, b: str) -> None:
    shown = inert(a)
    assert shown.isprintable()  # no control, format, separator or surrogate character
    assert "\n" not in shown and not shown.startswith("::")
    assert shown == shown.strip(" ")  # an edge space is shown escaped
    assert (shown == a) == (a.isprintable() and a == a.strip(" ") and not a.startswith("::"))
    if a != b:
        assert inert(b) != shown  # two different ids never look the same


@given(st.text(max_size=30))
def test_inert_lines_keep_their_indent(text: str) -> None:
    line = "  " + text
    shown = inert(line, edges=False)
    assert shown.startswith("  ") and "\n" not in shown
    assert not shown.lstrip(" ").startswith("::")


# --- (5) YAML alias bombs ---------------------------------------------------------------------

BOMB = ('a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(f"{x}: &{x} [{', '.join([f'*{p}'] * 9)}]\n"
                  for p, x in zip("abcdefgh", "bcdefghi", strict=True)))


# Runs a command and writes its peak RSS (KiB) to the file named first. Linux carries the
# forking process's high-water RSS into a child across exec, so the command must be started by
# this small process, not by the test process (an xdist worker can be 300 MB by then).
RSS_PROBE = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def check_with_peak_rss(args: list[str], cwd: Path) -> tuple[int, str, float, float]:
    """Run `model-gate check ARGS --no-archive`; return its exit code, stderr, seconds and
    peak RSS in MB (of that one process, through RSS_PROBE)."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env["PYTHONIOENCODING"] = "utf-8"
    rss_file = cwd / "peak_rss_kib"
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", RSS_PROBE, str(rss_file), sys.executable,
                             "-m", "pytest_model_gate.cli", "check", *args, "--no-archive"],
                            cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8",
                            timeout=30, check=False)
    elapsed = time.perf_counter() - start
    return (result.returncode, result.stderr, elapsed,
            int(rss_file.read_text(encoding="utf-8")) / 1024)


@pytest.mark.parametrize("where", ["summary", "gate.yaml"])
def test_yaml_alias_bomb_refused_fast_and_small(tmp_path: Path, where: str) -> None:
    if where == "summary":
        (tmp_path / "s.yaml").write_text(BOMB + "models: {A_1: {x: *i}}\n", encoding="utf-8")
        args: list[str] = ["s.yaml"]
    else:
        write_json(tmp_path, "s.json", SMALL)
        (tmp_path / "gate.yaml").write_text(BOMB + "report: null\n", encoding="utf-8")
        args = ["s.json"]
    assert len(BOMB) < 600
    code, stderr, elapsed, peak_mb = check_with_peak_rss(args, tmp_path)
    assert code == 2
    assert "YAML aliases expand to more than 100,000 nodes (an alias bomb?): refused" in stderr
    assert stderr.count("\n") == 1
    assert elapsed < 10  # was 17-53 s
    assert peak_mb < 200  # was 1.1-1.7 GB


def test_yaml_aliases_within_bounds_still_work(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "base: &base {fitness_score: 0.9, profit_factor: 2.0, consistency: 0.9, "
        "max_drawdown: 0.01}\nmodels:\n  A_1: *base\n  B_1: {<<: *base, profit_factor: 1.0}\n",
        encoding="utf-8")
    result = model_gate("check", "s.yaml", "--no-archive", "--report", "out.md", "--format", "json",
                        cwd=tmp_path)
    assert [m["classification"] for m in json.loads(result.stdout)["models"]] == [
        "APPROVED", "DROP"]


# --- (6) bounded input, every conversion caught ----------------------------------------------

BAD_INPUTS = {  # name: (file name, content, message on stderr)
    "deep-json": ("s.json", '{"models": ' + "[" * 3000 + "]" * 3000 + "}",
                  "s.json: invalid JSON: nested more than about 100 levels deep"),
    "deep-yaml": ("s.yaml", "models: " + "[" * 3000 + "]" * 3000 + "\n",
                  "s.yaml: nested more than 100 levels deep"),
    "huge-int": ("s.json", '{"models": {"A": {"fitness_score": ' + "9" * 5000 + "}}}",
                 "s.json: a number cannot be read: an integer has more than 4,300 digits"),
    "huge-int-yaml": ("s.yaml", "models: {A: {fitness_score: " + "9" * 5000 + "}}\n",
                      "s.yaml: a number cannot be read: an integer has more than 4,300 digits"),
    "huge-interval": ("s.json", '{"validation_interval": 1e300, "models": {"A": {"x": 1}}}',
                      "s.json: validation_interval: expected at most 1,000,000,000,000 "
                      "updates between validations, got 1e+300"),
    "huge-int-interval": ("s.json", '{"models": {"A": {"fitness_score": 1, '
                          '"validation_interval": ' + "9" * 400 + "}}}",
                          "s.json: models.A.validation_interval: expected at most "
                          "1,000,000,000,000 updates between validations, got 999999999"),
    "lone-surrogate-id": ("s.json", '{"models": {"A\\udc80": {"fitness_score": 1}}}',
                          "s.json: models: text holds a lone surrogate \\udc80 (not valid "
                          "Unicode)"),
    "lone-surrogate-meta": ("s.json", '{"note": "x\\ud800", "models": {"A": {"x": 1}}}',
                            "s.json: note: text holds a lone surrogate \\ud800"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2(tmp_path: Path, case: str) -> None:
    name, content, message = BAD_INPUTS[case]
    (tmp_path / name).write_text(content, encoding="utf-8")
    result = model_gate("check", name, "--no-archive", "--report", "out.md", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"model-gate: error: {message}"), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_valid_surrogate_pair_is_fine(tmp_path: Path) -> None:
    write_json(tmp_path, "s.json", {"models": {"rocket_1": APPROVED}})
    text = (tmp_path / "s.json").read_text(encoding="utf-8").replace("rocket", "\\ud83d\\ude80")
    (tmp_path / "s.json").write_text(text, encoding="utf-8")
    result = model_gate("check", "s.json", "--no-archive", "--report", "out.md", "--format", "json",
                        cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout)["models"][0]["id"] == "\U0001f680_1"


def test_device_and_fifo_refused_without_reading(tmp_path: Path) -> None:
    result = model_gate("check", "/dev/zero", "--no-archive", cwd=tmp_path, timeout=20)
    assert result.returncode == 2
    assert result.stderr == ("model-gate: error: /dev/zero: not a regular summary file (a "
                             "device, FIFO or socket): refused\n")
    os.mkfifo(tmp_path / "fifo.json")
    result = model_gate("check", "fifo.json", "--no-archive", cwd=tmp_path, timeout=20)
    assert result.returncode == 2  # never blocks waiting for a writer
    assert "fifo.json: not a regular summary file" in result.stderr


def test_size_limit_is_configurable(tmp_path: Path) -> None:
    write_json(tmp_path, "s.json", SMALL)
    size = (tmp_path / "s.json").stat().st_size
    (tmp_path / "gate.yaml").write_text(f"max_summary_bytes: {size - 1}\nreport: null\n",
                                        encoding="utf-8")
    result = model_gate("check", "s.json", "--no-archive", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"model-gate: error: s.json: larger than the limit of {size - 1:,} bytes: refused "
        "(raise it with max_summary_bytes in gate.yaml or MODEL_GATE_MAX_SUMMARY_BYTES if the "
        "file is genuine)\n")
    (tmp_path / "gate.yaml").write_text(f"max_summary_bytes: {size}\nreport: null\n",
                                        encoding="utf-8")
    assert model_gate("check", "s.json", "--no-archive", cwd=tmp_path).returncode == 1
    (tmp_path / "gate.yaml").unlink()
    env = {"MODEL_GATE_MAX_SUMMARY_BYTES": "10"}
    assert "larger than the limit of 10 bytes" in model_gate(
        "check", "s.json", "--no-archive", cwd=tmp_path, env=env).stderr


def test_pytest_bad_inputs_are_collection_errors(pytester: pytest.Pytester) -> None:
    for name, content, message in BAD_INPUTS.values():
        pytester.path.joinpath(name).write_text(content, encoding="utf-8")
        result = pytester.runpytest("--model-gate", name, NO_ARCHIVE)
        assert result.ret == pytest.ExitCode.INTERRUPTED, message
        result.stdout.fnmatch_lines([f"model-gate: {message}*"])
        assert "INTERNALERROR" not in "\n".join(result.outlines + result.errlines)


@pytest.mark.parametrize(("gate_yaml", "message"), [
    ("metrics:\n  fitness: {approved: 1" + "0" * 400 + ", review: 0.5}\n",
     "*gate.yaml:2: metrics.fitness.approved: expected a finite number, got 1000000000*"),
    ("validation_interval: " + "9" * 5000 + "\n",
     "*gate.yaml: a number cannot be read: an integer has more than 4,300 digits"),
    ("x: " + "[" * 5000 + "]" * 5000 + "\n", "*gate.yaml: nested more than 100 levels deep"),
    ("validation_interval: 10000000000000\n",
     "*gate.yaml:1: validation_interval: Input should be less than or equal to 1000000000000*"),
])
def test_pytest_bad_gate_yaml_is_usage_error(pytester: pytest.Pytester, gate_yaml: str,
                                            message: str) -> None:
    pytester.path.joinpath("gate.yaml").write_text(gate_yaml, encoding="utf-8")
    pytester.path.joinpath("s.json").write_text(json.dumps(SMALL), encoding="utf-8")
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # 4, not INTERNALERROR (3)
    result.stderr.fnmatch_lines([f"ERROR: model-gate: {message}"])


def test_cli_crash_is_internal_error_never_a_verdict(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_model_gate.cli import check

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    write_json(tmp_path, "s.json", SMALL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(check, "publish", broken)
    code = main(["check", "s.json", "--no-archive"])
    assert code == ExitCode.INTERNAL == 70
    err = capsys.readouterr().err
    assert err.startswith("model-gate: error: internal error: RuntimeError: disk on fire")


# --- (9) summaries reached through symlinks -----------------------------------------------------

def test_symlinked_summary_and_folder_are_collected(pytester: pytest.Pytester) -> None:
    real = pytester.path / "real"
    write_json(real, "s.json", SMALL)
    (pytester.path / "link.json").symlink_to(real / "s.json")
    (pytester.path / "linked").symlink_to(real, target_is_directory=True)
    for arg in ("link.json", "linked/s.json", str(pytester.path / "linked" / "s.json")):
        result = pytester.runpytest(f"--model-gate={arg}", NO_ARCHIVE)
        result.assert_outcomes(passed=1, xfailed=1, failed=1)


# --- (10) a DROP blocks even when its test did not run -----------------------------------------

@pytest.mark.parametrize("args", [["-k", "AAPL"], ["--deselect", "s.json::MSFT_1Hour"],
                                  ["-k", "nothing_matches"]])
def test_unrun_drop_still_fails_the_session(pytester: pytest.Pytester, args: list[str]) -> None:
    write_json(pytester.path, "s.json", SMALL)
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE, *args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["  not run but DROP: MSFT_1Hour: DROP: profit_factor 1 < 1.3*"])


def test_last_failed_after_the_summary_changed(pytester: pytest.Pytester) -> None:
    write_json(pytester.path, "s.json", SMALL)
    pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE)
    worse = {**SMALL, "models": {**SMALL["models"], "AAPL_1Hour": {"metrics": DROP}}}
    write_json(pytester.path, "s.json", worse)
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE, "--lf")
    result.assert_outcomes(failed=1)  # --lf re-runs MSFT only
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["  not run but DROP: AAPL_1Hour: DROP: *"])


def test_exitfirst_names_the_drops_it_skipped(pytester: pytest.Pytester) -> None:
    write_json(pytester.path, "s.json", {"models": {"A_1": DROP, "B_1": DROP, "C_1": APPROVED}})
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE, "-x")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["  not run but DROP: B_1: DROP: *"])


def test_all_deselected_and_nothing_dropped_is_ok(pytester: pytest.Pytester) -> None:
    write_json(pytester.path, "s.json", {"models": {"A_1": APPROVED, "B_1": REVIEW}})
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE, "-k", "A_1")
    assert result.ret == pytest.ExitCode.OK


# --- (11) only sessions that run tests publish -------------------------------------------------

@pytest.mark.parametrize("flag", ["--co", "--fixtures", "--fixtures-per-test", "--setup-plan",
                                  "--setup-only"])
def test_listing_sessions_write_nothing(pytester: pytest.Pytester, flag: str) -> None:
    write_json(pytester.path, "s.json", SMALL)
    result = pytester.runpytest("--model-gate", "s.json", flag)
    assert not (pytester.path / "training_archives").exists()
    assert not (pytester.path / "model-gate-report.md").exists()
    assert "archived as run" not in "\n".join(result.outlines)


def test_quiet_collect_only_prints_node_ids_only(pytester: pytest.Pytester) -> None:
    write_json(pytester.path, "s.json", SMALL)
    result = pytester.runpytest("--model-gate", "s.json", "--co", "-q")
    lines = [line for line in result.outlines if line.strip()]
    assert lines[:3] == ["s.json::AAPL_1Hour", "s.json::TSLA_1Hour", "s.json::MSFT_1Hour"]
    assert all("model-gate" not in line and "model gate" not in line for line in lines)


# --- (12) precedence: command line > ini option > gate.yaml > default ------------------------

def test_precedence_of_outputs(pytester: pytest.Pytester) -> None:
    write_json(pytester.path, "s.json", SMALL)
    pytester.path.joinpath("gate.yaml").write_text("report: from-yaml.md\narchive: yaml-arch\n",
                                                   encoding="utf-8")
    pytester.path.joinpath("tox.ini").write_text(
        "[pytest]\nmodel_gate_report = from-ini.md\nmodel_gate_archive = ini-arch\n",
        encoding="utf-8")
    pytester.runpytest("--model-gate", "s.json")
    assert (pytester.path / "from-ini.md").is_file()  # ini beats gate.yaml
    assert (pytester.path / "ini-arch").is_dir()
    assert not (pytester.path / "from-yaml.md").exists()
    assert not (pytester.path / "yaml-arch").exists()
    pytester.runpytest("--model-gate", "s.json", "--model-gate-report", "from-cli.md",
                       "--model-gate-archive", "cli-arch")
    assert (pytester.path / "from-cli.md").is_file()  # the command line beats both
    assert (pytester.path / "cli-arch").is_dir()
    pytester.path.joinpath("tox.ini").unlink()
    pytester.runpytest("--model-gate", "s.json")
    assert (pytester.path / "from-yaml.md").is_file()  # then gate.yaml
    assert (pytester.path / "yaml-arch").is_dir()


# --- (14) a missing or non-finite metric never passes -------------------------------------------

@pytest.mark.parametrize("on_invalid", ["drop", "review"])
@pytest.mark.parametrize("on_review", ["xfail", "fail", "pass"])
def test_invalid_metric_never_passes(pytester: pytest.Pytester, on_invalid: str,
                                     on_review: str) -> None:
    pytester.path.joinpath("gate.yaml").write_text(
        f"on_invalid: {on_invalid}\non_review: {on_review}\nreport: null\n", encoding="utf-8")
    pytester.path.joinpath("s.json").write_text(json.dumps({"models": {
        "nan_1": {**APPROVED, "profit_factor": float("nan")},
        "gone_1": {k: v for k, v in APPROVED.items() if k != "consistency"},
        "ok_1": APPROVED}}), encoding="utf-8")
    result = pytester.runpytest("--model-gate", "s.json", NO_ARCHIVE, "-rA")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1  # ok_1 only
    assert outcomes.get("xfailed", 0) + outcomes.get("failed", 0) == 2


def test_archive_commands_print_ids_inert(tmp_path: Path) -> None:
    write_json(tmp_path, "h.json", {"models": HOSTILE})
    assert model_gate("check", "h.json", "--report", "out.md", cwd=tmp_path).returncode == 1
    for command in (["show", "latest"], ["approved"], ["runs"], ["history", "AAPL"]):
        result = model_gate(*command, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert_inert(result.stdout)
    shown = model_gate("show", "latest", cwd=tmp_path).stdout
    assert "ok\\n::stop-commands::token" in shown  # one row, the newline shown escaped
    verbatim = model_gate("show", "latest", "--format", "json", cwd=tmp_path).stdout
    assert [m["id"] for m in json.loads(verbatim)["models"]] == list(HOSTILE)
