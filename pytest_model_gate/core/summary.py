"""Training summary file -> TrainingSummary, whatever accepted shape it comes in.

Parsing is lenient about fields it does not need and strict about the ones that are gated:
a value that cannot be a metric is only an error when a gated metric reads it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_model_gate.core.config import MAX_INTERVAL, GateConfig
from pytest_model_gate.core.inputs import (
    MAX_BYTES_ENV,
    MAX_DEPTH,
    InputLimit,
    bounded_recursion,
    load_yaml,
    max_bytes_from_env,
    number_problem,
    read_bounded,
)
from pytest_model_gate.errors import SummaryError
from pytest_model_gate.text import show_value

CONTAINER_KEYS = ("models", "symbols", "results")
METRIC_BLOCK_KEYS = ("metrics", "validation_metrics")
ID_KEYS = ("id", "name", "symbol")
HISTORY_SUFFIX = "_history"
STEPS_SUFFIX = "_steps"

Problem = tuple[str, str]
"""(place, message) of an entry that cannot be a metric."""


@dataclass(frozen=True)
class MetricSeries:
    """A metric's final value (None = missing; may be non-finite) and its validation history,
    with the step of each point when the source logged them (`<metric>_steps`)."""

    final: float | None
    history: tuple[float | None, ...] = ()
    steps: tuple[int, ...] | None = None


@dataclass(frozen=True)
class SummaryModel:
    """One model of a summary, with its metric entries already normalised."""

    id: str
    symbol: str
    place: str
    data: Mapping[str, Any]
    validation_interval: int | None = None
    series: Mapping[str, MetricSeries] = field(default_factory=dict)
    flat_series: Mapping[str, MetricSeries] = field(default_factory=dict)
    bad: Mapping[str, Problem] = field(default_factory=dict)
    flat_bad: Mapping[str, Problem] = field(default_factory=dict)
    # names whose entry came from a `<name>_history` list alone (no `<name>` entry)
    history_only: frozenset[str] = frozenset()
    flat_history_only: frozenset[str] = frozenset()
    # step -> checkpoint folder or file saved at that step (`"checkpoints": {"1200": ...}`)
    checkpoints: Mapping[int, str] = field(default_factory=dict)

    def lookup(self, names: Sequence[str]) -> tuple[str, MetricSeries] | None:
        """The metric that `names` (key, then aliases) read: the metrics block first, then the
        model's own fields.

        The final value is the first name given as an entry of its own; when that is a scalar,
        the history is the first `<name>_history` among the names, so `final_fitness: 0.75`
        beside `fitness_history: [...]` reads as one metric with its history.
        """
        for table, only in ((self.series, self.history_only),
                            (self.flat_series, self.flat_history_only)):
            if not only:  # the usual case: every entry is a direct one
                for name in names:
                    if name in table:
                        return name, table[name]
                continue
            present = [name for name in names if name in table]
            if not present:
                continue
            direct = next((name for name in present if name not in only), None)
            if direct is None:
                return present[0], table[present[0]]
            found = table[direct]
            if not found.history:
                history_of = next((name for name in present if name in only), None)
                if history_of is not None:
                    found = MetricSeries(final=found.final, history=table[history_of].history,
                                         steps=table[history_of].steps)
            return direct, found
        return None

    def problem(self, names: Sequence[str]) -> Problem | None:
        """Why the entry these names read cannot be a metric; None when it can or is absent."""
        for table, bad in ((self.series, self.bad), (self.flat_series, self.flat_bad)):
            for name in names:
                if name in table:
                    return None
                if name in bad:
                    return bad[name]
        return None

    @classmethod
    def from_values(cls, model_id: str, values: Mapping[str, MetricSeries],
                    validation_interval: int | None = None) -> SummaryModel:
        """Build a model from already-normalised series (the Python API's way in)."""
        return cls(id=model_id, symbol=symbol_of(model_id, None), place=model_id, data={},
                   validation_interval=validation_interval, series=dict(values))


@dataclass(frozen=True)
class TrainingSummary:
    """A parsed summary: run metadata, models in file order, and the digest of its bytes."""

    source: str
    sha256: str
    metadata: Mapping[str, Any]
    models: tuple[SummaryModel, ...]
    raw: bytes = b""

    @property
    def timestamp(self) -> str | None:
        ts = self.metadata.get("timestamp")
        return None if ts is None else str(ts)


def symbol_of(model_id: str, symbol: Any) -> str:
    """The `symbol` field when given, else the id up to the first `_` (AAPL_1Hour -> AAPL)."""
    if isinstance(symbol, str) and symbol.strip():
        return symbol
    return model_id.split("_", 1)[0]


_SIMPLE_KEY = re.compile(r"[\w-]+")  # \w is exactly str.isalnum() plus "_"


def _key_place(base: str, key: str) -> str:
    if _SIMPLE_KEY.fullmatch(key):
        return f"{base}.{key}"
    return f"{base}[{json.dumps(key, ensure_ascii=False)}]"


def _number(value: Any) -> float | None:
    """A JSON number as float; None for null; raises TypeError for anything else."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float
        return math.inf if value > 0 else -math.inf


class _BadEntry(Exception):
    """An entry that cannot be a metric. Its place is only spelled out when it is kept
    (`problem`): most models have a few such fields (symbol, model_path) that nothing reads."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index

    def problem(self, where: str) -> Problem:
        return (where if self.index is None else f"{where}[{self.index}]", self.message)


_PLAIN_POINTS = frozenset((float, type(None)))  # points that _number() returns unchanged


def _history(values: list[Any]) -> tuple[float | None, ...]:
    if _PLAIN_POINTS.issuperset(map(type, values)):  # the common case: floats and nulls
        return tuple(values)
    out: list[float | None] = []
    for i, v in enumerate(values):
        try:
            out.append(_number(v))
        except TypeError:
            raise _BadEntry(f"expected a number, got {show_value(v)}", i) from None
    return tuple(out)


def _entry(value: Any) -> MetricSeries:
    """One metric entry: a number, null, or a history whose last point is the final value."""
    if isinstance(value, list):
        hist = _history(value)
        return MetricSeries(final=hist[-1] if hist else None, history=hist)
    try:
        return MetricSeries(final=_number(value))
    except TypeError:
        raise _BadEntry(_NOT_A_METRIC + show_value(value)) from None


_NOT_A_METRIC = "expected a number or a list of numbers, got "


def _normalise_metrics(block: Mapping[str, Any], place: str
                       ) -> tuple[dict[str, MetricSeries], dict[str, Problem], frozenset[str]]:
    """Every entry that can be a metric -> MetricSeries; the others -> (place, message);
    and the names that only a `<name>_history` list gave."""
    series: dict[str, MetricSeries] = {}
    bad: dict[str, Problem] = {}
    histories: dict[str, tuple[float | None, ...]] = {}
    steps = _steps_entries(block)
    for raw_key, value in block.items():
        key = str(raw_key)
        if key in steps:
            continue
        is_history = key.endswith(HISTORY_SUFFIX) and len(key) > len(HISTORY_SUFFIX)
        name = key[: -len(HISTORY_SUFFIX)] if is_history else key
        if not is_history:  # fast paths for the two commonest scalars, same results
            if type(value) is float or value is None:  # what _number() returns unchanged
                series[name] = MetricSeries(final=value)
                continue
            if type(value) is str:  # a label (symbol, model_path, ...): not a metric
                bad[name] = (_key_place(place, key), _NOT_A_METRIC + show_value(value))
                continue
        try:
            if not is_history:
                series[name] = _entry(value)
            elif isinstance(value, list):
                histories[name] = _history(value)
            else:
                raise _BadEntry(f"expected a list of numbers, got {show_value(value)}")
        except _BadEntry as exc:
            bad[name] = exc.problem(_key_place(place, key))
    history_only: set[str] = set()
    for name, hist in histories.items():
        if name in bad:
            continue
        current = series.get(name)
        if current is None:
            series[name] = MetricSeries(final=hist[-1] if hist else None, history=hist)
            history_only.add(name)
        elif current.history:
            bad[name] = (_key_place(place, name), "given as a history and also as "
                         f"{name}{HISTORY_SUFFIX}; give one of them")
            del series[name]
        else:
            series[name] = MetricSeries(final=current.final, history=hist)
    for name in bad:  # e.g. a good scalar beside a bad `_history`: the entry is not a metric
        series.pop(name, None)
        history_only.discard(name)
    for key, name in steps.items():
        _attach_steps(series, bad, name, block[key], _key_place(place, key))
    return series, bad, frozenset(history_only)


def _steps_entries(block: Mapping[str, Any]) -> dict[str, str]:
    """`<name>_steps` keys that give the steps of a metric `<name>` (or `<name>_history`) of
    the same block -> that name. Any other `..._steps` key is an ordinary entry."""
    out: dict[str, str] = {}
    for raw_key in block:
        key = str(raw_key)
        if key.endswith(STEPS_SUFFIX) and len(key) > len(STEPS_SUFFIX):
            name = key[: -len(STEPS_SUFFIX)]
            if name in block or name + HISTORY_SUFFIX in block:
                out[key] = name
    return out


def _attach_steps(series: dict[str, MetricSeries], bad: dict[str, Problem], name: str,
                  value: Any, place: str) -> None:
    """Steps go with the history point for point; a bad list makes the metric a bad entry
    (an error only when a gated metric reads it, as for any other entry)."""
    current = series.get(name)
    if current is None:
        return
    if not isinstance(value, list) or any(
            isinstance(v, bool) or not isinstance(v, (int, float))
            or (isinstance(v, float) and not v.is_integer()) for v in value):
        bad[name] = (place, f"expected a list of whole-number steps, got {show_value(value)}")
    elif len(value) != len(current.history):
        bad[name] = (place, f"{len(value)} steps for a history of {len(current.history)} "
                            "points; give one step per point")
    else:
        series[name] = MetricSeries(final=current.final, history=current.history,
                                    steps=tuple(int(v) for v in value))
        return
    del series[name]


def _checkpoints(value: Any) -> dict[int, str]:
    """`{"1200": "checkpoint-1200/"}` -> {1200: "checkpoint-1200/"}; other shapes are kept in
    the model's data as they are but name no checkpoint."""
    out: dict[int, str] = {}
    if isinstance(value, Mapping):
        for step, where in value.items():
            try:
                out[int(str(step))] = str(where)
            except ValueError:
                continue
    return out


def _interval(value: Any, place: str, source: str) -> int | None:
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or (isinstance(value, float) and not value.is_integer()) or value < 1):
        raise SummaryError(f"expected a positive whole number, got {show_value(value)}",
                           file=source, place=place)
    if value > MAX_INTERVAL:
        raise SummaryError(f"expected at most {MAX_INTERVAL:,} updates between validations, "
                           f"got {show_value(value)}", file=source, place=place)
    return int(value)


def _model_id(raw_id: Any, place: str, source: str) -> str:
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise SummaryError(f"a model id must be a string, got {show_value(raw_id)}", file=source,
                           place=place)
    model_id = str(raw_id)
    if not model_id.strip():
        raise SummaryError("a model id must not be empty", file=source, place=place)
    return model_id


def _claim_id(seen: dict[str, str], model_id: str, place: str, source: str) -> None:
    """Model ids are unique: the second use of one is an error naming both places."""
    if model_id in seen:
        raise SummaryError(f"model id {model_id!r} is used twice (first at {seen[model_id]})",
                           file=source, place=place)
    seen[model_id] = place


def _parse_model(model_id: str, obj: Any, place: str, run_interval: int | None,
                 source: str, block_keys: tuple[str, ...] = METRIC_BLOCK_KEYS) -> SummaryModel:
    if not isinstance(obj, Mapping):
        raise SummaryError(f"expected a model object, got {show_value(obj)}", file=source,
                           place=place)
    series: dict[str, MetricSeries] = {}
    bad: dict[str, Problem] = {}
    only: frozenset[str] = frozenset()
    for block_key in block_keys:
        if block_key in obj:
            block = obj[block_key]
            if not isinstance(block, Mapping):
                raise SummaryError(f"expected an object of metrics, got {show_value(block)}",
                                   file=source, place=f"{place}.{block_key}")
            series, bad, only = _normalise_metrics(block, f"{place}.{block_key}")
            break
    flat, flat_bad, flat_only = _normalise_metrics(
        {k: v for k, v in obj.items() if k not in block_keys}, place)
    interval = _interval(obj.get("validation_interval"), f"{place}.validation_interval", source)
    return SummaryModel(
        id=model_id, symbol=symbol_of(model_id, obj.get("symbol")), place=place, data=obj,
        validation_interval=interval if interval is not None else run_interval,
        series=series, flat_series=flat, bad=bad, flat_bad=flat_bad, history_only=only,
        flat_history_only=flat_only, checkpoints=_checkpoints(obj.get("checkpoints")))


def parse_summary(data: Any, *, source: str = "<summary>", raw: bytes = b"",
                  config: GateConfig | None = None, check: bool = True) -> TrainingSummary:
    """Normalise a parsed summary; with a config, every gated metric is checked now
    (`check=False`: only its metrics_key is used, for tools that inspect the shape)."""
    if not isinstance(data, Mapping):
        raise SummaryError(f"expected a JSON object at the top, got {show_value(data)}",
                           file=source)
    container_key = next((k for k in CONTAINER_KEYS if k in data), None)
    if container_key is None:
        raise SummaryError(f"no models found: expected a {' / '.join(map(repr, CONTAINER_KEYS))} "
                           "key holding the models", file=source)
    container = data[container_key]
    run_interval = _interval(data.get("validation_interval"), "validation_interval", source)
    models: list[SummaryModel] = []
    seen: dict[str, str] = {}
    block_keys: tuple[str, ...] = METRIC_BLOCK_KEYS
    if config is not None and config.metrics_key is not None:
        block_keys = (config.metrics_key, *METRIC_BLOCK_KEYS)
    if isinstance(container, Mapping):
        for raw_id, obj in container.items():
            place = _key_place(container_key, str(raw_id))
            model_id = _model_id(raw_id, place, source)
            _claim_id(seen, model_id, place, source)  # YAML keys 1 and "1" are one id
            models.append(_parse_model(model_id, obj, place, run_interval, source, block_keys))
    elif isinstance(container, list):
        for i, obj in enumerate(container):
            place = f"{container_key}[{i}]"
            if not isinstance(obj, Mapping):
                raise SummaryError(f"expected a model object, got {show_value(obj)}", file=source,
                                   place=place)
            id_key = next((k for k in ID_KEYS if obj.get(k) is not None), None)
            if id_key is None:
                raise SummaryError('a model needs an "id", "name" or "symbol"', file=source,
                                   place=place)
            model_id = _model_id(obj[id_key], f"{place}.{id_key}", source)
            _claim_id(seen, model_id, place, source)
            models.append(_parse_model(model_id, obj, place, run_interval, source, block_keys))
    else:
        raise SummaryError(f"expected an object or a list of models, got {show_value(container)}",
                           file=source, place=container_key)
    if not models:
        raise SummaryError("the summary holds no models", file=source, place=container_key)
    metadata = {k: v for k, v in data.items() if k != container_key}
    summary = TrainingSummary(source=source, sha256=hashlib.sha256(raw).hexdigest(),
                              metadata=metadata, models=tuple(models), raw=raw)
    if config is not None and check:
        lookups = [spec.names for spec in config.metrics.values()]
        check_gated_metrics(summary, lookups)
        check_some_metric_found(summary, config)
    return summary


def check_some_metric_found(summary: TrainingSummary, config: GateConfig, *,
                            containers: bool = True) -> None:
    """A summary where no model carries any gated metric is a setup mistake (metrics under
    another key, another name), never a run of all-DROP verdicts: say what was found.
    `containers=False` for sources read from training tools' files, whose metrics are named
    as logged: there, another container key is never the cause."""
    lookups = [spec.names for spec in config.metrics.values()]
    for model in summary.models:  # usually decided by the first model
        if any(model.lookup(names) is not None for names in lookups):
            return
    raise SummaryError(_no_metric_message(summary.models, config, containers=containers),
                       file=summary.source)


def _no_metric_message(models: Sequence[SummaryModel], config: GateConfig, *,
                       containers: bool) -> str:
    n = len(models)
    head = f"no gated metric found in any of {n} model{'s' if n != 1 else ''}"
    # 1. metrics under another container key: an object of numbers in the model
    blocks: dict[str, list[str]] = {}
    for model in models if containers else ():
        for key, value in model.data.items():
            if (isinstance(value, Mapping) and value and str(key) not in METRIC_BLOCK_KEYS
                    and str(key) != config.metrics_key
                    and any(_metric_like(v) for v in value.values())):
                names = blocks.setdefault(str(key), [])
                names.extend(str(k) for k in value if str(k) not in names)
    if blocks:
        key, names = max(blocks.items(), key=lambda kv: len(kv[1]))
        return (f"{head}; models carry {json.dumps(key, ensure_ascii=False)} with keys "
                f"{_few(names)}: set metrics_key: {key} in gate.yaml")
    # 2. metrics under other names: the nearest found key for each gated metric
    found: list[str] = []
    for model in models:
        for name in (*model.series, *model.flat_series):
            if name not in found and not name.endswith(STEPS_SUFFIX):
                found.append(name)
    gated = ", ".join(f"{n} ({'/'.join(s.names)})" for n, s in config.metrics.items())
    if not found:
        return f"{head} (gated: {gated}); the models carry no numeric values at all"
    hints = []
    for name, spec in config.metrics.items():
        close = nearest_key((name, *spec.names), found)
        if close:
            hints.append(f"set metrics.{name}.key: {close} in gate.yaml")
    hint = "; nearest match: " + ", ".join(hints) if hints else \
        "; list the metrics to gate under metrics: in gate.yaml"
    return f"{head} (gated: {gated}); models carry metric keys {_few(found)}{hint}"


_AFFIXES = re.compile(r"^(?:val|valid|validation|eval|test|train|final|best)[_/.-]|"
                      r"[_/.-](?:score|value)$")


def nearest_key(names: Sequence[str], found: Sequence[str]) -> str | None:
    """The found key most like one of `names` (a metric's name, key and aliases), if any:
    close spelling, or the same word once prefixes such as `val_` / `eval/` are set aside
    and abbreviations allowed (`val_acc` for `accuracy`)."""
    for name in names:
        close = difflib.get_close_matches(name, found, n=1, cutoff=0.6)
        if close:
            return close[0]
    bare = {key: _AFFIXES.sub("", key.lower()) for key in found}
    for name in names:
        word = _AFFIXES.sub("", name.lower())
        for key, stem in bare.items():
            if len(stem) >= 3 and len(word) >= 3 and (word.startswith(stem)
                                                      or stem.startswith(word)):
                return key
    return None


def _metric_like(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(v is None or (isinstance(v, (int, float))
                                                 and not isinstance(v, bool)) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _few(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def check_gated_metrics(summary: TrainingSummary, lookups: Iterable[Sequence[str]]) -> None:
    """Raise the first error of an entry that a gated metric reads but is not a metric."""
    lookups = [tuple(names) for names in lookups]
    read = frozenset(name for names in lookups for name in names)
    for model in summary.models:
        # problem() can only find something under a name some lookup reads
        if read.isdisjoint(model.bad) and read.isdisjoint(model.flat_bad):
            continue
        for names in lookups:
            problem = model.problem(names)
            if problem is not None:
                place, message = problem
                raise SummaryError(message, file=summary.source, place=place)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # some key repeats: name the first one that does
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise SummaryError(
                    f"duplicate key {json.dumps(key, ensure_ascii=False)} in an object")
            seen.add(key)
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects a duplicate key (it would silently hide a model)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
            continue
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            continue  # construct_mapping reports it
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {json.dumps(key, ensure_ascii=False, default=str)}",
                key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def decode_summary(raw: bytes, source: str, *, yaml_format: bool = False) -> Any:
    """Bytes -> Python data (JSON with NaN/Infinity tokens, or YAML); errors name the file.

    Bounded: nesting beyond MAX_DEPTH levels, YAML aliases that expand past a budget and
    numbers that cannot be converted are one-line errors, in milliseconds."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SummaryError(f"not valid UTF-8 (byte {exc.start})", file=source) from None
    if yaml_format:
        try:
            data, _ = load_yaml(text, _UniqueKeyLoader)  # a SafeLoader
        except InputLimit as exc:
            raise SummaryError(str(exc), file=source) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            raise SummaryError(f"invalid YAML: {problem}", file=source,
                               line=mark.line + 1 if mark is not None else None) from None
    else:
        try:
            with bounded_recursion(MAX_DEPTH + 50):
                data = json.loads(text, object_pairs_hook=_reject_duplicates)
        except SummaryError as exc:
            raise SummaryError(exc.message, file=source) from None
        except json.JSONDecodeError as exc:
            raise SummaryError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=source,
                               line=exc.lineno) from None
        except RecursionError:
            raise SummaryError(f"invalid JSON: nested more than about {MAX_DEPTH} levels deep",
                               file=source) from None
        except ValueError as exc:  # an integer beyond Python's 4,300-digit conversion limit
            raise SummaryError(f"a number cannot be read: {number_problem(exc)}",
                               file=source) from None
    if _SURROGATE_ESCAPE.search(raw):
        _refuse_surrogates(data, source)
    return data


# `\ud800`..`\udfff` escapes: the only way a lone surrogate (not valid Unicode, and not
# writable as UTF-8 to a report or the archive) gets into the parsed data.
_SURROGATE_ESCAPE = re.compile(rb"\\[uU][dD][89a-fA-F]")


def _refuse_surrogates(data: Any, source: str) -> None:
    """Refuse a string holding a lone surrogate, naming its place (iterative walk)."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, place = stack.pop()
        if isinstance(value, str):
            bad = _lone_surrogate(value)
            if bad is not None:
                raise SummaryError(f"text holds a lone surrogate \\u{ord(bad):04x} (not valid "
                                   "Unicode)", file=source, place=place or None)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                key = str(k)
                here = _key_place(place, key) if place else key
                if _lone_surrogate(key) is not None:
                    stack.append((key, place))
                stack.append((v, here))
        elif isinstance(value, list):
            stack.extend((v, f"{place}[{i}]") for i, v in enumerate(value))


def _lone_surrogate(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return text[exc.start]
    return None


def read_summary_bytes(path: str | Path, source: str, max_bytes: int | None = None) -> bytes:
    """A summary file's bytes, bounded (a regular file, at most `max_bytes`); errors name it."""
    try:
        limit = max_bytes if max_bytes is not None else max_bytes_from_env()
        return read_bounded(path, limit, what="summary file",
                            setting=f"max_summary_bytes in gate.yaml or {MAX_BYTES_ENV}")
    except InputLimit as exc:
        raise SummaryError(str(exc), file=source) from None
    except FileNotFoundError:
        raise SummaryError("summary file not found", file=source) from None
    except IsADirectoryError:
        raise SummaryError("is a directory, not a summary file", file=source) from None
    except OSError as exc:
        raise SummaryError(f"cannot read summary file: {exc.strerror or exc}",
                           file=source) from None


def load_summary(path: str | Path, config: GateConfig | None = None, *,
                 source: str | None = None) -> TrainingSummary:
    """Read a summary file (UTF-8 JSON, or YAML by extension) and normalise it.

    `source` is how messages and records name the file (default: the path as given).
    """
    source = source if source is not None else str(path)
    limit = config.max_summary_bytes if config is not None else None
    raw = read_summary_bytes(path, source, limit)
    is_yaml = Path(path).suffix.lower() in (".yaml", ".yml")
    data = decode_summary(raw, source, yaml_format=is_yaml)
    return parse_summary(data, source=source, raw=raw, config=config)


def model_lines(raw: bytes, model_ids: Sequence[str], *, yaml_format: bool = False
                ) -> dict[str, int]:
    """The 1-based line where each model starts in the summary's text (its id as a key, or
    as the value of its id field), for IDE links and CI annotations.

    One forward pass in file order (ids appear in the summary's order), so the cost is one
    scan of the text whatever the number of models; an id not found gets no line."""
    text = raw.decode("utf-8-sig", errors="replace")
    lines: dict[str, int] = {}
    pos, line = 0, 1
    for model_id in model_ids:
        at = (_find_yaml_id(text, model_id, pos) if yaml_format
              else _find_json_id(text, model_id, pos))
        if at is None:
            continue
        line += text.count("\n", pos, at)
        pos = at
        lines[model_id] = line
    return lines


def _find_json_id(text: str, model_id: str, start: int) -> int | None:
    for encoded in dict.fromkeys((json.dumps(model_id, ensure_ascii=False),
                                  json.dumps(model_id))):
        at = text.find(encoded, start)
        while at != -1:
            after = text[at + len(encoded):at + len(encoded) + 64].lstrip()
            before = text[max(0, at - 64):at].rstrip()
            if after.startswith(":") or before.endswith(":"):  # a key, or an id field's value
                return at
            at = text.find(encoded, at + 1)
    return None


def _find_yaml_id(text: str, model_id: str, start: int) -> int | None:
    quoted = "(?:" + "|".join(re.escape(q) for q in dict.fromkeys(
        (model_id, f'"{model_id}"', f"'{model_id}'", json.dumps(model_id)))) + ")"
    pattern = re.compile(rf"^[ \t-]*{quoted}[ \t]*:|:[ \t]*{quoted}[ \t]*(?:#.*)?$", re.M)
    found = pattern.search(text, start)
    return found.start() if found is not None else None
