"""Baselines: each model gated against its own archived history (README "Baselines").

The archive scenarios run against a local folder and against S3 (moto's server); the same
verdict is checked through the Python API, `model-gate check` and the pytest plugin.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_model_gate import pipeline as runner
from pytest_model_gate.api import ArchivedRun, TrainingArchiveManager
from pytest_model_gate.archive.manager import Archive
from pytest_model_gate.archive.storage import FsspecStorage, LocalStorage
from pytest_model_gate.core.config import GateConfig, parse_config
from pytest_model_gate.core.document import assessment_record, parse_run_document
from pytest_model_gate.core.explain import explain
from pytest_model_gate.core.gating import (
    BASELINE_UNUSABLE,
    NO_BASELINE,
    REGRESSION,
    Assessment,
    BaselineValue,
    assess,
)
from pytest_model_gate.core.summary import MetricSeries, SummaryModel
from pytest_model_gate.report.html import render_html
from pytest_model_gate.report.markdown import render_markdown
from pytest_model_gate.report.view import ReportSection


def _section(doc: dict[str, Any]) -> ReportSection:
    """A report section from a partial run document (the parser fills what it lacks)."""
    return ReportSection(parse_run_document(doc, "doc"))


# Wide absolute bounds: a model is APPROVED on its values, so a change of class below is
# the baseline's doing. fitness: higher is better; max_drawdown: lower is better.
METRICS = {"fitness": {"approved": 0.5, "review": 0.3},
           "max_drawdown": {"approved": 0.5, "review": 0.9}}
LIMITS = {"fitness": 0.10, "max_drawdown": 0.25}
RID = "20260101T000000.000000Z-000001"


def gate_config(**baseline: Any) -> dict[str, Any]:
    return {"metrics": METRICS, "report": None,
            "baseline": {"max_decline": LIMITS, **baseline}}


def cfg(**baseline: Any) -> GateConfig:
    return parse_config(gate_config(**baseline))


def summary(models: Mapping[str, tuple[float, float]], ts: str) -> dict[str, Any]:
    """model id -> (final fitness, max drawdown); the fitness history rises to its end."""
    return {"timestamp": ts, "models": {
        mid: {"metrics": {"fitness_score": [fit * 0.9 if math.isfinite(fit) else 0.5, fit],
                          "max_drawdown": dd}}
        for mid, (fit, dd) in models.items()}}


def verdicts(assessments: Sequence[Assessment]) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {a.model_id: (a.classification, a.flags) for a in assessments}


def doc_verdicts(doc: Mapping[str, Any]) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {m["id"]: (m["classification"], tuple(m["flags"])) for m in doc["models"]}


def by_id(run: ArchivedRun) -> dict[str, Assessment]:
    return {a.model_id: a for a in run.assessments}


@pytest.fixture(params=["local", "s3"])
def archive_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "archive")
    url: str = request.getfixturevalue("s3_url")
    return url


def gate(url: str, config: GateConfig, models: Mapping[str, tuple[float, float]],
         ts: str, **kwargs: Any) -> ArchivedRun:
    return TrainingArchiveManager(url, config=config).archive_training_run(
        summary(models, ts), **kwargs)


# --- the rules, on the pure gate ---------------------------------------------------------------

def _model(fitness: float, drawdown: float) -> SummaryModel:
    return SummaryModel.from_values("A_1", {
        "fitness_score": MetricSeries(final=fitness, history=(fitness,)),
        "max_drawdown": MetricSeries(final=drawdown, history=())})


@pytest.mark.parametrize(("fitness", "drawdown", "regressed"), [
    (0.75, 0.5, set()),                      # exactly the limit (25% of 1.0): not past it
    (0.74, 0.5, {"fitness"}),
    (1.0, 0.625, set()),                     # drawdown +25%: exactly the limit
    (1.0, 0.63, {"max_drawdown"}),           # a drawdown that grows is a decline
    (1.5, 0.2, set()),                       # improvements never regress
    (0.5, 0.9, {"fitness", "max_drawdown"}),
])
def test_decline_is_direction_aware_and_strict(fitness: float, drawdown: float,
                                               regressed: set[str]) -> None:
    config = parse_config({"metrics": {"fitness": {"approved": 0.1, "review": 0.05},
                                       "max_drawdown": {"approved": 1.0, "review": 2.0}},
                           "baseline": {"max_decline": {"fitness": 0.25,
                                                        "max_drawdown": 0.25}}})
    base = {"fitness": BaselineValue(1.0, RID), "max_drawdown": BaselineValue(0.5, RID)}
    a = assess(_model(fitness, drawdown), config, base)
    assert {r.metric for r in a.regressions} == regressed
    assert (REGRESSION in a.flags) == bool(regressed)
    assert a.classification == ("REVIEW" if regressed else "APPROVED")


@pytest.mark.parametrize("base", [
    pytest.param({"fitness": BaselineValue(math.nan, RID)}, id="nan"),
    pytest.param({"fitness": BaselineValue(math.inf, RID)}, id="inf"),
    pytest.param({"fitness": BaselineValue(-math.inf, RID)}, id="-inf"),
    pytest.param({"max_drawdown": BaselineValue(0.2, RID)}, id="absent"),
])
def test_unusable_baseline_value_is_flagged_not_passed(base: dict[str, BaselineValue]
                                                       ) -> None:
    a = assess(_model(0.11, 0.2), cfg(), base)  # fitness 0.11: below anything archived
    assert BASELINE_UNUSABLE in a.flags and NO_BASELINE not in a.flags
    assert REGRESSION not in a.flags and a.regressions == ()
    assert a.classification == "DROP"  # the absolute bounds still apply (0.11 < 0.3)
    record = assessment_record(a)
    json.dumps(record, allow_nan=False)  # strict JSON: a non-finite baseline is null
    if "fitness" in base:
        assert record["baseline"]["fitness"] == {"value": None, "run_id": RID}
    text = render_markdown([_section({"schema": 1, "models": [record], "config": {}})])
    row = text.split("| A_1 |")[1].split("\n")[0].split("|")
    assert "0.11" in row[0] and "Δ" not in row[0]  # the fitness cell: no delta


def test_zero_baseline_compares_the_absolute_change() -> None:
    config = cfg(against="last")
    base = {"fitness": BaselineValue(0.6, RID), "max_drawdown": BaselineValue(0.0, RID)}
    small = assess(_model(0.6, 0.2), config, base)  # +0.2 absolute <= 0.25
    assert small.regressions == () and small.classification == "APPROVED"
    big = assess(_model(0.6, 0.3), config, base)  # +0.3 absolute > 0.25
    (r,) = big.regressions
    assert (r.metric, r.relative, r.change, r.limit) == ("max_drawdown", False, 0.3, 0.25)
    assert big.classification == "REVIEW"
    assert ("regression: max_drawdown 0.3 vs baseline 0 from run " + RID
            + " (0.3 worse (absolute, baseline 0), limit 0.25)") in explain(big)
    record = assessment_record(big)
    assert record["regressions"][0]["relative"] is False
    text = render_markdown([_section({"schema": 1, "models": [record], "config": {}})])
    assert "**Δ+0.3 abs**" in text
    assert "| 0 | `" + RID + "` | 0.3 | 0.3 worse (absolute, baseline 0) | 0.25 |" in text
    html = render_html([_section({"schema": 1, "models": [record], "config": {}})])
    assert '<b class="dn">Δ+0.3 abs</b>' in html  # bold: a regression; "dn": worse
    assert ('<td class="n dn">0.3 worse (absolute, baseline 0)</td><td class="n">0.25</td>'
            in html)
    same = assess(_model(0.6, 0.0), config, base)
    assert same.regressions == () and "Δ0" in render_markdown(
        [_section({"schema": 1, "models": [assessment_record(same)], "config": {}})])


# --- real archives ------------------------------------------------------------------------------

def test_first_run_is_all_no_baseline(archive_url: str) -> None:
    run = gate(archive_url, cfg(), {"A_1": (0.9, 0.1), "B_1": (0.2, 0.1), "C_1": (0.4, 0.1)},
               "1")
    assert verdicts(run.assessments) == {
        "A_1": ("APPROVED", (NO_BASELINE,)),
        "B_1": ("DROP", ("LOW_FITNESS", NO_BASELINE)),
        "C_1": ("REVIEW", (NO_BASELINE,))}
    assert all(m["baseline"] == {} and m["regressions"] == [] for m in run.document["models"])


@pytest.mark.parametrize("on_regression", ["review", "drop"])
def test_second_run_flags_exactly_the_models_past_the_limit(archive_url: str,
                                                            on_regression: str) -> None:
    config = cfg(on_regression=on_regression, against="last")
    first = gate(archive_url, config, {
        "FALL_1": (0.9, 0.1), "SLIP_1": (0.9, 0.1), "DD_1": (0.9, 0.1), "UP_1": (0.9, 0.1),
        "WEAK_1": (0.4, 0.1)}, "1")
    second = gate(archive_url, config, {
        "FALL_1": (0.72, 0.1),   # fitness -20%: past 10%
        "SLIP_1": (0.85, 0.12),  # fitness -5.6%, drawdown +20%: within both limits
        "DD_1": (0.9, 0.15),     # drawdown +50%: past 25% (lower is better)
        "UP_1": (0.99, 0.05),    # better on both
        "WEAK_1": (0.34, 0.1),   # REVIEW on its value, and fitness -15%
        "NEW_1": (0.9, 0.1)}, "2")
    floor = "DROP" if on_regression == "drop" else "REVIEW"
    assert verdicts(second.assessments) == {
        "FALL_1": (floor, (REGRESSION,)),
        "SLIP_1": ("APPROVED", ()),
        "DD_1": (floor, (REGRESSION,)),
        "UP_1": ("APPROVED", ()),
        "WEAK_1": (floor, (REGRESSION,)),
        "NEW_1": ("APPROVED", (NO_BASELINE,))}
    a = by_id(second)
    (fall,) = a["FALL_1"].regressions
    assert (fall.metric, fall.baseline, fall.value, fall.run_id) == (
        "fitness", 0.9, 0.72, first.run_id)
    assert fall.change == pytest.approx(0.2)
    assert (f"regression: fitness 0.72 vs baseline 0.9 from run {first.run_id} "
            "(20.0% worse, limit 10.0%)") in explain(a["FALL_1"])
    (dd,) = a["DD_1"].regressions
    assert dd.metric == "max_drawdown" and dd.change == pytest.approx(0.5)
    assert (f"regression: max_drawdown 0.15 vs baseline 0.1 from run {first.run_id} "
            "(50.0% worse, limit 25.0%)") in explain(a["DD_1"])
    # The archived document and report carry the baseline and the delta of every metric.
    model = next(m for m in second.document["models"] if m["id"] == "SLIP_1")
    assert model["baseline"] == {"fitness": {"value": 0.9, "run_id": first.run_id},
                                 "max_drawdown": {"value": 0.1, "run_id": first.run_id}}
    report = TrainingArchiveManager(archive_url).load_report(second.run_id)
    assert "### Regressions against the baseline" in report
    assert (f"| FALL_1 | fitness | 0.9 | `{first.run_id}` | 0.72 | 20.0% worse | 10.0% |"
            in report)
    assert "0.85 Δ-5.6%" in report and "0.12 Δ+20.0%" in report
    assert "0.72 **Δ-20.0%**" in report


def test_last_approved_skips_a_dropped_run(archive_url: str) -> None:
    config = cfg()  # against: last_approved (the default)
    first = gate(archive_url, config, {"A_1": (0.9, 0.1), "R_1": (0.4, 0.1)}, "1")
    dropped = gate(archive_url, config, {"A_1": (0.2, 0.1), "R_1": (0.4, 0.1)}, "2")
    assert by_id(dropped)["A_1"].classification == "DROP"
    assert verdicts(dropped.assessments)["R_1"] == ("REVIEW", (NO_BASELINE,))
    third = gate(archive_url, config, {"A_1": (0.75, 0.1), "R_1": (0.4, 0.1)}, "3")
    a = by_id(third)["A_1"]
    assert (a.classification, a.flags) == ("REVIEW", (REGRESSION,))
    assert a.regressions[0].run_id == first.run_id and a.regressions[0].baseline == 0.9
    # R_1 was never APPROVED: no baseline with last_approved ...
    assert verdicts(third.assessments)["R_1"] == ("REVIEW", (NO_BASELINE,))
    # ... while `last` compares A_1 with the dropped run (0.2): no regression.
    last = TrainingArchiveManager(archive_url, config=cfg(against="last")).baseline_values(
        ["A_1", "R_1"], against="last", window=1, metrics=["fitness"])
    assert last["A_1"] == {"fitness": BaselineValue(0.75, third.run_id)}
    assert last["R_1"] == {"fitness": BaselineValue(0.4, third.run_id)}


@pytest.mark.parametrize(("window", "expected"), [(1, "REVIEW"), (3, "APPROVED")])
def test_window_median_smooths_a_noisy_run(archive_url: str, window: int,
                                           expected: str) -> None:
    config = cfg(window=window)
    runs = [gate(archive_url, config, {"A_1": (fit, 0.1)}, str(i))
            for i, fit in enumerate([0.80, 0.82, 1.20])]  # the last run: a lucky outlier
    now = gate(archive_url, config, {"A_1": (0.79, 0.1)}, "now")
    a = by_id(now)["A_1"]
    assert a.classification == expected
    assert a.baseline is not None
    if window == 1:
        assert a.baseline["fitness"] == BaselineValue(1.2, runs[2].run_id)
        assert a.regressions[0].change == pytest.approx(1 - 0.79 / 1.2)
    else:  # median of 0.80, 0.82, 1.20; the run named is the latest one used
        assert a.baseline["fitness"] == BaselineValue(0.82, runs[2].run_id)
        assert a.flags == ()


def test_min_abs_change_ignores_small_moves(archive_url: str) -> None:
    config = parse_config({**gate_config(against="last"), "baseline": {
        "against": "last", "max_decline": {"max_drawdown": 0.25},
        "min_abs_change": {"max_drawdown": 0.01}}})
    gate(archive_url, config, {"TINY_1": (0.9, 0.02), "BIG_1": (0.9, 0.02),
                               "ZERO_1": (0.9, 0.0)}, "1")
    second = gate(archive_url, config, {
        "TINY_1": (0.9, 0.029),  # +45%, but only 0.009 absolute: ignored
        "BIG_1": (0.9, 0.031),   # +55% and 0.011 absolute: a regression
        "ZERO_1": (0.9, 0.008),  # from 0: 0.008 absolute, ignored
    }, "2")
    assert verdicts(second.assessments) == {
        "TINY_1": ("APPROVED", ()), "BIG_1": ("REVIEW", (REGRESSION,)),
        "ZERO_1": ("APPROVED", ())}


def test_zero_baseline_from_the_archive(archive_url: str) -> None:
    config = cfg(against="last")
    first = gate(archive_url, config, {"A_1": (0.9, 0.0), "B_1": (0.9, 0.0)}, "1")
    second = gate(archive_url, config, {"A_1": (0.9, 0.2), "B_1": (0.9, 0.3)}, "2")
    assert verdicts(second.assessments) == {"A_1": ("APPROVED", ()),
                                            "B_1": ("REVIEW", (REGRESSION,))}
    reg = by_id(second)["B_1"].regressions[0]
    assert (reg.baseline, reg.relative, reg.run_id) == (0.0, False, first.run_id)
    assert reg.change == pytest.approx(0.3)
    report = TrainingArchiveManager(archive_url).load_report(second.run_id)
    assert "0.2 Δ+0.2 abs" in report and "0.3 **Δ+0.3 abs**" in report


def test_non_finite_archived_values(archive_url: str) -> None:
    config = cfg(against="last")
    nan = math.nan
    r1 = gate(archive_url, config, {"SKIP_1": (0.9, 0.1), "NEVER_1": (0.9, nan),
                                    "NOW_1": (0.9, 0.1)}, "1")
    assert by_id(r1)["NEVER_1"].flags == ("INVALID_METRIC", NO_BASELINE)
    r2 = gate(archive_url, config, {"SKIP_1": (0.9, nan), "NEVER_1": (0.9, nan),
                                    "NOW_1": (0.9, 0.1)}, "2")
    r3 = gate(archive_url, config, {"SKIP_1": (0.9, 0.2), "NEVER_1": (0.9, 0.3),
                                    "NOW_1": (0.9, nan)}, "3")
    a = by_id(r3)
    # SKIP_1: the NaN of run 2 is skipped; the baseline is run 1's 0.1 (+100%).
    assert (a["SKIP_1"].classification, a["SKIP_1"].flags) == ("REVIEW", (REGRESSION,))
    assert a["SKIP_1"].regressions[0].run_id == r1.run_id
    # NEVER_1: archived, but never with a finite drawdown: flagged, class unchanged.
    assert (a["NEVER_1"].classification, a["NEVER_1"].flags) == (
        "APPROVED", (BASELINE_UNUSABLE,))
    assert a["NEVER_1"].baseline is not None
    assert math.isnan(a["NEVER_1"].baseline["max_drawdown"].value)
    assert a["NEVER_1"].baseline["max_drawdown"].run_id == r2.run_id
    never = next(m for m in r3.document["models"] if m["id"] == "NEVER_1")
    assert never["baseline"]["max_drawdown"] == {"value": None, "run_id": r2.run_id}
    assert never["baseline"]["fitness"] == {"value": 0.9, "run_id": r2.run_id}
    # NOW_1: its own value is NaN: INVALID_METRIC decides (on_invalid: drop), no crash.
    assert (a["NOW_1"].classification, a["NOW_1"].flags) == ("DROP", ("INVALID_METRIC",))
    report = TrainingArchiveManager(archive_url).load_report(r3.run_id)
    assert BASELINE_UNUSABLE in report


def test_rerun_of_the_same_summary_gives_the_same_verdicts(archive_url: str) -> None:
    config = cfg(against="last")
    manager = TrainingArchiveManager(archive_url, config=config)
    first = manager.archive_training_run(summary({"A_1": (0.9, 0.1), "B_1": (0.9, 0.1)}, "1"))
    data = summary({"A_1": (0.7, 0.1), "B_1": (0.9, 0.1)}, "2")
    second = manager.archive_training_run(data)
    expected = verdicts(second.assessments)
    assert expected["A_1"] == ("REVIEW", (REGRESSION,))
    later = manager.archive_training_run(summary({"A_1": (0.5, 0.5), "B_1": (2.0, 0.0)}, "3"))
    again = manager.archive_training_run(data)  # a CI re-run, after a later run even
    assert again.reused and again.run_id == second.run_id
    assert verdicts(again.assessments) == expected == doc_verdicts(again.document)
    assert by_id(again)["A_1"].regressions == by_id(second)["A_1"].regressions
    assert by_id(again)["A_1"].regressions[0].run_id == first.run_id
    # A re-archive (force) and another config keep the baseline of the first archiving.
    forced = manager.archive_training_run(data, force=True)
    assert not forced.reused and verdicts(forced.assessments) == expected
    other = TrainingArchiveManager(archive_url, config=cfg(against="last", window=2))
    assert verdicts(other.archive_training_run(data).assessments) == expected
    assert later.run_id > second.run_id


# --- three ways in ------------------------------------------------------------------------------

def model_gate(*args: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run([sys.executable, "-m", "pytest_model_gate.cli", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8",
                          timeout=120, check=False)


def junit_verdicts(path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") or "" for p in case.iter("property")}
        out[props["model_id"]] = (props["classification"],
                                  tuple(f for f in props["flags"].split(",") if f))
    return out


def test_same_verdict_through_api_cli_and_pytest(archive_url: str, pytester: pytest.Pytester,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")
    config = cfg(on_regression="drop")
    first = gate(archive_url, config, {"A_1": (0.9, 0.1), "B_1": (0.9, 0.1),
                                       "C_1": (0.4, 0.1)}, "1")
    gate_yaml = pytester.path / "gate.yaml"
    gate_yaml.write_text(json.dumps({**gate_config(on_regression="drop"),
                                     "archive": archive_url}), encoding="utf-8")
    s2 = pytester.path / "s2.json"
    s2.write_text(json.dumps(summary({"A_1": (0.7, 0.1), "B_1": (0.9, 0.3), "C_1": (0.4, 0.1),
                                      "D_1": (0.9, 0.1)}, "2")), encoding="utf-8")
    expected = {"A_1": ("DROP", (REGRESSION,)), "B_1": ("DROP", (REGRESSION,)),
                "C_1": ("REVIEW", (NO_BASELINE,)), "D_1": ("APPROVED", (NO_BASELINE,))}

    def check(*extra: str) -> dict[str, Any]:
        result = model_gate("check", s2, "--config", gate_yaml, "--format", "json", *extra,
                            cwd=pytester.path)
        assert result.returncode == 1, result.stderr  # a DROP
        doc: dict[str, Any] = json.loads(result.stdout)
        assert doc_verdicts(doc) == expected
        return doc

    def run_pytest(*extra: str) -> pytest.RunResult:
        result = pytester.runpytest("--model-gate", "s2.json", "--model-gate-config",
                                    "gate.yaml", "--junitxml=junit.xml", *extra)
        result.assert_outcomes(passed=1, xfailed=1, failed=2)
        assert junit_verdicts(pytester.path / "junit.xml") == expected
        result.stdout.fnmatch_lines([
            f"*regression: fitness 0.7 vs baseline 0.9 from run {first.run_id} "
            "(22.2% worse, limit 10.0%)",
            f"*regression: max_drawdown 0.3 vs baseline 0.1 from run {first.run_id} "
            "(200.0% worse, limit 25.0%)"])
        return result

    # Read-only first (the baseline is read even when this run is not archived) ...
    doc = check("--no-archive")
    assert doc["models"][0]["regressions"][0]["run_id"] == first.run_id
    run_pytest("--no-model-gate-archive")
    # ... then archived by the Python API, and re-run by both shells: the same verdicts.
    api = TrainingArchiveManager(archive_url, config=config).archive_training_run(s2)
    assert verdicts(api.assessments) == expected and not api.reused
    assert doc_verdicts(check()) == expected
    again = run_pytest()
    again.stdout.fnmatch_lines([f"model-gate: s2.json already archived as run {api.run_id} *"])
    assert len(TrainingArchiveManager(archive_url).list_runs()) == 2


# --- one archive read per summary -------------------------------------------------------------

@pytest.mark.parametrize("where", ["local", "s3"])
def test_archive_read_once_per_summary(where: str, tmp_path: Path,
                                       request: pytest.FixtureRequest,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url = str(tmp_path / "archive") if where == "local" else request.getfixturevalue("s3_url")
    config = cfg(against="last")
    gate(url, config, {f"M_{i}": (0.9, 0.1) for i in range(40)}, "1")
    calls: list[int] = []
    reads: list[str] = []
    real = Archive.baseline_values  # the pipeline reads baselines through the archive

    def counting(self: Archive, model_ids: Any, **kw: Any
                 ) -> dict[str, dict[str, BaselineValue]]:
        ids = list(model_ids)
        calls.append(len(ids))
        return real(self, ids, **kw)

    def counter(name: str, method: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            reads.append(name)
            return method(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(Archive, "baseline_values", counting)
    for cls in (LocalStorage, FsspecStorage):
        for name in ("read", "read_many", "listdir"):
            monkeypatch.setattr(cls, name, counter(name, getattr(cls, name)))
    read_counts = []
    for n in (4, 40):
        path = tmp_path / f"s{n}.json"
        path.write_text(json.dumps(summary({f"M_{i}": (0.7, 0.1) for i in range(n)}, "2")),
                        encoding="utf-8")
        settings = runner.GateSettings(config=config, config_path=None, archive=None,
                                       report=None, html=None, baseline_archive=url)
        gated = runner.gate_file(path, settings)
        assert {a.flags for a in gated.assessments} == {(REGRESSION,)}
        read_counts.append(len(reads))
        reads.clear()
    assert calls == [4, 40]  # one call per summary, with every model of it
    # Storage reads do not grow with the models: a few listings and batched reads (locally
    # each model's small shard file is opened directly, one per model, by design), plus the
    # commit log's hint and its entries since the last checkpoint.
    assert read_counts[0] == read_counts[1] <= 7


def test_plugin_reads_the_archive_once_per_summary(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    archive = pytester.path / "archive"
    gate(str(archive), cfg(against="last"), {f"M_{i}": (0.9, 0.1) for i in range(10)}, "1")
    (pytester.path / "gate.yaml").write_text(
        json.dumps({**gate_config(against="last"), "archive": str(archive)}), encoding="utf-8")
    for name in ("a.json", "b.json"):
        (pytester.path / name).write_text(json.dumps(summary(
            {f"M_{i}": (0.9 if i % 2 else 0.7, 0.1) for i in range(10)}, name)),
            encoding="utf-8")
    calls: list[list[str]] = []
    real = Archive.baseline_values  # the pipeline reads baselines through the archive

    def counting(self: Archive, model_ids: Any, **kw: Any
                 ) -> dict[str, dict[str, BaselineValue]]:
        calls.append(list(model_ids))
        return real(self, calls[-1], **kw)

    monkeypatch.setattr(Archive, "baseline_values", counting)
    result = pytester.runpytest("--model-gate", "a.json", "--model-gate", "b.json",
                                "--model-gate-config", "gate.yaml", "--no-model-gate-archive")
    result.assert_outcomes(passed=10, xfailed=10)
    assert len(calls) == 2 and all(len(c) == 10 for c in calls)


def test_empty_or_missing_archive_has_no_baseline(tmp_path: Path) -> None:
    m = TrainingArchiveManager(str(tmp_path / "empty"))
    assert m.baseline_values(["X"], against="last", window=2, metrics=["fitness"],
                             summary_sha256="0" * 64) == {"X": {}}


def test_readme_baseline_example_is_a_valid_config() -> None:
    yaml = pytest.importorskip("yaml")
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("## Baselines", 1)[1].split("\n## ", 1)[0]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = parse_config(yaml.safe_load(block))
    assert config.baseline is not None
    assert (config.baseline.against, config.baseline.window) == ("last_approved", 3)
    assert dict(config.baseline.max_decline) == {"fitness": 0.10, "max_drawdown": 0.25}
