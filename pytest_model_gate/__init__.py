"""pytest-model-gate: decide in CI which trained models may ship.

Public API (the original design's names are kept):

    from pytest_model_gate import TrainingArchiveManager, ModelGatingConfig, assess_model_quality
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import GateConfig, ModelGatingConfig, load_config
from .errors import ArchiveError, ConfigError, ModelGateError, SummaryError
from .gating import Assessment, MetricResult, assess, assess_model_quality
from .summary import TrainingSummary, load_summary, parse_summary

if TYPE_CHECKING:
    from .archive import ArchivedRun, TrainingArchiveManager

__version__ = "0.1.0"

__all__ = [
    "ArchiveError",
    "ArchivedRun",
    "Assessment",
    "ConfigError",
    "GateConfig",
    "MetricResult",
    "ModelGateError",
    "ModelGatingConfig",
    "SummaryError",
    "TrainingArchiveManager",
    "TrainingSummary",
    "assess",
    "assess_model_quality",
    "load_config",
    "load_summary",
    "parse_summary",
]


def __getattr__(name: str) -> Any:
    # The archive (and fsspec behind it) is imported only when used: the pytest plugin
    # imports this package in every pytest run, and must cost nothing when not asked for.
    if name in ("TrainingArchiveManager", "ArchivedRun"):
        from . import archive

        return getattr(archive, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
