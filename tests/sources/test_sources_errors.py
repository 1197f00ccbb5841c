"""Bad sources: one line naming the source and what was looked for, as a SummaryError."""

from __future__ import annotations

import re
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from pytest_model_gate.core.config import load_config
from pytest_model_gate.errors import SummaryError
from pytest_model_gate.sources import canonical_summary, load_source


def error_of(spec: str, gated: bool = False) -> str:
    with pytest.raises(SummaryError) as info:
        if gated:
            load_source(spec, load_config(Path("gate.yaml")))
        else:
            canonical_summary(spec)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_empty_hf_folder(fixtures: Path) -> None:
    (fixtures / "empty").mkdir()
    assert error_of("hf:empty") == (
        "hf:empty: no trainer_state.json under empty (looked in empty and "
        "empty/checkpoint-*, and in its subfolders)")


def test_folder_of_nothing_known(fixtures: Path) -> None:
    (fixtures / "empty").mkdir()
    assert error_of("empty").startswith(
        "empty: is a directory, not a summary file, and holds no training output of a known "
        "tool (looked for trainer_state.json (hf)")


def test_unknown_experiment(fixtures: Path) -> None:
    assert error_of("mlflow:sqlite:///mlflow/mlflow.db?experiment=prod") == (
        'mlflow:sqlite:///mlflow/mlflow.db?experiment=prod: experiment "prod" not found '
        "(have: Default, sweep-3)")
    assert error_of("mlflow:mlflow/mlruns?experiment=old").endswith(
        'experiment "old" not found (have: Default, sweep-3)')  # deleted = not there


def test_text_valued_gated_metric(fixtures: Path) -> None:
    path = fixtures / "keras" / "mlp.csv"
    path.write_text(re.sub(r"0\.74\d*", "oops", path.read_text()))
    assert error_of("keras:keras", gated=True) == (
        'keras:keras: models.mlp.metrics.val_accuracy[1]: expected a number, got "oops"')


def test_text_in_an_ungated_column_is_harmless(fixtures: Path) -> None:
    path = fixtures / "keras" / "mlp.csv"
    path.write_text(re.sub(r"0\.61\d*", "oops", path.read_text()))  # loss, not gated
    assert load_source("keras:keras", load_config(Path("gate.yaml"))).models


def test_no_gated_metric(fixtures: Path) -> None:
    Path("gate.yaml").write_text("version: 1\n", encoding="utf-8")  # built-in trading metrics
    message = error_of("tensorboard:tensorboard", gated=True)
    # the same wording as for a summary file (core.summary), without the container-key advice:
    # a training tool's metrics are named as logged
    assert message.startswith("tensorboard:tensorboard: no gated metric found in any of 3 "
                              "models (gated: fitness (fitness_score/")
    assert message.endswith("models carry metric keys val/acc, val/loss, eval/acc; list the "
                            "metrics to gate under metrics: in gate.yaml")
    assert "metrics_key" not in message


def test_no_gated_metric_names_the_nearest_logged_key(fixtures: Path) -> None:
    Path("gate.yaml").write_text("version: 1\nmetrics:\n  accuracy: {approved: 0.9, "
                                 "review: 0.8}\n", encoding="utf-8")
    message = error_of("tensorboard:tensorboard", gated=True)
    assert message.endswith("nearest match: set metrics.accuracy.key: val/acc in gate.yaml")


def test_truncated_event_file(fixtures: Path) -> None:
    path = next((fixtures / "tensorboard" / "run-a").glob("events.out.tfevents.*"))
    path.write_bytes(path.read_bytes()[:-7])
    message = error_of("tensorboard:tensorboard")
    assert message.startswith(f"tensorboard:tensorboard: {path.relative_to(fixtures)}: not a "
                              "complete TensorBoard event file: truncated record")


def test_corrupt_event_file(fixtures: Path) -> None:
    path = next((fixtures / "tensorboard" / "run-a").glob("events.out.tfevents.*"))
    data = bytearray(path.read_bytes())
    data[-2] ^= 0xFF  # inside the last record's data CRC
    path.write_bytes(bytes(data))
    assert "CRC mismatch" in error_of("tensorboard:tensorboard")


def test_locked_sqlite_is_bounded(fixtures: Path) -> None:
    writer = sqlite3.connect(fixtures / "mlflow" / "mlflow.db")
    writer.execute("PRAGMA locking_mode=EXCLUSIVE")
    writer.execute("BEGIN EXCLUSIVE")
    try:
        start = time.monotonic()
        message = error_of("mlflow:sqlite:///mlflow/mlflow.db?timeout=0.5")
        assert time.monotonic() - start < 5
    finally:
        writer.rollback()
        writer.close()
    assert "database is locked" in message
    assert message.startswith("mlflow:sqlite:///mlflow/mlflow.db?timeout=0.5: cannot read ")


def test_corrupt_sqlite(fixtures: Path) -> None:
    Path("bad.db").write_bytes(b"this is not sqlite" * 100)
    assert error_of("mlflow:sqlite:///bad.db") == (
        "mlflow:sqlite:///bad.db: cannot read bad.db as an MLflow sqlite store: "
        "file is not a database")


def test_sqlite_that_is_not_mlflow(fixtures: Path) -> None:
    sqlite3.connect("other.db").execute("CREATE TABLE t (x)").connection.commit()
    assert error_of("mlflow:sqlite:///other.db") == (
        "mlflow:sqlite:///other.db: other.db is not an MLflow store (no table 'experiments')")


def test_missing_sqlite_is_not_created(fixtures: Path) -> None:
    assert error_of("mlflow:sqlite:///nope.db") == (
        "mlflow:sqlite:///nope.db: no MLflow database at nope.db")
    assert not Path("nope.db").exists()


def test_unreachable_server_is_bounded() -> None:
    with socket.socket() as sock:  # listens, never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        start = time.monotonic()
        message = error_of(f"mlflow:http://127.0.0.1:{port}?timeout=0.5")
        assert time.monotonic() - start < 5
    assert message.startswith(f"mlflow:http://127.0.0.1:{port}?timeout=0.5: cannot reach the "
                              f"MLflow server at http://127.0.0.1:{port}")
    assert "timeout 0.5 s" in message


def test_refused_connection() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert "cannot reach the MLflow server" in error_of(f"mlflow:http://127.0.0.1:{port}")


def test_unknown_mlflow_option(fixtures: Path) -> None:
    assert error_of("mlflow:mlflow/mlruns?experimnt=x").endswith(
        "unknown option 'experimnt' (accepted: experiment, filter, timeout)")


def test_bad_filter(fixtures: Path) -> None:
    assert "cannot read filter clause 'acc > 1'" in error_of(
        "mlflow:mlflow/mlruns?filter=acc > 1")


def test_lightning_without_step(fixtures: Path) -> None:
    path = fixtures / "lightning" / "lightning_logs" / "version_0" / "metrics.csv"
    path.write_text("epoch,val_acc\n0,0.9\n")
    assert "metrics.csv: no `step` column (header: epoch, val_acc)" in error_of(
        "lightning:lightning")


def test_several_tools_in_one_folder(fixtures: Path) -> None:
    assert error_of(".").startswith(".: holds output of several tools (")


def test_no_metric_at_all(fixtures: Path) -> None:
    out = fixtures / "out" / "checkpoint-1"
    out.mkdir(parents=True)
    (out / "trainer_state.json").write_text('{"log_history": [], "global_step": 1}')
    assert error_of("hf:out") == "hf:out: no metric logged in any of 1 model"
