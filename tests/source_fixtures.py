"""Shared by the source tests (tests/sources/): where the committed tool outputs are, and a
gate.yaml that gates the accuracy each tool logs."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "sources" / "fixtures"

GATE_YAML = """\
version: 1
metrics:
  acc:
    key: eval_accuracy
    aliases: [val_acc, val/acc, eval/acc, val_accuracy]
    approved: 0.88
    review: 0.80
archive: null
report: null
"""
