"""The commit log (issue 13): the order of runs is the log's, never a writer's clock; archives
written before the log are migrated; checkpoints keep reads constant in the number of runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from archive_checks import check_archive, expected_history, record_reads
from archive_writer import make_summary

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive import index as archive_index
from pytest_model_gate.archive import log as commit_log
from pytest_model_gate.archive.baselines import _baselines_by_scan
from pytest_model_gate.archive.storage import LocalStorage, Storage
from pytest_model_gate.core.config import parse_config

FIXTURE = Path(__file__).parent / "fixtures" / "archive_v1"
FIXTURE_RUNS = ["20261202T000718.026824Z-137edf", "20261202T000718.202633Z-041e5e",
                "20261202T000718.259260Z-6edac1"]
WRITER = Path(__file__).with_name("archive_writer.py")

GOOD = {"fitness_score": [0.7, 0.8], "profit_factor": 2.2, "consistency": 0.92,
        "max_drawdown": 0.05}
BAD = {"fitness_score": [0.5, 0.3], "profit_factor": 1.0, "consistency": 0.5,
       "max_drawdown": 0.3}


@pytest.fixture(params=["local", "s3"])
def archive_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "archive")
    url: str = request.getfixturevalue("s3_url")
    return url


def _summary(stamp: str, **models: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": stamp, "validation_interval": 40,
            "models": {k: {"metrics": v} for k, v in models.items()}}


def _at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    monkeypatch.setattr(archive_index, "clock", lambda: when)


def test_clock_skew_never_reorders_runs(archive_url: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Run 2 is archived after run 1 by a runner whose clock is an hour behind: run 2 is
    still the latest, for every reader."""
    now = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    config = parse_config({"baseline": {"against": "last",
                                        "max_decline": {"fitness": 0.5}}})
    manager = TrainingArchiveManager(archive_url, config=config)
    _at(monkeypatch, now)
    s1 = _summary("1", AAPL_1H=GOOD, MSFT_1H=GOOD)
    run1 = manager.archive_training_run(s1)
    _at(monkeypatch, now - timedelta(hours=1))  # the skewed runner
    s2 = _summary("2", AAPL_1H=BAD, MSFT_1H=GOOD)
    run2 = manager.archive_training_run(s2)
    assert run2.run_id < run1.run_id  # its name sorts first ...
    fresh = TrainingArchiveManager(archive_url, config=config)
    assert fresh.run_ids() == [run1.run_id, run2.run_id]  # ... the commit order does not
    assert [r["seq"] for r in fresh.list_runs()] == [0, 1]
    assert fresh.latest_run()["run_id"] == run2.run_id  # type: ignore[index]
    assert fresh.get_approved_models() == ["MSFT_1H"]  # run 2 dropped AAPL_1H
    # run 2's report knows run 1 as the previous run (the new DROP is a change)
    assert run2.previous is not None and run2.previous["run_id"] == run1.run_id
    assert run2.report_text is not None and "AAPL_1H" in run2.report_text
    # baselines: `last` is run 2, `last_approved` for AAPL_1H is run 1
    last = fresh.baseline_values(["AAPL_1H"], against="last", window=1, metrics=["fitness"])
    assert last["AAPL_1H"]["fitness"].run_id == run2.run_id
    approved = fresh.baseline_values(["AAPL_1H"], against="last_approved", window=1,
                                     metrics=["fitness"])
    assert approved["AAPL_1H"]["fitness"].run_id == run1.run_id
    # the re-run cutoff: a CI re-run of run 2 is gated against run 1 (the run before it)
    _at(monkeypatch, now + timedelta(hours=1))
    again = fresh.archive_training_run(s2)
    assert again.reused and again.run_id == run2.run_id
    baseline = {a.model_id: a.baseline for a in again.assessments}
    assert baseline["AAPL_1H"] is not None
    assert baseline["AAPL_1H"]["fitness"].run_id == run1.run_id
    # history and trends: commit order
    assert [e["run_id"] for e in fresh.get_model_history("AAPL_1H")] == [run1.run_id,
                                                                         run2.run_id]
    _doc, previous, _ = fresh.run_context(run2.run_id)
    assert previous is not None and previous["run_id"] == run1.run_id
    fresh.reindex()
    assert fresh.run_ids() == [run1.run_id, run2.run_id]
    check_archive(fresh, strict=True)


def _copy_fixture(tmp_path: Path) -> Path:
    target = tmp_path / "archive_v1"
    shutil.copytree(FIXTURE, target)
    return target


def test_fixture_is_an_archive_from_before_the_log() -> None:
    assert not (FIXTURE / "log").exists()
    assert sorted(p.stem for p in (FIXTURE / "index.d").iterdir()) == FIXTURE_RUNS


def test_archive_from_before_the_log_is_read_then_migrated_by_a_writer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _copy_fixture(tmp_path)
    manager = TrainingArchiveManager(root)
    # readers of the old layout: every run, in its old order
    assert manager.run_ids() == FIXTURE_RUNS
    history_before = expected_history(manager)
    assert {s: manager.get_symbol_history(s) for s in history_before} == history_before
    # a writer with a clock in the past: the old runs keep their order ahead of its run
    _at(monkeypatch, datetime(2001, 1, 1, tzinfo=timezone.utc))
    new = manager.archive_training_run(make_summary(0, 3, models=3))
    assert new.previous is not None and new.previous["run_id"] == FIXTURE_RUNS[-1]
    assert manager.run_ids() == [*FIXTURE_RUNS, new.run_id]
    entries = sorted(p.name for p in (root / "log").glob("0*.json"))
    assert len(entries) == 4
    assert [json.loads((root / "log" / e).read_text())["run_id"] for e in entries] == \
        [*FIXTURE_RUNS, new.run_id]
    # the re-archived old summary is found (no double count), history covers all four
    assert manager.archive_training_run(make_summary(0, 1, models=3)).run_id == \
        FIXTURE_RUNS[1]
    assert [e["run_id"] for e in manager.get_model_history("AAPL_0H")] == \
        [*FIXTURE_RUNS, new.run_id]
    assert manager.reindex() == 4
    check_archive(manager, strict=True)


def test_archive_from_before_the_log_is_migrated_by_reindex(tmp_path: Path) -> None:
    root = _copy_fixture(tmp_path)
    manager = TrainingArchiveManager(root)
    assert manager.reindex() == 3
    assert manager.run_ids() == FIXTURE_RUNS
    assert len(list((root / "log").glob("0*.json"))) == 3
    assert manager.reindex() == 3  # idempotent: nothing appended twice
    assert len(list((root / "log").glob("0*.json"))) == 3
    check_archive(manager, strict=True)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")
def test_four_writers_migrate_one_old_archive_at_once(tmp_path: Path) -> None:
    root = _copy_fixture(tmp_path)
    procs = [subprocess.Popen([sys.executable, str(WRITER), str(root), str(10 + w), "3"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(4)]
    for p in procs:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    manager = TrainingArchiveManager(root)
    ids = manager.run_ids()
    assert ids[:3] == FIXTURE_RUNS and len(ids) == 3 + 12
    check_archive(manager)
    assert manager.reindex() == 15
    check_archive(manager, strict=True)


class _Counting:
    """Counts the objects a storage reads (the object-store cost model)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)

    def read(self, key: str) -> bytes:
        self.reads += 1
        return self.storage.read(key)

    def read_many(self, keys: Any) -> dict[str, bytes]:
        keys = list(keys)
        self.reads += len(keys)
        return self.storage.read_many(keys)


def test_checkpoints_keep_log_reads_constant(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commit_log, "CHECKPOINT_EVERY", 4)
    reads = {}
    for runs in (5, 21):
        manager = TrainingArchiveManager(tmp_path / f"a{runs}")
        for i in range(runs):
            manager.archive_training_run(make_summary(1, i, models=2))
        counting = _Counting(manager.storage)
        log = commit_log.read_log(counting)  # type: ignore[arg-type]
        assert [r["run_id"] for r in log.records()] == manager.run_ids()
        assert len(manager.run_ids()) == runs
        assert log.checkpoint == (runs // 4) * 4 - 1
        reads[runs] = counting.reads
    # hint + checkpoint + the one entry after it + the first missing entry
    assert reads[5] == reads[21] == 4
    # a lost hint or a damaged checkpoint costs reads, never runs
    root = tmp_path / "a21"
    (root / "log" / "_last_checkpoint.json").unlink()
    (root / "log" / f"{19:020d}.checkpoint.json").write_text("{damaged")
    storage = LocalStorage(root)
    log = commit_log.read_log(storage)
    assert log.checkpoint == 15
    assert [r["run_id"] for r in log.records()] == \
        TrainingArchiveManager(root).run_ids()
    assert len(log.records()) == 21


def _checkpoints(keys: list[str]) -> list[str]:
    return [k for k in keys if k.endswith(".checkpoint.json")]


def test_newest_runs_are_read_from_the_tail_alone(archive_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """latest, approved, history --last and baselines read the hint's records and the entries
    after its checkpoint, never the checkpoint of every run; their answers equal those of the
    whole log. An append reads the checkpoint's bytes only to search a summary digest."""
    monkeypatch.setattr(commit_log, "CHECKPOINT_EVERY", 4)
    monkeypatch.setattr(commit_log, "TAIL", 5)
    from pytest_model_gate.archive import history as archive_history

    monkeypatch.setattr(archive_history, "BATCH", 3)
    manager = TrainingArchiveManager(archive_url)
    for i in range(18):  # AAPL_5H only in odd runs: a model missing from some runs
        manager.archive_training_run(make_summary(5, i, models=7 if i % 2 else 5))
    ids = manager.run_ids()
    full = {m: manager.get_model_history(m) for m in ("AAPL_0H", "AAPL_5H")}
    symbol = manager.get_symbol_history("AAPL")
    docs = {r: manager.load_document(r) for r in ids}
    wanted = list(make_summary(5, 1, models=7)["models"])
    slow = _baselines_by_scan(manager.storage, wanted, "last_approved", 3, ["fitness"])
    fresh = TrainingArchiveManager(archive_url)
    seen = record_reads(monkeypatch, fresh.storage)
    assert fresh.latest_run()["run_id"] == ids[-1]  # type: ignore[index]
    assert fresh.get_approved_models() == [m["id"] for m in docs[ids[-1]]["models"]
                                           if m["classification"] == "APPROVED"]

    def check_history(n: int) -> None:
        for m, entries in full.items():
            assert fresh.get_model_history(m, last=n) == entries[-n:]
        newest = [r for r in ids if any(e["run_id"] == r for e in symbol)][-n:]
        assert fresh.get_symbol_history("AAPL", last=n) == \
            [e for e in symbol if e["run_id"] in newest]

    for n in (1, 2):
        check_history(n)
    assert _checkpoints(seen) == [] and seen
    for n in (4, 9, 30):  # further back than the tail: the log is read (on S3: documents)
        check_history(n)
    if archive_url.startswith("s3://"):  # only the documents after the checkpoint (15)
        seen.clear()
        fresh.get_model_history("AAPL_5H", last=1)
        assert len([k for k in seen if k.endswith("model_assessments.json")]) == 2
    # a window reaching back past the tail: older runs are read (the log), never guessed
    got = fresh.baseline_values(wanted, against="last_approved", window=3, metrics=["fitness"])
    assert repr(got) == repr(slow)
    seen.clear()
    run = fresh.archive_training_run(make_summary(5, 99, models=5))
    assert run.previous is not None and run.previous["run_id"] == ids[-1]
    assert [d["run_id"] for d in run.history] == ids[-len(run.history):]
    assert len(_checkpoints(seen)) <= 2  # the digest search (one read per scan)
    # a re-run of an old summary (older than the tail) is found: no double count
    again = fresh.archive_training_run(make_summary(5, 0, models=5))
    assert again.reused and again.run_id == ids[0]
    monkeypatch.undo()
    check_archive(TrainingArchiveManager(archive_url))


def test_an_append_on_an_object_store_lists_no_commit_records(
        s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """index.json is brought up to date from the log's newest entries, not from a listing of
    index.d/ (one key per run: O(runs) on S3); it still holds every run, and a lost one is
    rebuilt from a listing."""
    monkeypatch.setattr(commit_log, "CHECKPOINT_EVERY", 4)
    monkeypatch.setattr(commit_log, "TAIL", 5)
    manager = TrainingArchiveManager(s3_url)
    for i in range(11):
        manager.archive_training_run(make_summary(6, i))
    cls = type(manager.storage)
    listed: list[str] = []
    real_listdir = cls.listdir

    def listdir(self: Storage, folder: str = "") -> Any:
        listed.append(folder)
        return real_listdir(self, folder)  # type: ignore[arg-type]

    monkeypatch.setattr(cls, "listdir", listdir)
    fresh = TrainingArchiveManager(s3_url)
    last = fresh.archive_training_run(make_summary(6, 11))
    assert not [f for f in listed if f.rstrip("/").endswith("index.d")], listed
    index = json.loads(fresh.storage.read("index.json"))
    assert [r["run_id"] for r in index["runs"]] == sorted(fresh.run_ids())
    assert last.run_id in fresh.run_ids() and len(index["runs"]) == 12
    assert all("seq" not in r for r in index["runs"])  # the log's own key stays in the log
    fresh.storage.delete("index.json")  # lost: the next writer lists and rebuilds it whole
    listed.clear()
    fresh.archive_training_run(make_summary(6, 12))
    assert [f for f in listed if f.rstrip("/").endswith("index.d")]
    index = json.loads(fresh.storage.read("index.json"))
    assert [r["run_id"] for r in index["runs"]] == sorted(fresh.run_ids())
    assert len(index["runs"]) == 13
