"""The archive's promises under hostile conditions (issue 10): reindex beside live writers,
symlinks planted inside the archive, damaged run documents, a forged index.json, and
writers of the same summary at the same moment. Each test asserts the promise itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from archive_checks import all_files, check_archive, expected_history
from archive_writer import make_summary

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive.index import RUN_ID_RE
from pytest_model_gate.archive.storage import SymlinkError
from pytest_model_gate.cli import main
from pytest_model_gate.errors import ArchiveError

HERE = Path(__file__).parent
WRITER = HERE / "archive_writer.py"
RACER = HERE / "archive_racer.py"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes, symlinks")


@pytest.fixture(params=["local", "s3"])
def archive_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "archive")
    url: str = request.getfixturevalue("s3_url")
    return url


def _ids(out: str) -> list[str]:
    return [ln for ln in out.split() if RUN_ID_RE.match(ln)]


# --- 1. reindex beside live writers -------------------------------------------------------

def _reindex_loop(url: str, stop: threading.Event, max_age: float, errors: list[str],
                  rounds: list[int]) -> None:
    manager = TrainingArchiveManager(url)
    while not stop.is_set():
        try:
            manager.reindex(temp_max_age=max_age)
            rounds[0] += 1
        except Exception as exc:  # any failure of reindex itself is a test failure
            errors.append(f"{type(exc).__name__}: {exc}")
            return
        if url.startswith("s3://"):
            # moto's server runs in this process: an unthrottled loop starves it
            stop.wait(0.1)


@posix_only
@pytest.mark.slow
@pytest.mark.parametrize("max_age", [3600.0, 0.0], ids=["lease", "hostile"])
def test_reindex_loop_beside_four_writers_keeps_every_run(archive_url: str,
                                                          max_age: float) -> None:
    if max_age == 0 and archive_url.startswith("s3://"):
        # moto's server drops the connection of a PUT racing a DELETE of the same key
        # ("I/O operation on closed file" in moto): the hostile loop runs locally only
        pytest.skip("moto cannot serve a PUT racing a DELETE of the same key")
    """4 writer processes x 5 runs while reindex runs in a loop: every writer exits 0, every
    run it reported is committed and complete. `hostile` makes reindex take every folder for
    abandoned (max age 0), so writers really lose races and must retry under new ids."""
    stop = threading.Event()
    errors: list[str] = []
    rounds = [0]
    TrainingArchiveManager(archive_url).reindex()  # the archive exists before the loop
    loop = threading.Thread(target=_reindex_loop,
                            args=(archive_url, stop, max_age, errors, rounds))
    loop.start()
    try:
        procs = [subprocess.Popen([sys.executable, str(WRITER), archive_url, str(w), "5"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for w in range(4)]
        printed: list[str] = []
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
            printed += _ids(out)
    finally:
        stop.set()
        loop.join(timeout=120)
    assert not errors, errors
    assert rounds[0] >= 1
    assert len(printed) == len(set(printed)) == 20
    manager = TrainingArchiveManager(archive_url)
    assert set(manager.run_ids()) == set(printed)
    check_archive(manager)
    seen = {(m["writer"], m["i"]) for m in
            (manager.load_document(r)["summary"] for r in printed)}
    assert seen == {(w, i) for w in range(4) for i in range(5)}  # each summary once
    assert manager.reindex() == 20
    check_archive(manager, strict=True)
    claimed = [v for k, v in all_files(manager).items()
               if k.startswith("index.d/") and b"(reindex)" in v]
    if max_age > 0:  # leases respected: reindex never claimed a live writer's folder
        assert claimed == []


# --- 2. symlinks planted inside the archive -----------------------------------------------

def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(path.rglob("*"))}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the archive that a planted symlink points at."""
    d = tmp_path / "DIR"
    (d / "v3" / "shards").mkdir(parents=True)
    (d / "v3" / "projected.log").write_bytes(b"precious\n")
    (d / "v3" / "shards" / "00.jsonl").write_bytes(b"precious\n")
    (d / "keep.txt").write_bytes(b"precious\n")
    return d


def _local_archive(tmp_path: Path, runs: int = 1) -> TrainingArchiveManager:
    manager = TrainingArchiveManager(tmp_path / "a")
    for i in range(runs):
        manager.archive_training_run(make_summary(0, i))
    return manager


@posix_only
def test_views_symlink_reindex_refuses_and_dir_is_untouched(tmp_path: Path, outside: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    manager = _local_archive(tmp_path)
    root = tmp_path / "a"
    import shutil

    shutil.rmtree(root / "views")
    (root / "views").symlink_to(outside)
    before = _tree(outside)
    with pytest.raises(SymlinkError, match="views is a symlink"):
        manager.reindex()
    code = main(["reindex", "--archive", str(root)])
    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1 and "views is a symlink: refusing to write or delete" in err
    # a writer still commits (the derived views are skipped), and DIR is never written
    run = manager.archive_training_run(make_summary(0, 1))
    assert run.run_id in manager.run_ids()
    assert [e["run_id"] for e in manager.get_model_history("AAPL_0H")][-1] == run.run_id
    assert _tree(outside) == before


@posix_only
def test_index_d_symlink_writer_refuses_and_dir_is_untouched(tmp_path: Path,
                                                             outside: Path) -> None:
    manager = _local_archive(tmp_path)
    root = tmp_path / "a"
    import shutil

    shutil.rmtree(root / "index.d")
    (root / "index.d").symlink_to(outside)
    before = _tree(outside)
    with pytest.raises(ArchiveError, match=r"index\.d is a symlink"):
        manager.archive_training_run(make_summary(0, 1))
    with pytest.raises(ArchiveError, match=r"index\.d is a symlink"):
        manager.archive_training_run(make_summary(0, 1), force=True)
    with pytest.raises(SymlinkError, match=r"index\.d is a symlink"):
        manager.reindex(temp_max_age=0)  # would tombstone the failed runs: refused
    assert _tree(outside) == before


@posix_only
@pytest.mark.parametrize("planted", ["views/v3/projected.log", "views/v3/shards/{shard}",
                                     ".index.lock", "index.json"])
def test_appended_or_replaced_file_that_is_a_symlink(tmp_path: Path, outside: Path,
                                                     planted: str) -> None:
    """A log or shard appended in place, the lock file, index.json: each a symlink to a file
    outside; writers and reindex never write through it."""
    from pytest_model_gate.archive.views import shard_key

    manager = _local_archive(tmp_path)
    root = tmp_path / "a"
    key = planted.format(shard=shard_key("AAPL_0H").rsplit("/", 1)[1])
    (root / key).unlink(missing_ok=True)
    (root / key).symlink_to(outside / "keep.txt")
    before = _tree(outside)
    try:
        run = manager.archive_training_run(make_summary(0, 1))
        assert run.run_id in manager.run_ids()
    except SymlinkError as exc:  # the lock file: refused with a clear error
        assert ".index.lock is a symlink" in str(exc)
    with pytest.raises(SymlinkError):
        manager.reindex()
    assert _tree(outside) == before


@posix_only
def test_run_folder_symlink_is_never_deleted_through(tmp_path: Path, outside: Path) -> None:
    manager = _local_archive(tmp_path)
    fake = "20200101T000000.000000Z-abcdef"
    (tmp_path / "a" / fake).symlink_to(outside)
    before = _tree(outside)
    with pytest.raises(SymlinkError, match=f"{fake} is a symlink"):
        manager.reindex(temp_max_age=0)
    assert _tree(outside) == before


# --- 7. damaged run documents and a forged index.json -------------------------------------

DAMAGE = {
    "models-not-a-list": b'{"run_id": "%s", "models": "abc"}',
    "not-an-object": b"[1, 2]",
    "model-without-id": None,  # built from the real document
}


def _damage(manager: TrainingArchiveManager, run_id: str, how: str) -> None:
    data = DAMAGE[how]
    if data is None:
        doc = json.loads(manager.storage.read(f"{run_id}/model_assessments.json"))
        del doc["models"][0]["id"]
        data = json.dumps(doc).encode()
    elif b"%s" in data:
        data = data % run_id.encode()
    manager.storage.replace(f"{run_id}/model_assessments.json", data)


@pytest.mark.parametrize("how", list(DAMAGE))
def test_damaged_document_is_named_and_skipped(archive_url: str, how: str) -> None:
    manager = TrainingArchiveManager(archive_url)
    first = manager.archive_training_run(make_summary(0, 0))
    second = manager.archive_training_run(make_summary(0, 1))
    _damage(manager, first.run_id, how)
    fresh = TrainingArchiveManager(archive_url)
    # the damaged run, asked for by id: one line naming the file
    with pytest.raises(ArchiveError) as info:
        fresh.load_document(first.run_id)
    assert f"run {first.run_id}: model_assessments.json" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(ArchiveError, match=first.run_id):
        fresh.get_approved_models(first.run_id)
    # queries over runs skip it and name it
    assert fresh.get_approved_models() == [m["id"] for m in second.document["models"]
                                           if m["classification"] == "APPROVED"]
    history = fresh.get_model_history("AAPL_0H")
    assert history[-1]["run_id"] == second.run_id
    # (local views may still hold the entries projected when the run was sound; once
    # rebuilt from the documents, the damaged one is left out and named)
    fresh.reindex()
    history = fresh.get_model_history("AAPL_0H")
    assert [e["run_id"] for e in history] == [second.run_id]
    assert any(first.run_id in line for line in fresh.skipped)
    values = fresh.baseline_values(["AAPL_0H"], against="last", window=2,
                                   metrics=["fitness"])
    assert values["AAPL_0H"]["fitness"].run_id == second.run_id
    # the next gated run neither crashes nor loses anything; reindex keeps the run
    third = fresh.archive_training_run(make_summary(0, 2))
    assert third.previous is not None and third.previous["run_id"] == second.run_id
    assert fresh.reindex() == 3
    assert fresh.run_ids() == sorted([first.run_id, second.run_id, third.run_id])


def test_damaged_document_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manager = _local_archive(tmp_path, runs=2)
    first, second = manager.run_ids()
    _damage(manager, first, "models-not-a-list")
    root = str(tmp_path / "a")
    for argv in (["show", first], ["approved", first], ["report", first]):
        code = main([*argv, "--archive", root])
        err = capsys.readouterr().err
        assert code == 2, argv
        assert err.count("\n") == 1 and first in err and "models" in err, err
    assert main(["approved", "--archive", root]) == 0  # the latest run is sound
    assert main(["reindex", "--archive", root]) == 0  # views rebuilt from the documents
    capsys.readouterr()
    assert main(["history", "AAPL", "--archive", root, "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert {e["run_id"] for e in json.loads(out)} == {second}
    assert f"warning: {root}/{first}/model_assessments.json: damaged run document: models" \
        in err
    assert err.count("\n") == 1
    # a gated run with baselines beside it: verdicts, no traceback
    summary = tmp_path / "s.json"
    summary.write_text(json.dumps(make_summary(0, 9)), encoding="utf-8")
    config = tmp_path / "gate.yaml"
    config.write_text("baseline: {against: last, max_decline: {fitness: 0.5}}\n",
                      encoding="utf-8")
    code = main(["check", str(summary), "--config", str(config), "--archive", root])
    assert code in (0, 1)
    assert "Traceback" not in capsys.readouterr().err


def test_forged_index_line_cannot_hide_a_committed_run(archive_url: str) -> None:
    manager = TrainingArchiveManager(archive_url)
    first = manager.archive_training_run(make_summary(0, 0))
    second = manager.archive_training_run(make_summary(0, 1))
    index = manager.storage.read("index.json").decode()
    forged = index.replace(f'{{"run_id": "{second.run_id}", ',
                           f'{{"run_id": "{second.run_id}", "abandoned": true, ')
    assert forged != index
    manager.storage.replace("index.json", forged.encode())
    fresh = TrainingArchiveManager(archive_url)
    assert [r["run_id"] for r in fresh.list_runs()] == [first.run_id, second.run_id]
    assert fresh.latest_run() is not None
    assert fresh.latest_run()["run_id"] == second.run_id  # type: ignore[index]
    assert fresh.get_approved_models() == fresh.get_approved_models(second.run_id)
    # a forged order of lines does not reorder runs either
    lines = index.split("\n")
    swapped = "\n".join([lines[0], lines[2].rstrip(",") + ",", lines[1].rstrip(","),
                         *lines[3:]])
    manager.storage.replace("index.json", swapped.encode())
    assert TrainingArchiveManager(archive_url).run_ids() == [first.run_id, second.run_id]


# --- 8. writers of the same summary at the same moment ------------------------------------

@posix_only
def test_four_writers_of_one_summary_at_a_barrier_archive_it_once(archive_url: str,
                                                                  tmp_path: Path) -> None:
    summary = tmp_path / "s.json"
    summary.write_text(json.dumps(make_summary(7, 7)), encoding="utf-8")
    barrier = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(RACER), archive_url, str(summary),
                               str(barrier)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    barrier.write_text("go")
    results: list[list[str]] = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(out.split())
    run_ids = {r[0] for r in results}
    assert len(run_ids) == 1  # every writer got the same run back
    assert sorted(r[1] for r in results) == ["new", "reused", "reused", "reused"]
    manager = TrainingArchiveManager(archive_url)
    assert manager.run_ids() == list(run_ids)
    keys = [k for k in all_files(manager) if k.startswith("content/")]
    assert len(keys) == 1
    check_archive(manager)


def test_content_key_of_an_abandoned_run_is_skipped(archive_url: str) -> None:
    """A writer died holding the content key and reindex tombstoned its run: the next writer
    of that summary archives it (the key's next generation), it does not wait forever."""
    from pytest_model_gate.archive.claims import content_digest, tombstone
    from pytest_model_gate.archive.index import new_run_id

    manager = TrainingArchiveManager(archive_url)
    data = make_summary(3, 3)
    probe = TrainingArchiveManager(archive_url + "-probe")
    gated = probe.archive_training_run(data)
    digest = content_digest(gated.document["summary"]["sha256"], manager.config.digest())
    dead = new_run_id()
    manager.storage.create(f"content/{digest}.0.json",
                           json.dumps({"run_id": dead}).encode())
    assert tombstone(manager.storage, dead, "test") == "abandoned"
    started = time.monotonic()
    run = manager.archive_training_run(data)
    assert time.monotonic() - started < 10
    assert not run.reused and manager.run_ids() == [run.run_id]
    assert manager.archive_training_run(data).run_id == run.run_id  # and now it is found


def test_forged_content_key_is_never_a_path(archive_url: str) -> None:
    from pytest_model_gate.archive.claims import content_digest

    manager = TrainingArchiveManager(archive_url)
    data: dict[str, Any] = make_summary(4, 4)
    probe = TrainingArchiveManager(archive_url + "-probe").archive_training_run(data)
    digest = content_digest(probe.document["summary"]["sha256"], manager.config.digest())
    manager.storage.create(f"content/{digest}.0.json",
                           json.dumps({"run_id": "../../etc"}).encode())
    run = manager.archive_training_run(data)
    assert manager.run_ids() == [run.run_id]
    assert expected_history(manager)["AAPL"][0]["run_id"] == run.run_id
    if os.name == "posix" and not archive_url.startswith("s3://"):
        assert not (Path(archive_url).parent / "etc").exists()
