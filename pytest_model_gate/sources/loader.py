"""Source -> TrainingSummary, through the canonical summary dict (our own summary shape).

Going through the dict is what makes a source indistinguishable from a summary file
downstream: the archive stores its JSON bytes as the run's summary, `model-gate convert`
writes the same bytes, and gating reads the same parsed models.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.config import GateConfig
from ..core.summary import (
    STEPS_SUFFIX,
    TrainingSummary,
    check_gated_metrics,
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
    # the no-gated-metric check of sources is check_some_gated (it knows what tools log)
    summary = parse_summary(data, source=name, raw=canonical_bytes(data), config=config,
                            check=False)
    if config is not None:
        check_gated_metrics(summary, [spec.names for spec in config.metrics.values()])
        check_some_gated(summary, config)
    files = {m.id: m.file for m in read.models if m.file is not None}
    return SourceSummary(summary=summary, kind=read.kind, anchor=read.anchor, model_files=files)


def load_source(text: str, config: GateConfig | None = None, *,
                source: str | None = None) -> TrainingSummary:
    """Any source (summary file, `KIND:...`, detected folder) as a TrainingSummary."""
    return read_summary(text, config, source=source).summary


def check_some_gated(summary: TrainingSummary, config: GateConfig) -> None:
    """No silent verdicts: a source where no model logs any gated metric is a bad input."""
    lookups = [spec.names for spec in config.metrics.values()]
    for model in summary.models:
        if any(model.lookup(names) is not None for names in lookups):
            return
    found = sorted({k for m in summary.models for k in m.series
                    if not k.endswith(STEPS_SUFFIX)})
    wanted = [spec.key for spec in config.metrics.values()]
    hints = [f"{w} ~ {c[0]}" for w in wanted
             if (c := difflib.get_close_matches(w, found, n=1, cutoff=0.5))]
    shown = ", ".join(found[:12]) + (", ..." if len(found) > 12 else "")
    n = len(summary.models)
    hint = f" (nearest: {'; '.join(hints)})" if hints else ""
    raise SummaryError(
        f"no gated metric found in any of {n} {'model' if n == 1 else 'models'}; they log "
        f"{shown or 'no metric'}{hint}: name them in gate.yaml `metrics:` (key: ...)",
        file=summary.source)
