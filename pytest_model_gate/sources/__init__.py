"""Readers that turn what training tools write into a training summary.

`load_source(X)` reads any source (a summary file, `KIND:PATH_OR_URI`, or a folder whose kind
is detected) into the same TrainingSummary; `canonical_summary(X)` is the summary dict that
`model-gate convert` writes and the archive keeps. Readers use the standard library only.
"""

from __future__ import annotations

from .loader import SourceSummary, canonical_bytes, canonical_summary, load_source
from .registry import KINDS, detect, is_source, read_source, split_spec

__all__ = ["KINDS", "SourceSummary", "canonical_bytes", "canonical_summary", "detect",
           "is_source", "load_source", "read_source", "split_spec"]
