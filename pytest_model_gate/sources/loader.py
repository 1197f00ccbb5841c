"""Source -> TrainingSummary, through the canonical summary dict (our own summary shape).

Going through the dict is what makes a source indistinguishable from a summary file
downstream: the archive stores its JSON bytes as the run's summary, `model-gate convert`
writes the same bytes, and gating reads the same parsed models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.config import GateConfig
from ..core.summary import (
    TrainingSummary,
    check_gated_metrics,
    check_some_metric_found,
    load_summary,
    parse_summary,
)
from ..errors import SummaryError
from .canonical import summary_dict
from .registry import detect, read_source


@dataclass(frozen=True)
class SourceSummary:
    """A loaded source: the summary, its kind, and where each model came from (reportinfo)."""

    summary: TrainingSummary
    kind: str
    anchor: Path | None = None
    model_files: dict[str, Path] = field(default_factory=dict)


def canonical_bytes(data: Any) -> bytes:
    """The one JSON serialisation of a canonical summary (NaN kept as Python's json writes it,
    which the summary loader accepts)."""
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def canonical_summary(text: str) -> dict[str, Any]:
    """The summary dict of any source; a summary file's own data as decoded."""
    kind, location = detect(text)
    if kind == "summary":
        from ..core.summary import decode_summary

        path = Path(location)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SummaryError(f"cannot read summary file: {exc.strerror or exc}",
                               file=text) from None
        data = decode_summary(raw, text, yaml_format=path.suffix.lower() in (".yaml", ".yml"))
        parse_summary(data, source=text)  # the same errors as gating it would give
        if not isinstance(data, dict):
            raise SummaryError("expected a JSON object at the top", file=text)
        return data
    return summary_dict(read_source(text))


def read_summary(text: str, config: GateConfig | None = None, *,
                 source: str | None = None) -> SourceSummary:
    """Load a summary file or any source; with a config, gated metrics are checked now."""
    kind, location = detect(text)
    if kind == "summary":
        summary = load_summary(location, config, source=source if source is not None else text)
        return SourceSummary(summary=summary, kind=kind, anchor=Path(location))
    read = read_source(text)
    data = summary_dict(read)
    name = source if source is not None else read.spec
    summary = parse_summary(data, source=name, raw=canonical_bytes(data), config=config,
                            check=False)
    if config is not None:
        check_gated_metrics(summary, [spec.names for spec in config.metrics.values()])
        check_some_metric_found(summary, config, containers=False)
    files = {m.id: m.file for m in read.models if m.file is not None}
    return SourceSummary(summary=summary, kind=read.kind, anchor=read.anchor, model_files=files)


def load_source(text: str, config: GateConfig | None = None, *,
                source: str | None = None) -> TrainingSummary:
    """Any source (summary file, `KIND:...`, detected folder) as a TrainingSummary."""
    return read_summary(text, config, source=source).summary
