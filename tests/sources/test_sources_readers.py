"""Each reader on files written by the real tool (or in its exact format): ids, histories,
steps, finals, float32 rounding, latest-wins, deleted runs, resumed runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from pytest_model_gate.sources import canonical_summary, detect

Table = dict[str, dict[str, tuple[list[Any], list[int]]]]


def metrics(spec: str) -> tuple[dict[str, Any], Table]:
    data = canonical_summary(spec)
    table: Table = {}
    for model_id, model in data["models"].items():
        block = model["metrics"]
        table[model_id] = {k: (v, block[k + "_steps"]) for k, v in block.items()
                           if not k.endswith("_steps") and k + "_steps" in block}
    return data, table


@pytest.mark.parametrize(("spec", "model", "key", "history", "steps"), [
    # HF: eval entries of log_history by step; float32 .item() values read as logged
    ("hf:hf", "bert-good", "eval_accuracy", [0.8, 0.86, 0.9], [500, 1000, 1500]),
    ("hf:hf", "bert-overfit", "eval_loss", [0.45, 0.33, 0.47], [500, 1000, 1500]),
    ("hf:hf", "bert-good", "train_loss", [0.52], [1500]),
    # Lightning: sparse CSV, only the rows where the column is filled
    ("lightning:lightning", "lightning_logs/version_0", "val_acc", [0.7, 0.82, 0.88, 0.9],
     [49, 99, 149, 199]),
    ("lightning:lightning", "lightning_logs/version_1", "train_loss",
     [0.702, 0.652, 0.452, 0.402, 0.562, 0.512, 0.592, 0.542],
     [24, 49, 74, 99, 124, 149, 174, 199]),
    # Keras: step = epoch + 1; "NA" epochs (validation_freq=2) are no point at all
    ("keras:keras", "mlp", "val_accuracy", [0.62, 0.74, 0.81, 0.9], [1, 2, 3, 4]),
    ("keras:keras", "cnn-valfreq", "val_accuracy", [0.79, 0.86], [2, 4]),
    # MLflow sqlite: logged out of step order, step 200 rewritten later (0.88 wins)
    ("mlflow:sqlite:///mlflow/mlflow.db", "lr-0.03", "val_acc", [0.82, 0.88, 0.89],
     [100, 200, 300]),
    ("mlflow:sqlite:///mlflow/mlflow.db", "lr-0.01", "val_acc", [0.8, 0.86, 0.9],
     [100, 200, 300]),
    # MLflow file store: the same runs, the same answers
    ("mlflow:mlflow/mlruns", "lr-0.03", "val_acc", [0.82, 0.88, 0.89], [100, 200, 300]),
    ("mlflow:mlflow/mlruns", "lr-0.1", "val_loss", [0.45, 0.3, 0.52], [100, 200, 300]),
    # TensorBoard: simple_value and tensor scalars, float32 -> shortest decimal
    ("tensorboard:tensorboard", "run-a", "val/acc", [0.62, 0.71, 0.78, 0.8, 0.9],
     [10, 20, 30, 40, 50]),
    ("tensorboard:tensorboard", "run-b", "eval/acc", [0.7, 0.92, 0.85, 0.83],
     [100, 200, 300, 400]),
    # a run resumed into a second event file: one model, the later file's step 30 wins
    ("tensorboard:tensorboard", "run-c", "val/acc", [0.5, 0.6, 0.7, 0.75], [10, 20, 30, 40]),
    # DVCLive: nested names joined with /, a resumed run rewrites step 2
    ("dvclive:dvclive", "exp-1", "val/acc", [0.6, 0.7, 0.8, 0.85, 0.9], [0, 1, 2, 3, 4]),
    ("dvclive:dvclive", "exp-2", "val/acc", [0.5, 0.8, 0.82, 0.84], [0, 1, 2, 3]),
])
def test_history_and_steps(fixtures: Path, spec: str, model: str, key: str,
                           history: list[float], steps: list[int]) -> None:
    _, table = metrics(spec)
    assert table[model][key] == (history, steps)


@pytest.mark.parametrize(("spec", "ids"), [
    ("hf:hf", ["bert-good", "bert-overfit"]),
    ("hf:hf/bert-good", ["bert-good"]),
    ("lightning:lightning", ["lightning_logs/version_0", "lightning_logs/version_1"]),
    ("lightning:lightning/lightning_logs/version_1", ["version_1"]),
    ("keras:keras", ["cnn-valfreq", "mlp"]),
    ("keras:keras/mlp.csv", ["mlp"]),
    ("tensorboard:tensorboard", ["run-a", "run-b", "run-c"]),
    ("dvclive:dvclive", ["exp-1", "exp-2"]),
    ("mlflow:sqlite:///mlflow/mlflow.db?experiment=sweep-3",
     ["lr-0.01", "lr-0.03", "lr-0.1", "lr-nan"]),
    ("mlflow:mlflow/mlruns?experiment=sweep-3", ["lr-0.01", "lr-0.03", "lr-0.1", "lr-nan"]),
])
def test_model_ids(fixtures: Path, spec: str, ids: list[str]) -> None:
    assert list(canonical_summary(spec)["models"]) == ids


@pytest.mark.parametrize("spec", ["mlflow:sqlite:///mlflow/mlflow.db", "mlflow:mlflow/mlruns"])
def test_mlflow_deleted_left_out_and_repeated_names_get_run_ids(fixtures: Path,
                                                                spec: str) -> None:
    models = canonical_summary(spec)["models"]
    names = {m["run_name"] for m in models.values()}
    assert "deleted-run" not in names and "old-run" not in names  # deleted run, experiment
    twins = [(k, m) for k, m in models.items() if m["run_name"] == "twin"]
    assert len(twins) == 2 and all(k == m["run_id"] for k, m in twins)
    assert {m["symbol"] for m in models.values()} == {"sweep-3", "Default"}


def test_mlflow_nan_is_kept_as_nan(fixtures: Path) -> None:
    model = canonical_summary("mlflow:sqlite:///mlflow/mlflow.db")["models"]["lr-nan"]
    assert model["metrics"]["val_acc"][0] == 0.5 and math.isnan(model["metrics"]["val_acc"][1])


def test_mlflow_filter_on_local_stores(fixtures: Path) -> None:
    for base in ("sqlite:///mlflow/mlflow.db", "mlflow/mlruns"):
        got = canonical_summary(f"mlflow:{base}?filter=metrics.val_acc >= 0.89 and "
                                "attributes.status = 'FINISHED'")
        assert sorted(got["models"]) == ["lr-0.01", "lr-0.03", "twin"]  # twin: 0.9


def test_checkpoints_named(fixtures: Path) -> None:
    hf = canonical_summary("hf:hf")["models"]["bert-overfit"]
    assert hf["checkpoints"] == {"500": "checkpoint-500/", "1000": "checkpoint-1000/",
                                 "1500": "checkpoint-1500/"}
    assert hf["best_checkpoint"] == "checkpoint-1000/"
    pl = canonical_summary("lightning:lightning")["models"]["lightning_logs/version_1"]
    assert pl["checkpoints"]["99"] == "checkpoints/epoch=1-step=99.ckpt"


def test_hf_without_top_level_state_reads_newest_checkpoint(fixtures: Path) -> None:
    assert not (fixtures / "hf/bert-overfit/trainer_state.json").exists()
    _, table = metrics("hf:hf/bert-overfit")
    assert table["bert-overfit"]["eval_accuracy"] == ([0.84, 0.91, 0.85], [500, 1000, 1500])


def test_source_record(fixtures: Path) -> None:
    record = canonical_summary("tensorboard:tensorboard")["source"]
    assert record["kind"] == "tensorboard" and record["location"] == "tensorboard"
    assert len(record["files"]) == 4  # run-c has two files
    assert all(len(digest) == 64 for digest in record["files"].values())
    sql = canonical_summary("mlflow:sqlite:///mlflow/mlflow.db?experiment=sweep-3")["source"]
    assert sql["experiments"] == ["sweep-3"] and list(sql["files"]) == ["mlflow.db"]


@pytest.mark.parametrize(("path", "kind"), [
    ("hf", "hf"), ("hf/bert-good", "hf"), ("hf/bert-good/checkpoint-500/trainer_state.json", "hf"),
    ("lightning", "lightning"), ("lightning/lightning_logs/version_0", "lightning"),
    ("lightning/lightning_logs/version_0/metrics.csv", "lightning"),
    ("keras", "keras"), ("keras/mlp.csv", "keras"),
    ("tensorboard", "tensorboard"), ("tensorboard/run-a", "tensorboard"),
    ("dvclive", "dvclive"), ("dvclive/exp-1", "dvclive"),
    ("mlflow/mlruns", "mlflow"), ("mlflow/mlflow.db", "mlflow"),
    ("gate.yaml", "summary"), ("missing.json", "summary"),
])
def test_detection(fixtures: Path, path: str, kind: str) -> None:
    assert detect(path)[0] == kind


def test_detected_folder_reads_like_the_named_kind(fixtures: Path) -> None:
    assert canonical_summary("hf")["models"] == canonical_summary("hf:hf")["models"]
