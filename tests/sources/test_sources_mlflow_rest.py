"""The MLflow REST reader: against a loopback stdlib server that replays answers recorded
from a real `mlflow server` (always), and against a real `mlflow server` started on a free
port with a copy of the sqlite fixture (when mlflow is installed)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import pytest

from pytest_model_gate.errors import SummaryError
from pytest_model_gate.sources import canonical_summary

RECORDED = Path(__file__).resolve().parent / "fixtures" / "mlflow" / "rest_recorded.json"
API = "/api/2.0/mlflow/"


def _number(text: str) -> Any:
    return int(text) if text.isdigit() else text


class Replay(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, Any]] = {}

    def _answer(self, method: str, payload: dict[str, Any] | None) -> None:
        endpoint = urlsplit(self.path).path.removeprefix(API)
        key = f"{method} {endpoint} {json.dumps(payload, sort_keys=True)}"
        if key not in self.answers:
            self._send(500, {"error_code": "INTERNAL_ERROR", "message": f"not recorded: {key}"})
        elif self.answers[key] is None:
            self._send(404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                             "message": "Could not find experiment"})
        else:
            self._send(200, self.answers[key])

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        query = dict(parse_qsl(urlsplit(self.path).query))
        self._answer("GET", {k: _number(v) for k, v in query.items()})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer("POST", json.loads(self.rfile.read(length) or b"null"))

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def replay() -> Iterator[str]:
    Replay.answers = json.loads(RECORDED.read_text(encoding="utf-8"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _metrics(data: dict[str, Any]) -> dict[str, Any]:
    return {k: json.dumps(m["metrics"], sort_keys=True) for k, m in data["models"].items()}


def test_rest_matches_the_sqlite_store(replay: str, fixtures: Path) -> None:
    rest = canonical_summary(f"mlflow:{replay}?experiment=sweep-3")
    local = canonical_summary("mlflow:sqlite:///mlflow/mlflow.db?experiment=sweep-3")
    assert list(rest["models"]) == ["lr-0.01", "lr-0.03", "lr-0.1", "lr-nan"]
    assert _metrics(rest) == _metrics(local)  # float32 rounding, latest-wins, NaN alike
    assert rest["models"]["lr-0.03"]["metrics"]["val_acc"] == [0.82, 0.88, 0.89]
    assert rest["source"] == {"kind": "mlflow", "location": replay,
                              "experiments": ["sweep-3"], "files": {}}


def test_rest_all_experiments(replay: str, fixtures: Path) -> None:
    rest = canonical_summary(f"mlflow:{replay}")
    local = canonical_summary("mlflow:sqlite:///mlflow/mlflow.db")
    assert sorted(rest["models"]) == sorted(local["models"])


def test_rest_unknown_experiment(replay: str) -> None:
    with pytest.raises(SummaryError) as info:
        canonical_summary(f"mlflow:{replay}?experiment=prod")
    assert str(info.value) == (f'mlflow:{replay}?experiment=prod: experiment "prod" not found '
                               "(have: Default, sweep-3)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """A real `mlflow server` with a sqlite backend (a copy of the fixture store)."""
    exe = shutil.which("mlflow", path=os.path.dirname(sys.executable)) or shutil.which("mlflow")
    if exe is None:
        pytest.skip("mlflow is not installed (pip install mlflow): the real-server test "
                    "needs it; the replayed answers above cover the reader")
    shutil.copy(RECORDED.parent / "mlflow.db", tmp_path / "mlflow.db")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "server", "--backend-store-uri", "sqlite:///mlflow.db", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("mlflow server did not start")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_real_mlflow_server(mlflow_server: str, fixtures: Path) -> None:
    rest = canonical_summary(f"mlflow:{mlflow_server}?experiment=sweep-3")
    local = canonical_summary("mlflow:sqlite:///mlflow/mlflow.db?experiment=sweep-3")
    assert _metrics(rest) == _metrics(local)
    filtered = canonical_summary(f"mlflow:{mlflow_server}?filter=metrics.val_acc >= 0.89")
    assert sorted(filtered["models"]) == ["lr-0.01", "lr-0.03", "twin"]
    # write-back through the real server's runs/log-batch
    from pytest_model_gate.sources.mlflow_writeback import write_back

    run_id = rest["models"]["lr-0.1"]["run_id"]
    write_back(f"mlflow:{mlflow_server}", {run_id: {"model_gate.class": "REVIEW",
                                                    "model_gate.flags": "FITNESS_DECLINE"}})
    with urllib.request.urlopen(f"{mlflow_server}/api/2.0/mlflow/runs/get?run_id={run_id}",
                                timeout=10) as answer:
        tags = {t["key"]: t["value"] for t in json.load(answer)["run"]["data"]["tags"]}
    assert tags["model_gate.class"] == "REVIEW"
    assert tags["model_gate.flags"] == "FITNESS_DECLINE"
