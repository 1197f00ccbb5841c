"""MLflow tracking server (`mlflow:http://host:5000`) through its REST API, with urllib.

Every request has a timeout (`?timeout=S`, default 10 s), so an unreachable server is one
error line in bounded time. `MLFLOW_TRACKING_TOKEN` or `MLFLOW_TRACKING_USERNAME` /
`MLFLOW_TRACKING_PASSWORD` authenticate as the MLflow client does.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .canonical import SourceRead, fail, finite_or_text
from .mlflow_common import Experiment, Query, Run, as_str_map, models_of, select_experiments

API = "/api/2.0/mlflow/"
PAGE = 25000


class Client:
    """Tiny JSON client: GET/POST to one server, errors as the source's one line."""

    def __init__(self, spec: str, base: str, timeout: float) -> None:
        self.spec = spec
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif user:
            pair = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()

    def call(self, method: str, endpoint: str, payload: dict[str, Any] | None = None,
             *, missing_ok: bool = False) -> dict[str, Any] | None:
        url = self.base + API + endpoint
        data = None
        if method == "GET" and payload:
            url += "?" + urllib.parse.urlencode(payload, doseq=True)
        elif payload is not None:
            data = json.dumps(payload).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            if missing_ok and exc.code == 404:
                return None
            raise fail(self.spec, f"MLflow server answered {exc.code} to {endpoint}: "
                                  f"{_message(detail)}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise fail(self.spec, f"cannot reach the MLflow server at {self.base} "
                                  f"({reason}; timeout {self.timeout:g} s)") from None
        try:
            parsed = json.loads(body or b"{}")
        except ValueError:
            raise fail(self.spec, f"{endpoint}: the server's answer is not JSON") from None
        if not isinstance(parsed, dict):
            raise fail(self.spec, f"{endpoint}: unexpected answer from the server")
        return parsed


def _message(detail: str) -> str:
    try:
        return str(json.loads(detail).get("message", detail))
    except (ValueError, AttributeError):
        return detail.strip() or "no detail"


def _experiments(client: Client) -> list[Experiment]:
    out: list[Experiment] = []
    token: str | None = None
    while True:
        payload: dict[str, Any] = {"max_results": 1000, "view_type": "ACTIVE_ONLY"}
        if token:
            payload["page_token"] = token
        answer = client.call("POST", "experiments/search", payload) or {}
        for exp in answer.get("experiments", []):
            out.append(Experiment(id=str(exp.get("experiment_id")), name=str(exp.get("name")),
                                  active=exp.get("lifecycle_stage", "active") == "active"))
        token = answer.get("next_page_token")
        if not token:
            return out


def _runs(client: Client, chosen: list[Experiment], query: Query) -> list[Run]:
    by_id = {e.id: e for e in chosen}
    runs: list[Run] = []
    token: str | None = None
    while True:
        payload: dict[str, Any] = {"experiment_ids": list(by_id), "max_results": 1000,
                                   "run_view_type": "ACTIVE_ONLY",
                                   "order_by": ["attributes.start_time ASC"]}
        if query.filter:
            payload["filter"] = query.filter
        if token:
            payload["page_token"] = token
        answer = client.call("POST", "runs/search", payload) or {}
        for raw in answer.get("runs", []):
            info = raw.get("info", {})
            data = raw.get("data", {})
            tags = as_str_map(data.get("tags", []))
            exp = by_id.get(str(info.get("experiment_id")))
            if exp is None or info.get("lifecycle_stage", "active") != "active":
                continue
            runs.append(Run(id=str(info.get("run_id") or info.get("run_uuid")),
                            name=str(info.get("run_name") or tags.get("mlflow.runName", "")),
                            experiment=exp, status=str(info.get("status", "")),
                            start_time=int(info.get("start_time") or 0), tags=tags,
                            params=as_str_map(data.get("params", []))))
            run = runs[-1]
            for metric in data.get("metrics", []):
                run.latest[str(metric.get("key"))] = 0.0  # only the keys are needed here
        token = answer.get("next_page_token")
        if not token:
            return runs


def _history(client: Client, run: Run, key: str) -> None:
    token: str | None = None
    while True:
        params: dict[str, Any] = {"run_id": run.id, "metric_key": key, "max_results": PAGE}
        if token:
            params["page_token"] = token
        answer = client.call("GET", "metrics/get-history", params) or {}
        for point in answer.get("metrics", []):
            value = finite_or_text(point.get("value"))
            if not isinstance(value, float):
                continue
            run.add(key, int(point.get("step") or 0), int(point.get("timestamp") or 0), value)
        token = answer.get("next_page_token")
        if not token:
            return


def read(spec: str, location: str, query: Query) -> SourceRead:
    client = Client(spec, location, query.timeout)
    if query.experiments:
        experiments: list[Experiment] = []
        for name in query.experiments:
            answer = client.call("GET", "experiments/get-by-name", {"experiment_name": name},
                                 missing_ok=True)
            exp = (answer or {}).get("experiment")
            if exp is None or exp.get("lifecycle_stage", "active") != "active":
                experiments = _experiments(client)  # for the error's list of names
                break
            experiments.append(Experiment(id=str(exp["experiment_id"]), name=str(exp["name"])))
        chosen = select_experiments(spec, experiments, query.experiments)
    else:
        chosen = select_experiments(spec, _experiments(client), ())
    runs = _runs(client, chosen, query)
    for run in runs:
        for key in sorted(run.latest):
            _history(client, run, key)
    return SourceRead(spec=spec, kind="mlflow", location=location,
                      models=models_of(spec, runs), files={}, extra=query.record())
