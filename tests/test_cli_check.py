"""`model-gate check` end to end, in a subprocess: output, JSON shape, exit codes, bad input."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_model_gate.core.config import DEFAULT_CONFIG, load_config

GOOD = {"fitness_score": [0.62, 0.71, 0.78, 0.80], "profit_factor": 2.2, "consistency": 0.92,
        "max_drawdown": 0.05}
DROPPED = {"fitness_score": 0.3, "profit_factor": 2.2, "consistency": 0.92, "max_drawdown": 0.05}
REVIEWED = {"fitness_score": 0.6, "profit_factor": 2.2, "consistency": 0.92, "max_drawdown": 0.05}

DEFAULT_SPECS = {
    "fitness": {"key": "fitness_score", "higher_is_better": True, "approved": 0.70,
                "review": 0.50, "flag": "LOW_FITNESS"},
    "profit_factor": {"key": "profit_factor", "higher_is_better": True, "approved": 1.8,
                      "review": 1.3, "flag": "LOW_PF"},
    "consistency": {"key": "consistency", "higher_is_better": True, "approved": 0.85,
                    "review": 0.65, "flag": "LOW_CONSISTENCY"},
    "max_drawdown": {"key": "max_drawdown", "higher_is_better": False, "approved": 0.08,
                     "review": 0.15, "flag": "HIGH_DRAWDOWN"},
}
MODEL_KEYS = {"id", "symbol", "classification", "flags", "use_checkpoint", "best_idx",
              "checkpoint_update", "metrics"}
METRIC_KEYS = {"key", "value", "approved", "review", "higher_is_better", "tier"}


def model_gate(*args: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run([sys.executable, "-m", "pytest_model_gate.cli", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8",
                          timeout=120, check=False)


def _no_constants(name: str) -> Any:
    raise AssertionError(f"non-strict JSON token {name} in the output")


def strict_json(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constants)


def write_summary(tmp_path: Path, models: Any, name: str = "s.json", **run: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({**run, "models": models}), encoding="utf-8")
    return path


def listing(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


# --- an independent oracle of DESIGN.md's semantics, for the example files ------------------

def _final_and_history(model: dict[str, Any], key: str) -> tuple[float, list[float]]:
    block = model.get("metrics", model)
    value = block[key]
    if isinstance(value, list):
        return value[-1], value
    return value, block.get(key + "_history", [])


def oracle(model: dict[str, Any], specs: dict[str, dict[str, Any]], watched: str,
           decline_threshold: float, oscillation_threshold: float,
           interval: int | None) -> dict[str, Any]:
    tiers, flags = [], set()
    for spec in specs.values():
        value, _ = _final_and_history(model, spec["key"])
        assert math.isfinite(value)
        hib = spec["higher_is_better"]
        if (value >= spec["approved"]) if hib else (value <= spec["approved"]):
            tiers.append(0)
        elif (value >= spec["review"]) if hib else (value <= spec["review"]):
            tiers.append(1)
        else:
            tiers.append(2)
            flags.add(spec["flag"])
    final, history = _final_and_history(model, specs[watched]["key"])
    best_idx = checkpoint = None
    declining = False
    if history:
        peak = max(history)
        best_idx = history.index(peak)
        scale = abs(peak) if peak != 0 else 1.0
        declining = (peak - final) / scale > decline_threshold
        drops = [history[i] - history[i + 1] for i in range(len(history) - 1)]
        if max(drops, default=0.0) / scale > oscillation_threshold:
            flags.add("UNSTABLE_TRAINING")
        if declining:
            flags.add("FITNESS_DECLINE")
            checkpoint = (best_idx + 1) * interval if interval else None
    return {"classification": ("APPROVED", "REVIEW", "DROP")[max(tiers)],
            "flags": sorted(flags), "use_checkpoint": declining, "best_idx": best_idx,
            "checkpoint_update": checkpoint}


def check_document(doc: dict[str, Any], summary_path: Path, shown_path: str,
                   config_digest: str) -> None:
    """The documented `--format json` shape (DESIGN.md, "The command line")."""
    raw = summary_path.read_bytes()
    data = json.loads(raw)
    assert doc["schema"] == 1
    assert doc["summary"]["path"] == shown_path
    assert doc["summary"]["sha256"] == hashlib.sha256(raw).hexdigest()
    for key, value in data.items():  # run metadata rides along (strict JSON: NaN -> null)
        if key not in ("models", "timestamp"):
            finite = not isinstance(value, float) or math.isfinite(value)
            assert doc["summary"][key] == (value if finite else None)
    timestamp = data.get("timestamp")
    assert doc["summary"]["timestamp"] == (None if timestamp is None else str(timestamp))
    assert doc["config_sha256"] == config_digest
    assert list(doc["counts"]) == ["APPROVED", "REVIEW", "DROP"]
    models = data["models"]
    ids = list(models) if isinstance(models, dict) else [
        m.get("id", m.get("name", m.get("symbol"))) for m in models]
    assert [m["id"] for m in doc["models"]] == ids
    for record in doc["models"]:
        assert set(record) >= MODEL_KEYS
        assert isinstance(record["symbol"], str)
        assert record["classification"] in ("APPROVED", "REVIEW", "DROP")
        assert record["flags"] == sorted(set(record["flags"]))
        assert isinstance(record["use_checkpoint"], bool)
        assert record["best_idx"] is None or isinstance(record["best_idx"], int)
        assert record["checkpoint_update"] is None or isinstance(record["checkpoint_update"],
                                                                 int)
        for metric in record["metrics"].values():
            assert set(metric) >= METRIC_KEYS
            assert metric["tier"] in ("APPROVED", "REVIEW", "DROP")
            assert isinstance(metric["higher_is_better"], bool)
    tally = {t: sum(m["classification"] == t for m in doc["models"])
             for t in ("APPROVED", "REVIEW", "DROP")}
    assert doc["counts"] == tally


# --- the example summaries ---------------------------------------------------------------------

def test_trading_example_text(tmp_path: Path, trading_summary: Path) -> None:
    result = model_gate("check", trading_summary, "--no-archive", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    assert f"{trading_summary}: 24 models: 13 APPROVED, 9 REVIEW, 2 DROP" in result.stdout
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()
            if line.split() and line.split()[0].endswith("Min")}
    assert rows["MSFT_1Min"] == rows["SOLUSD_1Min"] == "DROP"
    assert rows["AAPL_1Min"] == "REVIEW"
    assert rows["AMZN_1Min"] == "APPROVED"
    assert len(rows) == 24
    assert "checkpoint: QQQ_1Min: use the checkpoint at update 80" in result.stdout
    assert not (tmp_path / "training_archives").exists()


def test_trading_example_json(tmp_path: Path, trading_summary: Path) -> None:
    result = model_gate("check", trading_summary, "--no-archive", "--format", "json",
                        cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    doc = strict_json(result.stdout)
    check_document(doc, trading_summary, str(trading_summary), DEFAULT_CONFIG.digest())
    assert doc["counts"] == {"APPROVED": 13, "REVIEW": 9, "DROP": 2}
    data = json.loads(trading_summary.read_text(encoding="utf-8"))
    for record in doc["models"]:
        model = data["models"][record["id"]]
        assert record["symbol"] == model["symbol"]
        expected = oracle(model, DEFAULT_SPECS, "fitness", 0.05, 0.10, 40)
        assert {k: record[k] for k in expected} == expected, record["id"]
        assert list(record["metrics"]) == list(DEFAULT_SPECS)
        for name, spec in DEFAULT_SPECS.items():
            metric = record["metrics"][name]
            assert metric["key"] == spec["key"]
            assert metric["value"] == model["metrics"][spec["key"]][-1]
            assert (metric["approved"], metric["review"], metric["higher_is_better"]) == (
                spec["approved"], spec["review"], spec["higher_is_better"])


def _classifier_oracle(summary: Path, config: Path) -> list[dict[str, Any]]:
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    specs = {name: {"key": s.get("key", name), "higher_is_better": s.get("higher_is_better", True),
                    "approved": s["approved"], "review": s["review"], "flag": s["flag"]}
             for name, s in raw["metrics"].items()}
    of = raw["overfitting"]
    return [{"id": m["name"], **oracle(m, specs, of["metric"], of["decline_threshold"],
                                       of["oscillation_threshold"], m["validation_interval"])}
            for m in json.loads(summary.read_text(encoding="utf-8"))["models"]]


def test_classifier_example_with_config(tmp_path: Path, classifier_summary: Path,
                                        classifier_config: Path) -> None:
    result = model_gate("check", classifier_summary, "--config", classifier_config,
                        "--no-archive", "--report", tmp_path / "r.md", "--format", "json",
                        cwd=tmp_path)
    doc = strict_json(result.stdout)
    check_document(doc, classifier_summary, str(classifier_summary),
                   load_config(classifier_config).digest())
    expected = _classifier_oracle(classifier_summary, classifier_config)
    assert [{k: r[k] for k in expected[0]} for r in doc["models"]] == expected
    dropped = any(r["classification"] == "DROP" for r in expected)
    assert result.returncode == (1 if dropped else 0)
    assert list(doc["models"][0]["metrics"]) == ["accuracy", "f1", "latency"]
    assert doc["models"][0]["metrics"]["latency"]["higher_is_better"] is False
    assert (tmp_path / "r.md").is_file()


def test_classifier_example_with_discovered_gate_yaml(tmp_path: Path, classifier_summary: Path,
                                                      classifier_config: Path) -> None:
    shutil.copy(classifier_config, tmp_path / "gate.yaml")
    shutil.copy(classifier_summary, tmp_path / "sweep.json")
    result = model_gate("check", "sweep.json", "--no-archive", "--format", "json", cwd=tmp_path)
    doc = strict_json(result.stdout)
    assert doc["config_sha256"] == load_config(classifier_config).digest()
    expected = _classifier_oracle(classifier_summary, classifier_config)
    assert [r["classification"] for r in doc["models"]] == [
        r["classification"] for r in expected]
    assert doc["summary"]["experiment"] == "cifar-sweep-42"
    # the config's relative report path resolves against the config's folder
    assert (tmp_path / "sweep-report.md").is_file()
    assert not (tmp_path / "sweep_archives").exists()


def test_classifier_example_without_its_config_is_bad_input(tmp_path: Path,
                                                            classifier_summary: Path) -> None:
    """No gated metric in any model is a setup mistake (exit 2, what was found), never
    12 silent DROP verdicts."""
    result = model_gate("check", classifier_summary, "--no-archive", "--format", "json",
                        cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"model-gate: error: {classifier_summary}: no gated metric found in any of 12 models")
    assert "models carry metric keys val_accuracy, val_f1, p95_latency_ms" in result.stderr


# --- exit codes, strict JSON, config discovery -----------------------------------------------

@pytest.mark.parametrize(("models", "code", "counts"), [
    pytest.param({"A_1": GOOD}, 0, [1, 0, 0], id="approved"),
    pytest.param({"A_1": GOOD, "B_1": REVIEWED}, 0, [1, 1, 0], id="review-does-not-block"),
    pytest.param({"A_1": GOOD, "B_1": REVIEWED, "C_1": DROPPED}, 1, [1, 1, 1], id="dropped"),
])
def test_exit_status(tmp_path: Path, models: dict[str, Any], code: int,
                     counts: list[int]) -> None:
    path = write_summary(tmp_path, models)
    result = model_gate("check", path.name, "--no-archive", "--format", "json", cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert list(strict_json(result.stdout)["counts"].values()) == counts


def test_non_finite_and_missing_values_are_null_in_strict_json(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(
        '{"timestamp": 20251227, "score": NaN, "models": [{"symbol": "AAPL", "metrics": {'
        '"fitness_score": [0.7, NaN, 0.9, Infinity], "profit_factor": -Infinity, '
        '"consistency": null}}]}', encoding="utf-8")
    result = model_gate("check", "s.json", "--no-archive", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "NaN" not in result.stdout and "Infinity" not in result.stdout
    doc = strict_json(result.stdout)
    check_document(doc, tmp_path / "s.json", "s.json", DEFAULT_CONFIG.digest())
    record = doc["models"][0]
    assert (record["id"], record["symbol"], record["classification"]) == ("AAPL", "AAPL", "DROP")
    assert record["flags"] == ["INVALID_METRIC", "MISSING_METRIC"]
    metrics = record["metrics"]
    assert [metrics[n]["value"] for n in DEFAULT_SPECS] == [None, None, None, None]
    assert [metrics[n]["tier"] for n in DEFAULT_SPECS] == ["DROP"] * 4
    assert record["best_idx"] == 2
    assert doc["summary"]["score"] is None
    assert doc["summary"]["timestamp"] == "20251227"


def test_json_checkpoint_fields(tmp_path: Path) -> None:
    path = write_summary(tmp_path, {"AAPL_1Hour": {"metrics": {
        "fitness_score": [0.55, 0.70, 0.60, 0.58], "profit_factor": 1.4, "consistency": 0.70,
        "max_drawdown": 0.12}}}, validation_interval=40)
    result = model_gate("check", path.name, "--no-archive", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = strict_json(result.stdout)["models"][0]
    assert {k: record[k] for k in ("classification", "flags", "use_checkpoint", "best_idx",
                                   "checkpoint_update")} == {
        "classification": "REVIEW", "flags": ["FITNESS_DECLINE", "UNSTABLE_TRAINING"],
        "use_checkpoint": True, "best_idx": 1, "checkpoint_update": 80}
    assert record["metrics"]["fitness"] == {**record["metrics"]["fitness"], **{
        "key": "fitness_score", "value": 0.58, "approved": 0.7, "review": 0.5,
        "higher_is_better": True, "tier": "REVIEW"}}


STRICT_GATE = "metrics:\n  fitness: {approved: 0.95, review: 0.9}\nreport: null\n"


def test_gate_yaml_in_the_current_directory_is_used(tmp_path: Path) -> None:
    path = write_summary(tmp_path, {"A_1": GOOD})
    (tmp_path / "gate.yaml").write_text(STRICT_GATE, encoding="utf-8")
    result = model_gate("check", path.name, "--no-archive", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    doc = strict_json(result.stdout)
    assert doc["config_sha256"] == load_config(tmp_path / "gate.yaml").digest()
    assert list(doc["models"][0]["metrics"]) == ["fitness"]
    assert not (tmp_path / "model-gate-report.md").exists()  # report: null


def test_config_option_beats_gate_yaml(tmp_path: Path) -> None:
    path = write_summary(tmp_path, {"A_1": GOOD})
    (tmp_path / "gate.yaml").write_text(STRICT_GATE, encoding="utf-8")
    (tmp_path / "lenient.yaml").write_text("metrics:\n  fitness: {approved: 0.5}\n",
                                           encoding="utf-8")
    result = model_gate("check", path.name, "--config", "lenient.yaml", "--no-archive",
                        "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["config_sha256"] == load_config(tmp_path / "lenient.yaml").digest()


def test_gate_yaml_beyond_the_repository_root_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text(STRICT_GATE, encoding="utf-8")
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)  # the repository root: the walk stops here
    path = write_summary(work, {"A_1": GOOD})
    result = model_gate("check", path, "--no-archive", "--format", "json", cwd=work)
    assert result.returncode == 0, result.stderr
    assert strict_json(result.stdout)["config_sha256"] == DEFAULT_CONFIG.digest()
    assert result.stderr == (
        f"model-gate: warning: using the built-in defaults: no gate.yaml between {work} and "
        f"the repository root {work}; {tmp_path / 'gate.yaml'} lies beyond it and is not used "
        "(name it with --model-gate-config / --config to use it)\n")


def test_gate_yaml_found_walking_up_to_the_repository_root(tmp_path: Path) -> None:
    """`cd runs && model-gate check s.json` uses the project's gate.yaml, and its archive
    and report resolve against the gate.yaml's folder, not the current one."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "gate.yaml").write_text("metrics:\n  fitness: {approved: 0.95, review: 0.9}\n",
                                        encoding="utf-8")
    runs = tmp_path / "runs" / "today"
    runs.mkdir(parents=True)
    path = write_summary(runs, {"A_1": GOOD})
    result = model_gate("check", path, "--format", "json", cwd=runs)
    assert strict_json(result.stdout)["config_sha256"] == load_config(
        tmp_path / "gate.yaml").digest()
    assert (tmp_path / "training_archives").is_dir()
    assert (tmp_path / "model-gate-report.md").is_file()
    assert not (runs / "training_archives").exists()
    assert not (runs / "model-gate-report.md").exists()


def test_yaml_summary_and_list_shape(tmp_path: Path) -> None:
    (tmp_path / "s.yml").write_text(
        "validation_interval: 10\nresults:\n"
        "  - {name: m_a, fitness: [0.9, 0.7], pf: 2, final_consistency: 0.9, max_dd: 0.01}\n"
        "  - {name: m_b, validation_metrics: {fitness_score: .nan, profit_factor: 2,"
        " consistency: 0.9, max_drawdown: 0.01}}\n", encoding="utf-8")
    result = model_gate("check", "s.yml", "--no-archive", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    models = strict_json(result.stdout)["models"]
    assert [(m["id"], m["classification"]) for m in models] == [("m_a", "APPROVED"),
                                                                ("m_b", "DROP")]
    assert models[0]["checkpoint_update"] == 10
    assert models[0]["metrics"]["profit_factor"]["key"] == "pf"
    assert models[1]["flags"] == ["INVALID_METRIC"]


def test_text_output_marks_and_report(tmp_path: Path) -> None:
    path = write_summary(tmp_path, {"AAPL_1Hour": GOOD, "MSFT_1Hour": REVIEWED,
                                    "TSLA_1Hour": DROPPED})
    result = model_gate("check", path.name, "--no-archive", "--report", "out/r.md", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "s.json: 3 models: 1 APPROVED, 1 REVIEW, 1 DROP"
    assert lines[1].split()[:6] == ["model", "class", "fitness", "profit_factor", "consistency",
                                    "max_drawdown"]
    assert lines[2].split()[:3] == ["AAPL_1Hour", "APPROVED", "0.8"]
    assert lines[3].split()[:3] == ["MSFT_1Hour", "REVIEW", "0.6*"]
    assert lines[4].split()[:3] == ["TSLA_1Hour", "DROP", "0.3!"]
    assert "LOW_FITNESS" in lines[4]
    assert (tmp_path / "out" / "r.md").is_file()
    assert not (tmp_path / "training_archives").exists()


def test_console_script_is_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "model-gate"
    if not script.exists():
        pytest.skip("console script not installed next to this interpreter")
    path = write_summary(tmp_path, {"A_1": GOOD})
    result = subprocess.run([str(script), "check", path.name, "--no-archive"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "1 APPROVED" in result.stdout


# --- bad input: exit 2, one clear line naming file and place, nothing written ----------------

def _metrics(**changes: Any) -> dict[str, Any]:
    return {"AAPL_1Hour": {"metrics": {**GOOD, **changes}}}


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


MALFORMED: list[Any] = [
    # (files, extra args, expected fragments of the error line)
    pytest.param({"s.json": b'{"models": {"AAPL_1Hour": '}, [],
                 ["s.json:1: invalid JSON"], id="invalid-json"),
    pytest.param({"s.json": b""}, [], ["s.json:1: invalid JSON"], id="empty-file"),
    pytest.param({"s.json": b'{"models": {"A\xff_1": {}}}'}, [],
                 ["s.json: not valid UTF-8"], id="not-utf8"),
    pytest.param({"s.json": b'[{"id": "A"}]'}, [],
                 ["s.json: expected a JSON object at the top, got a list"], id="top-level-list"),
    pytest.param({"s.json": _json({"runs": {"A": GOOD}})}, [],
                 ["s.json: no models found", "'models' / 'symbols' / 'results'"],
                 id="no-container-key"),
    pytest.param({"s.json": _json({"models": {}})}, [],
                 ["s.json: models: the summary holds no models"], id="empty-models-mapping"),
    pytest.param({"s.json": _json({"symbols": []})}, [],
                 ["s.json: symbols: the summary holds no models"], id="empty-models-list"),
    pytest.param({"s.json": _json({"models": "AAPL"})}, [],
                 ["s.json: models: expected an object or a list of models"],
                 id="container-is-a-string"),
    pytest.param({"s.json": _json({"models": {"AAPL_1Hour": [0.8]}})}, [],
                 ["s.json: models.AAPL_1Hour: expected a model object, got a list"],
                 id="model-not-an-object"),
    pytest.param({"s.json": _json({"models": ["AAPL_1Hour"]})}, [],
                 ['s.json: models[0]: expected a model object, got "AAPL_1Hour"'],
                 id="list-model-not-an-object"),
    pytest.param({"s.json": _json({"models": [{"metrics": GOOD}]})}, [],
                 ['s.json: models[0]: a model needs an "id", "name" or "symbol"'],
                 id="list-model-without-id"),
    pytest.param({"s.json": _json({"models": [{"id": "", "metrics": GOOD}]})}, [],
                 ["s.json: models[0].id: a model id must not be empty"], id="empty-id"),
    pytest.param({"s.json": _json({"models": {"": {"metrics": GOOD}}})}, [],
                 ['s.json: models[""]: a model id must not be empty'], id="empty-mapping-id"),
    pytest.param({"s.json": _json({"models": [{"id": "A_1", **GOOD}, {"name": "A_1", **GOOD}]})},
                 [], ["s.json: models[1]: model id 'A_1' is used twice (first at models[0])"],
                 id="duplicate-list-id"),
    pytest.param({"s.json": b'{"models": {"A_1": {"fitness_score": 1}, "A_1": {}}}'}, [],
                 ['s.json: duplicate key "A_1"'], id="duplicate-json-key"),
    pytest.param({"s.yaml": b"models:\n  A_1: {fitness_score: 0.1}\n  A_1: {fitness_score: 1}\n"},
                 [], ['s.yaml:3: invalid YAML: duplicate key "A_1"'], id="duplicate-yaml-key"),
    pytest.param({"s.yaml": b"models:\n  A_1: {fitness_score: [0.5,\n"}, [],
                 ["s.yaml:", "invalid YAML"], id="invalid-yaml"),
    pytest.param({"s.json": _json({"models": {"AAPL_1Hour": {"metrics": [0.8, 2.0]}}})}, [],
                 ["s.json: models.AAPL_1Hour.metrics: expected an object of metrics, got a list"],
                 id="metrics-block-not-an-object"),
    pytest.param({"s.json": _json({"models": _metrics(profit_factor=[1.6, 1.9, 2.1, "n/a"])})},
                 [], ['s.json: models.AAPL_1Hour.metrics.profit_factor[3]: '
                      'expected a number, got "n/a"'], id="string-in-history"),
    pytest.param({"s.json": _json({"models": _metrics(consistency="0.9")})}, [],
                 ['s.json: models.AAPL_1Hour.metrics.consistency: '
                  'expected a number or a list of numbers, got "0.9"'], id="string-metric"),
    pytest.param({"s.json": _json({"models": _metrics(max_drawdown=False)})}, [],
                 ["s.json: models.AAPL_1Hour.metrics.max_drawdown: "
                  "expected a number or a list of numbers, got false"], id="bool-metric"),
    pytest.param({"s.json": _json({"models": _metrics(fitness_score=[0.5, True, 0.7])})}, [],
                 ["s.json: models.AAPL_1Hour.metrics.fitness_score[1]: "
                  "expected a number, got true"], id="bool-in-history"),
    pytest.param({"s.json": _json({"models": [{"id": "A_1", **GOOD, "pf": 1, "profit_factor":
                                               {"last": 2}}]})}, [],
                 ["s.json: models[0].profit_factor: expected a number or a list of numbers, "
                  "got an object"], id="flat-metric-is-an-object"),
    pytest.param({"s.json": _json({"models": _metrics(fitness_score=0.8,
                                                      fitness_score_history=0.8)})}, [],
                 ["s.json: models.AAPL_1Hour.metrics.fitness_score_history: "
                  "expected a list of numbers, got 0.8"], id="history-not-a-list"),
    pytest.param({"s.json": _json({"models": _metrics(fitness_score_history=[0.5, "x"])})}, [],
                 ['s.json: models.AAPL_1Hour.metrics.fitness_score_history[1]: '
                  'expected a number, got "x"'], id="string-in-history-suffix"),
    pytest.param({"s.json": _json({"models": _metrics(fitness_score_history=[0.7, 0.8])})},
                 [], ["s.json: models.AAPL_1Hour.metrics.fitness_score: given as a history and "
                      "also as fitness_score_history"], id="list-and-history-suffix"),
    pytest.param({"s.json": _json({"validation_interval": 0, "models": _metrics()})}, [],
                 ["s.json: validation_interval: expected a positive whole number, got 0"],
                 id="interval-zero"),
    pytest.param({"s.json": _json({"models": {"AAPL_1Hour": {"validation_interval": 1.5,
                                                             "metrics": GOOD}}})}, [],
                 ["s.json: models.AAPL_1Hour.validation_interval: expected a positive whole "
                  "number, got 1.5"], id="interval-fraction"),
    pytest.param({"s.json": _json({"models": [{"id": "A_1", "validation_interval": "40",
                                               **GOOD}]})}, [],
                 ['s.json: models[0].validation_interval: expected a positive whole number, '
                  'got "40"'], id="interval-string"),
    pytest.param({"s.json": _json({"models": _metrics()}),
                  "gate.yaml": b"metrics:\n  fitness:\n    aproved: 0.8\n"}, [],
                 ["gate.yaml:3: metrics.fitness.aproved: unknown key 'aproved' "
                  "(did you mean 'approved'?)"], id="unknown-config-key-discovered"),
    pytest.param({"s.json": _json({"models": _metrics()}),
                  "strict.yaml": b"version: 1\nmetrics:\n  max_drawdown: {approved: 0.2, "
                                 b"review: 0.1}\n"}, ["--config", "strict.yaml"],
                 ["strict.yaml:3: metrics.max_drawdown: review bound 0.1 is stricter than "
                  "approved bound 0.2"], id="inverted-bounds"),
    pytest.param({"s.json": _json({"models": _metrics()}),
                  "gate.yaml": b"on_review: skip\n"}, [],
                 ["gate.yaml:1: on_review:", '"skip"'], id="bad-on-review"),
    pytest.param({"s.json": _json({"models": _metrics()}),
                  "gate.yaml": b"overfitting: {metric: accuracy}\n"}, [],
                 ["gate.yaml:1: overfitting.metric: 'accuracy' is not a gated metric"],
                 id="overfitting-metric-not-gated"),
    pytest.param({"s.json": _json({"models": _metrics()}),
                  "gate.yaml": b"metrics:\n  fitness: {approved: .nan}\n"}, [],
                 ["gate.yaml:2: metrics.fitness.approved: expected a finite number"],
                 id="nan-bound"),
    pytest.param({"s.json": _json({"models": _metrics()}),
                  "gate.yaml": b"metrics:\n  fitness: {approved: 0.8\n"}, [],
                 ["gate.yaml:3: invalid YAML"], id="invalid-config-yaml"),
    pytest.param({"s.json": _json({"models": _metrics()})}, ["--config", "nope.yaml"],
                 ["nope.yaml: config file not found"], id="missing-config-file"),
    pytest.param({}, [], ["s.json: summary file not found"], id="missing-summary"),
    pytest.param({"s.json/x": b"{}"}, [], ["s.json: is a directory"], id="summary-is-a-directory"),
]


@pytest.mark.parametrize(("files", "args", "expected"), MALFORMED)
def test_bad_input(tmp_path: Path, files: dict[str, bytes], args: list[str],
                   expected: list[str]) -> None:
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    summary = "s.yaml" if "s.yaml" in files else "s.json"
    before = listing(tmp_path)
    # no --no-archive: if anything got past validation it would archive and report here
    result = model_gate("check", summary, *args, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("model-gate: error: ")
    for fragment in expected:
        assert fragment in lines[0]
    assert listing(tmp_path) == before  # no archive, no report


def test_bad_option_is_a_usage_error(tmp_path: Path) -> None:
    path = write_summary(tmp_path, {"A_1": GOOD})
    result = model_gate("check", path.name, "--format", "xml", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid choice: 'xml'" in result.stderr
    assert listing(tmp_path) == {"s.json"}
