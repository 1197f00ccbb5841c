"""Arbitrary input never escapes as a traceback: it gates, or it is one clear error."""

from __future__ import annotations

import json
import math
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_model_gate.core.config import DEFAULT_CONFIG, load_config, parse_config
from pytest_model_gate.core.document import run_document
from pytest_model_gate.core.gating import assess_all
from pytest_model_gate.core.summary import parse_summary
from pytest_model_gate.errors import ConfigError, SummaryError

KEYS = st.sampled_from(["models", "symbols", "results", "metrics", "validation_metrics", "id",
                        "name", "symbol", "fitness_score", "fitness", "final_fitness",
                        "fitness_history", "profit_factor", "pf", "consistency",
                        "max_drawdown", "max_dd", "validation_interval", "timestamp", "x"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.one_of(KEYS, st.text(max_size=6)), inner,
                                                 max_size=6)), max_leaves=30)

CONFIG_KEYS = st.sampled_from(["version", "metrics", "fitness", "key", "aliases", "approved",
                               "review", "higher_is_better", "flag", "overfitting", "metric",
                               "decline_threshold", "demote", "on_review", "on_invalid",
                               "overrides", "match", "baseline", "against", "window",
                               "max_decline", "archive", "report", "html", "zz"])
CONFIGISH = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(CONFIG_KEYS, inner, max_size=5)),
    max_leaves=25)


def _strict_json(doc: Any) -> None:
    def reject(token: str) -> Any:
        raise AssertionError(f"non-strict JSON token {token}")
    json.loads(json.dumps(doc, allow_nan=True), parse_constant=reject)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, JSONISH, max_size=5))
def test_any_summary_gates_or_is_a_summary_error(data: dict[str, Any]) -> None:
    try:
        summary = parse_summary(data, source="fuzz.json", config=DEFAULT_CONFIG)
    except SummaryError as exc:
        assert str(exc).startswith("fuzz.json")
        return
    assessments = assess_all(summary.models, DEFAULT_CONFIG)
    assert len(assessments) == len(summary.models)
    for a in assessments:
        for m in a.metrics:
            if m.value is None or not math.isfinite(m.value):
                assert a.classification != "APPROVED"
    _strict_json(run_document(summary, assessments, DEFAULT_CONFIG))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.dictionaries(CONFIG_KEYS, CONFIGISH, max_size=6), SCALARS))
def test_any_config_is_valid_or_a_config_error(data: Any) -> None:
    try:
        config = parse_config(data, file="gate.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("gate.yaml")
        return
    assert config.watched_metric in config.metrics
    yaml.safe_dump(config.model_dump(mode="json"))


YAML_TEXT = st.lists(st.sampled_from([
    "metrics:", "  fitness:", "    approved: 0.8", "    review: .nan", "  x: {approved: 1}",
    "overfitting: {metric: nope}", "- a", "? [a, b]", ": 1", "&a [1]", "*a", "!!python/object:x {}",
    "on_review: maybe", "version: 2", "\t", "'", "key: [", "overrides:", "  - match: '*'",
    "    metrics: {fitness: {approved: 0.1}}", "baseline: {max_decline: {fitness: -1}}",
]), max_size=8).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(YAML_TEXT)
def test_any_gate_yaml_text_is_valid_or_a_config_error(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("cfg") / "gate.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(exc).startswith(str(path))


HOSTILE_TOKENS = st.sampled_from([
    "{", "}", "[", "]", ",", ":", '"models"', '"A_1"', '"fitness_score"', "0.5", "NaN",
    "-Infinity", "null", "true", '"\\ud800"', '"\\udc80x"', '"\\ud83d\\ude80"', "9" * 4400,
    "1e400", '"validation_interval"', "[" * 400, "]" * 400, '"\\u0000"', '"\\u001b[31m"',
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(HOSTILE_TOKENS, max_size=30).map("".join), st.booleans())
def test_any_bytes_load_or_are_one_summary_error(tmp_path_factory: Any, text: str,
                                                 as_yaml: bool) -> None:
    """Deep nesting, 4,400-digit integers, lone surrogates, control characters: loading a
    file gives a summary or one SummaryError naming it, never another exception."""
    from pytest_model_gate.core.summary import load_summary

    name = "s.yaml" if as_yaml else "s.json"
    path = tmp_path_factory.mktemp("sum") / name
    path.write_text(text, encoding="utf-8")
    try:
        summary = load_summary(path, DEFAULT_CONFIG)
    except SummaryError as exc:
        assert str(exc).startswith(str(path))
        assert "\n" not in str(exc)
        return
    for model in summary.models:
        model.id.encode("utf-8")  # never a lone surrogate
