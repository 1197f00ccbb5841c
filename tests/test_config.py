"""gate.yaml -> GateConfig: defaults, inheritance, the example file, and every error message."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_model_gate.core.config import (
    DEFAULT_CONFIG,
    GateConfig,
    ModelGatingConfig,
    as_gate_config,
    find_config,
    load_config,
    parse_config,
)
from pytest_model_gate.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent

V241 = {
    "fitness": ("fitness_score", ("fitness", "final_fitness"), True, 0.70, 0.50, "LOW_FITNESS"),
    "profit_factor": ("profit_factor", ("pf", "final_pf"), True, 1.8, 1.3, "LOW_PF"),
    "consistency": ("consistency", ("final_consistency",), True, 0.85, 0.65, "LOW_CONSISTENCY"),
    "max_drawdown": ("max_drawdown", ("max_dd", "final_max_dd"), False, 0.08, 0.15,
                     "HIGH_DRAWDOWN"),
}


def spec_tuple(config: GateConfig, name: str) -> tuple[Any, ...]:
    s = config.metrics[name]
    return s.key, s.aliases, s.higher_is_better, s.approved, s.review, s.flag


def write(tmp_path: Path, text: str, name: str = "gate.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- defaults ---------------------------------------------------------------------------------

@pytest.mark.parametrize("config", [
    pytest.param(DEFAULT_CONFIG, id="DEFAULT_CONFIG"),
    pytest.param(GateConfig(), id="GateConfig()"),
    pytest.param(parse_config({}), id="empty-mapping"),
    pytest.param(parse_config(None), id="empty-document"),
])
def test_defaults_are_the_v241_thresholds(config: GateConfig) -> None:
    assert list(config.metrics) == list(V241)
    for name, expected in V241.items():
        assert spec_tuple(config, name) == expected
    assert config.watched_metric == "fitness"
    assert config.overfitting.decline_threshold == 0.05
    assert config.overfitting.oscillation_threshold == 0.10
    assert config.overfitting.demote is False
    assert config.validation_interval is None
    assert config.on_review == "xfail"
    assert config.on_invalid == "drop"
    assert config.overrides == ()
    assert config.baseline is None
    assert config.archive == "training_archives"
    assert config.report == "model-gate-report.md"
    assert config.html is None
    assert config.digest() == DEFAULT_CONFIG.digest()


def test_empty_file_is_the_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).digest() == DEFAULT_CONFIG.digest()
    assert load_config(write(tmp_path, "# only a comment\n")).digest() == DEFAULT_CONFIG.digest()


def test_example_file_loads_and_equals_the_builtin_defaults() -> None:
    example = load_config(REPO / "gate.yaml.example")
    assert example.digest() == DEFAULT_CONFIG.digest()
    assert example.verdict_settings() == DEFAULT_CONFIG.verdict_settings()
    assert (example.archive, example.report, example.html) == (
        DEFAULT_CONFIG.archive, DEFAULT_CONFIG.report, DEFAULT_CONFIG.html)


def test_example_file_documents_every_key() -> None:
    text = (REPO / "gate.yaml.example").read_text(encoding="utf-8")
    for key in GateConfig.model_fields:
        assert f"\n{key}:" in text or text.startswith(f"{key}:"), key
    for key in ("decline_threshold", "oscillation_threshold", "demote", "against",
                "max_decline", "on_regression", "match", "aliases", "higher_is_better"):
        assert key in text, key


def test_example_classifier_config_loads(classifier_config: Path) -> None:
    config = load_config(classifier_config)
    assert list(config.metrics) == ["accuracy", "f1", "latency"]
    assert config.watched_metric == "accuracy"
    assert spec_tuple(config, "latency") == ("p95_latency_ms", (), False, 25.0, 60.0, "SLOW")


# --- inheritance and defaults of listed metrics ----------------------------------------------

def test_builtin_metric_inherits_unset_fields() -> None:
    config = parse_config({"metrics": {"fitness": {"approved": 0.8}}})
    assert list(config.metrics) == ["fitness"]  # a metrics block replaces the built-in set
    assert spec_tuple(config, "fitness") == (
        "fitness_score", ("fitness", "final_fitness"), True, 0.8, 0.5, "LOW_FITNESS")


@pytest.mark.parametrize(("name", "raw", "expected"), [
    pytest.param("max_drawdown", {"review": 0.2},
                 ("max_drawdown", ("max_dd", "final_max_dd"), False, 0.08, 0.2, "HIGH_DRAWDOWN"),
                 id="builtin-lower-is-better"),
    pytest.param("profit_factor", None,
                 ("profit_factor", ("pf", "final_pf"), True, 1.8, 1.3, "LOW_PF"),
                 id="builtin-null"),
    pytest.param("consistency", {"key": "cons", "aliases": []},
                 ("cons", (), True, 0.85, 0.65, "LOW_CONSISTENCY"), id="builtin-key-replaced"),
    pytest.param("accuracy", {"approved": 0.9, "review": 0.8},
                 ("accuracy", (), True, 0.9, 0.8, "LOW_ACCURACY"), id="new-higher"),
    pytest.param("latency_ms", {"higher_is_better": False, "approved": 25, "review": 60},
                 ("latency_ms", (), False, 25.0, 60.0, "HIGH_LATENCY_MS"), id="new-lower"),
    pytest.param("f1", {"key": "val_f1", "aliases": ["f1"], "approved": 1, "review": 0,
                        "flag": "BAD_F1"},
                 ("val_f1", ("f1",), True, 1.0, 0.0, "BAD_F1"), id="new-all-fields"),
])
def test_metric_fields(name: str, raw: Any, expected: tuple[Any, ...]) -> None:
    config = parse_config({"metrics": {name: raw}})
    assert spec_tuple(config, name) == expected


@pytest.mark.parametrize(("options", "watched"), [
    pytest.param({}, "fitness", id="default"),
    pytest.param({"metrics": {"consistency": None, "fitness": None}}, "fitness",
                 id="fitness-when-gated"),
    pytest.param({"metrics": {"consistency": None, "max_drawdown": None}}, "consistency",
                 id="else-first-listed"),
    pytest.param({"overfitting": {"metric": "max_drawdown"}}, "max_drawdown", id="explicit"),
])
def test_watched_metric(options: dict[str, Any], watched: str) -> None:
    assert parse_config(options).watched_metric == watched


def test_baseline_defaults() -> None:
    config = parse_config({"baseline": {"max_decline": {"fitness": 0.1}}})
    assert config.baseline is not None
    assert config.baseline.against == "last_approved"
    assert config.baseline.window == 1
    assert config.baseline.on_regression == "review"
    assert dict(config.baseline.max_decline) == {"fitness": 0.1}


def test_equal_bounds_are_accepted() -> None:
    config = parse_config({"metrics": {"max_drawdown": {"approved": 0.1, "review": 0.1}}})
    assert spec_tuple(config, "max_drawdown")[3:5] == (0.1, 0.1)


def test_overrides_parse() -> None:
    config = parse_config({"overrides": [
        {"match": "*USD_*", "metrics": {"max_drawdown": {"approved": 0.12, "review": 0.20}}},
        {"match": "symbol:TSLA"},
    ]})
    specs = config.metrics_for("BTCUSD_1Hour", "BTCUSD")
    assert (specs["max_drawdown"].approved, specs["max_drawdown"].review) == (0.12, 0.20)
    assert specs["max_drawdown"].key == "max_drawdown"
    assert config.metrics_for("AAPL_1Hour", "AAPL") == config.metrics


# --- ModelGatingConfig -------------------------------------------------------------------------

def _back(config: GateConfig) -> ModelGatingConfig:
    m = config.metrics
    return ModelGatingConfig(
        approved_min_fitness=m["fitness"].approved, approved_min_pf=m["profit_factor"].approved,
        approved_min_consistency=m["consistency"].approved,
        approved_max_drawdown=m["max_drawdown"].approved,
        review_min_fitness=m["fitness"].review, review_min_pf=m["profit_factor"].review,
        review_min_consistency=m["consistency"].review,
        review_max_drawdown=m["max_drawdown"].review,
        fitness_decline_threshold=config.overfitting.decline_threshold,
        fitness_oscillation_threshold=config.overfitting.oscillation_threshold)


@pytest.mark.parametrize("legacy", [
    pytest.param(ModelGatingConfig(), id="defaults"),
    pytest.param(ModelGatingConfig(approved_min_fitness=0.8, approved_min_pf=2.0,
                                   approved_min_consistency=0.9, approved_max_drawdown=0.05,
                                   review_min_fitness=0.6, review_min_pf=1.5,
                                   review_min_consistency=0.7, review_max_drawdown=0.1,
                                   fitness_decline_threshold=0.03,
                                   fitness_oscillation_threshold=0.2), id="every-field"),
])
def test_model_gating_config_round_trip(legacy: ModelGatingConfig) -> None:
    config = legacy.to_gate_config()
    assert _back(config) == legacy
    assert as_gate_config(legacy).digest() == config.digest()
    assert config.watched_metric == "fitness"
    for name in V241:  # keys, aliases, direction and flags stay the built-in ones
        assert spec_tuple(config, name)[:3] == V241[name][:3]
        assert spec_tuple(config, name)[5] == V241[name][5]


def test_model_gating_config_has_the_ten_original_fields() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(ModelGatingConfig)}
    assert fields == {
        "approved_min_fitness": 0.70, "approved_min_pf": 1.8, "approved_min_consistency": 0.85,
        "approved_max_drawdown": 0.08, "review_min_fitness": 0.50, "review_min_pf": 1.3,
        "review_min_consistency": 0.65, "review_max_drawdown": 0.15,
        "fitness_decline_threshold": 0.05, "fitness_oscillation_threshold": 0.10}
    assert ModelGatingConfig().to_gate_config().digest() == DEFAULT_CONFIG.digest()
    assert as_gate_config(None) is DEFAULT_CONFIG


def test_model_gating_config_rejects_inverted_bounds() -> None:
    with pytest.raises(ConfigError, match=r"review bound 0\.9 is stricter than approved bou"):
        ModelGatingConfig(review_min_fitness=0.9).to_gate_config()


# --- digest ------------------------------------------------------------------------------------

def test_digest_ignores_output_paths() -> None:
    outputs = parse_config({"archive": "s3://bucket/runs", "report": None, "html": "gate.html"})
    assert outputs.digest() == DEFAULT_CONFIG.digest()


def test_digest_ignores_how_defaults_are_written() -> None:
    explicit = parse_config({"version": 1, "overfitting": {"metric": "fitness", "demote": False},
                             "on_invalid": "drop", "metrics": {n: {} for n in V241}})
    assert explicit.digest() == DEFAULT_CONFIG.digest()


@pytest.mark.parametrize("options", [
    pytest.param({"metrics": {"fitness": {"approved": 0.71}}}, id="threshold"),
    pytest.param({"overfitting": {"demote": True}}, id="demote"),
    pytest.param({"on_invalid": "review"}, id="on_invalid"),
    pytest.param({"on_review": "fail"}, id="on_review"),
    pytest.param({"validation_interval": 40}, id="validation_interval"),
    pytest.param({"overrides": [{"match": "*"}]}, id="overrides"),
    pytest.param({"baseline": {}}, id="baseline"),
])
def test_digest_changes_with_what_decides_verdicts(options: dict[str, Any]) -> None:
    assert parse_config(options).digest() != DEFAULT_CONFIG.digest()


# --- errors ------------------------------------------------------------------------------------

ERRORS = [
    pytest.param("""\
        version: 1
        metrics:
          fitness:
            aproved: 0.8
        """, 4, ["metrics.fitness.aproved", "unknown key 'aproved'",
                 "did you mean 'approved'?"], id="unknown-metric-key"),
    pytest.param("""\
        version: 1
        ovrefitting: {demote: true}
        """, 2, ["ovrefitting", "unknown key 'ovrefitting'", "did you mean 'overfitting'?"],
        id="unknown-top-key"),
    pytest.param("""\
        overfitting:
          demote: true
          decline_treshold: 0.1
        """, 3, ["overfitting.decline_treshold", "unknown key 'decline_treshold'",
                 "did you mean 'decline_threshold'?"], id="unknown-overfitting-key"),
    pytest.param("""\
        overrides:
          - match: "*"
            metric: {fitness: {approved: 0.6}}
        """, 3, ["overrides[0].metric", "unknown key 'metric'", "did you mean 'metrics'?"],
        id="unknown-override-key"),
    pytest.param("""\
        metrics:
          fitness: {approved: 0.5, review: 0.7}
        """, 2, ["metrics.fitness", "review bound 0.7 is stricter than approved bound 0.5"],
        id="inverted-higher"),
    pytest.param("""\
        metrics:
          max_drawdown: {approved: 0.2, review: 0.1}
        """, 2, ["metrics.max_drawdown", "review bound 0.1 is stricter than approved bound 0.2"],
        id="inverted-lower"),
    pytest.param("""\
        metrics:
          fitness: {approved: .nan}
        """, 2, ["metrics.fitness.approved", "finite"], id="nan-bound"),
    pytest.param("""\
        metrics:
          fitness:
            review: -.inf
        """, 3, ["metrics.fitness.review", "finite", "-inf"], id="inf-bound"),
    pytest.param("""\
        overfitting:
          decline_threshold: .inf
        """, 2, ["overfitting.decline_threshold", "finite"], id="inf-threshold"),
    pytest.param("""\
        version: 1
        metrics: {}
        """, 2, ["metrics", "at least one metric"], id="empty-metric-set"),
    pytest.param("""\
        overfitting:
          metric: accuracy
        """, 2, ["overfitting.metric", "'accuracy' is not a gated metric"],
        id="overfitting-metric-not-gated"),
    pytest.param("""\
        metrics:
          a: {key: x, approved: 1, review: 0}
          b: {key: x, approved: 1, review: 0}
        """, 1, ["metrics", "'a' and 'b' both read the summary key 'x'"], id="two-metrics-one-key"),
    pytest.param("""\
        metrics:
          fitness: {}
          other: {key: final_fitness, approved: 1, review: 0}
        """, 1, ["'fitness' and 'other' both read the summary key 'final_fitness'"],
        id="key-is-another-metrics-alias"),
    pytest.param("""\
        metrics:
          fitness: {approved: high}
        """, 2, ["metrics.fitness.approved", "expected a number", '"high"'],
        id="string-bound"),
    pytest.param("""\
        metrics:
          fitness: {approved: true}
        """, 2, ["metrics.fitness.approved", "expected a number", "true"], id="bool-bound"),
    pytest.param("""\
        metrics:
          fitness: {higher_is_better: maybe}
        """, 2, ["metrics.fitness.higher_is_better", '"maybe"'], id="string-direction"),
    pytest.param("""\
        metrics: [fitness, consistency]
        """, 1, ["metrics", "dictionary"], id="metrics-is-a-list"),
    pytest.param("""\
        validation_interval: forty
        """, 1, ["validation_interval", '"forty"'], id="string-interval"),
    pytest.param("""\
        validation_interval: 0
        """, 1, ["validation_interval", "greater than or equal to 1"], id="zero-interval"),
    pytest.param("""\
        version: 2
        """, 1, ["version", "got 2"], id="bad-version"),
    pytest.param("""\
        on_review: skip
        """, 1, ["on_review", "'xfail', 'fail' or 'pass'", '"skip"'], id="bad-on-review"),
    pytest.param("""\
        on_invalid: ignore
        """, 1, ["on_invalid", "'drop' or 'review'", '"ignore"'], id="bad-on-invalid"),
    pytest.param("""\
        version: 1
        on_review: xfail
        on_review: fail
        """, 3, ["duplicate key 'on_review'"], id="duplicate-key"),
    pytest.param("""\
        metrics:
          fitness: {approved: 0.8}
          fitness: {approved: 0.9}
        """, 3, ["metrics", "duplicate key 'fitness'"], id="duplicate-nested-key"),
    pytest.param("""\
        version: 1
        metrics:
          fitness: {approved: 0.8
        """, 4, ["invalid YAML"], id="yaml-syntax-flow"),
    pytest.param("""\
        version: 1
        metrics:
        \tfitness: 1
        """, 3, ["invalid YAML"], id="yaml-syntax-tab"),
    pytest.param("""\
        - fitness
        - pf
        """, None, ["expected a mapping of options"], id="top-level-list"),
    pytest.param("""\
        overrides:
          - match: "*USD_*"
            metrics: {max_dd: {approved: 0.1}}
        """, 3, ["overrides[0].metrics", "'max_dd' is not a gated metric",
                 "did you mean 'max_drawdown'?"], id="override-unknown-metric"),
    pytest.param("""\
        overrides:
          - match: "*USD_*"
            metrics: {max_drawdown: {approved: 0.3}}
        """, 3, ["overrides[0].metrics.max_drawdown",
                 "review bound 0.15 is stricter than approved bound 0.3"],
        id="override-inverts-bounds"),
    pytest.param("""\
        overrides:
          - metrics: {fitness: {approved: 0.6}}
        """, 2, ["overrides[0].match", "missing"], id="override-without-match"),
    pytest.param("""\
        overrides:
          - match: "*"
            metrics: {fitness: {key: other}}
        """, 3, ["overrides[0].metrics.fitness.key", "unknown key 'key'"],
        id="override-cannot-change-key"),
    pytest.param("""\
        metrics:
          accuracy: {review: 0.5}
        """, 2, ["metrics.accuracy.approved", "missing"], id="new-metric-without-bound"),
    pytest.param("""\
        baseline:
          against: first
        """, 2, ["baseline.against", "'last' or 'last_approved'", '"first"'],
        id="bad-baseline-against"),
    pytest.param("""\
        baseline:
          max_decline: {fitnes: 0.1}
        """, 2, ["baseline.max_decline", "'fitnes' is not a gated metric",
                 "did you mean 'fitness'?"], id="baseline-unknown-metric"),
]


@pytest.mark.parametrize(("text", "line", "parts"), ERRORS)
def test_config_errors(tmp_path: Path, text: str, line: int | None, parts: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path) + (f":{line}: " if line is not None else ": "))
    for part in parts:
        assert part in message
    assert info.value.file == str(path)
    assert info.value.line == line
    assert "\n" not in message


def test_unknown_key_lists_the_allowed_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "metrics:\n  fitness: {aproved: 0.8}\n"))
    assert "allowed: key, aliases, higher_is_better, approved, review, flag" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(path)
    assert str(info.value).startswith(str(path))
    with pytest.raises(ConfigError, match="config file not found"):
        find_config(path, tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gate.yaml"
    path.write_bytes(b"version: 1\non_review: \xff\n")
    with pytest.raises(ConfigError, match="not valid UTF-8") as info:
        load_config(path)
    assert str(info.value).startswith(str(path))


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "gate.yaml"
    path.write_bytes(b"\xef\xbb\xbfon_review: fail\n")
    assert load_config(path).on_review == "fail"


def test_find_config(tmp_path: Path) -> None:
    assert find_config(None, tmp_path) is None
    assert find_config(None, None) is None
    found = write(tmp_path, "on_review: pass\n")
    assert find_config(None, tmp_path) == found
    other = write(tmp_path, "on_review: fail\n", "other.yaml")
    assert find_config(other, tmp_path) == other


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = write(tmp_path, "archive: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(path)
