"""Archive integrity checks shared by the archive test modules (not collected)."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from typing import Any

import pytest

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive.index import RUN_ID_RE
from pytest_model_gate.archive.storage import LOCK_NAME, LocalStorage, Storage, temp_is_stale


def all_files(manager: TrainingArchiveManager) -> dict[str, bytes]:
    """Every file of the archive (key -> bytes), the lock file left out."""
    s = manager.storage
    out: dict[str, bytes] = {}
    if isinstance(s, LocalStorage):
        if not s.root.exists():
            return out
        for folder, _dirs, files in os.walk(s.root):
            for name in files:
                if name == LOCK_NAME:
                    continue
                path = os.path.join(folder, name)
                key = os.path.relpath(path, s.root).replace(os.sep, "/")
                with open(path, "rb") as f:
                    out[key] = f.read()
        return out
    fs = s.fs  # type: ignore[attr-defined]
    root = s.root  # type: ignore[attr-defined]
    fs.invalidate_cache()
    for path in fs.find(root):
        key = path[len(root.split("://", 1)[-1]):].lstrip("/")
        out[key] = bytes(fs.cat_file(path))
    return out


def expected_history(manager: TrainingArchiveManager) -> dict[str, list[dict[str, Any]]]:
    """symbol -> history entries, computed the slow way: from every run document."""
    out: dict[str, list[dict[str, Any]]] = {}
    for rid in manager.run_ids():
        doc = manager.load_document(rid)
        for m in doc["models"]:
            out.setdefault(m["symbol"], []).append({
                "run_id": rid, "timestamp": rid, "model_id": m["id"], "symbol": m["symbol"],
                "classification": m["classification"], "flags": m["flags"],
                "metrics": {n: v["value"] for n, v in m["metrics"].items()}})
    return out


def check_archive(manager: TrainingArchiveManager, *, strict: bool = False) -> list[str]:
    """Assert the archive is sound; return the committed run ids.

    Always: every listed run is complete and consistent, every run file parses, index.json
    (when present) is JSON. strict (after `reindex`): index.json lists exactly the committed
    runs, no temp files or uncommitted run folders remain, every derived line parses, and
    history from the views equals history from the documents.
    """
    runs = manager.list_runs()
    ids = [r["run_id"] for r in runs]
    assert len(set(ids)) == len(ids)
    files = all_files(manager)
    entries = sorted(k for k in files if k.startswith("log/0") and "checkpoint" not in k)
    logged: list[str] = []
    if entries:  # the order is the commit log's: entry n holds the n-th run (first wins)
        assert entries == [f"log/{n:020d}.json" for n in range(len(entries))], "log gap"
        bodies = [json.loads(files[k]) for k in entries]
        pruned = {r for b in bodies if b.get("kind") == "prune" for r in b["run_ids"]}
        # entry n's run id ("" for a prune entry); pruned runs are gone for readers
        logged = [b.get("run_id", "") for b in bodies]
        assert ids == [r for r in dict.fromkeys(logged) if r and r not in pruned]
        assert [r["seq"] for r in runs] == [logged.index(r) for r in ids]
    for r in runs:
        rid = r["run_id"]
        summary_key = f"{rid}/summary.json"
        if summary_key not in files:
            summary_key = f"{rid}/summary.yaml"  # a YAML summary keeps its kind
        for key in (summary_key, f"{rid}/model_assessments.json", f"{rid}/recommendations.md"):
            assert key in files, f"{rid}: {key} missing"
        doc = json.loads(files[f"{rid}/model_assessments.json"])
        assert doc["run_id"] == rid
        counts = Counter(m["classification"] for m in doc["models"])
        assert doc["counts"] == {t: counts.get(t, 0) for t in ("APPROVED", "REVIEW", "DROP")}
        assert r["counts"] == doc["counts"]
        assert r["timestamp"] == rid
        raw = files[summary_key]
        assert hashlib.sha256(raw).hexdigest() == r["summary_sha256"] == doc["summary"]["sha256"]
        if summary_key.endswith(".json"):
            json.loads(raw)
        assert files[f"{rid}/recommendations.md"].decode("utf-8").strip()
        record = json.loads(files[f"index.d/{rid}.json"])
        assert record["run_id"] == rid and not record.get("abandoned")
    if "index.json" in files:
        json.loads(files["index.json"])
    for key, data in files.items():
        name = key.rsplit("/", 1)[-1]
        if name.endswith(".tmp"):
            assert not strict or not temp_is_stale(name, None), f"leftover temp file {key}"
            continue
        if name.endswith(".json"):
            json.loads(data)
        elif name.endswith(".jsonl") or name.endswith(".log"):
            lines = data.split(b"\n")
            if strict:
                assert lines[-1] == b"", f"{key}: torn last line"
            seqs = []
            for line in lines[:-1]:
                if name.endswith(".log"):  # projected.log: "run_id seq", in commit order
                    rid, seq = line.decode().split(" ")
                    assert RUN_ID_RE.match(rid), key
                    assert not entries or logged[int(seq)] == rid, key
                    seqs.append(int(seq))
                else:
                    seqs.append(json.loads(line)["seq"])
            assert seqs == sorted(seqs), f"{key}: not in commit order"
        elif name.endswith(".md"):
            data.decode("utf-8")
    if strict:
        index = json.loads(files["index.json"])
        live = [r["run_id"] for r in index["runs"] if not r.get("abandoned")]
        assert sorted(live) == sorted(ids), "index.json does not list exactly the committed runs"
        records = {k[len("index.d/"):-5] for k, v in files.items()
                   if k.startswith("index.d/") and b'"abandoned": true' not in v}
        assert records == set(ids), "a committed record is missing from the commit log"
        folders = {k.split("/", 1)[0] for k in files if RUN_ID_RE.match(k.split("/", 1)[0])}
        assert folders == set(ids), f"uncommitted run folders left: {folders - set(ids)}"
        for symbol, entries in expected_history(manager).items():
            assert manager.get_symbol_history(symbol) == entries
    return ids


def record_reads(monkeypatch: pytest.MonkeyPatch, storage: Storage) -> list[str]:
    """Every key this storage's class reads from now on (read and read_many)."""
    seen: list[str] = []
    cls = type(storage)
    real_read, real_many = cls.read, cls.read_many

    def read(self: Storage, key: str) -> bytes:
        seen.append(key)
        return real_read(self, key)  # type: ignore[arg-type]

    def read_many(self: Storage, keys: Any) -> dict[str, bytes]:
        keys = list(keys)
        seen.extend(keys)
        return real_many(self, keys)  # type: ignore[arg-type]

    monkeypatch.setattr(cls, "read", read)
    monkeypatch.setattr(cls, "read_many", read_many)
    return seen
