"""Derived per-model views of a local archive: what `history` and baselines read.

`views/models/{digest}.jsonl` holds one line per (run, model), sorted by run id;
`views/symbols.json` maps symbol -> model ids; `views/projected.log` lists the runs whose
entries are in the shards, and only those are trusted. All are derived from run documents:
appended under the archive lock after a commit, rebuilt by `reindex`. Object stores have no
views: readers read run documents there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .archive_index import (
    DOCUMENT_FILE,
    RECORDS,
    dump_line,
    line_id,
    load_json,
    load_json_or_none,
    record_names,
    scan_archive,
)
from .storage import LocalStorage, Storage, temp_name

VIEWS = "views"
SHARDS = "views/models"
SYMBOLS = "views/symbols.json"
PROJECTED = "views/projected.log"


def uses_views(storage: Storage) -> bool:
    """Views are kept for local folders only: they are appended under the file lock."""
    return isinstance(storage, LocalStorage)


def _shard_key(model_id: str) -> str:
    """A model's shard file: a digest of its id, so summary text never becomes a path."""
    return f"{SHARDS}/{hashlib.sha256(model_id.encode('utf-8')).hexdigest()[:32]}.jsonl"


def model_entries(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One history entry per model of a run document (shard line shape, with `i`)."""
    rid = doc["run_id"]
    out = []
    for i, m in enumerate(doc.get("models", [])):
        out.append({
            "run_id": rid, "i": i, "model_id": m["id"], "symbol": m.get("symbol"),
            "classification": m["classification"], "flags": list(m.get("flags", [])),
            "metrics": {name: spec.get("value") for name, spec in m.get("metrics", {}).items()},
        })
    return out


def _complete_lines(data: bytes) -> list[bytes]:
    """Lines ending in a newline; a torn last line (a writer killed mid-append) is dropped."""
    parts = data.split(b"\n")
    return [p for p in parts[:-1] if p]


def _parse_lines(lines: Sequence[bytes]) -> list[dict[str, Any]]:
    if not lines:
        return []
    try:
        out: list[dict[str, Any]] = json.loads(b"[" + b",".join(lines) + b"]")
        return out
    except ValueError:
        parsed = []
        for line in lines:
            with contextlib.suppress(ValueError):
                obj = json.loads(line)
                if isinstance(obj, dict):
                    parsed.append(obj)
        return parsed


# --- reading -------------------------------------------------------------------------------

def read_projected(storage: Storage) -> set[str]:
    try:
        data = storage.read(PROJECTED)
    except FileNotFoundError:
        return set()
    out = set(data.decode("ascii", "replace").split("\n")[:-1])  # a torn tail is dropped
    out.discard("")
    return out


def read_symbols(storage: Storage) -> dict[str, list[str]] | None:
    try:
        obj = load_json(storage.read(SYMBOLS))
    except (FileNotFoundError, ValueError):
        return None
    symbols = obj.get("symbols") if isinstance(obj, dict) else None
    if not isinstance(symbols, dict):
        return None
    return {str(k): [str(m) for m in v] for k, v in symbols.items() if isinstance(v, list)}


def symbols_from_shards(storage: Storage) -> dict[str, list[str]]:
    assert isinstance(storage, LocalStorage)
    symbols: dict[str, list[str]] = {}
    for name in sorted(storage.names(SHARDS)):
        if not name.endswith(".jsonl"):
            continue
        for e in _parse_lines(_complete_lines(storage.read(f"{SHARDS}/{name}"))):
            models = symbols.setdefault(str(e.get("symbol")), [])
            if e.get("model_id") not in models:
                models.append(str(e.get("model_id")))
    return symbols


def history_sources(storage: Storage) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """(runs covered by the shards, documents of committed runs they do not cover).

    Locally index.json is not needed: committed runs the shards lack are the listed
    records not in projected.log, usually none; only those records are read."""
    if uses_views(storage):
        names = record_names(storage)
        projected = read_projected(storage) & names
        rest = sorted(names - projected)
        got = storage.read_many(f"{RECORDS}/{r}.json" for r in rest)
        uncovered = []
        for rid in rest:
            try:
                rec = load_json(got[f"{RECORDS}/{rid}.json"])
            except (KeyError, ValueError):
                continue
            if isinstance(rec, dict) and rec.get("run_id") == rid \
                    and not rec.get("abandoned"):
                uncovered.append(rid)
    else:
        projected = set()
        uncovered = scan_archive(storage).ids
    docs: dict[str, dict[str, Any]] = {}
    for key, data in storage.read_many(f"{r}/{DOCUMENT_FILE}" for r in uncovered).items():
        with contextlib.suppress(ValueError):
            doc = load_json(data)
            if isinstance(doc, dict):
                docs[key.split("/", 1)[0]] = doc
    return projected, docs


def shard_entries(storage: Storage, model_id: str, projected: set[str]) -> list[dict[str, Any]]:
    if not uses_views(storage):
        return []
    try:
        data = storage.read(_shard_key(model_id))
    except FileNotFoundError:
        return []
    return [e for e in _parse_lines(_complete_lines(data))
            if e.get("model_id") == model_id and e.get("run_id") in projected]


def shard_entries_newest_first(storage: Storage, model_id: str, projected: set[str]
                               ) -> Iterator[dict[str, Any]]:
    """A model's shard entries, newest run first, read from the end of the file."""
    assert isinstance(storage, LocalStorage)
    path = storage.path(_shard_key(model_id))
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed in finally of this generator
    except FileNotFoundError:
        return
    try:
        end = f.seek(0, os.SEEK_END)
        carry = b""
        block = 1 << 16
        first = True
        while end > 0:
            start = max(0, end - block)
            f.seek(start)
            chunk = f.read(end - start) + carry
            end = start
            parts = chunk.split(b"\n")
            if first:
                parts = parts[:-1]  # the tail after the last newline: empty or torn
                first = False
            carry = parts[0] if start > 0 else b""
            body = parts[1:] if start > 0 else parts
            for line in reversed(body):
                if not line:
                    continue
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("model_id") == model_id and e.get("run_id") in projected:
                    yield e
    finally:
        f.close()


# --- writing (under the archive lock) ------------------------------------------------------

def project(storage: Storage, committed: set[str], docs: Mapping[str, dict[str, Any]]) -> None:
    """Append the model entries of committed, not yet projected runs to the shards.
    Order: symbols.json, shards, then projected.log; all under the lock."""
    assert isinstance(storage, LocalStorage)
    projected = read_projected(storage)
    todo = sorted(committed - projected)
    if not todo:
        return
    loaded = dict(docs)
    need = [r for r in todo if r not in loaded]
    for key, data in storage.read_many(f"{r}/{DOCUMENT_FILE}" for r in need).items():
        with contextlib.suppress(ValueError):
            loaded[key.split("/", 1)[0]] = load_json(data)
    done = [r for r in todo if isinstance(loaded.get(r), dict)]
    by_shard: dict[str, list[bytes]] = {}
    pairs: set[tuple[str, str]] = set()
    for rid in done:
        for e in model_entries(loaded[rid]):
            by_shard.setdefault(_shard_key(e["model_id"]), []).append(dump_line(e))
            pairs.add((str(e["symbol"]), e["model_id"]))
    symbols = read_symbols(storage)
    if symbols is None:
        symbols = {} if not projected else symbols_from_shards(storage)
    changed = False
    for sym, model in sorted(pairs):
        models = symbols.setdefault(sym, [])
        if model not in models:
            models.append(model)
            changed = True
    if changed or not storage.exists(SYMBOLS):
        storage.replace(SYMBOLS, dump_line({"schema": 1, "symbols": symbols}) + b"\n",
                        durable=False)
    for key, new in by_shard.items():
        _append_sorted(storage.path(key), new)
    _append_lines(storage.path(PROJECTED), [r.encode() for r in done])


def rebuild_views(storage: Storage, run_ids: list[str]) -> None:
    """Write every shard from the run documents, then symbols.json and projected.log."""
    s = storage
    assert isinstance(s, LocalStorage)
    build = s.path(f"{VIEWS}/{temp_name('rebuild')}")
    build.mkdir(parents=True)
    try:
        buffers: dict[str, list[bytes]] = {}
        size = 0
        symbols: dict[str, list[str]] = {}
        done: list[str] = []

        def flush() -> None:
            for key, lines in buffers.items():
                with open(build / Path(key).name, "ab") as f:
                    f.write(b"\n".join(lines) + b"\n")
            buffers.clear()

        for i in range(0, len(run_ids), 64):
            batch = run_ids[i:i + 64]
            got = s.read_many(f"{r}/{DOCUMENT_FILE}" for r in batch)
            for rid in batch:
                doc = load_json_or_none(got.get(f"{rid}/{DOCUMENT_FILE}"))
                if not isinstance(doc, dict):
                    continue
                for e in model_entries(doc):
                    line = dump_line(e)
                    buffers.setdefault(_shard_key(e["model_id"]), []).append(line)
                    size += len(line)
                    models = symbols.setdefault(str(e["symbol"]), [])
                    if e["model_id"] not in models:
                        models.append(e["model_id"])
                done.append(rid)
            if size > 64 << 20:
                flush()
                size = 0
        flush()
        s.path(SHARDS).mkdir(parents=True, exist_ok=True)
        built = set(os.listdir(build))
        for name in built:
            os.replace(build / name, s.path(f"{SHARDS}/{name}"))
        for name in s.names(SHARDS):
            if name.endswith(".jsonl") and name not in built:  # no model any more
                s.delete(f"{SHARDS}/{name}")
        s.replace(SYMBOLS, dump_line({"schema": 1, "symbols": symbols}) + b"\n")
        s.replace(PROJECTED, b"".join(r.encode() + b"\n" for r in done))
    finally:
        shutil.rmtree(build, ignore_errors=True)


# --- append helpers for the shards (called under the archive lock) -------------------------

def _open_fixed(path: Path) -> int:
    """Open for read/write, creating it; cut off a torn last line left by a killed writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    size = os.fstat(fd).st_size
    if size:
        os.lseek(fd, size - 1, os.SEEK_SET)
        if os.read(fd, 1) != b"\n":
            pos = size
            keep = 0
            while pos > 0:
                start = max(0, pos - (1 << 16))
                os.lseek(fd, start, os.SEEK_SET)
                chunk = os.read(fd, pos - start)
                nl = chunk.rfind(b"\n")
                if nl != -1:
                    keep = start + nl + 1
                    break
                pos = start
            os.ftruncate(fd, keep)
    return fd


def _last_line(fd: int) -> bytes | None:
    size = os.lseek(fd, 0, os.SEEK_END)
    if not size:
        return None
    start = max(0, size - 4096)
    os.lseek(fd, start, os.SEEK_SET)
    tail = os.read(fd, size - start).rstrip(b"\n")
    return tail.rsplit(b"\n", 1)[-1]


def _append_lines(path: Path, lines: Sequence[bytes]) -> None:
    if not lines:
        return
    fd = _open_fixed(path)
    try:
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, b"".join(line + b"\n" for line in lines))
    finally:
        os.close(fd)


def _append_sorted(path: Path, lines: Sequence[bytes]) -> None:
    """Add shard lines keeping the file sorted by run id: append when they come after the
    last line (the usual case), else rewrite the shard merged (atomic replace)."""
    fd = _open_fixed(path)
    try:
        last = _last_line(fd)
        last_id = line_id(last) if last else None
        first_id = line_id(lines[0]) or ""
        if last_id is None or first_id >= last_id:
            os.lseek(fd, 0, os.SEEK_END)
            os.write(fd, b"".join(line + b"\n" for line in lines))
            return
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    old = _complete_lines(b"".join(chunks))
    merged = sorted(set(old) | set(lines), key=lambda ln: (line_id(ln) or "", ln))
    tmp = path.with_name(temp_name(path.name))
    tmp.write_bytes(b"".join(line + b"\n" for line in merged))
    os.replace(tmp, path)
