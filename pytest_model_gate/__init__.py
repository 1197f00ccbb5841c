"""pytest-model-gate: decide in CI which trained models may ship.

Public API (the original design's names are kept):

    from pytest_model_gate import TrainingArchiveManager, ModelGatingConfig, assess_model_quality
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_model_gate.api import ArchivedRun, TrainingArchiveManager
    from pytest_model_gate.core.config import GateConfig, ModelGatingConfig, load_config
    from pytest_model_gate.core.gating import Assessment, MetricResult, assess, assess_model_quality
    from pytest_model_gate.core.summary import TrainingSummary, load_summary, parse_summary
    from pytest_model_gate.errors import ArchiveError, ConfigError, ModelGateError, SummaryError

__version__ = "0.1.0"

# name -> module. Imported on first use: the pytest plugin imports this package in every
# pytest run, and must cost nothing (no pydantic, no fsspec) when --model-gate is not given.
_EXPORTS = {
    "ArchiveError": "errors", "ConfigError": "errors", "ModelGateError": "errors",
    "SummaryError": "errors",
    "ArchivedRun": "api", "TrainingArchiveManager": "api",
    "GateConfig": "core.config", "ModelGatingConfig": "core.config", "load_config": "core.config",
    "Assessment": "core.gating", "MetricResult": "core.gating", "assess": "core.gating",
    "assess_model_quality": "core.gating",
    "TrainingSummary": "core.summary", "load_summary": "core.summary",
    "parse_summary": "core.summary",
}

__all__ = [
    "ArchiveError", "ArchivedRun", "Assessment", "ConfigError", "GateConfig", "MetricResult",
    "ModelGateError", "ModelGatingConfig", "SummaryError", "TrainingArchiveManager",
    "TrainingSummary", "assess", "assess_model_quality", "load_config", "load_summary",
    "parse_summary",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
