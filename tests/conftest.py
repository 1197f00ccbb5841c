"""Shared test fixtures. Fixtures owned by one area live in that area's own module."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent


def _examples_dir() -> Path:
    """../shared/examples from the project root (CI lays shared/ beside the clone)."""
    for candidate in (REPO.parent / "shared" / "examples", REPO / "examples"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("example summaries not found")


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return _examples_dir()


@pytest.fixture(scope="session")
def trading_summary(examples_dir: Path) -> Path:
    return examples_dir / "training_summary_20251227_101500.json"


@pytest.fixture(scope="session")
def classifier_summary(examples_dir: Path) -> Path:
    return examples_dir / "classifier_sweep.json"


@pytest.fixture(scope="session")
def classifier_config(examples_dir: Path) -> Path:
    return examples_dir / "classifier-gate.yaml"
