"""Assessments -> the documented JSON shape (schema 1) shared by `--format json` and the archive.

Strict JSON: non-finite and absent values are `null` (the flags say which), flags sorted,
models in the summary's order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

from pytest_model_gate.core.config import GateConfig
from pytest_model_gate.core.gating import Assessment, counts
from pytest_model_gate.core.summary import TrainingSummary
from pytest_model_gate.text import finite

SCHEMA_VERSION = 1


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


def assessment_record(a: Assessment) -> dict[str, Any]:
    """One model's record, in the documented shape."""
    record: dict[str, Any] = {
        "id": a.model_id,
        "symbol": a.symbol,
        "classification": a.classification,
        "flags": list(a.flags),
        "use_checkpoint": a.use_checkpoint,
        "best_idx": a.best_idx,
        "checkpoint_update": a.checkpoint_update,
        "validation_interval": a.validation_interval,
        "metrics": {
            m.name: {"key": m.key, "value": finite(m.value), "approved": m.approved,
                     "review": m.review, "higher_is_better": m.higher_is_better,
                     "tier": m.tier, "status": m.status}
            for m in a.metrics
        },
        "overfitting": {
            "metric": a.overfitting.metric,
            "history": [finite(v) for v in a.overfitting.history],
            "peak": finite(a.overfitting.peak),
            "decline": finite(a.overfitting.decline),
            "oscillation": finite(a.overfitting.oscillation),
        },
    }
    if a.baseline is not None:
        record["baseline"] = {name: {"value": finite(b.value), "run_id": b.run_id}
                              for name, b in a.baseline.items()}
        record["regressions"] = [
            {"metric": r.metric, "baseline": r.baseline, "value": r.value,
             "change": finite(r.change), "limit": r.limit, "run_id": r.run_id,
             "relative": r.relative}
            for r in a.regressions]
    return record


def run_document(summary: TrainingSummary, assessments: Sequence[Assessment],
                 config: GateConfig, *, run_id: str | None = None) -> dict[str, Any]:
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
        "counts": counts(assessments),
        "models": [assessment_record(a) for a in assessments],
        "config": config.verdict_settings(),
    })
    return doc


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
