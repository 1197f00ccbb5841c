"""The training archive: one suite, run against a local folder and against S3 (moto server)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from archive_checks import all_files, check_archive, expected_history
from archive_writer import make_summary

from pytest_model_gate.api import ArchivedRun, TrainingArchiveManager
from pytest_model_gate.archive import manager as archive_mod
from pytest_model_gate.archive.index import RUN_ID_RE, new_run_id, validate_run_id
from pytest_model_gate.archive.storage import HOST, LocalStorage, open_storage
from pytest_model_gate.core.config import GateConfig, ModelGatingConfig, parse_config
from pytest_model_gate.core.gating import BaselineValue
from pytest_model_gate.errors import ArchiveError


@pytest.fixture(params=["local", "s3"])
def archive_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "archive")
    url: str = request.getfixturevalue("s3_url")
    return url


@pytest.fixture
def manager(archive_url: str) -> TrainingArchiveManager:
    return TrainingArchiveManager(archive_url)


def _summary(values: dict[str, tuple[float, float, float, float]], **meta: Any) -> dict[str, Any]:
    """model id -> (fitness, pf, consistency, drawdown); fitness history ends at fitness."""
    models = {}
    for mid, (fit, pf, cons, dd) in values.items():
        models[mid] = {"metrics": {"fitness_score": [round(fit * 0.9, 4), fit],
                                   "profit_factor": pf, "consistency": cons,
                                   "max_drawdown": dd}}
    return {"timestamp": meta.pop("timestamp", "t"), **meta, "models": models}


GOOD = (0.80, 2.2, 0.92, 0.05)
MID = (0.60, 1.5, 0.70, 0.10)
BAD = (0.30, 1.0, 0.40, 0.30)


# --- writing ---------------------------------------------------------------------------------

def test_archive_writes_the_documented_layout(manager: TrainingArchiveManager,
                                              trading_summary: Path) -> None:
    run = manager.archive_training_run(trading_summary)
    assert isinstance(run, ArchivedRun)
    assert RUN_ID_RE.match(run.run_id) and run.timestamp == run.run_id
    assert (run.approved_count, run.review_count, run.dropped_count) == (13, 9, 2)
    assert len(run.assessments) == 24 and not run.reused
    assert run.previous is None and run.history == []
    assert run.path.endswith(run.run_id)
    files = all_files(manager)
    rid = run.run_id
    assert {f"{rid}/summary.json", f"{rid}/model_assessments.json",
            f"{rid}/recommendations.md", f"index.d/{rid}.json", "index.json"} <= set(files)
    assert files[f"{rid}/summary.json"] == trading_summary.read_bytes()  # byte for byte
    doc = json.loads(files[f"{rid}/model_assessments.json"])
    assert doc == run.document
    assert doc["schema"] == 1 and doc["run_id"] == rid
    assert doc["counts"] == {"APPROVED": 13, "REVIEW": 9, "DROP": 2}
    assert doc["summary"]["sha256"] == hashlib.sha256(trading_summary.read_bytes()).hexdigest()
    assert doc["config_sha256"] == GateConfig().digest()
    order = list(json.loads(files[f"{rid}/summary.json"])["models"])
    assert [m["id"] for m in doc["models"]] == order  # the summary's order
    index = json.loads(files["index.json"])
    assert [r["run_id"] for r in index["runs"]] == [rid]
    assert manager.load_summary_bytes(rid) == trading_summary.read_bytes()
    assert manager.load_document(rid) == doc
    check_archive(manager, strict=True)


def test_dict_summary_is_stored_as_json(manager: TrainingArchiveManager) -> None:
    data = _summary({"AAPL_1H": GOOD, "MSFT_1H": BAD})
    run = manager.archive_training_run(data)
    assert (run.approved_count, run.review_count, run.dropped_count) == (1, 0, 1)
    stored = json.loads(manager.load_summary_bytes(run.run_id))
    assert stored == data


def test_yaml_summary_is_kept_byte_for_byte(manager: TrainingArchiveManager,
                                            tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("# trained nightly\nmodels:\n  AAPL_1H:\n    metrics: {fitness_score: [0.8],"
                    " profit_factor: 2.2, consistency: 0.92, max_drawdown: 0.05}\n")
    run = manager.archive_training_run(path)
    assert run.approved_count == 1
    assert f"{run.run_id}/summary.yaml" in all_files(manager)
    assert manager.load_summary_bytes(run.run_id) == path.read_bytes()
    assert manager.archive_training_run(path).reused
    check_archive(manager, strict=True)


def test_a_report_bug_does_not_lose_the_run(manager: TrainingArchiveManager,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_model_gate.report import markdown as report

    def broken(sections: Any) -> str:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(report, "render_markdown", broken)
    run = manager.archive_training_run(_summary({"AAPL_1H": GOOD}))
    text = manager.load_report(run.run_id)
    assert "could not be rendered (ZeroDivisionError: oops)" in text
    assert manager.get_approved_models() == ["AAPL_1H"]


def test_idempotent_for_same_bytes_and_config(manager: TrainingArchiveManager,
                                              archive_url: str, trading_summary: Path) -> None:
    first = manager.archive_training_run(trading_summary)
    again = manager.archive_training_run(trading_summary)
    assert again.reused and again.run_id == first.run_id
    assert again.document == first.document
    assert (again.approved_count, again.review_count, again.dropped_count) == (13, 9, 2)
    data = json.loads(trading_summary.read_bytes())
    from_dict = manager.archive_training_run(data)
    assert not from_dict.reused  # other bytes: a new run
    assert manager.archive_training_run(json.loads(trading_summary.read_bytes())).reused
    forced = manager.archive_training_run(trading_summary, force=True)
    assert not forced.reused and forced.run_id > from_dict.run_id
    strict = TrainingArchiveManager(archive_url, config=ModelGatingConfig(approved_min_fitness=0.9))
    other = strict.archive_training_run(trading_summary)
    assert not other.reused
    # output paths are not part of the digest
    moved = TrainingArchiveManager(archive_url, config=parse_config({"report": "x.md",
                                                                     "archive": "elsewhere"}))
    assert moved.archive_training_run(trading_summary).reused
    assert len(manager.list_runs()) == 4


def test_previous_and_history(manager: TrainingArchiveManager,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_mod, "HISTORY_DOCS", 3)
    runs = [manager.archive_training_run(_summary({"AAPL_1H": v}, timestamp=str(i)))
            for i, v in enumerate([GOOD, MID, BAD, GOOD, MID])]
    assert runs[0].previous is None
    assert runs[1].previous == runs[0].document
    last = runs[-1]
    assert last.previous == runs[3].document
    assert [d["run_id"] for d in last.history] == [r.run_id for r in runs[1:4]]
    reused = manager.archive_training_run(_summary({"AAPL_1H": BAD}, timestamp="2"))
    assert reused.reused and reused.run_id == runs[2].run_id
    assert reused.previous is not None and reused.previous["run_id"] == runs[1].run_id


def test_default_config_is_builtin_not_gate_yaml(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "gate.yaml").write_text("metrics:\n  fitness: {approved: 0.99, review: 0.98}\n")
    monkeypatch.chdir(tmp_path)
    run = TrainingArchiveManager("a").archive_training_run(_summary({"AAPL_1H": GOOD}))
    assert run.approved_count == 1


# --- queries ---------------------------------------------------------------------------------

def test_queries(manager: TrainingArchiveManager) -> None:
    r1 = manager.archive_training_run(_summary({"AAPL_1H": GOOD, "AAPL_4H": MID,
                                                "MSFT_1H": BAD}, timestamp="a"))
    r2 = manager.archive_training_run(_summary({"MSFT_1H": GOOD, "AAPL_1H": BAD},
                                               timestamp="b"))
    runs = manager.list_runs()
    assert [r["run_id"] for r in runs] == [r1.run_id, r2.run_id]
    assert runs[0]["counts"] == {"APPROVED": 1, "REVIEW": 1, "DROP": 1}
    assert {"run_id", "timestamp", "counts", "summary_sha256", "config_sha256",
            "source"} <= set(runs[0])
    latest = manager.latest_run()
    assert latest is not None and latest["run_id"] == r2.run_id
    assert manager.get_approved_models(r1.run_id) == ["AAPL_1H"]
    assert manager.get_approved_models() == ["MSFT_1H"]
    hist = manager.get_symbol_history("AAPL")
    assert [(e["run_id"], e["model_id"], e["classification"]) for e in hist] == [
        (r1.run_id, "AAPL_1H", "APPROVED"), (r1.run_id, "AAPL_4H", "REVIEW"),
        (r2.run_id, "AAPL_1H", "DROP")]
    assert hist[0] == {"run_id": r1.run_id, "timestamp": r1.run_id, "model_id": "AAPL_1H",
                       "symbol": "AAPL", "classification": "APPROVED", "flags": [],
                       "metrics": {"fitness": 0.8, "profit_factor": 2.2, "consistency": 0.92,
                                   "max_drawdown": 0.05}}
    assert "LOW_FITNESS" in hist[2]["flags"]
    model = manager.get_model_history("MSFT_1H")
    assert [e["classification"] for e in model] == ["DROP", "APPROVED"]
    assert manager.get_model_history("AAPL_4H") == [hist[1]]


def test_unknown_and_invalid_ids(manager: TrainingArchiveManager) -> None:
    with pytest.raises(ArchiveError, match="has no runs"):
        manager.get_approved_models()
    assert manager.latest_run() is None and manager.list_runs() == []
    run = manager.archive_training_run(_summary({"AAPL_1H": GOOD}))
    with pytest.raises(ArchiveError, match="unknown run id"):
        manager.load_document(new_run_id())
    for bad in ["../index.d", "", "a/b", run.run_id + "/..", "20261125T163900.940462Z-3FE478",
                run.run_id[:-1], "..", "/etc/passwd"]:
        with pytest.raises(ArchiveError, match="not a valid run id"):
            manager.get_approved_models(bad)
        with pytest.raises(ArchiveError, match="not a valid run id"):
            manager.load_summary_bytes(bad)
    with pytest.raises(ArchiveError, match="unknown symbol 'NOPE'"):
        manager.get_symbol_history("NOPE")
    with pytest.raises(ArchiveError, match="unknown model"):
        manager.get_model_history("../../etc/passwd")


def test_run_ids_sort_by_time_and_validate() -> None:
    from datetime import datetime, timedelta, timezone

    t0 = datetime(2026, 11, 25, 16, 39, 0, 940462, tzinfo=timezone.utc)
    ids = [new_run_id(t0 + timedelta(microseconds=i * 37)) for i in range(50)]
    assert ids == sorted(ids)
    assert ids[0].startswith("20261125T163900.940462Z-")
    assert all(validate_run_id(i) == i for i in ids)
    with pytest.raises(ArchiveError):
        validate_run_id(None)


def test_baseline_values(manager: TrainingArchiveManager) -> None:
    metrics = ["fitness", "profit_factor"]
    assert manager.baseline_values(["AAPL_1H"], against="last", window=1,
                                   metrics=metrics) == {"AAPL_1H": {}}
    r1 = manager.archive_training_run(_summary({"AAPL_1H": (0.80, 2.0, 0.9, 0.05),
                                                "MSFT_1H": MID}, timestamp="1"))
    r2 = manager.archive_training_run(_summary({"AAPL_1H": (0.90, 2.4, 0.9, 0.05),
                                                "MSFT_1H": MID}, timestamp="2"))
    r3 = manager.archive_training_run(_summary({"AAPL_1H": (0.60, 1.5, 0.7, 0.10)},
                                               timestamp="3"))
    last = manager.baseline_values(["AAPL_1H", "MSFT_1H", "NEW_1H"], against="last",
                                   window=1, metrics=metrics)
    assert last["AAPL_1H"] == {"fitness": BaselineValue(0.6, r3.run_id),
                               "profit_factor": BaselineValue(1.5, r3.run_id)}
    assert last["MSFT_1H"]["fitness"] == BaselineValue(0.6, r2.run_id)
    assert last["NEW_1H"] == {}
    approved = manager.baseline_values(["AAPL_1H", "MSFT_1H"], against="last_approved",
                                       window=2, metrics=metrics)
    assert approved["AAPL_1H"]["fitness"].value == pytest.approx(0.85)  # median of 0.9, 0.8
    assert approved["AAPL_1H"]["fitness"].run_id == r2.run_id
    assert approved["MSFT_1H"] == {}  # never APPROVED
    three = manager.baseline_values(["AAPL_1H"], against="last", window=3, metrics=metrics)
    assert three["AAPL_1H"]["profit_factor"] == BaselineValue(2.0, r3.run_id)
    assert r1.run_id < r2.run_id


def test_baseline_skips_non_finite_values(manager: TrainingArchiveManager) -> None:
    manager.archive_training_run(_summary({"AAPL_1H": GOOD}, timestamp="1"))
    data = _summary({"AAPL_1H": GOOD}, timestamp="2")
    data["models"]["AAPL_1H"]["metrics"]["profit_factor"] = math.nan
    r2 = manager.archive_training_run(data)
    assert r2.dropped_count == 1
    base = manager.baseline_values(["AAPL_1H"], against="last", window=1,
                                   metrics=["fitness", "profit_factor"])
    assert base["AAPL_1H"]["fitness"].run_id == r2.run_id
    assert base["AAPL_1H"]["profit_factor"].value == 2.2
    assert base["AAPL_1H"]["profit_factor"].run_id != r2.run_id


def test_archive_training_run_uses_the_baseline(manager: TrainingArchiveManager,
                                                archive_url: str) -> None:
    cfg = parse_config({"baseline": {"against": "last", "max_decline": {"fitness": 0.05}}})
    gated = TrainingArchiveManager(archive_url, config=cfg)
    first = gated.archive_training_run(_summary({"AAPL_1H": (0.9, 2.2, 0.92, 0.05)}))
    assert "NO_BASELINE" in first.document["models"][0]["flags"]
    second = gated.archive_training_run(_summary({"AAPL_1H": (0.75, 2.2, 0.92, 0.05)}))
    model = second.document["models"][0]
    assert "REGRESSION" in model["flags"] and model["classification"] == "REVIEW"
    assert model["baseline"]["fitness"]["run_id"] == first.run_id


# --- robustness ------------------------------------------------------------------------------

def test_missing_or_corrupt_index_is_not_fatal(manager: TrainingArchiveManager) -> None:
    runs = [manager.archive_training_run(_summary({"AAPL_1H": v}, timestamp=str(i)))
            for i, v in enumerate([GOOD, MID])]
    ids = [r.run_id for r in runs]
    s = manager.storage
    for damage in (b"", b"{not json", b'{"schema": 1, "runs": [\n{"run_id": "x"}\n]}\n'):
        s.replace("index.json", damage)
        assert [r["run_id"] for r in manager.list_runs()] == ids
        assert len(manager.get_symbol_history("AAPL")) == 2
    s.delete("index.json")
    assert [r["run_id"] for r in manager.list_runs()] == ids
    third = manager.archive_training_run(_summary({"AAPL_1H": BAD}))  # repairs index.json
    index = json.loads(s.read("index.json"))
    assert [r["run_id"] for r in index["runs"]] == [*ids, third.run_id]
    s.replace("index.json", b"garbage")
    assert manager.reindex() == 3
    check_archive(manager, strict=True)


def test_readers_merge_records_index_json_lacks(manager: TrainingArchiveManager) -> None:
    first = manager.archive_training_run(_summary({"AAPL_1H": GOOD}, timestamp="1"))
    stale = manager.storage.read("index.json")
    second = manager.archive_training_run(_summary({"AAPL_1H": BAD}, timestamp="2"))
    manager.storage.replace("index.json", stale)  # as if the view update had been lost
    assert [r["run_id"] for r in manager.list_runs()] == [first.run_id, second.run_id]
    assert manager.latest_run()["run_id"] == second.run_id  # type: ignore[index]
    assert manager.get_approved_models() == []
    assert manager.archive_training_run(_summary({"AAPL_1H": BAD}, timestamp="2")).reused


def test_uncommitted_runs_are_ignored_then_claimed_by_reindex(
        manager: TrainingArchiveManager) -> None:
    done = manager.archive_training_run(_summary({"AAPL_1H": GOOD}))
    orphan, live = new_run_id(), new_run_id()
    s = manager.storage
    # a writer on this host died before committing (its lease names a dead process)
    s.create(f"{orphan}/.writer.{HOST}.{_dead_pid()}", b"")
    s.create(f"{orphan}/summary.json", b'{"models": {}}')
    s.create(f"{orphan}/model_assessments.json", b"{")
    # and one is still writing (its lease names a live process): reindex leaves it alone
    s.create(f"{live}/.writer.{HOST}.{os.getppid()}", b"")
    s.create(f"{live}/summary.json", b'{"models": {}}')
    assert [r["run_id"] for r in manager.list_runs()] == [done.run_id]
    assert len(manager.get_symbol_history("AAPL")) == 1
    if isinstance(s, LocalStorage):
        dead = s.root / "index.d" / ".x.json.somehost.1.ab.tmp"
        dead.write_bytes(b"partial")
        os.utime(dead, (1, 1))  # very old
    assert manager.reindex() == 1
    files = all_files(manager)
    assert not any(k.startswith(orphan + "/") for k in files)
    tomb = json.loads(files[f"index.d/{orphan}.json"])
    assert tomb["abandoned"] is True
    assert not any(k.endswith(".tmp") for k in files)
    with pytest.raises(ArchiveError, match="unknown run id"):
        manager.load_document(orphan)
    assert f"{live}/summary.json" in files and f"index.d/{live}.json" not in files
    s.delete_tree(live)
    check_archive(manager, strict=True)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_reindex_never_deletes_a_run_whose_record_it_cannot_read(
        manager: TrainingArchiveManager) -> None:
    run = manager.archive_training_run(_summary({"AAPL_1H": GOOD}))
    manager.storage.replace(f"index.d/{run.run_id}.json", b"{damaged")
    manager.reindex()
    files = all_files(manager)
    assert f"{run.run_id}/model_assessments.json" in files
    assert files[f"index.d/{run.run_id}.json"] == b"{damaged"


def test_writer_retries_when_reindex_claims_its_run(manager: TrainingArchiveManager,
                                                    archive_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """reindex and a writer race for the commit key: whoever creates it first wins."""
    s = manager.storage
    original = type(s).create
    claimed: list[str] = []

    def create(self: Any, key: str, data: bytes, **kw: Any) -> None:
        if key.startswith("index.d/") and not claimed:
            claimed.append(key)
            # a reindex that takes every folder for old claims the writer's own run
            TrainingArchiveManager(archive_url).reindex(temp_max_age=0)
        original(self, key, data, **kw)

    monkeypatch.setattr(type(s), "create", create)
    run = manager.archive_training_run(_summary({"AAPL_1H": GOOD}))
    monkeypatch.undo()
    assert claimed and not claimed[0].endswith(f"/{run.run_id}.json")
    assert [r["run_id"] for r in manager.list_runs()] == [run.run_id]
    assert manager.load_document(run.run_id)["run_id"] == run.run_id
    manager.reindex()
    check_archive(manager, strict=True)


def test_storage_create_is_create_only(archive_url: str) -> None:
    s = open_storage(archive_url)
    s.create("index.d/a.json", b"1")
    with pytest.raises(FileExistsError):
        s.create("index.d/a.json", b"2")
    assert s.read("index.d/a.json") == b"1"
    s.replace("index.json", b"x")
    s.replace("index.json", b"y")
    assert s.read("index.json") == b"y"
    assert sorted(s.names("index.d")) == ["a.json"]
    assert s.names("nothing-here") == []


def test_history_views_match_documents(tmp_path: Path) -> None:
    """Local shards answer history; they equal the slow answer, even when rebuilt or lost."""
    manager = TrainingArchiveManager(tmp_path / "a")
    for i in range(6):
        manager.archive_training_run(make_summary(1, i))
    views = tmp_path / "a" / "views" / "v3"
    assert (views / "projected.log").read_text().splitlines() == \
        [f"{r} {i}" for i, r in enumerate(manager.run_ids())]
    symbols = json.loads((views / "symbols.json").read_text())["symbols"]
    assert symbols["AAPL"] == ["AAPL_0H"]
    expected = expected_history(manager)
    assert {s: manager.get_symbol_history(s) for s in expected} == expected
    # a torn line and a lost projection log: readers fall back on the documents
    shard = next((views / "shards").iterdir())
    with open(shard, "ab") as f:
        f.write(b'{"run_id": "2026')
    (views / "projected.log").unlink()
    assert {s: manager.get_symbol_history(s) for s in expected} == expected
    manager.archive_training_run(make_summary(1, 99))  # re-projects everything, fixes the tear
    assert not shard.read_bytes().endswith(b"2026")
    expected = expected_history(manager)
    assert {s: manager.get_symbol_history(s) for s in expected} == expected
    import shutil

    shutil.rmtree(views)
    assert {s: manager.get_symbol_history(s) for s in expected} == expected
    assert manager.reindex() == 7
    check_archive(manager, strict=True)


def test_shards_follow_the_commit_order_not_run_ids(tmp_path: Path) -> None:
    manager = TrainingArchiveManager(tmp_path / "a")
    late = manager.archive_training_run(make_summary(2, 0))
    # a run with an older id committed after: its lines come after, by its commit number
    early_id = "20000101T000000.000000Z-000000"
    doc = dict(manager.load_document(late.run_id), run_id=early_id)
    s = manager.storage
    s.create(f"{early_id}/summary.json", manager.load_summary_bytes(late.run_id))
    s.create(f"{early_id}/model_assessments.json", json.dumps(doc).encode())
    s.create(f"{early_id}/recommendations.md", b"# r\n")
    record = json.loads(s.read(f"index.d/{late.run_id}.json"))
    record.update(run_id=early_id, timestamp=early_id)
    s.create(f"index.d/{early_id}.json", json.dumps(record).encode())
    manager.archive_training_run(make_summary(2, 1))
    manager.reindex()  # a record without a commit-log entry is adopted at the log's end
    assert manager.run_ids()[-1] == early_id
    manager.archive_training_run(make_summary(2, 2))
    order = manager.run_ids()
    for shard in (tmp_path / "a" / "views" / "v3" / "shards").iterdir():
        lines = [json.loads(line) for line in shard.read_bytes().splitlines()]
        ids = [e["run_id"] for e in lines]
        assert [e["seq"] for e in lines] == sorted(order.index(r) for r in ids)  # commit order
        assert early_id in ids and ids[-1] != early_id
    check_archive(manager, strict=True)


def test_memory_url(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    url = f"memory://mg-{os.getpid()}-{tmp_path.name}"
    m = TrainingArchiveManager(url)
    run = m.archive_training_run(_summary({"AAPL_1H": GOOD}))
    assert m.archive_training_run(_summary({"AAPL_1H": GOOD})).reused
    assert run.path == f"{url}/{run.run_id}"
    assert m.get_approved_models() == ["AAPL_1H"]


def test_clear_errors_for_unusable_archives(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ArchiveError, match="cannot open"):
        TrainingArchiveManager("nosuchproto://x/y")
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(ArchiveError, match=r"install pytest-model-gate\[remote\]"):
        TrainingArchiveManager("s3://bucket/prefix")
    monkeypatch.undo()
    (tmp_path / "file").write_text("not a folder")
    not_dir = r"cannot (read|write to) archive .*file.*: Not a directory"
    with pytest.raises(ArchiveError, match=not_dir):
        TrainingArchiveManager(tmp_path / "file").archive_training_run(_summary({"A_1H": GOOD}))
    with pytest.raises(ArchiveError, match=not_dir):
        TrainingArchiveManager(tmp_path / "file" / "a").archive_training_run(
            _summary({"A_1H": GOOD}))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root ignores folder permissions")
def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ArchiveError, match=r"cannot write to archive .*ro.*Permission denied"):
            TrainingArchiveManager(ro / "a").archive_training_run(_summary({"AAPL_1H": GOOD}))
    finally:
        ro.chmod(0o700)
