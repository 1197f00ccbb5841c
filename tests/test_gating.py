"""Gating semantics, table-driven from DESIGN.md "Gating semantics (exact)", plus properties."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_model_gate.core.config import (
    DEFAULT_CONFIG,
    GateConfig,
    ModelGatingConfig,
    parse_config,
)
from pytest_model_gate.core.gating import Assessment, assess, assess_model_quality
from pytest_model_gate.core.summary import MetricSeries, SummaryModel, parse_summary
from pytest_model_gate.errors import SummaryError

INF = math.inf
NAN = math.nan
RANK = {"APPROVED": 0, "REVIEW": 1, "DROP": 2}

# comfortably APPROVED on every default metric, no history
GOOD: dict[str, Any] = {"fitness_score": 0.9, "profit_factor": 3.0, "consistency": 0.95,
                        "max_drawdown": 0.01}


def cfg(**options: Any) -> GateConfig:
    return parse_config(options, file="test")


def gate(metrics: Mapping[str, Any], config: GateConfig = DEFAULT_CONFIG, *,
         model_id: str = "AAPL_1Hour", model: Mapping[str, Any] | None = None,
         run: Mapping[str, Any] | None = None) -> Assessment:
    """Gate one model given as a summary would hold it (parsed and checked like a file)."""
    data = {**(run or {}), "models": {model_id: {"metrics": dict(metrics), **(model or {})}}}
    summary = parse_summary(data, source="test.json", config=config)
    return assess(summary.models[0], config)


def verdict(a: Assessment) -> tuple[str, tuple[str, ...], bool, int | None, int | None]:
    return a.classification, a.flags, a.use_checkpoint, a.best_idx, a.checkpoint_update


# --- the four worked examples -----------------------------------------------------------------

STRICT = ModelGatingConfig(approved_min_fitness=0.80, approved_min_pf=2.0,
                           approved_min_consistency=0.90, approved_max_drawdown=0.05)
DEMOTE = cfg(overfitting={"demote": True})

# (final fitness, pf, consistency, dd, history, config, expected
#  (classification, flags, use_checkpoint, best_idx, checkpoint_update at interval 40))
WORKED = [
    pytest.param(0.80, 2.2, 0.92, 0.05, [0.62, 0.71, 0.78, 0.80], None,
                 ("APPROVED", (), False, 3, None), id="steady-approved"),
    pytest.param(0.58, 1.4, 0.70, 0.12, [0.55, 0.70, 0.60, 0.58], None,
                 ("REVIEW", ("FITNESS_DECLINE", "UNSTABLE_TRAINING"), True, 1, 80),
                 id="review-decline-unstable"),
    pytest.param(0.73, 2.0, 0.90, 0.05, [0.80, 0.79, 0.77, 0.75, 0.73], None,
                 ("APPROVED", ("FITNESS_DECLINE",), True, 0, 40), id="approved-with-decline"),
    pytest.param(0.73, 2.0, 0.90, 0.05, [0.80, 0.79, 0.77, 0.75, 0.73], DEMOTE,
                 ("REVIEW", ("FITNESS_DECLINE",), True, 0, 40), id="approved-with-decline-demoted"),
    pytest.param(0.75, 1.9, 0.88, 0.06, [0.70, 0.75, 0.78, 0.75], STRICT,
                 ("REVIEW", (), False, 2, None), id="strict-config-review"),
]


@pytest.mark.parametrize(("fitness", "pf", "consistency", "dd", "history", "config", "expected"),
                         WORKED)
def test_worked_example_via_assess_model_quality(fitness: float, pf: float, consistency: float,
                                                 dd: float, history: list[float],
                                                 config: Any, expected: tuple[Any, ...]) -> None:
    result = assess_model_quality(fitness, pf, consistency, dd, history, config)
    classification, flags, use_checkpoint, best_idx, _ = expected
    assert result == (classification, list(flags), use_checkpoint, best_idx)
    assert isinstance(result, tuple)
    assert isinstance(result[1], list)


@pytest.mark.parametrize(("fitness", "pf", "consistency", "dd", "history", "config", "expected"),
                         WORKED)
def test_worked_example_via_assess(fitness: float, pf: float, consistency: float, dd: float,
                                   history: list[float], config: Any,
                                   expected: tuple[Any, ...]) -> None:
    if config is None:
        config = DEFAULT_CONFIG
    gate_config = config.to_gate_config() if isinstance(config, ModelGatingConfig) else config
    metrics = {"fitness_score": fitness, "fitness_score_history": history, "profit_factor": pf,
               "consistency": consistency, "max_drawdown": dd}
    a = gate(metrics, gate_config, run={"validation_interval": 40})
    assert verdict(a) == expected
    assert a.metric("fitness").value == fitness


def test_worked_example_decline_figures() -> None:
    """8.75% below peak, no single drop over 10% (the third example)."""
    a = gate({**GOOD, "fitness_score": [0.80, 0.79, 0.77, 0.75, 0.73]})
    assert a.overfitting.decline == pytest.approx(0.0875)
    assert a.overfitting.oscillation == pytest.approx(0.025)
    assert a.overfitting.peak == 0.80


def test_assess_model_quality_defaults_equal_model_gating_config() -> None:
    args = (0.75, 1.9, 0.88, 0.06, [0.70, 0.75, 0.78, 0.75])
    assert assess_model_quality(*args) == assess_model_quality(*args, ModelGatingConfig())
    assert assess_model_quality(*args) == assess_model_quality(*args, DEFAULT_CONFIG)


@pytest.mark.parametrize("history", [None, []], ids=["none", "empty"])
def test_assess_model_quality_without_history(history: list[float] | None) -> None:
    assert assess_model_quality(0.9, 2.0, 0.9, 0.05, history) == ("APPROVED", [], False, None)


# --- boundaries: inclusive on the bound, a hair past is not ----------------------------------

def _boundary_cases() -> list[Any]:
    cases = []
    specs = [("fitness_score", True, 0.70, 0.50, "LOW_FITNESS"),
             ("profit_factor", True, 1.8, 1.3, "LOW_PF"),
             ("consistency", True, 0.85, 0.65, "LOW_CONSISTENCY"),
             ("max_drawdown", False, 0.08, 0.15, "HIGH_DRAWDOWN")]
    for key, hib, approved, review, flag in specs:
        worse = -INF if hib else INF
        better = INF if hib else -INF
        cases += [
            pytest.param(key, math.nextafter(approved, better), "APPROVED", (),
                         id=f"{key}-inside-approved"),
            pytest.param(key, approved, "APPROVED", (), id=f"{key}-on-approved"),
            pytest.param(key, math.nextafter(approved, worse), "REVIEW", (),
                         id=f"{key}-past-approved"),
            pytest.param(key, review, "REVIEW", (), id=f"{key}-on-review"),
            pytest.param(key, math.nextafter(review, worse), "DROP", (flag,),
                         id=f"{key}-past-review"),
        ]
    return cases


@pytest.mark.parametrize(("key", "value", "tier", "flags"), _boundary_cases())
def test_default_bounds_are_inclusive(key: str, value: float, tier: str,
                                      flags: tuple[str, ...]) -> None:
    a = gate({**GOOD, key: value})
    assert a.classification == tier
    assert a.flags == flags
    assert next(m for m in a.metrics if m.key == key).tier == tier


LATENCY = cfg(metrics={"latency": {"key": "p95_ms", "higher_is_better": False,
                                   "approved": 25, "review": 60}})
SCORE = cfg(metrics={"score": {"approved": -1.5, "review": -3}})


@pytest.mark.parametrize(("config", "key", "value", "tier"), [
    pytest.param(LATENCY, "p95_ms", 25, "APPROVED", id="lower-int-on-approved"),
    pytest.param(LATENCY, "p95_ms", math.nextafter(25, INF), "REVIEW",
                 id="lower-int-past-approved"),
    pytest.param(LATENCY, "p95_ms", 60, "REVIEW", id="lower-int-on-review"),
    pytest.param(LATENCY, "p95_ms", math.nextafter(60, INF), "DROP", id="lower-int-past-review"),
    pytest.param(LATENCY, "p95_ms", -INF, "DROP", id="lower-minus-inf-is-invalid"),
    pytest.param(SCORE, "score", -1.5, "APPROVED", id="negative-on-approved"),
    pytest.param(SCORE, "score", math.nextafter(-1.5, -INF), "REVIEW", id="negative-past-approved"),
    pytest.param(SCORE, "score", -3, "REVIEW", id="negative-on-review"),
    pytest.param(SCORE, "score", math.nextafter(-3, -INF), "DROP", id="negative-past-review"),
    pytest.param(SCORE, "score", INF, "DROP", id="higher-inf-is-invalid"),
])
def test_custom_bounds_are_inclusive(config: GateConfig, key: str, value: float,
                                     tier: str) -> None:
    assert gate({key: value}, config).classification == tier


def test_equal_approved_and_review_bounds_leave_no_review_band() -> None:
    config = cfg(metrics={"acc": {"approved": 0.9, "review": 0.9}})
    assert gate({"acc": 0.9}, config).classification == "APPROVED"
    assert gate({"acc": math.nextafter(0.9, 0)}, config).classification == "DROP"


# --- missing and non-finite values -----------------------------------------------------------

INVALID = [
    pytest.param("fitness_score", NAN, "INVALID_METRIC", id="nan"),
    pytest.param("fitness_score", INF, "INVALID_METRIC", id="inf-higher-is-better"),
    pytest.param("fitness_score", -INF, "INVALID_METRIC", id="minus-inf"),
    pytest.param("max_drawdown", -INF, "INVALID_METRIC", id="minus-inf-lower-is-better"),
    pytest.param("max_drawdown", NAN, "INVALID_METRIC", id="nan-lower-is-better"),
    pytest.param("fitness_score", None, "MISSING_METRIC", id="null"),
    pytest.param("fitness_score", [0.8, 0.9, None], "MISSING_METRIC", id="history-ends-null"),
    pytest.param("fitness_score", [0.8, 0.9, NAN], "INVALID_METRIC", id="history-ends-nan"),
    pytest.param("fitness_score", [], "MISSING_METRIC", id="empty-history"),
    pytest.param("profit_factor", ..., "MISSING_METRIC", id="absent"),
]


@pytest.mark.parametrize(("on_invalid", "tier"), [("drop", "DROP"), ("review", "REVIEW")])
@pytest.mark.parametrize(("key", "value", "flag"), INVALID)
def test_missing_and_non_finite(key: str, value: Any, flag: str, on_invalid: str,
                                tier: str) -> None:
    metrics = dict(GOOD)
    if value is ...:
        del metrics[key]
    else:
        metrics[key] = value
    a = gate(metrics, cfg(on_invalid=on_invalid))
    assert a.classification == tier
    assert a.flags == (flag,)  # the metric's own LOW_/HIGH_ flag is for bad values only
    result = next(m for m in a.metrics if m.key == key)
    assert result.tier == tier
    assert result.status == ("missing" if flag == "MISSING_METRIC" else "invalid")


def test_on_invalid_review_does_not_rescue_a_bad_value() -> None:
    a = gate({**GOOD, "fitness_score": NAN, "profit_factor": 1.0}, cfg(on_invalid="review"))
    assert a.classification == "DROP"
    assert a.flags == ("INVALID_METRIC", "LOW_PF")


def test_both_missing_and_invalid_flags() -> None:
    a = gate({"fitness_score": NAN, "profit_factor": 2.0, "consistency": 0.9})
    assert a.classification == "DROP"
    assert a.flags == ("INVALID_METRIC", "MISSING_METRIC")


@pytest.mark.parametrize(("history", "peak", "best_idx"), [
    pytest.param([0.6, NAN, 0.9, 0.7], 0.9, 2, id="nan-point-skipped"),
    pytest.param([NAN, 0.9, 0.8], 0.9, 1, id="index-in-history-as-given"),
    pytest.param([0.9, None, 0.95, INF, 0.95], 0.95, 2, id="null-and-inf-skipped-first-peak"),
])
def test_non_finite_history_points_are_left_out(history: list[Any], peak: float,
                                                best_idx: int) -> None:
    a = gate({**GOOD, "fitness_score": 0.9, "fitness_score_history": history})
    assert a.overfitting.peak == peak
    assert a.best_idx == best_idx
    assert a.classification == "APPROVED"


def test_all_non_finite_history_is_an_empty_history() -> None:
    a = gate({**GOOD, "fitness_score": 0.9, "fitness_score_history": [NAN, INF, None]})
    assert verdict(a) == ("APPROVED", (), False, None, None)


# --- aliases ----------------------------------------------------------------------------------

REST = {"profit_factor": 2.0, "consistency": 0.9, "max_drawdown": 0.05}


@pytest.mark.parametrize(("metrics", "key", "value"), [
    pytest.param({"fitness_score": 0.8}, "fitness_score", 0.8, id="key"),
    pytest.param({"fitness": 0.8}, "fitness", 0.8, id="first-alias"),
    pytest.param({"final_fitness": 0.8}, "final_fitness", 0.8, id="second-alias"),
    pytest.param({"final_fitness": 0.3, "fitness": 0.8}, "fitness", 0.8, id="alias-order"),
    pytest.param({"fitness": 0.3, "fitness_score": 0.8}, "fitness_score", 0.8,
                 id="key-before-alias"),
    pytest.param({"fitness_score_history": [0.7, 0.8]}, "fitness_score", 0.8,
                 id="history-suffix-alone"),
    pytest.param({"fitness_history": [0.7, 0.8]}, "fitness", 0.8, id="alias-history-suffix"),
    pytest.param({"fitness_score": 0.75, "fitness_score_history": [0.7, 0.8, 0.6]},
                 "fitness_score", 0.75, id="scalar-final-plus-history"),
])
def test_fitness_aliases(metrics: dict[str, Any], key: str, value: float) -> None:
    a = gate({**REST, **metrics})
    m = a.metric("fitness")
    assert (m.key, m.value) == (key, value)


@pytest.mark.parametrize(("metrics", "name", "key"), [
    pytest.param({"pf": 2.0, "consistency": 0.9, "max_drawdown": 0.05}, "profit_factor", "pf",
                 id="pf"),
    pytest.param({"final_pf": 2.0, "consistency": 0.9, "max_drawdown": 0.05}, "profit_factor",
                 "final_pf", id="final_pf"),
    pytest.param({"profit_factor": 2.0, "final_consistency": 0.9, "max_drawdown": 0.05},
                 "consistency", "final_consistency", id="final_consistency"),
    pytest.param({"profit_factor": 2.0, "consistency": 0.9, "max_dd": 0.05}, "max_drawdown",
                 "max_dd", id="max_dd"),
    pytest.param({"profit_factor": 2.0, "consistency": 0.9, "final_max_dd": 0.05},
                 "max_drawdown", "final_max_dd", id="final_max_dd"),
])
def test_other_builtin_aliases(metrics: dict[str, Any], name: str, key: str) -> None:
    a = gate({"fitness_score": 0.9, **metrics})
    assert a.metric(name).key == key
    assert a.classification == "APPROVED"


def test_scalar_final_is_gated_and_history_is_watched() -> None:
    # final 0.75 (APPROVED) although the history ends at 0.6; decline from 0.8 is 6.25%
    a = gate({**REST, "fitness_score": 0.75, "fitness_score_history": [0.7, 0.8, 0.6]})
    assert a.classification == "APPROVED"
    assert a.flags == ("FITNESS_DECLINE", "UNSTABLE_TRAINING")
    assert a.overfitting.decline == pytest.approx(0.0625)
    assert a.best_idx == 1


def test_custom_aliases_are_tried_in_order() -> None:
    config = cfg(metrics={"acc": {"key": "val_acc", "aliases": ["accuracy", "acc"],
                                  "approved": 0.9, "review": 0.8}})
    assert gate({"acc": 0.5, "accuracy": 0.95}, config).metric("acc").key == "accuracy"
    assert gate({"acc": 0.95}, config).classification == "APPROVED"
    # no gated metric in any model: a setup mistake, never a silent DROP (No silent verdicts)
    with pytest.raises(SummaryError, match=r"no gated metric found in any of 1 model .*"
                                           r"nearest match: set metrics\.acc\.key: val_accuracy"):
        gate({"val_accuracy": 0.95}, config)


def test_flat_metrics_are_read() -> None:
    summary = parse_summary({"models": [{"id": "A_1", **GOOD}]}, config=DEFAULT_CONFIG)
    assert assess(summary.models[0]).classification == "APPROVED"


# --- overrides --------------------------------------------------------------------------------

USD = cfg(overrides=[{"match": "*USD_*", "metrics": {"max_drawdown": {"approved": 0.12,
                                                                       "review": 0.20}}}])
BTC_SYMBOL = cfg(overrides=[{"match": "symbol:BTC*",
                             "metrics": {"fitness": {"approved": 0.6}}}])
FIRST_WINS = cfg(overrides=[
    {"match": "AAPL_*", "metrics": {"fitness": {"approved": 0.6}}},
    {"match": "*", "metrics": {"fitness": {"approved": 0.95}}},
])
EMPTY_FIRST = cfg(overrides=[
    {"match": "AAPL_*"},
    {"match": "*", "metrics": {"fitness": {"approved": 0.95}}},
])
PARTIAL = cfg(overrides=[{"match": "*", "metrics": {"fitness": {"review": 0.3}}}])
NEW_FLAG = cfg(overrides=[{"match": "*", "metrics": {"fitness": {"flag": "VERY_LOW"}}}])


@pytest.mark.parametrize(("config", "model_id", "model", "metrics", "tier", "flags"), [
    pytest.param(USD, "BTCUSD_1Hour", {}, {"max_drawdown": 0.11}, "APPROVED", (),
                 id="id-pattern-matches"),
    pytest.param(USD, "AAPL_1Hour", {}, {"max_drawdown": 0.11}, "REVIEW", (),
                 id="id-pattern-misses"),
    pytest.param(USD, "BTCUSD_1Hour", {}, {"max_drawdown": 0.21}, "DROP", ("HIGH_DRAWDOWN",),
                 id="id-pattern-new-review-bound"),
    pytest.param(USD, "btcusd_1Hour", {}, {"max_drawdown": 0.11}, "REVIEW", (),
                 id="id-pattern-case-sensitive"),
    pytest.param(BTC_SYMBOL, "BTCUSD_1Hour", {}, {"fitness_score": 0.65}, "APPROVED", (),
                 id="symbol-derived-from-id"),
    pytest.param(BTC_SYMBOL, "model-7", {"symbol": "BTCUSD"}, {"fitness_score": 0.65},
                 "APPROVED", (), id="symbol-field"),
    pytest.param(BTC_SYMBOL, "BTC_1Hour", {"symbol": "ETH"}, {"fitness_score": 0.65},
                 "REVIEW", (), id="symbol-field-beats-id"),
    pytest.param(cfg(overrides=[{"match": "symbol:*1Hour",
                                 "metrics": {"fitness": {"approved": 0.6}}}]),
                 "AAPL_1Hour", {}, {"fitness_score": 0.65}, "REVIEW", (),
                 id="symbol-prefix-not-matched-on-id"),
    pytest.param(FIRST_WINS, "AAPL_1Hour", {}, {"fitness_score": 0.65}, "APPROVED", (),
                 id="first-match-wins"),
    pytest.param(FIRST_WINS, "MSFT_1Hour", {}, {"fitness_score": 0.9}, "REVIEW", (),
                 id="second-applies-when-first-misses"),
    pytest.param(EMPTY_FIRST, "AAPL_1Hour", {}, {"fitness_score": 0.9}, "APPROVED", (),
                 id="empty-first-match-still-wins"),
    pytest.param(PARTIAL, "AAPL_1Hour", {}, {"fitness_score": 0.65}, "REVIEW", (),
                 id="partial-keeps-approved"),
    pytest.param(PARTIAL, "AAPL_1Hour", {}, {"fitness_score": 0.4}, "REVIEW", (),
                 id="partial-changes-review"),
    pytest.param(PARTIAL, "AAPL_1Hour", {}, {"fitness_score": 0.2}, "DROP", ("LOW_FITNESS",),
                 id="partial-keeps-flag"),
    pytest.param(NEW_FLAG, "AAPL_1Hour", {}, {"fitness_score": 0.2}, "DROP", ("VERY_LOW",),
                 id="override-flag"),
])
def test_overrides(config: GateConfig, model_id: str, model: dict[str, Any],
                   metrics: dict[str, Any], tier: str, flags: tuple[str, ...]) -> None:
    a = gate({**GOOD, **metrics}, config, model_id=model_id, model=model)
    assert (a.classification, a.flags) == (tier, flags)


def test_partial_override_keeps_key_aliases_and_direction() -> None:
    a = gate({"fitness": 0.4, "pf": 2.0, "final_consistency": 0.9, "max_dd": 0.05}, PARTIAL)
    m = a.metric("fitness")
    assert (m.key, m.approved, m.review, m.higher_is_better) == ("fitness", 0.7, 0.3, True)
    assert a.metric("max_drawdown").higher_is_better is False
    assert a.classification == "REVIEW"


def test_override_bounds_appear_in_the_assessment() -> None:
    m = gate(GOOD, USD, model_id="ETHUSD_15Min").metric("max_drawdown")
    assert (m.approved, m.review) == (0.12, 0.20)
    assert gate(GOOD, USD).metric("max_drawdown").approved == 0.08


# --- overfitting: demote, peak 0, strict thresholds, empty history --------------------------

@pytest.mark.parametrize(("metrics", "demote", "tier", "flags"), [
    pytest.param({"fitness_score": [0.80, 0.79, 0.77, 0.75, 0.73]}, False, "APPROVED",
                 ("FITNESS_DECLINE",), id="decline-kept"),
    pytest.param({"fitness_score": [0.80, 0.79, 0.77, 0.75, 0.73]}, True, "REVIEW",
                 ("FITNESS_DECLINE",), id="decline-demoted"),
    pytest.param({"fitness_score": [0.9, 0.7, 0.95]}, False, "APPROVED",
                 ("UNSTABLE_TRAINING",), id="unstable-kept"),
    pytest.param({"fitness_score": [0.9, 0.7, 0.95]}, True, "REVIEW",
                 ("UNSTABLE_TRAINING",), id="unstable-demoted"),
    pytest.param({"fitness_score": [0.7, 0.8, 0.9]}, True, "APPROVED", (),
                 id="no-flag-not-demoted"),
    pytest.param({"fitness_score": [0.9, 0.6], "profit_factor": 1.0}, True, "DROP",
                 ("FITNESS_DECLINE", "LOW_PF", "UNSTABLE_TRAINING"), id="drop-stays-drop"),
    pytest.param({"fitness_score": [0.9, 0.6]}, True, "REVIEW",
                 ("FITNESS_DECLINE", "UNSTABLE_TRAINING"), id="review-stays-review"),
])
def test_demote(metrics: dict[str, Any], demote: bool, tier: str,
                flags: tuple[str, ...]) -> None:
    a = gate({**GOOD, **metrics}, cfg(overfitting={"demote": demote}))
    assert (a.classification, a.flags) == (tier, flags)


EXACT = cfg(metrics={"score": {"approved": -10, "review": -20}},
            overfitting={"decline_threshold": 0.25, "oscillation_threshold": 0.375})


@pytest.mark.parametrize(("history", "flags"), [
    # thresholds and the values below are exact binary fractions: "equal" is exactly equal,
    # and each nextafter point moves the computed decline / drop just past its threshold
    pytest.param([1.0, 0.75], (), id="decline-equal-threshold"),
    pytest.param([1.0, math.nextafter(0.75, 0)], ("FITNESS_DECLINE",), id="decline-past"),
    pytest.param([1.0, 0.625, 1.0], (), id="oscillation-equal-threshold"),
    pytest.param([1.0, math.nextafter(0.625, 0), 1.0], ("UNSTABLE_TRAINING",),
                 id="oscillation-past"),
    pytest.param([-2.0, -2.5], (), id="negative-peak-decline-equal"),
    pytest.param([-2.0, math.nextafter(-2.5, -INF)], ("FITNESS_DECLINE",),
                 id="negative-peak-decline-past"),
    pytest.param([0.0, -0.25], (), id="zero-peak-absolute-decline-equal"),
    pytest.param([0.0, math.nextafter(-0.25, -INF)], ("FITNESS_DECLINE",),
                 id="zero-peak-absolute-decline-past"),
    pytest.param([0.0, -0.375, -0.125], (), id="zero-peak-absolute-oscillation-equal"),
    pytest.param([0.0, math.nextafter(-0.375, -INF), -0.125], ("UNSTABLE_TRAINING",),
                 id="zero-peak-absolute-oscillation-past"),
    pytest.param([0.1, 0.5, 0.9, 1.0], (), id="steady-improvement"),
    pytest.param([1.0, 0.25, 1.0], ("UNSTABLE_TRAINING",), id="fall-then-recover"),
])
def test_overfitting_thresholds_are_strict(history: list[float], flags: tuple[str, ...]) -> None:
    a = gate({"score": history}, EXACT)
    assert a.flags == flags
    assert a.classification == "APPROVED"  # the flags alone never change the class
    assert a.use_checkpoint == ("FITNESS_DECLINE" in flags)


def test_zero_peak_uses_absolute_values() -> None:
    a = gate({"score": [0.0, -0.5, -0.125]}, EXACT)
    assert (a.overfitting.peak, a.overfitting.decline, a.overfitting.oscillation) == (
        0.0, 0.125, 0.5)
    assert a.best_idx == 0


@pytest.mark.parametrize("metrics", [
    pytest.param({"fitness_score": 0.9}, id="scalar"),
    pytest.param({"fitness_score": 0.9, "fitness_score_history": []}, id="empty-history"),
])
def test_empty_history(metrics: dict[str, Any]) -> None:
    a = gate({**GOOD, **metrics}, cfg(validation_interval=40))
    assert verdict(a) == ("APPROVED", (), False, None, None)


def test_best_idx_is_the_first_index_of_the_peak() -> None:
    a = gate({**GOOD, "fitness_score": [0.7, 0.9, 0.8, 0.9, 0.7]}, cfg(validation_interval=10))
    assert (a.best_idx, a.checkpoint_update) == (1, 20)


def test_watched_metric_can_be_chosen() -> None:
    config = cfg(overfitting={"metric": "consistency"})
    a = gate({**GOOD, "consistency": [0.99, 0.9], "fitness_score": [0.99, 0.8]}, config)
    assert a.overfitting.metric == "consistency"
    assert a.best_idx == 0
    assert a.overfitting.decline == pytest.approx(0.09 / 0.99)
    assert a.flags == ("FITNESS_DECLINE",)


# --- checkpoint_update and the validation interval -------------------------------------------

DECLINING = {**GOOD, "fitness_score": [0.8, 0.9, 0.7]}  # best_idx 1


@pytest.mark.parametrize(("config_interval", "run", "model", "expected"), [
    pytest.param(None, None, None, None, id="unknown"),
    pytest.param(10, None, None, 20, id="config"),
    pytest.param(10, 20, None, 40, id="run-beats-config"),
    pytest.param(10, 20, 30, 60, id="model-beats-run"),
    pytest.param(None, None, 30, 60, id="model-only"),
    pytest.param(None, 20, None, 40, id="run-only"),
])
def test_checkpoint_update(config_interval: int | None, run: int | None, model: int | None,
                           expected: int | None) -> None:
    a = gate(DECLINING, cfg(validation_interval=config_interval),
             run={"validation_interval": run} if run else None,
             model={"validation_interval": model} if model else None)
    assert a.use_checkpoint is True
    assert a.best_idx == 1
    assert a.checkpoint_update == expected


def test_no_checkpoint_update_without_decline() -> None:
    a = gate({**GOOD, "fitness_score": [0.9, 0.7, 0.9]}, cfg(validation_interval=10))
    assert a.flags == ("UNSTABLE_TRAINING",)
    assert (a.use_checkpoint, a.best_idx, a.checkpoint_update) == (False, 0, None)


def test_assess_without_config_uses_defaults() -> None:
    model = SummaryModel.from_values("X_1", {"fitness_score": MetricSeries(0.9),
                                             "profit_factor": MetricSeries(2.0),
                                             "consistency": MetricSeries(0.9),
                                             "max_drawdown": MetricSeries(0.05)})
    assert assess(model).classification == "APPROVED"
    assert assess(model) == assess(model, DEFAULT_CONFIG)


# --- properties -------------------------------------------------------------------------------

BUILTIN = [("fitness", "fitness_score", True, 0.70, 0.50),
           ("profit_factor", "profit_factor", True, 1.8, 1.3),
           ("consistency", "consistency", True, 0.85, 0.65),
           ("max_drawdown", "max_drawdown", False, 0.08, 0.15)]
_EDGES = sorted({v for _, _, _, a, r in BUILTIN for b in (a, r)
                 for v in (b, math.nextafter(b, INF), math.nextafter(b, -INF))})
finite = st.one_of(st.floats(-0.5, 3.0, allow_nan=False), st.sampled_from(_EDGES))
history = st.lists(st.one_of(finite, st.sampled_from([NAN, INF, None])), max_size=8)
configs = st.sampled_from([
    DEFAULT_CONFIG, DEMOTE, cfg(on_invalid="review"), USD,
    cfg(overfitting={"demote": True}, on_invalid="review", validation_interval=7),
])
PROPS = settings(max_examples=200, deadline=None)


def _model(finals: list[float], hist: list[Any]) -> dict[str, Any]:
    metrics: dict[str, Any] = {key: v for (_, key, *_), v in zip(BUILTIN, finals, strict=True)}
    metrics["fitness_score_history"] = hist
    return metrics


def _oracle_tier(value: float, hib: bool, approved: float, review: float) -> str:
    if not math.isfinite(value):
        return "INVALID"
    if (value >= approved) if hib else (value <= approved):
        return "APPROVED"
    if (value >= review) if hib else (value <= review):
        return "REVIEW"
    return "DROP"


@PROPS
@given(finals=st.lists(finite, min_size=4, max_size=4), hist=history,
       which=st.integers(0, 3), delta=st.floats(0, 3), config=configs,
       model_id=st.sampled_from(["AAPL_1Hour", "BTCUSD_1Hour"]))
def test_worsening_one_metric_never_improves_the_class(
        finals: list[float], hist: list[Any], which: int, delta: float, config: GateConfig,
        model_id: str) -> None:
    before = gate(_model(finals, hist), config, model_id=model_id)
    worse = list(finals)
    worse[which] = worse[which] - delta if BUILTIN[which][2] else worse[which] + delta
    after = gate(_model(worse, hist), config, model_id=model_id)
    assert RANK[after.classification] >= RANK[before.classification]
    assert RANK[after.metrics[which].tier] >= RANK[before.metrics[which].tier]


@PROPS
@given(finals=st.lists(finite, min_size=4, max_size=4), hist=history, which=st.integers(0, 3),
       bad=st.sampled_from([NAN, INF, -INF]), config=configs)
def test_non_finite_value_is_never_approved(finals: list[float], hist: list[Any], which: int,
                                           bad: float, config: GateConfig) -> None:
    finals = list(finals)
    finals[which] = bad
    a = gate(_model(finals, hist), config)
    assert a.classification != "APPROVED"
    assert a.metrics[which].tier != "APPROVED"
    assert "INVALID_METRIC" in a.flags


@PROPS
@given(finals=st.lists(finite, min_size=4, max_size=4), hist=history,
       on_invalid=st.sampled_from(["drop", "review"]))
def test_classification_is_the_worst_metric_tier(finals: list[float], hist: list[Any],
                                                 on_invalid: str) -> None:
    config = cfg(on_invalid=on_invalid)
    a = gate(_model(finals, hist), config)
    expected = []
    for (name, _, hib, approved, review), value in zip(BUILTIN, finals, strict=True):
        tier = _oracle_tier(value, hib, approved, review)
        expected.append(tier)
        assert a.metric(name).tier == tier
    assert a.classification == max(expected, key=RANK.__getitem__)


@PROPS
@given(hist=st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=8),
       final=finite)
def test_overfitting_flags_match_the_formulas(hist: list[float], final: float) -> None:
    a = gate({**GOOD, "fitness_score": final, "fitness_score_history": hist})
    peak = max(hist)
    scale = abs(peak) if peak != 0 else 1.0
    drops = [hist[i] - hist[i + 1] for i in range(len(hist) - 1)]
    declining = (peak - final) / scale > 0.05
    unstable = max(drops, default=0.0) / scale > 0.10
    assert a.best_idx == hist.index(peak)
    assert ("FITNESS_DECLINE" in a.flags) is declining
    assert ("UNSTABLE_TRAINING" in a.flags) is unstable
    assert a.use_checkpoint is declining


@PROPS
@given(finals=st.lists(st.one_of(finite, st.sampled_from([NAN, INF, None])), min_size=4,
                       max_size=4),
       hist=history, config=configs)
def test_flags_sorted_unique_and_deterministic(finals: list[Any], hist: list[Any],
                                               config: GateConfig) -> None:
    a = gate(_model(finals, hist), config)
    assert list(a.flags) == sorted(set(a.flags))
    again = gate(_model(finals, hist), config)
    assert repr(again) == repr(a)  # repr: NaN values compare unequal under ==
    assert repr(assess(parse_summary({"models": {"AAPL_1Hour": {"metrics": _model(finals, hist)}}},
                                     config=config).models[0], config)) == repr(a)
