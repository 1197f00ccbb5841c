"""`model-gate prune` removes runs from the archive (issue 13): a prune entry in the commit log
first, then tombstoned commit records and deleted run folders; every reader drops the runs; the
lake table (when on) loses their rows; the newest run and runs younger than the limit are never
touched; a prune racing a writer loses none of its runs; a prune killed half way is finished by
`reindex`. Locally and on moto's S3 server, with the table on and off."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from archive_writer import make_summary

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive import index as archive_index
from pytest_model_gate.archive import manager as archive_manager
from pytest_model_gate.archive.log import CHECKPOINT_EVERY, PRUNE, TAIL, read_log
from pytest_model_gate.archive.manager import Archive
from pytest_model_gate.archive.storage import open_storage
from pytest_model_gate.core.config import GateConfig, parse_config
from pytest_model_gate.errors import ArchiveError

TESTS = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "pytest_model_gate.cli"]
MODELS = ["AAPL_0H", "MSFT_1H", "BTCUSD_2H", "ETHUSD_3H", "SPY_4H"]
NOW = datetime.now(timezone.utc)


def _lake() -> bool:
    try:
        import deltalake  # noqa: F401
    except ImportError:
        return False
    return True


TABLE = [pytest.param(False, id="table-off"),
         pytest.param(True, id="table-on",
                      marks=pytest.mark.skipif(not _lake(), reason="needs the lake extra"))]


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, text=True, capture_output=True, timeout=180,
                          env={**os.environ, "NO_COLOR": "1"})


def _config(table: bool) -> GateConfig:
    return parse_config({"table": True} if table else {})


def _archive(location: str, table: bool, runs: int, monkeypatch: pytest.MonkeyPatch, *,
             old: int = 0) -> tuple[TrainingArchiveManager, list[str]]:
    """`runs` runs, the first `old` committed 400 days ago; run ids drawn from a clock that
    runs backwards (so id order is not the commit order)."""
    ticks = {"n": 0}

    def clock() -> datetime:
        ticks["n"] += 1
        return datetime(2026, 6, 1, tzinfo=timezone.utc) - timedelta(hours=ticks["n"])

    monkeypatch.setattr(archive_index, "clock", clock)
    archive = TrainingArchiveManager(location, config=_config(table))
    ids = []
    for i in range(runs):
        when = NOW - timedelta(days=400 if i < old else 0, seconds=runs - i)
        monkeypatch.setattr(archive_manager, "now_iso", lambda w=when: w.isoformat())
        ids.append(archive.archive_training_run(make_summary(7, i)).run_id)
    monkeypatch.undo()
    assert ids != sorted(ids)
    return archive, ids


def _prune_entries(location: str) -> list[dict[str, Any]]:
    log = read_log(open_storage(location))
    return [e for e in log.entries if e is not None and e.get("kind") == PRUNE]


def _readers_drop(archive: Archive, location: str, removed: list[str], kept: list[str]
                  ) -> None:
    """Every reader shows exactly the kept runs."""
    fresh = Archive(location, config=archive.config)
    assert fresh.run_ids() == kept
    assert [r["run_id"] for r in fresh.list_runs()] == kept
    assert fresh.latest_run() is not None and fresh.latest_run()["run_id"] == kept[-1]  # type: ignore[index]
    for rid in removed:
        with pytest.raises(ArchiveError, match="unknown run id"):
            fresh.get_approved_models(rid)
    for model in MODELS:
        assert {e["run_id"] for e in fresh.get_model_history(model)} == set(kept)
    got = fresh.baseline_values(MODELS, against="last", window=50, metrics=["fitness"])
    assert {v["fitness"].run_id for v in got.values()} <= set(kept)
    storage = open_storage(location)
    index = json.loads(storage.read("index.json"))
    live = [r["run_id"] for r in index["runs"] if not r.get("abandoned")]
    assert sorted(live) == sorted(kept)
    for rid in removed:
        assert not storage.exists(f"{rid}/model_assessments.json")
        record = json.loads(storage.read(f"index.d/{rid}.json"))
        assert record["abandoned"] is True and record["reason"].startswith("pruned")
    local = storage.local()
    if local is not None:
        shards = b"".join(p.read_bytes() for p in Path(location, "views").rglob("*.jsonl"))
        assert all(rid.encode() not in shards for rid in removed)
        assert all(rid.encode() in shards for rid in kept)
    if fresh.table is not None:
        assert fresh.table.run_ids() == set(kept)
    fresh.reindex()  # never brings a pruned run back
    assert Archive(location).run_ids() == kept
    if fresh.table is not None:
        assert fresh.table.run_ids() == set(kept)


def _check_keep(location: str, table: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    archive, ids = _archive(location, table, 6, monkeypatch)
    result = archive.prune(keep=2)
    assert result.removed == ids[:4] and result.kept == 2
    (entry,) = _prune_entries(location)
    assert entry["run_ids"] == sorted(ids[:4]) and entry["reason"] == "--keep 2"
    assert entry["seq"] == result.seq == 6  # the next number after the six runs
    _readers_drop(archive, location, ids[:4], ids[4:])
    again = archive.archive_training_run(make_summary(7, 0))  # a pruned run's summary
    assert not again.reused and again.run_id not in ids and again.seq == 7


@pytest.mark.parametrize("table", TABLE)
def test_prune_keep_local(tmp_path: Path, table: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    _check_keep(str(tmp_path / "arch"), table, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("table", TABLE)
def test_prune_keep_s3(s3_url: str, table: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    _check_keep(s3_url, table, monkeypatch)


def _check_age_cli(cwd: Path, location: str, table: bool,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    archive, ids = _archive(location, table, 5, monkeypatch, old=3)
    cwd.mkdir(exist_ok=True)
    (cwd / "gate.yaml").write_text(f"archive: {location}\ntable: {str(table).lower()}\n",
                                   encoding="utf-8")
    result = _cli(cwd, "prune", "--older-than", "180d")
    assert result.returncode == 0, result.stderr
    vacuumed = f"; table {location}/table vacuumed" if table else ""
    assert result.stdout == (f"pruned {location}: removed 3 of 5 runs (commit log entry 5)"
                             f"{vacuumed}\n")
    (entry,) = _prune_entries(location)
    assert entry["reason"].startswith("--older-than 180 days, 0:00:00: committed before ")
    _readers_drop(archive, location, ids[:3], ids[3:])
    nothing = _cli(cwd, "prune", "--older-than", "180d", "--format", "json")
    assert nothing.returncode == 0, nothing.stderr
    assert json.loads(nothing.stdout) == {"archive": location, "removed": [], "kept": 2,
                                          "seq": None, "table": f"{location}/table"
                                          if table else None}


@pytest.mark.parametrize("table", TABLE)
def test_prune_older_than_cli_local(tmp_path: Path, table: bool,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _check_age_cli(tmp_path / "work", str(tmp_path / "arch"), table, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("table", TABLE)
def test_prune_older_than_cli_s3(tmp_path: Path, s3_url: str, table: bool,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _check_age_cli(tmp_path / "work", s3_url, table, monkeypatch)


def test_prune_never_touches_younger_runs_nor_the_newest(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    location = str(tmp_path / "arch")
    archive, ids = _archive(location, False, 4, monkeypatch, old=4)  # all 400 days old
    assert archive.prune(older_than=timedelta(days=500)).removed == []  # none that old
    result = archive.prune(older_than=timedelta(days=180), yes=True)
    assert result.removed == ids[:3] and archive.run_ids() == ids[3:]  # the newest stays


def test_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    location = str(tmp_path / "arch")
    _archive(location, False, 3, monkeypatch)
    before = sorted(p.name for p in (tmp_path / "arch").iterdir())

    def refused(*args: str) -> str:
        result = _cli(tmp_path, "prune", "--archive", location, *args)
        assert result.returncode == 2 and result.stdout == ""
        assert sorted(p.name for p in (tmp_path / "arch").iterdir()) == before
        assert _prune_entries(location) == []
        return result.stderr

    assert refused("--keep", "0") == (f"model-gate: error: prune would remove all 3 runs of "
                                      f"archive {location}; the newest is always kept: pass "
                                      "--yes to remove the other 2\n")
    assert refused("--older-than", "0m") == refused("--keep", "0")
    assert refused() == ("model-gate: error: prune: give exactly one of --older-than AGE and "
                         "--keep N\n")
    assert refused("--keep", "1", "--older-than", "1d") == refused()
    assert refused("--keep", "-1") == "model-gate: error: prune: --keep must be 0 or more, got -1\n"
    assert refused("--older-than", "soon") == ("model-gate: error: --older-than: 'soon' is not "
                                               "an age such as 180d, 12h or 2w\n")
    missing = _cli(tmp_path, "prune", "--archive", str(tmp_path / "nope"), "--keep", "1")
    assert (missing.returncode, missing.stderr) == (
        2, f"model-gate: error: no archive at {tmp_path / 'nope'}\n")
    done = _cli(tmp_path, "prune", "--archive", location, "--keep", "0", "--yes")
    assert done.returncode == 0 and done.stdout.startswith(f"pruned {location}: removed 2 of 3")
    assert len(Archive(location).run_ids()) == 1


def test_prune_without_the_lake_extra_and_table_off(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    location = str(tmp_path / "arch")
    _, ids = _archive(location, False, 3, monkeypatch)
    code = ("import sys; sys.modules['deltalake'] = None\n"
            "from pytest_model_gate.cli import main\nsys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", code, "prune", "--archive", location,
                             "--keep", "1"], cwd=tmp_path, text=True, capture_output=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert Archive(location).run_ids() == ids[2:]


# --- concurrency and crashes --------------------------------------------------------------

def _support(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    return subprocess.Popen([sys.executable, "-m", "lake_support", *args], env=env, cwd=TESTS,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _check_race(location: str, table: bool) -> None:
    writer = _support("archive", location, "5", "12", *(() if table else ("--no-table",)))
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    archive = Archive(location, config=_config(table))
    prunes = 0
    while writer.poll() is None:
        archive.prune(keep=2)
        prunes += 1
        time.sleep(0.05)
    out, err = writer.communicate()
    assert writer.returncode == 0, err
    written = [line.strip() for line in out.splitlines() if line.strip()]
    assert len(written) == 12 and prunes >= 2
    entries = _prune_entries(location)
    pruned = {r for e in entries for r in e["run_ids"]}
    final = Archive(location).run_ids()
    assert set(written) == pruned | set(final)  # every committed run: kept or pruned
    assert final[-1] == written[-1]  # the newest is never pruned
    positions = {r["run_id"]: r["seq"] for r in read_log(open_storage(location)).entries
                 if r is not None and r.get("kind") != PRUNE}
    for e in entries:  # a prune only names runs committed before it
        assert all(positions[r] < e["seq"] for r in e["run_ids"])
    if table:
        assert Archive(location, config=_config(True)).reindex() == len(final)
        assert archive.table is not None and archive.table.run_ids() == set(final)


@pytest.mark.slow
@pytest.mark.parametrize("table", TABLE)
def test_prune_racing_a_writer_local(tmp_path: Path, table: bool) -> None:
    _check_race(str(tmp_path / "arch"), table)


@pytest.mark.slow
def test_prune_racing_a_writer_s3(s3_url: str) -> None:
    _check_race(s3_url, False)


def test_reindex_finishes_a_prune_killed_after_its_entry(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    location = str(tmp_path / "arch")
    archive, ids = _archive(location, False, 4, monkeypatch)
    proc = _support("prune", location, "--die-after-entry", "1")
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert Archive(location).run_ids() == ids[3:]  # the entry is the commit point
    assert all((tmp_path / "arch" / rid).is_dir() for rid in ids[:3])  # not finished
    Archive(location).reindex()
    _readers_drop(archive, location, ids[:3], ids[3:])


def test_table_on_without_the_lake_extra_is_one_line_exit_2(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    location = str(tmp_path / "arch")
    _, ids = _archive(location, False, 2, monkeypatch)
    (tmp_path / "gate.yaml").write_text(f"archive: {location}\ntable: true\n", encoding="utf-8")
    code = ("import sys; sys.modules['deltalake'] = None\n"
            "from pytest_model_gate.cli import main\nsys.exit(main(sys.argv[1:]))")
    for args in (("prune", "--keep", "1"), ("history", "AAPL_0H"), ("reindex",)):
        result = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, text=True,
                                capture_output=True, timeout=120)
        assert (result.returncode, result.stderr) == (
            2, f"model-gate: error: {tmp_path / 'gate.yaml'}: table: the lake table needs "
               "deltalake and pyarrow (deltalake is missing): pip install "
               "pytest-model-gate[lake]\n"), args
    assert Archive(location).run_ids() == ids and _prune_entries(location) == []


def test_pruned_runs_stay_gone_long_after(tmp_path: Path) -> None:
    """Past checkpoints and far behind the log's tail (the hint's TAIL newest records: a
    writer then finds a summary's older runs by searching the checkpoint), a pruned run stays
    out of every reader, and its summary is archived anew."""
    location = str(tmp_path / "arch")
    archive = TrainingArchiveManager(location)
    first = [archive.archive_training_run(make_summary(8, i)).run_id for i in range(4)]
    archive.prune(keep=1)
    later = [archive.archive_training_run(make_summary(9, i)).run_id
             for i in range(TAIL + 2 * CHECKPOINT_EVERY)]
    fresh = TrainingArchiveManager(location)
    assert fresh.run_ids() == [first[-1], *later]
    again = fresh.archive_training_run(make_summary(8, 0))
    assert not again.reused and again.run_id not in first
    assert fresh.archive_training_run(make_summary(8, 3)).run_id == first[-1]  # kept: reused
    assert all(e["run_id"] not in first[:3] for e in fresh.get_model_history("AAPL_0H"))
    fresh.reindex()
    assert TrainingArchiveManager(location).run_ids() == [first[-1], *later, again.run_id]
