"""Assessments -> the documented JSON shape (schema 1) shared by `--format json` and the archive.

Strict JSON: non-finite and absent values are `null` (the flags say which), flags sorted,
models in the summary's order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .config import GateConfig
from .gating import Assessment, counts
from .summary import TrainingSummary

SCHEMA_VERSION = 1


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


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
            m.name: {"key": m.key, "value": _finite(m.value), "approved": m.approved,
                     "review": m.review, "higher_is_better": m.higher_is_better,
                     "tier": m.tier, "status": m.status}
            for m in a.metrics
        },
        "overfitting": {
            "metric": a.overfitting.metric,
            "history": [_finite(v) for v in a.overfitting.history],
            "peak": _finite(a.overfitting.peak),
            "decline": _finite(a.overfitting.decline),
            "oscillation": _finite(a.overfitting.oscillation),
        },
    }
    if a.baseline is not None:
        record["baseline"] = {name: {"value": _finite(b.value), "run_id": b.run_id}
                              for name, b in a.baseline.items()}
        record["regressions"] = [
            {"metric": r.metric, "baseline": r.baseline, "value": r.value,
             "change": _finite(r.change), "limit": r.limit, "run_id": r.run_id}
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
