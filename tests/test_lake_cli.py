"""`model-gate compact` and `model-gate prune` on a lake table, run as the CLI (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytest.importorskip("deltalake", reason="the lake table needs the `lake` extra (deltalake)")
pytest.importorskip("pyarrow", reason="the lake table needs the `lake` extra (pyarrow)")

from archive_writer import make_summary
from lake_support import run

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive.lake import LakeTable
from pytest_model_gate.core.config import parse_config

NOW = datetime.now(timezone.utc) - timedelta(hours=1)
CLI = [sys.executable, "-m", "pytest_model_gate.cli"]


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, text=True, capture_output=True,
                          timeout=120, env={**os.environ, "NO_COLOR": "1"})


def _table(path: Path, runs: int) -> LakeTable:
    table = LakeTable(str(path))
    for n in range(runs):
        table.append([run(n, 4, age_days=400 if n < 2 else 0, base=NOW)])
    return table


def test_compact_reads_gate_yaml_table_true(tmp_path: Path) -> None:
    table = _table(tmp_path / "arch" / "table", 5)
    (tmp_path / "gate.yaml").write_text("archive: arch\ntable: true\n", encoding="utf-8")
    result = _cli(tmp_path, "compact", "--format", "json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["files_before"], out["files_after"]) == (5, 1)
    assert len(table.rows()) == 20


def test_prune_table_option(tmp_path: Path) -> None:
    """--table names the table whose rows a prune of the archive removes (the archive and
    gate.yaml's `table:` are covered in test_prune.py)."""
    url = str(tmp_path / "t")
    archive = TrainingArchiveManager(tmp_path / "arch", config=parse_config({"table": url}))
    ids = [archive.archive_training_run(make_summary(5, i)).run_id for i in range(3)]
    result = _cli(tmp_path, "prune", "--archive", str(tmp_path / "arch"), "--table", url,
                  "--keep", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"pruned {tmp_path / 'arch'}: removed 2 of 3 runs (commit log "
                             f"entry 3); table {url} vacuumed\n")
    assert LakeTable(url).run_ids() == {ids[-1]}


def test_bad_limits_and_no_table(tmp_path: Path) -> None:
    result = _cli(tmp_path, "prune", "--table", str(tmp_path / "t"), "--older-than", "soon")
    assert (result.returncode, result.stderr) == (2, "model-gate: error: --older-than: 'soon' "
                                                     "is not an age such as 180d, 12h or 2w\n")
    result = _cli(tmp_path, "prune", "--table", str(tmp_path / "t"))
    assert result.returncode == 2
    assert result.stderr.endswith("give exactly one of --older-than AGE and --keep N\n")
    result = _cli(tmp_path, "compact")
    assert result.returncode == 2
    assert result.stderr == ("model-gate: error: no lake table: set `table: true` (or a URL) "
                             "in gate.yaml, or pass --table URL\n")


def test_other_schema_exits_3(tmp_path: Path) -> None:
    import pyarrow as pa
    from deltalake import write_deltalake

    write_deltalake(str(tmp_path / "other"), pa.table({"a": [1]}))
    result = _cli(tmp_path, "compact", "--table", str(tmp_path / "other"))
    assert result.returncode == 3
    assert result.stderr == (f"model-gate: error: table {tmp_path / 'other'} has another "
                             f"schema (columns a), not the gate history table of schema 1\n")
