"""The local history views (format 3: model ids bucketed into a fixed number of shard files,
lines in commit order with their run's `seq`)."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest
from archive_checks import check_archive, expected_history
from archive_writer import make_summary

from pytest_model_gate import pipeline as runner
from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive import views as archive_views
from pytest_model_gate.archive.baselines import _baselines_by_scan
from pytest_model_gate.archive.index import dump_line
from pytest_model_gate.archive.storage import LocalStorage
from pytest_model_gate.core.config import GateConfig
from pytest_model_gate.report import markdown as report

V3 = Path("views") / "v3"


def summary(models: dict[str, str], seed: int) -> dict[str, Any]:
    """model id -> symbol; values drawn from the seed (every run distinct)."""
    rng = random.Random(seed)
    out: dict[str, Any] = {"timestamp": f"t{seed}", "validation_interval": 40, "models": {}}
    for mid, sym in models.items():
        out["models"][mid] = {"symbol": sym, "metrics": {
            "fitness_score": [round(rng.uniform(0.4, 0.95), 4) for _ in range(3)],
            "profit_factor": round(rng.uniform(1.0, 2.5), 4),
            "consistency": round(rng.uniform(0.5, 0.95), 4),
            "max_drawdown": round(rng.uniform(0.02, 0.2), 4)}}
    return out


def sharing_a_bucket(n: int, prefix: str) -> list[str]:
    """n model ids (awkward ones among them) that land in the same shard."""
    awkward = [f'{prefix}"q', f'{prefix}", "model_id": "x', f"{prefix}\\b", f"{prefix}é\u2028",
               f"{prefix}<b>|`"]
    by_key: dict[str, list[str]] = {}
    for mid in itertools.chain(awkward, (f"{prefix}{i}" for i in itertools.count())):
        ids = by_key.setdefault(archive_views.shard_key(mid), [])
        ids.append(mid)
        if len(ids) == n:
            return ids
    raise AssertionError


def history_by_model(manager: TrainingArchiveManager) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for entries in expected_history(manager).values():
        for e in entries:
            out.setdefault(e["model_id"], []).append(e)
    return out  # commit order (expected_history walks the runs in it)


def assert_baselines_match_documents(manager: TrainingArchiveManager, models: list[str],
                                     cutoff_sha: str | None = None) -> None:
    metrics = ["fitness", "profit_factor", "consistency", "max_drawdown"]
    wanted = [*models, "never-archived"]
    for against, window in itertools.product(("last", "last_approved"), (1, 3, 50)):
        got = manager.baseline_values(wanted, against=against, window=window, metrics=metrics,
                                      summary_sha256=cutoff_sha)
        slow = _baselines_by_scan(manager.storage, wanted, against, window, metrics,
                                  cutoff_sha)
        assert repr(got) == repr(slow), (against, window)  # repr: NaN == NaN


def test_a_run_appends_to_a_bounded_number_of_files(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    manager = TrainingArchiveManager(tmp_path / "a")
    models = {f"M{i}_1H": f"M{i}" for i in range(300)}
    appends: list[Path] = []
    real = archive_views._append_after

    def counting(path: Path, lines: Any, newest: int) -> None:
        appends.append(path)
        real(path, lines, newest)

    monkeypatch.setattr(archive_views, "_append_after", counting)
    for seed in range(3):
        manager.archive_training_run(summary(models, seed))
        assert len(appends) == len(set(appends)) == archive_views.SHARD_COUNT
        appends.clear()
    shards = list((tmp_path / "a" / V3 / "shards").iterdir())
    assert len(shards) == archive_views.SHARD_COUNT
    expected = history_by_model(manager)
    for mid in ("M0_1H", "M17_1H", "M299_1H"):
        assert manager.get_model_history(mid) == expected[mid]
        assert len(expected[mid]) == 3
    check_archive(manager, strict=True)


def test_models_sharing_a_bucket_are_told_apart(tmp_path: Path) -> None:
    manager = TrainingArchiveManager(tmp_path / "a")
    same = sharing_a_bucket(4, "A")
    models = {m: "SYM" if i % 2 else f"S{i}" for i, m in enumerate(same)}
    models.update({f"B{i}": f"B{i}" for i in range(20)})
    runs = [manager.archive_training_run(summary(models, seed)) for seed in range(8)]
    key = archive_views.shard_key(same[0])
    assert all(archive_views.shard_key(m) == key for m in same)
    expected = history_by_model(manager)
    for mid in models:
        assert manager.get_model_history(mid) == expected[mid]
    by_symbol = expected_history(manager)
    assert manager.get_symbol_history("SYM") == by_symbol["SYM"]
    assert_baselines_match_documents(manager, list(models))
    # a re-run: only runs older than the summary's first archived run count
    sha = runs[3].document["summary"]["sha256"]
    assert_baselines_match_documents(manager, list(models), cutoff_sha=sha)
    # runs the views do not cover yet (projection log cut): shard lines and documents merge
    log = tmp_path / "a" / V3 / "projected.log"
    lines = log.read_text().splitlines()
    log.write_text("".join(f"{line}\n" for line in lines[:5]))
    for mid in models:
        assert manager.get_model_history(mid) == expected[mid]
    assert_baselines_match_documents(manager, list(models))
    assert_baselines_match_documents(manager, list(models), cutoff_sha=sha)


def test_baselines_read_buckets_from_their_end(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Long shards (many read blocks): the newest-first reader and the documents agree."""
    monkeypatch.setattr(archive_views, "_BLOCK", 700)
    manager = TrainingArchiveManager(tmp_path / "a")
    same = sharing_a_bucket(3, "L")
    models = {m: m for m in same}
    for seed in range(20):
        manager.archive_training_run(summary(models, seed))
    shard = tmp_path / "a" / archive_views.shard_key(same[0])
    assert shard.stat().st_size > 20 * 700
    assert_baselines_match_documents(manager, same)
    with open(shard, "ab") as f:  # a torn last line
        f.write(b'{"run_id": "2099')
    assert_baselines_match_documents(manager, same)
    expected = history_by_model(manager)
    assert all(manager.get_model_history(m) == expected[m] for m in same)


def _projected(s: LocalStorage, pairs: list[tuple[str, int]]) -> archive_views.Projected:
    (s.root / archive_views.PROJECTED).parent.mkdir(parents=True, exist_ok=True)
    s.path(archive_views.PROJECTED).write_text("".join(f"{r} {n}\n" for r, n in pairs))
    return archive_views.Projected(s)


def test_reader_skips_torn_and_handles_long_lines(tmp_path: Path) -> None:
    s = LocalStorage(tmp_path)
    mid = "M"
    key = archive_views.shard_key(mid)
    # run ids out of order (a writer's clock): the commit number orders lines, not the id
    rids = [f"20260101T0000{(37 * i) % 60:02d}.000000Z-00000{i % 10}" for i in range(12)]
    lines = []
    for i, rid in enumerate(rids):
        flags = ["F" * 50_000] if i in (3, 4, 9) else []  # lines longer than a read block
        lines.append(dump_line({"run_id": rid, "model_id": mid, "seq": i, "i": 0,
                                "symbol": "S", "classification": "APPROVED", "flags": flags,
                                "metrics": {"m": i}}))
    (tmp_path / archive_views.SHARDS).mkdir(parents=True)
    s.path(key).write_bytes(b"".join(ln + b"\n" for ln in lines) + lines[0][:70_000])
    projected = _projected(s, [(r, i) for i, r in enumerate(rids) if i != 5])
    batches = list(archive_views.shard_batches_newest_first(s, key, [mid], projected))
    got = [e["metrics"]["m"] for entries, _ in batches for e in entries]
    assert got == [i for i in reversed(range(12)) if i != 5]
    assert batches[-1][1] is None
    bounds = [b for _, b in batches[:-1]]
    assert bounds == sorted(bounds, reverse=True) and all(b in range(12) for b in bounds)
    for entries, bound in [b for b in batches[:-1]]:  # nothing unread above the bound
        assert bound is not None and all(e["seq"] >= bound for e in entries)
    entries = archive_views.shard_entries(s, [mid, "other"], _projected(
        s, [(r, i) for i, r in enumerate(rids) if i != 5]))
    assert [e["metrics"]["m"] for e in entries] == [i for i in range(12) if i != 5]
    # a line whose run is projected under another number is not trusted
    wrong = _projected(s, [(r, i + 1) for i, r in enumerate(rids)])
    assert archive_views.shard_entries(s, [mid], wrong) == []


def test_projected_is_read_from_its_end(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_views, "_PROJECTED_BLOCK", 200)
    s = LocalStorage(tmp_path)
    rids = [f"20260101T000000.{i:06d}Z-000000" for i in range(300)]
    projected = _projected(s, [(r, i) for i, r in enumerate(rids) if i % 7])
    with open(s.path(archive_views.PROJECTED), "a") as f:
        f.write(f"{rids[0]} 9")  # a torn last line: never read
    projected = archive_views.Projected(s)
    assert projected.newest == 299 and len(projected.runs) < 20  # only the last block
    assert projected.covers(rids[298], 298) and not projected.covers(rids[294], 294)
    assert projected.covers(rids[1], 1) and not projected.covers(rids[0], 0)
    assert not projected.covers(rids[0], 9)
    assert len(projected.runs) == len([i for i in range(300) if i % 7])


def test_append_after_drops_an_unprojected_tail(tmp_path: Path) -> None:
    path = tmp_path / "shard.jsonl"

    def line(n: int) -> bytes:
        return dump_line({"run_id": f"20260101T000000.{n:06d}Z-000000", "model_id": "M",
                          "seq": n, "i": 0, "pad": "x" * 40})

    # runs 0..99 projected; 100..102 appended by a writer killed before projected.log, and a
    # torn line after them
    path.write_bytes(b"".join(line(n) + b"\n" for n in range(103)) + b'{"run_id": "torn')
    head = path.read_bytes()[:1000]
    archive_views._append_after(path, [line(n) for n in (100, 101, 102, 103)], 99)
    data = path.read_bytes()
    assert data.startswith(head)
    assert data == b"".join(line(n) + b"\n" for n in range(104))
    archive_views._append_after(path, [line(104)], 103)  # the usual case: a plain append
    assert path.read_bytes() == data + line(104) + b"\n"
    assert not [p for p in tmp_path.iterdir() if p.name != "shard.jsonl"]


def _write_format1_views(root: Path, run_ids: list[str]) -> None:
    """The views as the previous layout kept them, with wrong values: never to be trusted."""
    views = root / "views"
    (views / "models").mkdir(parents=True)
    (views / "projected.log").write_text("".join(f"{r}\n" for r in run_ids))
    (views / "symbols.json").write_text(json.dumps({"schema": 1, "symbols": {"X": ["X_1"]}}))
    digest = hashlib.sha256(b"A_1").hexdigest()[:32]
    (views / "models" / f"{digest}.jsonl").write_text("".join(
        json.dumps({"run_id": r, "i": 0, "model_id": "A_1", "symbol": "A",
                    "classification": "DROP", "flags": [], "metrics": {"fitness": -1.0}})
        + "\n" for r in run_ids))


@pytest.mark.parametrize("repair", ["append", "reindex"])
def test_an_archive_with_format1_views(tmp_path: Path, repair: str) -> None:
    root = tmp_path / "a"
    manager = TrainingArchiveManager(root)
    models = {"A_1": "A", "B_1": "B"}
    for seed in range(4):
        manager.archive_training_run(summary(models, seed))
    import shutil

    shutil.rmtree(root / V3)
    _write_format1_views(root, manager.run_ids())
    expected = history_by_model(manager)
    assert manager.get_model_history("A_1") == expected["A_1"]  # from the documents
    assert manager.get_symbol_history("A") == expected["A_1"]
    assert_baselines_match_documents(manager, list(models))
    if repair == "append":
        manager.archive_training_run(summary(models, 99))  # the first writer rebuilds
    else:
        assert manager.reindex() == 4
    assert not (root / "views" / "models").exists()
    assert not (root / "views" / "projected.log").exists()
    assert not (root / "views" / "symbols.json").exists()
    assert (root / V3 / "projected.log").read_text().splitlines() == \
        [f"{r} {i}" for i, r in enumerate(manager.run_ids())]
    expected = history_by_model(manager)
    assert manager.get_model_history("A_1") == expected["A_1"]
    assert_baselines_match_documents(manager, list(models))
    check_archive(manager, strict=True)


def _settings(tmp_path: Path, archive: Path | None) -> runner.GateSettings:
    return runner.GateSettings(config=GateConfig(), config_path=None,
                               archive=str(archive) if archive else None,
                               report=str(tmp_path / "report.md"), html=None,
                               baseline_archive=str(archive) if archive else None)


@pytest.mark.parametrize("count", [1, 2])
def test_publish_renders_the_markdown_report_once(tmp_path: Path, count: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path, tmp_path / "archive")
    paths = []
    for i in range(count):
        p = tmp_path / f"s{i}.json"
        p.write_text(json.dumps(summary({f"M{j}": f"M{j}" for j in range(30)}, i)))
        paths.append(p)
    calls = []
    real = report.render_markdown

    def counting(sections: Any) -> str:
        calls.append(len(sections))
        return real(sections)

    monkeypatch.setattr(report, "render_markdown", counting)
    for attempt in range(2):  # the second time the runs are reused from the archive
        gated = [runner.gate_file(p, settings) for p in paths]
        calls.clear()
        result = runner.publish(gated, settings)
        assert not result.errors
        text = (tmp_path / "report.md").read_bytes()
        assert text == real(result.sections).encode("utf-8")
        if count == 1:
            archived = (tmp_path / "archive" / str(result.run_ids[0]) / "recommendations.md")
            assert text == archived.read_bytes()
            assert calls == [1]  # new run: by the archive only; reused: for the report only
        else:
            assert calls == ([1, 1, 2] if attempt == 0 else [2])
        assert result.reused == [attempt == 1] * count
        assert result.render_markdown() == text.decode("utf-8")
        assert len(calls) == (3 if count == 2 and attempt == 0 else 1)


FIXTURE_V2 = Path(__file__).parent / "fixtures" / "archive_v2_views"


@pytest.mark.parametrize("repair", ["append", "reindex"])
def test_an_archive_with_format2_views(tmp_path: Path, repair: str) -> None:
    """An archive written by the previous release (commit log, views/v2/ sorted by run id,
    no seq; made with main at b6b3cc7): read right, then its views rebuilt as format 3."""
    import shutil

    root = tmp_path / "a"
    shutil.copytree(FIXTURE_V2, root)
    manager = TrainingArchiveManager(root)
    runs = manager.run_ids()
    assert len(runs) == 4 and (root / "views" / "v2" / "projected.log").exists()
    expected = history_by_model(manager)
    models = list(expected)
    for mid in models:  # from the documents: format-2 lines are never read
        assert manager.get_model_history(mid) == expected[mid]
        assert manager.get_model_history(mid, last=2) == expected[mid][-2:]
    assert_baselines_match_documents(manager, models)
    if repair == "append":
        manager.archive_training_run(make_summary(0, 9, models=3))  # the first writer
    else:
        assert manager.reindex() == 4
    assert not (root / "views" / "v2").exists()
    runs = manager.run_ids()
    assert (root / V3 / "projected.log").read_text().splitlines() == \
        [f"{r} {i}" for i, r in enumerate(runs)]
    expected = history_by_model(manager)
    for mid in models:
        assert manager.get_model_history(mid) == expected[mid]
    assert_baselines_match_documents(manager, models)
    check_archive(manager, strict=repair == "reindex")
