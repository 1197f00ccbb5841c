"""The Python API's archive facade: `TrainingArchiveManager` = the archive's queries plus
`archive_training_run`, which gates and archives through the same pipeline as the plugin and
the CLI.

It lives above the pipeline (archive/ may not import the pipeline, which renders reports);
`pytest_model_gate.TrainingArchiveManager` re-exports it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pytest_model_gate.pipeline as pipeline
from pytest_model_gate.archive.manager import Archive, ArchivedRun, ReportRenderer
from pytest_model_gate.core.gating import Assessment
from pytest_model_gate.core.summary import TrainingSummary

__all__ = ["ArchivedRun", "TrainingArchiveManager"]


class TrainingArchiveManager(Archive):
    """`TrainingArchiveManager(archive_dir="training_archives", config=None,
    storage_options=None)`: archive gated runs and answer questions about them (a local
    folder or an fsspec URL). With `config=None` the built-in defaults gate."""

    def archive_training_run(self, summary_data: Mapping[str, Any] | str | os.PathLike[str],
                             *, force: bool = False) -> ArchivedRun:
        """Gate a summary (a parsed dict or a file) with this manager's config and archive
        it; the same summary under the same config again returns the existing run."""
        summary = pipeline.load_summary_data(summary_data, self.config)
        gated = pipeline.gate_summary(summary, self.config, self)
        return pipeline.archive_run(self, gated, force=force)

    def archive_gated(self, summary: TrainingSummary, assessments: Sequence[Assessment], *,
                      report: ReportRenderer | None = None, force: bool = False
                      ) -> ArchivedRun:
        """Archive an already gated summary (report: the pipeline's by default). A failed
        lake-table append does not fail the call (the run is committed; `reindex` back-fills
        the table): it is a warning, and `ArchivedRun.table_error`."""
        run = super().archive_gated(summary, assessments, report=report or pipeline.run_report,
                                    force=force)
        if run.table_error is not None:
            warnings.warn(f"lake table not written: {run.table_error}", RuntimeWarning,
                          stacklevel=2)
        return run
