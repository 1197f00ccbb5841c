"""Shared test fixtures. Fixtures owned by one area live in that area's own module."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester", "s3server"]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The repository's own examples: the tests use nothing outside the repository."""
    return REPO / "examples"


@pytest.fixture(scope="session")
def trading_summary(examples_dir: Path) -> Path:
    return examples_dir / "training_summary_20251227_101500.json"


@pytest.fixture(scope="session")
def classifier_summary(examples_dir: Path) -> Path:
    return examples_dir / "classifier_sweep.json"


@pytest.fixture(scope="session")
def classifier_config(examples_dir: Path) -> Path:
    return examples_dir / "classifier-gate.yaml"
