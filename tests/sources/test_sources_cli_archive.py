"""`model-gate check` / `model-gate convert` on sources (subprocesses), and the archive of a
source: its canonical summary plus the `source` record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_model_gate import TrainingArchiveManager
from pytest_model_gate.core.config import load_config


def model_gate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_model_gate.cli", *args],
                          capture_output=True, text=True, timeout=120)


def test_check_every_kind(fixtures: Path) -> None:
    result = model_gate("check", "hf:hf", "lightning", "keras:keras", "dvclive",
                        "tensorboard:tensorboard", "mlflow:sqlite:///mlflow/mlflow.db",
                        "--no-archive", "--format", "json")
    assert result.returncode == 1, result.stderr  # tensorboard run-c and lr-nan are DROP
    docs = json.loads(result.stdout)["runs"]
    classes = {d["summary"]["path"]: {m["id"]: m["classification"] for m in d["models"]}
               for d in docs}
    assert classes["hf:hf"] == {"bert-good": "APPROVED", "bert-overfit": "REVIEW"}
    assert classes["lightning:lightning"]["lightning_logs/version_1"] == "REVIEW"
    assert classes["tensorboard:tensorboard"] == {"run-a": "APPROVED", "run-b": "REVIEW",
                                                  "run-c": "DROP"}
    hf = next(m for m in docs[0]["models"] if m["id"] == "bert-overfit")
    assert (hf["checkpoint_update"], hf["checkpoint_path"]) == (1000, "checkpoint-1000/")


def test_check_text_names_the_checkpoint_folder(fixtures: Path) -> None:
    result = model_gate("check", "lightning:lightning", "--no-archive")
    assert result.returncode == 0, result.stderr
    assert ("checkpoint: lightning_logs/version_1: use the checkpoint at update 99: "
            "checkpoints/epoch=1-step=99.ckpt (validation 2 of 4, acc 0.93)") in result.stdout


def test_check_bad_source_exits_2(fixtures: Path) -> None:
    result = model_gate("check", "mlflow:sqlite:///mlflow/mlflow.db?experiment=prod")
    assert result.returncode == 2
    assert result.stderr == ('model-gate: error: mlflow:sqlite:///mlflow/mlflow.db?'
                             'experiment=prod: experiment "prod" not found (have: Default, '
                             'sweep-3)\n')
    assert not Path("training_archives").exists()


def test_convert_then_check_gives_the_same_verdicts(fixtures: Path) -> None:
    result = model_gate("convert", "mlflow:mlflow/mlruns?experiment=sweep-3", "-o", "s.json")
    assert result.returncode == 0, result.stderr
    data = json.loads(Path("s.json").read_text(encoding="utf-8"))
    assert data["source"]["kind"] == "mlflow" and data["source"]["experiments"] == ["sweep-3"]
    assert data["models"]["lr-0.03"]["metrics"]["val_acc_steps"] == [100, 200, 300]
    direct = model_gate("check", "mlflow:mlflow/mlruns?experiment=sweep-3", "--no-archive",
                        "--format", "json")
    converted = model_gate("check", "s.json", "--no-archive", "--format", "json")
    assert json.loads(direct.stdout)["models"] == json.loads(converted.stdout)["models"]


def test_convert_to_stdout_and_error(fixtures: Path) -> None:
    result = model_gate("convert", "dvclive:dvclive")
    assert json.loads(result.stdout)["models"]["exp-2"]["metrics"]["val/acc"] == [
        0.5, 0.8, 0.82, 0.84]
    (fixtures / "nothing").mkdir()
    bad = model_gate("convert", "hf:nothing")
    assert bad.returncode == 2 and bad.stderr.startswith(
        "model-gate: error: hf:nothing: no trainer_state.json under nothing")


def test_archive_keeps_canonical_summary_and_source_record(fixtures: Path) -> None:
    manager = TrainingArchiveManager("arch", config=load_config(Path("gate.yaml")))
    run = manager.archive_training_run("hf:hf")
    assert (run.approved_count, run.review_count, run.dropped_count) == (1, 1, 0)
    stored = json.loads(manager.load_summary_bytes(run.run_id))
    assert stored["source"]["kind"] == "hf" and stored["source"]["location"] == "hf"
    assert set(stored["source"]["files"]) >= {"bert-good/trainer_state.json",
                                              "bert-overfit/checkpoint-1500/trainer_state.json"}
    assert stored["models"]["bert-overfit"]["metrics"]["eval_accuracy_steps"] == [500, 1000,
                                                                                  1500]
    again = manager.archive_training_run("hf")  # same files, same canonical bytes
    assert again.run_id == run.run_id


def test_archived_summary_is_what_convert_writes(fixtures: Path) -> None:
    manager = TrainingArchiveManager("arch", config=load_config(Path("gate.yaml")))
    run = manager.archive_training_run("tensorboard:tensorboard")
    model_gate("convert", "tensorboard:tensorboard", "-o", "tb.json")
    assert manager.load_summary_bytes(run.run_id) == Path("tb.json").read_bytes()


@pytest.mark.parametrize("spec", ["hf:hf", "mlflow:sqlite:///mlflow/mlflow.db"])
def test_pytest_archive_and_report(fixtures: Path, spec: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", f"--model-gate={spec}", "--model-gate-archive=arch",
         "--model-gate-report=report.md", "-p", "no:cacheprovider", "-q"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report = Path("report.md").read_text(encoding="utf-8")
    if spec == "hf:hf":
        assert "update 1000 (validation 2 of 3) checkpoint-1000/" in report
    index = json.loads(Path("arch/index.json").read_text(encoding="utf-8"))
    assert index
