"""An archive or report that cannot be written: verdicts still shown, a clear message, exit 3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "pytest_model_gate.cli"]


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A plain file where a folder is needed: nothing can be written below it."""
    path = tmp_path / "blocker"
    path.write_text("not a folder\n", encoding="utf-8")
    return path


def _check(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "check", *args], cwd=cwd, capture_output=True, text=True,
                          check=False)


def test_cli_archive_not_writable(tmp_path: Path, trading_summary: Path, blocker: Path) -> None:
    result = _check(tmp_path, str(trading_summary), "--archive", str(blocker / "arch"),
                    "--report", str(tmp_path / "r.md"))
    assert result.returncode == 3
    assert "13 APPROVED, 9 REVIEW, 2 DROP" in result.stdout  # the verdicts stand
    assert "model-gate: error: archive not written" in result.stderr
    assert str(blocker) in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "r.md").is_file()  # the report is still written


def test_cli_report_not_writable(tmp_path: Path, trading_summary: Path, blocker: Path) -> None:
    result = _check(tmp_path, str(trading_summary), "--no-archive", "--report",
                    str(blocker / "r.md"))
    assert result.returncode == 3
    assert "13 APPROVED, 9 REVIEW, 2 DROP" in result.stdout
    assert f"model-gate: error: report not written: {blocker / 'r.md'}" in result.stderr
    assert "Traceback" not in result.stderr


def test_pytest_archive_not_writable(pytester: pytest.Pytester, trading_summary: Path,
                                     blocker: Path) -> None:
    result = pytester.runpytest_subprocess(
        f"--model-gate={trading_summary}", f"--model-gate-archive={blocker / 'arch'}",
        "--model-gate-report=r.md", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=13, xfailed=9, failed=2)
    assert result.ret == 3
    out = result.stdout.str()
    assert "model-gate: ERROR: archive not written" in out
    assert str(blocker) in out
    assert "Traceback" not in out
    assert (pytester.path / "r.md").is_file()
