"""The run document: its declared shape (schema 1), how assessments become one, and the one
function that turns parsed JSON back into it.

The same document is printed by `--format json` and archived as model_assessments.json; every
report renders from it. Strict JSON: non-finite and absent values are `null` (the flags say
which), flags sorted, models in the summary's order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, TypedDict, cast

from pytest_model_gate.errors import ArchiveError
from pytest_model_gate.text import finite

if TYPE_CHECKING:  # the document's readers (reports) need no pydantic, yaml or gating code
    from pytest_model_gate.core.config import GateConfig
    from pytest_model_gate.core.gating import Assessment, MetricResult
    from pytest_model_gate.core.summary import TrainingSummary

SCHEMA_VERSION = 1


# --- the declared shape ----------------------------------------------------------------------

class _MetricRequired(TypedDict):
    key: str
    value: float | None           # null: missing or non-finite (`status` says which)
    approved: float
    review: float
    higher_is_better: bool
    tier: str                     # APPROVED | REVIEW | DROP
    status: str                   # ok | missing | invalid


class MetricRecord(_MetricRequired, total=False):
    """One gated metric of one model: value read, bounds applied, tier; `history` (the
    validation history) for a metric outside its APPROVED tier, so reports can chart it."""

    history: list[float | None]


class OverfittingRecord(TypedDict):
    """The watched metric's history and what the overfitting check found in it."""

    metric: str
    history: list[float | None]
    peak: float | None
    decline: float | None
    oscillation: float | None


class BaselineRecord(TypedDict):
    value: float | None
    run_id: str


class RegressionRecord(TypedDict):
    metric: str
    baseline: float
    value: float
    change: float | None
    limit: float
    run_id: str
    relative: bool                # False: `change` is absolute (the baseline was 0)


class _ModelRequired(TypedDict):
    id: str
    symbol: str
    classification: str
    flags: list[str]
    use_checkpoint: bool
    best_idx: int | None
    checkpoint_update: int | None
    validation_interval: int | None
    metrics: dict[str, MetricRecord]
    overfitting: OverfittingRecord


class ModelRecord(_ModelRequired, total=False):
    """One model's verdict; `baseline` and `regressions` only when baselines are on;
    `checkpoint_path` only when the source named the checkpoint saved at checkpoint_update."""

    baseline: dict[str, BaselineRecord]
    regressions: list[RegressionRecord]
    model_path: str               # what gets deployed, when the summary names it
    checkpoint_path: str


class SummaryInfo(TypedDict):
    """The gated summary: path, digest, timestamp, then its run metadata (any JSON)."""

    path: str
    sha256: str
    timestamp: object


class MetricSettings(TypedDict):
    """A gated metric in the config (the fields reports read; the rest is kept as is)."""

    approved: float
    review: float
    higher_is_better: bool


class OverfittingSettings(TypedDict, total=False):
    metric: str
    decline_threshold: float


class VerdictSettings(TypedDict):
    """`GateConfig.verdict_settings()`: the fields reports read (the rest is kept as is)."""

    metrics: dict[str, MetricSettings]
    overfitting: OverfittingSettings


class _RunRequired(TypedDict):
    schema: int
    summary: SummaryInfo
    config_sha256: str
    counts: dict[str, int]
    models: list[ModelRecord]
    config: VerdictSettings


class RunDocument(_RunRequired, total=False):
    """The whole run; `run_id` once archived."""

    run_id: str


def json_safe(value: Any) -> Any:
    """Make run metadata strict-JSON-safe: non-finite floats -> None, unknown types -> str."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return str(value)


def _metric_record(m: MetricResult) -> MetricRecord:
    record: MetricRecord = {
        "key": m.key, "value": finite(m.value), "approved": m.approved, "review": m.review,
        "higher_is_better": m.higher_is_better, "tier": m.tier, "status": m.status}
    if m.history:
        record["history"] = [finite(v) for v in m.history]
    return record


def assessment_record(a: Assessment) -> ModelRecord:
    """One model's record, in the documented shape."""
    record: ModelRecord = {
        "id": a.model_id,
        "symbol": a.symbol,
        "classification": a.classification,
        "flags": list(a.flags),
        "use_checkpoint": a.use_checkpoint,
        "best_idx": a.best_idx,
        "checkpoint_update": a.checkpoint_update,
        "validation_interval": a.validation_interval,
        "metrics": {
            m.name: _metric_record(m) for m in a.metrics
        },
        "overfitting": {
            "metric": a.overfitting.metric,
            "history": [finite(v) for v in a.overfitting.history],
            "peak": finite(a.overfitting.peak),
            "decline": finite(a.overfitting.decline),
            "oscillation": finite(a.overfitting.oscillation),
        },
    }
    if a.model_path:
        record["model_path"] = a.model_path
    if a.checkpoint_path:
        record["checkpoint_path"] = a.checkpoint_path
    if a.baseline is not None:
        record["baseline"] = {name: {"value": finite(b.value), "run_id": b.run_id}
                              for name, b in a.baseline.items()}
        record["regressions"] = [
            {"metric": r.metric, "baseline": r.baseline, "value": r.value,
             "change": finite(r.change), "limit": r.limit, "run_id": r.run_id,
             "relative": r.relative}
            for r in a.regressions]
    return record


def _counts(assessments: Sequence[Assessment]) -> dict[str, int]:
    """Models per class, all three keys in APPROVED, REVIEW, DROP order (as gating.counts)."""
    out = {"APPROVED": 0, "REVIEW": 0, "DROP": 0}
    for a in assessments:
        out[a.classification] += 1
    return out


def run_document(summary: TrainingSummary, assessments: Sequence[Assessment],
                 config: GateConfig, *, run_id: str | None = None) -> RunDocument:
    """The whole run: summary facts, config digest, counts, one record per model."""
    summary_info: dict[str, Any] = {"path": summary.source, "sha256": summary.sha256,
                                    "timestamp": json_safe(summary.timestamp)}
    for key, value in summary.metadata.items():
        summary_info.setdefault(str(key), json_safe(value))
    doc: dict[str, Any] = {"schema": SCHEMA_VERSION}
    if run_id is not None:
        doc["run_id"] = run_id
    doc.update({
        "summary": summary_info,
        "config_sha256": config.digest(),
        "counts": _counts(assessments),
        "models": [assessment_record(a) for a in assessments],
        "config": config.verdict_settings(),
    })
    return cast(RunDocument, doc)


# --- reading a document back -----------------------------------------------------------------

class DocumentError(ArchiveError):
    """A run document that is valid JSON of the wrong shape (an edited or damaged archive)."""


def _name(key: str) -> str:
    """A key in an error's place: as is when short and printable, else JSON-quoted."""
    return key if len(key) <= 60 and key.isprintable() else _kind(key)


def _kind(value: object) -> str:
    """What a JSON value is, for an error line: the value itself when short."""
    text = json.dumps(value, default=str)  # ASCII: no control or bidi character gets out
    return text if len(text) <= 40 else text[:37] + "..."


class _Checker:
    """Walks parsed JSON, checking each field reports read; the first bad one raises."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, place: str, expected: str, value: object) -> DocumentError:
        return DocumentError(f"damaged run document: {place}: expected {expected}, "
                             f"got {_kind(value)}", file=self.where)

    def obj(self, value: object, place: str) -> dict[str, Any]:
        if type(value) is not dict:
            raise self.fail(place, "an object", value)
        return value

    def lst(self, value: object, place: str) -> list[Any]:
        if type(value) is not list:
            raise self.fail(place, "a list", value)
        return value

    def text(self, value: object, place: str) -> str:
        if type(value) is not str:
            raise self.fail(place, "a string", value)
        return value

    def number(self, value: object, place: str, *, null: bool = False) -> None:
        t = type(value)
        if t is float or t is int or (null and value is None):
            return
        raise self.fail(place, "a number or null" if null else "a number", value)

    def integer(self, value: object, place: str) -> None:
        if value is not None and type(value) is not int:
            raise self.fail(place, "an integer or null", value)

    def boolean(self, value: object, place: str) -> None:
        if type(value) is not bool:
            raise self.fail(place, "true or false", value)


def parse_run_document(data: object, where: str) -> RunDocument:
    """Parsed JSON (model_assessments.json, `--format json`) -> the typed run document.

    Every field a report reads is checked, so renderers trust the types; optional fields an
    older document lacks get their neutral value (in place). A document of the wrong shape
    raises DocumentError naming `where` (the file) and the place, in one line.
    """
    c = _Checker(where)
    doc = c.obj(data, "the document")
    summary = c.obj(doc.setdefault("summary", {}), "summary")
    summary.setdefault("path", "summary")
    summary.setdefault("sha256", "?")
    summary.setdefault("timestamp", None)
    c.text(summary["path"], "summary.path")
    c.text(summary["sha256"], "summary.sha256")
    if "run_id" in doc:
        c.text(doc["run_id"], "run_id")
    c.text(doc.setdefault("config_sha256", "?"), "config_sha256")
    doc.setdefault("schema", SCHEMA_VERSION)
    config = c.obj(doc.setdefault("config", {}), "config")
    settings = c.obj(config.setdefault("metrics", {}), "config.metrics")
    for name, spec in settings.items():
        at = f"config.metrics.{_name(name)}"
        spec = c.obj(spec, at)
        c.number(spec.get("approved"), f"{at}.approved")
        c.number(spec.get("review"), f"{at}.review")
        c.boolean(spec.setdefault("higher_is_better", True), f"{at}.higher_is_better")
    overfitting = c.obj(config.setdefault("overfitting", {}), "config.overfitting")
    if "metric" in overfitting:
        c.text(overfitting["metric"], "config.overfitting.metric")
    if "decline_threshold" in overfitting:
        c.number(overfitting["decline_threshold"], "config.overfitting.decline_threshold",
                 null=True)
    models = c.lst(doc.get("models"), "models")
    watched = overfitting.get("metric", "")
    for i, model in enumerate(models):
        _check_model(c, c.obj(model, f"models[{i}]"), f"models[{i}]", watched)
    found = c.obj(doc.setdefault("counts", {}), "counts")
    for cls, n in found.items():
        if type(n) is not int:
            raise c.fail(f"counts.{cls}", "an integer", n)
    if not found:
        for model in models:
            found[model["classification"]] = found.get(model["classification"], 0) + 1
    return cast(RunDocument, doc)


def _check_model(c: _Checker, m: dict[str, Any], at: str, watched: str) -> None:
    mid = c.text(m.get("id"), f"{at}.id")
    at = f"models[{_name(mid)}]"
    c.text(m.get("classification"), f"{at}.classification")
    c.text(m.setdefault("symbol", mid.split("_", 1)[0]), f"{at}.symbol")
    for k, flag in enumerate(c.lst(m.setdefault("flags", []), f"{at}.flags")):
        c.text(flag, f"{at}.flags[{k}]")
    c.boolean(m.setdefault("use_checkpoint", False), f"{at}.use_checkpoint")
    for key in ("model_path", "checkpoint_path"):
        if key in m:
            c.text(m[key], f"{at}.{key}")
    for key in ("best_idx", "checkpoint_update", "validation_interval"):
        c.integer(m.setdefault(key, None), f"{at}.{key}")
    for name, metric in c.obj(m.get("metrics", {}), f"{at}.metrics").items():
        where = f"{at}.metrics.{_name(name)}"
        metric = c.obj(metric, where)
        c.text(metric.setdefault("key", name), f"{where}.key")
        c.number(metric.get("value"), f"{where}.value", null=True)
        c.number(metric.get("approved"), f"{where}.approved")
        c.number(metric.get("review"), f"{where}.review")
        c.boolean(metric.setdefault("higher_is_better", True), f"{where}.higher_is_better")
        c.text(metric.get("tier"), f"{where}.tier")
        c.text(metric.setdefault("status", "ok"), f"{where}.status")
        if "history" in metric:
            for k, v in enumerate(c.lst(metric["history"], f"{where}.history")):
                c.number(v, f"{where}.history[{k}]", null=True)
    m.setdefault("metrics", {})
    of = c.obj(m.setdefault("overfitting", {}), f"{at}.overfitting")
    c.text(of.setdefault("metric", watched), f"{at}.overfitting.metric")
    for k, v in enumerate(c.lst(of.setdefault("history", []), f"{at}.overfitting.history")):
        c.number(v, f"{at}.overfitting.history[{k}]", null=True)
    for key in ("peak", "decline", "oscillation"):
        c.number(of.setdefault(key, None), f"{at}.overfitting.{key}", null=True)
    if "baseline" in m:
        for name, base in c.obj(m["baseline"], f"{at}.baseline").items():
            where = f"{at}.baseline.{_name(name)}"
            base = c.obj(base, where)
            c.number(base.get("value"), f"{where}.value", null=True)
            c.text(base.setdefault("run_id", "?"), f"{where}.run_id")
    if "regressions" in m:
        for k, r in enumerate(c.lst(m["regressions"], f"{at}.regressions")):
            where = f"{at}.regressions[{k}]"
            r = c.obj(r, where)
            c.text(r.get("metric"), f"{where}.metric")
            for key in ("baseline", "value", "limit"):
                c.number(r.get(key), f"{where}.{key}")
            c.number(r.get("change"), f"{where}.change", null=True)
            c.text(r.setdefault("run_id", "?"), f"{where}.run_id")
            c.boolean(r.setdefault("relative", True), f"{where}.relative")


# --- fast indented JSON ---------------------------------------------------------------------
# json.dumps(..., indent=N) runs the pure-Python encoder (the C one cannot indent), which is
# slow for a 50,000-model document. `to_json` gives the same text several times faster: the
# containers holding only scalars (most of a run document) go through the C encoder with the
# indentation folded into its item separator, the few others through a small loop.

try:
    from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - CPython always has it
    _c_make_encoder = None


class _NotPlain(Exception):
    """Something `to_json`'s fast path does not handle: json.dumps does it instead."""


def _refuse(value: Any) -> Any:
    raise _NotPlain


def _float_text(value: float) -> str:
    if value != value or value in (math.inf, -math.inf):
        raise _NotPlain  # json.dumps raises its own ValueError (allow_nan=False)
    return float.__repr__(value)


_SCALAR_TEXT: dict[type, Callable[[Any], str]] = {
    str: encode_basestring, int: int.__repr__, float: _float_text,
    bool: lambda b: "true" if b else "false", type(None): lambda _: "null",
}
_SCALAR_TYPES = frozenset(_SCALAR_TEXT)
_STR_TYPE = frozenset((str,))


def to_json(value: Any, indent: int = 1) -> str:
    """Exactly `json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False)`, faster.

    Plain JSON values (dict with str keys, list, tuple, str, int, float, bool, None; exact
    types) take the fast path; anything else, and every error, is left to json.dumps.
    """
    if _c_make_encoder is None:  # pragma: no cover
        return json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False)
    pad = " " * indent
    scalar_text = _SCALAR_TEXT
    only_scalars = _SCALAR_TYPES.issuperset
    only_str = _STR_TYPE.issuperset
    keys: dict[str, str] = {}
    flat: dict[str, Callable[[Any, int], list[str]]] = {}
    parts: list[str] = []
    out = parts.append

    def flat_text(o: Any, inner: str) -> str:
        """A container of scalars by the C encoder, its indentation in the item separator."""
        enc = flat.get(inner)
        if enc is None:
            enc = flat[inner] = _c_make_encoder(None, _refuse, encode_basestring, None, ": ",
                                                "," + inner, False, False, False)
        return "".join(enc(o, 0))[1:-1]

    def encode(o: Any, ind: str) -> None:
        t = type(o)
        if t is dict:
            if not o:
                out("{}")
                return
            inner = ind + pad
            if only_scalars(map(type, o.values())) and only_str(map(type, o)):
                out("{" + inner + flat_text(o, inner) + ind + "}")
                return
            sep = "," + inner
            first = len(parts)
            for k, v in o.items():
                out(sep)
                key = keys.get(k)
                if key is None:
                    if type(k) is not str:
                        raise _NotPlain
                    key = keys[k] = encode_basestring(k) + ": "
                out(key)
                f = scalar_text.get(type(v))
                if f is not None:
                    out(f(v))
                else:
                    encode(v, inner)
            parts[first] = "{" + inner
            out(ind + "}")
        elif t is list or t is tuple:
            if not o:
                out("[]")
                return
            inner = ind + pad
            if only_scalars(map(type, o)):
                out("[" + inner + flat_text(o, inner) + ind + "]")
                return
            sep = "," + inner
            first = len(parts)
            for v in o:
                out(sep)
                f = scalar_text.get(type(v))
                if f is not None:
                    out(f(v))
                else:
                    encode(v, inner)
            parts[first] = "[" + inner
            out(ind + "]")
        else:
            f = scalar_text.get(t)
            if f is None:
                raise _NotPlain
            out(f(o))

    try:
        encode(value, "\n")
    except (_NotPlain, ValueError, RecursionError):
        return json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False)
    return "".join(parts)
