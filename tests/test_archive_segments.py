"""Object-store row segments (issue 13): history on S3 reads a model's bucket segments
(O(log n) objects) plus the documents since the last checkpoint; a missing, damaged or raced
segment makes it slower, never wrong."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from archive_checks import all_files, check_archive, expected_history, record_reads
from archive_writer import make_summary

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive import log as commit_log
from pytest_model_gate.archive import segments
from pytest_model_gate.archive.log import read_log
from pytest_model_gate.archive.storage import Storage

EVERY = 4  # checkpoints (and level-0 segments) every 4 commits in these tests


@pytest.fixture(params=["memory", "s3"])
def remote_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        pytest.importorskip("fsspec")
        return f"memory://seg-{os.getpid()}-{tmp_path.name}"
    url: str = request.getfixturevalue("s3_url")
    return url


def _archive(url: str, runs: int, monkeypatch: pytest.MonkeyPatch) -> TrainingArchiveManager:
    monkeypatch.setattr(commit_log, "CHECKPOINT_EVERY", EVERY)
    monkeypatch.setattr(commit_log, "TAIL", 6)
    manager = TrainingArchiveManager(url)
    for i in range(runs):  # AAPL_5H only in odd runs: a model missing from some runs
        manager.archive_training_run(make_summary(7, i, models=7 if i % 2 else 5))
    return manager


def _by_model(manager: TrainingArchiveManager) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for entries in expected_history(manager).values():
        for e in entries:
            out.setdefault(e["model_id"], []).append(e)
    return out


def _assert_history(manager: TrainingArchiveManager) -> None:
    fresh = TrainingArchiveManager(manager.storage.location)
    by_symbol = expected_history(manager)
    for symbol, entries in by_symbol.items():
        assert fresh.get_symbol_history(symbol) == entries
    for model, entries in _by_model(manager).items():
        assert fresh.get_model_history(model) == entries
        for n in (1, 3, 7, 40):
            assert fresh.get_model_history(model, last=n) == entries[-n:]
    runs = [r for r in manager.run_ids() if any(e["run_id"] == r for e in by_symbol["AAPL"])]
    for n in (1, 5):
        assert fresh.get_symbol_history("AAPL", last=n) == \
            [e for e in by_symbol["AAPL"] if e["run_id"] in runs[-n:]]


def test_segments_answer_history_in_log_n_objects(remote_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    manager = _archive(remote_url, 22, monkeypatch)
    # 22 runs: checkpoints at 3, 7, ..., 19; runs 0..19 are covered by a level-2 segment
    # (runs 0..15) and a level-0 one (16..19); runs 20, 21 are read from their documents
    assert segments.covering(19) == [(0, 16), (2, 0)]
    bucket = segments.bucket_of("AAPL_0H")
    for level, first in [(0, 0), (0, 4), (1, 0), (1, 8), (2, 0), (0, 16)]:
        assert manager.storage.exists(segments.segment_key(bucket, level, first))
    _assert_history(manager)
    fresh = TrainingArchiveManager(remote_url)
    ids = manager.run_ids()
    seen = record_reads(monkeypatch, fresh.storage)
    history = fresh.get_model_history("AAPL_0H")
    assert len(history) == 22
    docs = [k for k in seen if k.endswith("model_assessments.json")]
    segs = [k for k in seen if k.startswith(segments.SEGMENTS)]
    assert sorted(docs) == sorted(f"{r}/model_assessments.json" for r in ids[20:])
    assert sorted(segs) == sorted(segments.segment_key(bucket, level, first)
                                  for level, first in segments.covering(19))
    assert not [k for k in seen if k.endswith(".checkpoint.json")]
    seen.clear()  # the newest 2 runs: their documents only, no segment
    assert fresh.get_model_history("AAPL_0H", last=2) == history[-2:]
    assert not [k for k in seen if k.startswith(segments.SEGMENTS)]
    check_archive(manager)


def test_missing_or_damaged_segments_fall_back(remote_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    manager = _archive(remote_url, 22, monkeypatch)
    s = manager.storage
    bucket = segments.bucket_of("AAPL_5H")
    s.delete(segments.segment_key(bucket, 2, 0))  # lost: its halves answer
    _assert_history(manager)
    # a half damaged: not JSON; the other: a valid line outside its runs -> documents
    s.replace(segments.segment_key(bucket, 1, 0), b'{"run_id": "x", "seq": 1\n')
    line = s.read(segments.segment_key(bucket, 1, 8)).split(b"\n")[0]
    s.replace(segments.segment_key(bucket, 1, 8),
              line.replace(b'"seq": 9,', b'"seq": 99,') + b"\n")
    _assert_history(manager)
    # a symbols object lost: symbol history from the documents
    s.delete(segments.symbols_key(0, 16))
    _assert_history(manager)
    # a torn segment (no final newline) is not trusted either
    key = segments.segment_key(bucket, 0, 16)
    s.replace(key, s.read(key)[:-5])
    _assert_history(manager)


def test_segments_written_twice_at_once_agree(remote_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Two writers of one checkpoint's segments (a retried or raced checkpoint): create-only,
    the first wins, the other's identical rows are dropped; history stays exact."""
    manager = _archive(remote_url, 8, monkeypatch)  # checkpoints 3, 7
    s = manager.storage
    for key in [k for k in _keys(s) if k.startswith(segments.SEGMENTS)]:
        s.delete(key)
    log = read_log(s)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(checkpoint: int) -> None:
        try:
            barrier.wait()
            segments.write_segments(s, log, checkpoint)
        except BaseException as exc:
            errors.append(exc)

    for checkpoint in (3, 7):
        threads = [threading.Thread(target=write, args=(checkpoint,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert s.exists(segments.segment_key(segments.bucket_of("AAPL_0H"), 1, 0))
    _assert_history(manager)
    # a writer that raced ahead with rows of another range never hides the true rows
    manager.archive_training_run(make_summary(7, 50, models=5))
    _assert_history(manager)


def _keys(storage: Storage) -> list[str]:
    fs = storage.fs  # type: ignore[attr-defined]
    root = storage.root  # type: ignore[attr-defined]
    fs.invalidate_cache()
    return [p[len(root.split("://", 1)[-1]):].lstrip("/") for p in fs.find(root)]


@pytest.fixture(params=["local", "memory"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "a")
    pytest.importorskip("fsspec")
    return f"memory://segp-{os.getpid()}-{tmp_path.name}"


def test_pruned_runs_never_come_back_from_views_or_segments(
        any_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A prune entry hides its runs at once, though the local shards or the segments written
    before it still hold their rows (a prune killed before its reindex); after the prune's
    reindex they are gone from the derived rows too."""
    manager = _archive(any_url, 22, monkeypatch)
    ids = manager.run_ids()
    victims = ids[:13]
    log = read_log(manager.storage)
    commit_log.append_prune(manager.storage, log, victims, "test", "now")
    fresh = TrainingArchiveManager(any_url)
    assert fresh.run_ids() == ids[13:]
    for model in ("AAPL_0H", "AAPL_5H"):
        got = fresh.get_model_history(model)
        assert got and not {e["run_id"] for e in got} & set(victims)
        assert fresh.get_model_history(model, last=3) == got[-3:]
    values = fresh.baseline_values(["AAPL_0H"], against="last", window=50,
                                   metrics=["fitness"])
    assert values["AAPL_0H"]["fitness"].run_id == ids[-1]
    assert fresh.reindex() == len(ids) - len(victims)  # finishes the prune
    derived = {k: v for k, v in all_files(fresh).items() if k.startswith("views/")}
    assert derived and not [k for k, v in derived.items()
                            if any(r.encode() in v for r in victims)]
    for model in ("AAPL_0H", "AAPL_5H"):
        assert fresh.get_model_history(model) == \
            [e for e in _by_model(manager)[model] if e["run_id"] not in victims]
    by_symbol = expected_history(fresh)
    assert {s: fresh.get_symbol_history(s) for s in by_symbol} == by_symbol
    check_archive(fresh, strict=True)


@pytest.mark.parametrize("after", [1, 30, 64, 65, 100])
def test_a_writer_stopped_mid_segments_leaves_history_exact(
        after: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checkpoint writer stops after `after` segment objects (each object is whole: a
    conditional PUT): some buckets' segments, or a level's symbols, or a merge are missing;
    readers use what is there and the documents for the rest."""
    pytest.importorskip("fsspec")
    url = f"memory://segk-{os.getpid()}-{tmp_path.name}"
    real = segments._put
    count = {"n": 0}

    def stopping(storage: Storage, key: str, data: bytes, replace: bool) -> None:
        count["n"] += 1
        if count["n"] == after:
            raise OSError("killed")
        real(storage, key, data, replace)

    monkeypatch.setattr(segments, "_put", stopping)
    manager = _archive(url, 14, monkeypatch)  # checkpoints 3, 7 (a merge), 11
    assert count["n"] > after
    _assert_history(manager)
    monkeypatch.setattr(segments, "_put", real)
    manager.reindex()  # rewrites the segments readers use
    key = segments.segment_key(segments.bucket_of("AAPL_0H"), 1, 0)
    assert manager.storage.exists(key)
    _assert_history(manager)
