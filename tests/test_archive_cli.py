"""`model-gate runs | show | approved | history | reindex`, and `check` archiving by default."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.cli import main


def _summary(**values: tuple[float, float, float, float]) -> dict[str, object]:
    return {"timestamp": "t", "models": {
        mid: {"metrics": {"fitness_score": [fit], "profit_factor": pf, "consistency": c,
                          "max_drawdown": dd}} for mid, (fit, pf, c, dd) in values.items()}}


GOOD = (0.80, 2.2, 0.92, 0.05)
BAD = (0.30, 1.0, 0.40, 0.30)


@pytest.fixture(params=["local", "s3"])
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, list[str]]:
    """An archive with two runs; (location, run ids)."""
    url = str(tmp_path / "arch") if request.param == "local" else \
        request.getfixturevalue("s3_url")
    m = TrainingArchiveManager(url)
    r1 = m.archive_training_run(_summary(AAPL_1H=GOOD, MSFT_1H=BAD))
    r2 = m.archive_training_run(_summary(AAPL_1H=BAD, MSFT_1H=GOOD, AAPL_4H=GOOD))
    return url, [r1.run_id, r2.run_id]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs(filled: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    url, ids = filled
    code, out, _ = _run(capsys, "runs", "--archive", url)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["run", "APPROVED", "REVIEW", "DROP"]
    assert [ln.split()[0] for ln in lines[1:]] == ids
    assert lines[1].split()[1:4] == ["1", "0", "1"]
    code, out, _ = _run(capsys, "runs", "--archive", url, "--format", "json")
    assert code == 0 and json.loads(out) == TrainingArchiveManager(url).list_runs()


def test_show_and_approved(filled: tuple[str, list[str]],
                           capsys: pytest.CaptureFixture[str]) -> None:
    url, ids = filled
    code, out, _ = _run(capsys, "show", ids[0], "--archive", url)
    assert code == 0 and f"run {ids[0]}" in out and "MSFT_1H" in out
    assert "1 APPROVED, 0 REVIEW, 1 DROP" in out
    code, out, _ = _run(capsys, "show", "latest", "--archive", url, "--format", "json")
    assert json.loads(out)["run_id"] == ids[1]
    code, out, _ = _run(capsys, "approved", "--archive", url)
    assert code == 0 and out.split() == ["MSFT_1H", "AAPL_4H"]
    code, out, _ = _run(capsys, "approved", ids[0], "--archive", url, "--format", "json")
    assert json.loads(out) == {"run_id": ids[0], "approved": ["AAPL_1H"]}


def test_history(filled: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    url, ids = filled
    code, out, _ = _run(capsys, "history", "AAPL", "--archive", url)
    rows = [ln.split() for ln in out.splitlines()]
    assert code == 0 and rows[0][:3] == ["run", "model", "class"]
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        (ids[0], "AAPL_1H", "APPROVED"), (ids[1], "AAPL_1H", "DROP"),
        (ids[1], "AAPL_4H", "APPROVED")]
    code, out, _ = _run(capsys, "history", "AAPL_1H", "--archive", url, "--metric",
                        "fitness")
    rows = [ln.split() for ln in out.splitlines()]
    assert rows[0] == ["run", "model", "class", "fitness", "flags"]
    assert [r[3] for r in rows[1:]] == ["0.8", "0.3"]
    code, out, _ = _run(capsys, "history", "MSFT", "--archive", url, "--format", "json",
                        "--last", "1")
    data = json.loads(out)
    assert len(data) == 1 and data[0]["run_id"] == ids[1] and data[0]["model_id"] == "MSFT_1H"


@pytest.mark.parametrize("argv, message", [
    (["history", "NOPE"], "unknown symbol or model 'NOPE'"),
    (["history", "AAPL", "--metric", "sharpe"], "unknown metric 'sharpe'"),
    (["show", "20200101T000000.000000Z-abcdef"], "unknown run id"),
    (["show", "../../etc"], "not a valid run id"),
    (["approved", "nope"], "not a valid run id"),
])
def test_errors_are_one_line(filled: tuple[str, list[str]], capsys: pytest.CaptureFixture[str],
                             argv: list[str], message: str) -> None:
    url, _ = filled
    code, out, err = _run(capsys, *argv, "--archive", url)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_reindex(filled: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = filled
    code, out, _ = _run(capsys, "reindex", "--archive", url)
    assert code == 0 and out.strip().endswith("2 runs")
    code, out, _ = _run(capsys, "reindex", "--archive", url, "--format", "json")
    assert json.loads(out)["runs"] == 2


def test_default_archive_comes_from_gate_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "runs")
    assert code == 2 and "no archive at" in err and "training_archives" in err
    TrainingArchiveManager("training_archives").archive_training_run(_summary(A_1H=GOOD))
    assert _run(capsys, "runs")[1].count("\n") == 2
    (tmp_path / "gate.yaml").write_text("archive: store\n")
    TrainingArchiveManager("store").archive_training_run(_summary(A_1H=GOOD))
    TrainingArchiveManager("store").archive_training_run(_summary(A_1H=BAD))
    assert _run(capsys, "runs")[1].count("\n") == 3
    (tmp_path / "gate.yaml").write_text("archive: null\n")
    assert _run(capsys, "runs")[1].count("\n") == 2


def test_check_archives_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str],
                                   trading_summary: Path) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys, "check", str(trading_summary))
    assert code == 1  # two models dropped
    runs = TrainingArchiveManager(tmp_path / "training_archives").list_runs()
    assert len(runs) == 1 and runs[0]["run_id"] in out
    code, out, _ = _run(capsys, "check", str(trading_summary))  # a CI re-run: same run
    assert len(TrainingArchiveManager(tmp_path / "training_archives").list_runs()) == 1
    code, out, _ = _run(capsys, "history", "BTCUSD", "--metric", "profit_factor")
    assert code == 0 and "BTCUSD_1Min" in out


def test_history_in_a_fresh_process(filled: tuple[str, list[str]]) -> None:
    url, ids = filled
    proc = subprocess.run([sys.executable, "-m", "pytest_model_gate.cli", "history", "MSFT",
                           "--archive", url], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [ln.split()[0] for ln in proc.stdout.splitlines()[1:]] == ids
