"""Write-back: verdicts as `model_gate.*` tags on MLflow runs (sqlite, file store, REST)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pytest_model_gate.sources import canonical_summary
from pytest_model_gate.sources.mlflow_writeback import write_back


def model_gate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_model_gate.cli", *args],
                          capture_output=True, text=True, timeout=120)


def sqlite_tags(path: str) -> dict[str, dict[str, str]]:
    conn = sqlite3.connect(path)
    out: dict[str, dict[str, str]] = {}
    for key, value, run_id in conn.execute(
            "SELECT key, value, run_uuid FROM tags WHERE key LIKE 'model_gate.%'"):
        out.setdefault(run_id, {})[key] = value
    conn.close()
    return out


def test_cli_write_back_to_sqlite(fixtures: Path) -> None:
    spec = "mlflow:sqlite:///mlflow/mlflow.db?experiment=sweep-3"
    runs = {k: m["run_id"] for k, m in canonical_summary(spec)["models"].items()}
    result = model_gate("check", spec, "--archive", "arch", "--write-back", "--format", "json")
    assert result.returncode == 1, result.stderr  # lr-nan is DROP
    run_id = json.loads(result.stdout).get("run_id", None)
    tags = sqlite_tags("mlflow/mlflow.db")
    assert tags[runs["lr-0.1"]]["model_gate.class"] == "REVIEW"
    assert tags[runs["lr-0.1"]]["model_gate.flags"] == "FITNESS_DECLINE"
    assert tags[runs["lr-nan"]]["model_gate.class"] == "DROP"
    assert tags[runs["lr-0.01"]]["model_gate.flags"] == ""
    archived = tags[runs["lr-0.01"]]["model_gate.run_id"]
    assert archived and (run_id is None or archived == run_id)
    assert (Path("arch") / archived).is_dir()
    assert len(tags) == 4  # the Default experiment's runs were not gated, not tagged


def test_without_write_back_nothing_is_written(fixtures: Path) -> None:
    before = Path("mlflow/mlflow.db").read_bytes()
    result = model_gate("check", "mlflow:sqlite:///mlflow/mlflow.db", "--no-archive")
    assert result.returncode == 1
    assert Path("mlflow/mlflow.db").read_bytes() == before


def test_pytest_write_back_to_file_store(fixtures: Path) -> None:
    spec = "mlflow:mlflow/mlruns?experiment=sweep-3"
    runs = {k: m["run_id"] for k, m in canonical_summary(spec)["models"].items()}
    Path("gate.yaml").write_text(Path("gate.yaml").read_text() + "write_back: true\n")
    result = subprocess.run([sys.executable, "-m", "pytest", f"--model-gate={spec}",
                             "--no-model-gate-archive", "-p", "no:cacheprovider", "-q"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout
    tag_dir = next(Path("mlflow/mlruns").glob(f"*/{runs['lr-0.1']}")) / "tags"
    assert (tag_dir / "model_gate.class").read_text() == "REVIEW"
    assert (tag_dir / "model_gate.run_id").read_text() == ""  # not archived


def test_write_back_error_is_exit_3_with_verdicts(fixtures: Path) -> None:
    conn = sqlite3.connect("mlflow/mlflow.db", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")  # another writer: readers go on, writers wait
    try:
        result = model_gate("check", "mlflow:sqlite:///mlflow/mlflow.db?timeout=0.3",
                            "--no-archive", "--write-back")
    finally:
        conn.rollback()
        conn.close()
    assert result.returncode == 3
    assert "lr-0.1" in result.stdout  # the verdicts are still shown
    assert "verdicts not written back" in result.stderr


class Recorder(BaseHTTPRequestHandler):
    calls: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        Recorder.calls.append({"path": self.path, **json.loads(self.rfile.read(length))})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    Recorder.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_rest_write_back_uses_log_batch(recorder: str) -> None:
    assert write_back(f"mlflow:{recorder}", {"abc": {"model_gate.class": "DROP"}}) == 1
    assert Recorder.calls == [{"path": "/api/2.0/mlflow/runs/log-batch", "run_id": "abc",
                               "metrics": [], "params": [],
                               "tags": [{"key": "model_gate.class", "value": "DROP"}]}]
