"""`model-gate init` writes a commented gate.yaml (never overwrites); `schema` prints its schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pytest_model_gate.core.config import DEFAULT_CONFIG, load_config

CLI = [sys.executable, "-m", "pytest_model_gate.cli"]
REPO = Path(__file__).resolve().parent.parent


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_init_writes_the_documented_defaults(tmp_path: Path) -> None:
    result = _run(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wrote gate.yaml"
    written = tmp_path / "gate.yaml"
    assert written.read_text(encoding="utf-8") == (REPO / "gate.yaml.example").read_text(
        encoding="utf-8")
    assert load_config(written).digest() == DEFAULT_CONFIG.digest()


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "custom.yaml"
    target.write_text("version: 1\n", encoding="utf-8")
    result = _run(tmp_path, "init", "custom.yaml")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "model-gate: error: custom.yaml: already exists; not overwritten")
    assert target.read_text(encoding="utf-8") == "version: 1\n"


def test_init_into_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = _run(tmp_path, "init", "no/such/dir/gate.yaml")
    assert result.returncode == 3
    assert result.stderr.startswith("model-gate: error: no/such/dir/gate.yaml: cannot write")
    assert "Traceback" not in result.stderr


def test_schema_is_the_json_schema_of_gate_yaml(tmp_path: Path) -> None:
    result = _run(tmp_path, "schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "pytest-model-gate gate.yaml"
    assert schema["additionalProperties"] is False
    assert {"metrics", "overfitting", "on_review", "on_invalid", "overrides", "baseline",
            "archive", "report", "html"} <= set(schema["properties"])
    assert schema["properties"]["on_review"]["enum"] == ["xfail", "fail", "pass"]
