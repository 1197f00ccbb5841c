"""Training summary file -> TrainingSummary: every accepted shape, normalised to one model."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest

from pytest_model_gate.core.config import DEFAULT_CONFIG
from pytest_model_gate.core.summary import (
    MetricSeries,
    TrainingSummary,
    load_summary,
    parse_summary,
    symbol_of,
)
from pytest_model_gate.errors import SummaryError

GOOD = {"fitness_score": 0.8, "profit_factor": 2.0, "consistency": 0.9, "max_drawdown": 0.05}


def parse(data: Any) -> TrainingSummary:
    return parse_summary(data, source="s.json", config=DEFAULT_CONFIG)


def series(summary: TrainingSummary, name: str, index: int = 0) -> MetricSeries | None:
    found = summary.models[index].lookup([name])
    return None if found is None else found[1]


def load_text(tmp_path: Path, text: str | bytes, name: str = "s.json") -> TrainingSummary:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return load_summary(path, DEFAULT_CONFIG)


# --- containers --------------------------------------------------------------------------------

@pytest.mark.parametrize("container", ["models", "symbols", "results"])
@pytest.mark.parametrize("form", ["mapping", "list"])
def test_container_keys_and_forms(container: str, form: str) -> None:
    ids = ["AAPL_1Hour", "BTCUSD_15Min", "MSFT_1Day"]
    if form == "mapping":
        models: Any = {i: {"metrics": {**GOOD, "fitness_score": n / 10}}
                       for n, i in enumerate(ids)}
    else:
        models = [{"id": i, "metrics": {**GOOD, "fitness_score": n / 10}}
                  for n, i in enumerate(ids)]
    summary = parse({"timestamp": "20251227_101500", container: models})
    assert [m.id for m in summary.models] == ids
    assert [series(summary, "fitness_score", n) for n in range(3)] == [
        MetricSeries(0.0), MetricSeries(0.1), MetricSeries(0.2)]
    assert summary.metadata == {"timestamp": "20251227_101500"}
    assert summary.timestamp == "20251227_101500"


def test_first_container_key_wins() -> None:
    summary = parse({"models": {"A_1": GOOD}, "results": {"accuracy": 0.9}})
    assert [m.id for m in summary.models] == ["A_1"]
    assert summary.metadata == {"results": {"accuracy": 0.9}}


@pytest.mark.parametrize(("model", "model_id", "symbol"), [
    pytest.param({"id": "AAPL_1Hour"}, "AAPL_1Hour", "AAPL", id="id"),
    pytest.param({"name": "resnet18-lr1e-3"}, "resnet18-lr1e-3", "resnet18-lr1e-3", id="name"),
    pytest.param({"symbol": "TSLA"}, "TSLA", "TSLA", id="symbol"),
    pytest.param({"id": "m_1", "name": "n", "symbol": "S"}, "m_1", "S", id="id-before-name"),
    pytest.param({"name": "n_1", "symbol": "S"}, "n_1", "S", id="name-before-symbol"),
    pytest.param({"id": None, "name": "n_1"}, "n_1", "n", id="null-id-skipped"),
])
def test_list_model_ids(model: dict[str, Any], model_id: str, symbol: str) -> None:
    summary = parse({"models": [{**model, **GOOD}]})
    assert (summary.models[0].id, summary.models[0].symbol) == (model_id, symbol)


# --- where the metrics are ---------------------------------------------------------------------

@pytest.mark.parametrize("model", [
    pytest.param({"metrics": GOOD}, id="metrics"),
    pytest.param({"validation_metrics": GOOD}, id="validation_metrics"),
    pytest.param(GOOD, id="flat"),
    pytest.param({"metrics": {"fitness_score": 0.8, "profit_factor": 2.0},
                  "consistency": 0.9, "max_drawdown": 0.05}, id="block-and-flat"),
])
def test_metric_locations(model: dict[str, Any]) -> None:
    summary = parse({"models": {"AAPL_1Hour": {"symbol": "AAPL", **model}}})
    for key, value in GOOD.items():
        assert series(summary, key) == MetricSeries(value)


@pytest.mark.parametrize(("metrics", "final", "history"), [
    pytest.param({"f": 0.8}, 0.8, (), id="scalar"),
    pytest.param({"f": 3}, 3.0, (), id="integer"),
    pytest.param({"f": [0.6, 0.7, 0.8]}, 0.8, (0.6, 0.7, 0.8), id="list"),
    pytest.param({"f_history": [0.6, 0.7]}, 0.7, (0.6, 0.7), id="history-suffix-alone"),
    pytest.param({"f": 0.75, "f_history": [0.6, 0.8]}, 0.75, (0.6, 0.8),
                 id="scalar-plus-history"),
    pytest.param({"f_history": [0.6, 0.8], "f": 0.75}, 0.75, (0.6, 0.8),
                 id="history-before-scalar"),
    pytest.param({"f": None}, None, (), id="null"),
    pytest.param({"f": [0.6, None]}, None, (0.6, None), id="history-ends-null"),
    pytest.param({"f": [0.6, None, 0.7]}, 0.7, (0.6, None, 0.7), id="null-inside-history"),
    pytest.param({"f": []}, None, (), id="empty-list"),
    pytest.param({"f": None, "f_history": [0.6]}, None, (0.6,), id="null-final-plus-history"),
])
def test_metric_value_shapes(metrics: dict[str, Any], final: float | None,
                             history: tuple[Any, ...]) -> None:
    summary = parse_summary({"models": {"A": {"metrics": metrics}}})
    assert series(summary, "f") == MetricSeries(final, history)


ALIASES = ("fitness_score", "fitness", "final_fitness")  # the built-in fitness key + aliases


@pytest.mark.parametrize(("metrics", "key", "final", "history"), [
    pytest.param({"final_fitness": 0.75, "fitness_history": [0.7, 0.78, 0.75]},
                 "final_fitness", 0.75, (0.7, 0.78, 0.75), id="alias-final-plus-other-history"),
    pytest.param({"final_fitness": 0.74, "fitness_history": [0.7, 0.78, 0.75]},
                 "final_fitness", 0.74, (0.7, 0.78, 0.75), id="explicit-final-wins"),
    pytest.param({"fitness_history": [0.7, 0.78]}, "fitness", 0.78, (0.7, 0.78),
                 id="history-alone"),
    pytest.param({"fitness_score": [0.6, 0.9], "fitness_history": [0.1, 0.2]},
                 "fitness_score", 0.9, (0.6, 0.9), id="key-list-keeps-own-history"),
    pytest.param({"fitness_score": 0.8, "final_fitness": 0.1, "fitness_history": [0.5, 0.8]},
                 "fitness_score", 0.8, (0.5, 0.8), id="key-before-alias"),
    pytest.param({"final_fitness": 0.75}, "final_fitness", 0.75, (), id="alias-scalar-only"),
])
def test_final_and_history_across_aliases(metrics: dict[str, Any], key: str,
                                          final: float, history: tuple[float, ...]) -> None:
    """The final value is the first name given as an entry of its own; a scalar final takes
    its history from the first `<name>_history` among the key and aliases."""
    for where in ("nested", "flat"):
        model = {"metrics": metrics} if where == "nested" else dict(metrics)
        summary = parse_summary({"models": {"A": model}})
        assert summary.models[0].lookup(ALIASES) == (key, MetricSeries(final, history))


def test_integer_too_large_for_a_float_is_infinite() -> None:
    summary = parse_summary({"models": {"A": {"f": 10 ** 400}}})
    assert series(summary, "f") == MetricSeries(math.inf)


# --- files: JSON tokens, YAML, encodings -----------------------------------------------------

def test_nan_and_infinity_tokens(tmp_path: Path) -> None:
    summary = load_text(tmp_path, '{"models": {"A_1": {"metrics": {'
                        '"fitness_score": [0.5, NaN, 0.7], "profit_factor": Infinity, '
                        '"consistency": -Infinity, "max_drawdown": null}}}}')
    fitness = series(summary, "fitness_score")
    assert fitness is not None
    assert fitness.final == 0.7
    assert math.isnan(fitness.history[1])
    assert series(summary, "profit_factor") == MetricSeries(math.inf)
    assert series(summary, "consistency") == MetricSeries(-math.inf)
    assert series(summary, "max_drawdown") == MetricSeries(None)


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".YAML"])
def test_yaml_by_extension(tmp_path: Path, suffix: str) -> None:
    text = """\
timestamp: "20251227_101500"
validation_interval: 40
models:
  AAPL_1Hour:
    metrics:
      fitness_score: [0.6, 0.7, .nan, 0.8]
      profit_factor: .inf
      consistency: 0.9
      max_drawdown: ~
"""
    summary = load_text(tmp_path, text, "summary" + suffix)
    fitness = series(summary, "fitness_score")
    assert fitness is not None and fitness.final == 0.8
    assert math.isnan(fitness.history[2])
    assert series(summary, "profit_factor") == MetricSeries(math.inf)
    assert series(summary, "max_drawdown") == MetricSeries(None)
    assert summary.models[0].validation_interval == 40


def test_json_extension_is_not_read_as_yaml(tmp_path: Path) -> None:
    with pytest.raises(SummaryError, match="invalid JSON"):
        load_text(tmp_path, "models:\n  A: {f: 1}\n", "s.json")


@pytest.mark.parametrize("name", ["s.json", "s.yaml"])
def test_utf8_with_bom_and_non_ascii_ids(tmp_path: Path, name: str) -> None:
    text = '{"models": {"DAX_Ü_1Hour": {"symbol": "日経", "fitness_score": 0.8}}}'
    summary = load_text(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"), name)
    assert (summary.models[0].id, summary.models[0].symbol) == ("DAX_Ü_1Hour", "日経")


def test_other_extension_is_json(tmp_path: Path) -> None:
    summary = load_text(tmp_path, json.dumps({"models": {"A": GOOD}}), "summary.txt")
    assert summary.models[0].id == "A"


def test_digest_and_raw_bytes(tmp_path: Path) -> None:
    raw = json.dumps({"models": {"A": GOOD}}, indent=2).encode()
    path = tmp_path / "s.json"
    path.write_bytes(raw)
    summary = load_summary(path)
    assert summary.sha256 == hashlib.sha256(raw).hexdigest()
    assert summary.raw == raw
    assert summary.source == str(path)


# --- model facts -------------------------------------------------------------------------------

@pytest.mark.parametrize(("run", "model", "expected"), [
    pytest.param(None, None, None, id="none"),
    pytest.param(40, None, 40, id="run"),
    pytest.param(None, 25, 25, id="model"),
    pytest.param(40, 25, 25, id="model-beats-run"),
    pytest.param(40, None, 40, id="run-for-every-model"),
])
def test_validation_interval(run: int | None, model: int | None, expected: int | None) -> None:
    data: dict[str, Any] = {"models": {"A_1": {**GOOD}, "B_1": {**GOOD}}}
    if run is not None:
        data["validation_interval"] = run
    if model is not None:
        data["models"]["A_1"]["validation_interval"] = model
    summary = parse(data)
    assert summary.models[0].validation_interval == expected
    assert summary.models[1].validation_interval == run


@pytest.mark.parametrize(("model_id", "symbol", "expected"), [
    pytest.param("AAPL_1Hour", None, "AAPL", id="prefix"),
    pytest.param("BTCUSD_15Min", None, "BTCUSD", id="crypto"),
    pytest.param("ES_F_1Min", None, "ES", id="first-underscore"),
    pytest.param("resnet18-lr1e-3", None, "resnet18-lr1e-3", id="no-underscore"),
    pytest.param("BRKB_1Hour", "BRK.B", "BRK.B", id="symbol-field"),
    pytest.param("AAPL_1Hour", "", "AAPL", id="empty-symbol-field"),
])
def test_symbol_of(model_id: str, symbol: str | None, expected: str) -> None:
    assert symbol_of(model_id, symbol) == expected
    fields = {} if symbol is None else {"symbol": symbol}
    summary = parse({"models": {model_id: {**fields, **GOOD}}})
    assert summary.models[0].symbol == expected


def test_everything_else_is_kept() -> None:
    data = {"timestamp": "20251227_101500", "version": "2.4.5", "reward_scale": 0.001,
            "models": {"AAPL_1Hour": {"symbol": "AAPL", "timeframe": "1Hour",
                                      "model_path": "models/AAPL_1Hour.pt", "notes": "ok",
                                      "metrics": {**GOOD, "sharpe": [1, 2], "comment": "x"}}}}
    summary = parse(data)
    assert summary.metadata == {"timestamp": "20251227_101500", "version": "2.4.5",
                                "reward_scale": 0.001}
    model = summary.models[0]
    assert model.data["timeframe"] == "1Hour"
    assert model.data["model_path"] == "models/AAPL_1Hour.pt"
    assert model.place == "models.AAPL_1Hour"
    assert series(summary, "sharpe") == MetricSeries(2.0, (1.0, 2.0))


def test_ungated_entries_need_not_be_numbers() -> None:
    data = {"models": {"A": {"metrics": {**GOOD, "comment": "fine", "flag": True,
                                         "notes_history": "n/a"}}}}
    assert parse(data).models[0].id == "A"


def test_gated_entries_are_checked_only_with_a_config() -> None:
    data = {"models": {"A": {**GOOD, "profit_factor": "n/a"}}}
    assert parse_summary(data).models[0].id == "A"
    with pytest.raises(SummaryError, match=r'models\.A\.profit_factor: .*got "n/a"'):
        parse(data)


def test_the_example_summaries_parse(trading_summary: Path, classifier_summary: Path) -> None:
    trading = load_summary(trading_summary, DEFAULT_CONFIG)
    assert len(trading.models) == 24
    assert trading.models[0].id == "AAPL_1Min"
    assert trading.models[0].validation_interval == 40
    sweep = load_summary(classifier_summary)
    assert len(sweep.models) == 12
    assert sweep.models[0].id == "resnet18-lr1e-3"
    assert sweep.models[0].validation_interval == 500


# --- errors: one SummaryError naming the file and the place ----------------------------------

ERRORS = [
    pytest.param({"models": [{"id": "A", **GOOD}, {"name": "A", **GOOD}]},
                 "models[1]", "model id 'A' is used twice (first at models[0])", id="dup-list-id"),
    pytest.param({"models": [{"id": "", **GOOD}]}, "models[0].id", "must not be empty",
                 id="empty-id"),
    pytest.param({"models": [{"symbol": "  ", **GOOD}]}, "models[0].symbol",
                 "must not be empty", id="blank-id"),
    pytest.param({"models": {"": GOOD}}, 'models[""]', "must not be empty",
                 id="empty-mapping-id"),
    pytest.param({"models": [GOOD]}, "models[0]", 'needs an "id", "name" or "symbol"',
                 id="list-model-without-id"),
    pytest.param({"models": [{"id": ["A"], **GOOD}]}, "models[0].id", "must be a string",
                 id="list-id"),
    pytest.param({"models": {}}, "models", "holds no models", id="empty-mapping"),
    pytest.param({"symbols": []}, "symbols", "holds no models", id="empty-list"),
    pytest.param({"models": {"A": [1]}}, "models.A", "expected a model object, got a list",
                 id="model-is-a-list"),
    pytest.param({"models": {"A": {"metrics": [1]}}}, "models.A.metrics",
                 "expected an object of metrics", id="metrics-block-is-a-list"),
    pytest.param({"models": {"A": {"validation_metrics": 3}}}, "models.A.validation_metrics",
                 "expected an object of metrics", id="validation-metrics-is-a-number"),
    pytest.param({"models": {"A": {**GOOD, "consistency": True}}}, "models.A.consistency",
                 "got true", id="bool-scalar"),
    pytest.param({"models": {"A": {**GOOD, "consistency": {"v": 1}}}}, "models.A.consistency",
                 "got an object", id="object-metric"),
    pytest.param({"models": {"A": {**GOOD, "fitness_score": [0.5, False]}}},
                 "models.A.fitness_score[1]", "expected a number, got false", id="bool-in-history"),
    pytest.param({"models": {"A": {**GOOD, "fitness_score_history": 0.7}}},
                 "models.A.fitness_score_history", "expected a list of numbers, got 0.7",
                 id="history-not-a-list-beside-scalar"),
    pytest.param({"models": {"A.B c": {"metrics": {**GOOD, "profit_factor": "1"}}}},
                 'models["A.B c"].metrics.profit_factor', 'got "1"', id="quoted-place"),
    pytest.param({"validation_interval": True, "models": {"A": GOOD}}, "validation_interval",
                 "expected a positive whole number, got true", id="bool-interval"),
    pytest.param({"validation_interval": -40, "models": {"A": GOOD}}, "validation_interval",
                 "got -40", id="negative-interval"),
]


@pytest.mark.parametrize(("data", "place", "message"), ERRORS)
def test_summary_errors(data: Any, place: str, message: str) -> None:
    with pytest.raises(SummaryError) as info:
        parse(data)
    assert str(info.value).startswith(f"s.json: {place}: ")
    assert message in str(info.value)
    assert info.value.file == "s.json"
    assert info.value.place == place


@pytest.mark.parametrize("model", [
    pytest.param({**GOOD, "fitness": 0.7, "fitness_history": "x"}, id="alias-history"),
    pytest.param({**GOOD, "pf": "1"}, id="alias-scalar"),
    pytest.param({"metrics": GOOD, "fitness_score": "x"}, id="flat-beside-block"),
])
def test_an_unread_alias_need_not_be_a_number(model: dict[str, Any]) -> None:
    """Names are tried key first, metrics block first: a shadowed entry is never read."""
    summary = parse({"models": {"A": model}})
    assert series(summary, "fitness_score") == MetricSeries(0.8)


@pytest.mark.parametrize(("name", "content", "expected"), [
    pytest.param("s.json", b'{"models": {"A_1": {}, "A_1": {}}}', 'duplicate key "A_1"',
                 id="json-duplicate-model"),
    pytest.param("s.yaml", b"models:\n  A_1: {fitness_score: 0.1}\n  A_1: {fitness_score: 1}\n",
                 'duplicate key "A_1"', id="yaml-duplicate-model"),
    pytest.param("s.yaml", b'models:\n  1: {fitness_score: 1}\n  "1": {fitness_score: 1}\n',
                 "model id '1' is used twice", id="yaml-int-and-str-id"),
    pytest.param("s.yaml", b"models:\n  A_1: {fitness_score: [0.5,\n", "invalid YAML",
                 id="yaml-syntax"),
    pytest.param("s.json", b'{"models": {"A\xff": {}}}', "not valid UTF-8", id="not-utf8"),
    pytest.param("s.json", b'[{"id": "A"}]', "expected a JSON object at the top, got a list",
                 id="top-level-list"),
    pytest.param("s.json", b'{"runs": {}}', "no models found", id="no-container"),
    pytest.param("s.json", b'{"models": "A"}', 'expected an object or a list of models, got "A"',
                 id="container-is-a-string"),
    pytest.param("s.json", b"", "invalid JSON", id="empty-file"),
])
def test_file_errors(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    with pytest.raises(SummaryError) as info:
        load_text(tmp_path, content, name)
    assert str(info.value).startswith(str(tmp_path / name))
    assert expected in str(info.value)


def test_yaml_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    text = ("base: &b {fitness_score: 0.9, profit_factor: 2, consistency: 0.9, "
            "max_drawdown: 0.05}\nmodels:\n  A_1: {<<: *b, fitness_score: 0.6}\n")
    summary = load_text(tmp_path, text, "s.yaml")
    assert series(summary, "fitness_score") == MetricSeries(0.6)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SummaryError, match="summary file not found"):
        load_summary(tmp_path / "nope.json")
    with pytest.raises(SummaryError, match="is a directory"):
        load_summary(tmp_path)
