"""The local history views (format 2: model ids bucketed into a fixed number of shard files)."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest
from archive_checks import check_archive, expected_history

from pytest_model_gate import pipeline as runner
from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive import views as archive_views
from pytest_model_gate.archive.baselines import _baselines_by_scan
from pytest_model_gate.archive.index import dump_line
from pytest_model_gate.archive.storage import LocalStorage
from pytest_model_gate.core.config import GateConfig
from pytest_model_gate.report import markdown as report

V2 = Path("views") / "v2"


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
    return {m: sorted(v, key=lambda e: e["run_id"]) for m, v in out.items()}


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
    real = archive_views._append_sorted

    def counting(path: Path, lines: Any) -> None:
        appends.append(path)
        real(path, lines)

    monkeypatch.setattr(archive_views, "_append_sorted", counting)
    for seed in range(3):
        manager.archive_training_run(summary(models, seed))
        assert len(appends) == len(set(appends)) == archive_views.SHARD_COUNT
        appends.clear()
    shards = list((tmp_path / "a" / V2 / "shards").iterdir())
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
    log = tmp_path / "a" / V2 / "projected.log"
    ids = log.read_text().split()
    log.write_text("".join(f"{r}\n" for r in ids[:5]))
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


def test_reader_skips_torn_and_handles_long_lines(tmp_path: Path) -> None:
    s = LocalStorage(tmp_path)
    mid = "M"
    key = archive_views.shard_key(mid)
    rids = [f"20260101T0000{i:02d}.000000Z-00000{i % 10}" for i in range(12)]
    lines = []
    for i, rid in enumerate(rids):
        flags = ["F" * 50_000] if i in (3, 4, 9) else []  # lines longer than a read block
        lines.append(dump_line({"run_id": rid, "model_id": mid, "i": 0, "symbol": "S",
                                "classification": "APPROVED", "flags": flags,
                                "metrics": {"m": i}}))
    (tmp_path / archive_views.SHARDS).mkdir(parents=True)
    s.path(key).write_bytes(b"".join(ln + b"\n" for ln in lines) + lines[0][:70_000])
    projected = set(rids) - {rids[5]}
    batches = list(archive_views.shard_batches_newest_first(s, key, [mid], projected))
    got = [e["metrics"]["m"] for entries, _ in batches for e in entries]
    assert got == [i for i in reversed(range(12)) if i != 5]
    assert batches[-1][1] is None
    bounds = [b for _, b in batches[:-1]]
    assert bounds == sorted(bounds, reverse=True) and all(b in rids for b in bounds)
    entries = archive_views.shard_entries(s, [mid, "other"], projected)
    assert [e["metrics"]["m"] for e in entries] == [i for i in range(12) if i != 5]


def test_append_sorted_merges_only_the_tail(tmp_path: Path) -> None:
    path = tmp_path / "shard.jsonl"
    rids = sorted(f"2026010{d}T000000.000000Z-{i:06x}" for d in range(1, 10) for i in range(300))

    def line(rid: str) -> bytes:
        return dump_line({"run_id": rid, "model_id": "M", "pad": "x" * 40})

    old = [r for j, r in enumerate(rids) if j % 7]
    path.write_bytes(b"".join(line(r) + b"\n" for r in old) + b'{"run_id": "torn')
    head = path.read_bytes()[:1000]
    late = [r for j, r in enumerate(rids) if not j % 7 and j > len(rids) - 100]
    archive_views._append_sorted(path, [line(r) for r in late] + [line(old[-1])])
    data = path.read_bytes()
    assert data.startswith(head) and data.endswith(b"\n")
    want = sorted(set(old) | set(late))
    assert data == b"".join(line(r) + b"\n" for r in want)
    archive_views._append_sorted(path, [line("20990101T000000.000000Z-000000")])  # in order
    assert path.read_bytes() == data + line("20990101T000000.000000Z-000000") + b"\n"
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

    shutil.rmtree(root / V2)
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
    assert (root / V2 / "projected.log").read_text().split() == manager.run_ids()
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
