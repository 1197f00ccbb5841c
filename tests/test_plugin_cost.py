"""Without --model-gate the plugin must cost nothing: its entry module imports only pytest."""

from __future__ import annotations

import subprocess
import sys


def test_entry_point_imports_no_gating_code() -> None:
    code = ("import sys, pytest_model_gate.plugin as p; "
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pydantic', 'yaml', 'fsspec', 'filelock') or m in "
            "('pytest_model_gate.core.config', 'pytest_model_gate.plugin.state', "
            "'pytest_model_gate.plugin.items', 'pytest_model_gate.plugin.controller', "
            "'pytest_model_gate.archive.manager')); print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_still_importable_by_name() -> None:
    code = ("from pytest_model_gate import TrainingArchiveManager, ModelGatingConfig, "
            "assess_model_quality; "
            "print(assess_model_quality(0.80, 2.2, 0.92, 0.05, [0.62, 0.71, 0.78, 0.80]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "('APPROVED', [], False, 3)"
