"""Fixtures of the source tests: the committed tool outputs, copied where a test may touch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from source_fixtures import FIXTURES, GATE_YAML


@pytest.fixture
def fixtures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of every fixture in tmp_path (the current directory), with a gate.yaml that
    gates the accuracy each tool logs."""
    for child in FIXTURES.iterdir():
        if child.is_dir():
            shutil.copytree(child, tmp_path / child.name)
    (tmp_path / "gate.yaml").write_text(GATE_YAML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path
