"""Derived per-model views of a local archive: what `history` and baselines read.

Format 3 (`views/v3/`): model ids are bucketed by a digest (SHA-256) into `SHARD_COUNT` (64)
shard files, `views/v3/shards/{xx}.jsonl`, each holding one line per (run, model) of the
models in its bucket, with the run's commit sequence number (`seq`), in commit order. A run
appends to each bucket it touches once, so one run opens at most SHARD_COUNT files however
many models it has; a model's lines are picked out of its bucket by a byte search for its
encoded id before anything is parsed; and since lines are in commit order, baselines and a
bounded history (`last`) read a bucket from its end and stop early.

`views/v3/symbols.json` maps symbol -> model ids (every model of a projected run is in it: it
is written before the shards and projected.log); `views/v3/projected.log` lists the runs whose
entries are in the shards ("run_id seq", in commit order), and only those are trusted: a
reader reads the documents of committed runs it lacks, so a lost, partial or older-format view
is slow, never wrong. All are derived from run documents: appended under the archive lock
after a commit (the runs of the log after the newest projected one, in commit order),
rebuilt by `reindex` (and by the first writer that finds no format-3 views, e.g. in an archive
written with format 2 `views/v2/` or format 1 `views/models/`, whose files the rebuild
removes). Object stores have no views: readers read run documents there, newest first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from pytest_model_gate.archive.index import (
    DOCUMENT_FILE,
    RUN_ID_RE,
    dump_line,
    line_id,
    load_json,
    load_json_or_none,
)
from pytest_model_gate.archive.log import CommitLog
from pytest_model_gate.archive.storage import LocalStorage, Storage, temp_name
from pytest_model_gate.core.document import DocumentError, parse_run_document

VIEWS_FORMAT = 3
VIEWS_ROOT = "views"
VIEWS = f"{VIEWS_ROOT}/v{VIEWS_FORMAT}"
SHARDS = f"{VIEWS}/shards"
SYMBOLS = f"{VIEWS}/symbols.json"
PROJECTED = f"{VIEWS}/projected.log"
# buckets: the first byte of sha256(model id) modulo this (a divisor of 256). Changing it
# changes where lines are: bump VIEWS_FORMAT with it.
SHARD_COUNT = 64
# format 1 (one shard per model) and format 2 (buckets sorted by run id, no seq): removed
# when the views are rebuilt, their logs first
LEGACY = (f"{VIEWS_ROOT}/projected.log", f"{VIEWS_ROOT}/symbols.json",
          f"{VIEWS_ROOT}/v2/projected.log", f"{VIEWS_ROOT}/v2/symbols.json")
LEGACY_SHARDS = f"{VIEWS_ROOT}/models"
LEGACY_TREES = (LEGACY_SHARDS, f"{VIEWS_ROOT}/v2")

_BLOCK = 1 << 12  # the first read from a file's end (a few lines); each next one doubles
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # an appended file that is a symlink: ELOOP


def shard_key(model_id: str) -> str:
    """A model's shard file: its bucket, from a digest of its id (summary text never becomes
    a path)."""
    bucket = hashlib.sha256(model_id.encode("utf-8")).digest()[0] % SHARD_COUNT
    return f"{SHARDS}/{bucket:02x}.jsonl"


def by_shard(model_ids: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in model_ids:
        out.setdefault(shard_key(m), []).append(m)
    return out


def valid_document(obj: Any, run_id: str, where: str,
                   skipped: list[str] | None = None) -> dict[str, Any] | None:
    """A run document read back from the archive, checked (core.document's parser) before
    anything reads it; None for a damaged one (valid JSON of the wrong shape, or another
    run's id), whose one-line description is added to `skipped`."""
    try:
        doc = parse_run_document(obj, where)
        if doc.get("run_id") != run_id:
            raise DocumentError(f"damaged run document: run_id: expected {run_id!r}, got "
                                f"{str(doc.get('run_id'))[:40]!r}", file=where)
    except DocumentError as exc:
        if skipped is not None:
            skipped.append(str(exc))
        return None
    return cast(dict[str, Any], doc)


def documents(storage: Storage, run_ids: Iterable[str], skipped: list[str] | None = None
              ) -> dict[str, dict[str, Any]]:
    """The checked documents of these runs (absent, unreadable and damaged ones left out)."""
    out: dict[str, dict[str, Any]] = {}
    keys = [f"{r}/{DOCUMENT_FILE}" for r in run_ids]
    for key, data in (storage.read_many(keys) if keys else {}).items():
        rid = key.split("/", 1)[0]
        obj = load_json_or_none(data)
        if obj is None:
            if skipped is not None:
                skipped.append(f"{storage.url_of(key)}: not valid JSON (skipped)")
            continue
        doc = valid_document(obj, rid, storage.url_of(key), skipped)
        if doc is not None:
            out[rid] = doc
    return out


def model_entries(doc: Mapping[str, Any], seq: int = -1) -> list[dict[str, Any]]:
    """One history entry per model of a run document, in shard line shape: run_id first, then
    model_id (what readers search for), `seq` (the run's commit number: the order), then `i`
    (order in the run)."""
    rid = doc["run_id"]
    out = []
    for i, m in enumerate(doc.get("models", [])):
        out.append({
            "run_id": rid, "model_id": m["id"], "seq": seq, "i": i, "symbol": m.get("symbol"),
            "classification": m["classification"], "flags": list(m.get("flags", [])),
            "metrics": {name: spec.get("value") for name, spec in m.get("metrics", {}).items()},
        })
    return out


def complete_lines(data: bytes) -> list[bytes]:
    """Lines ending in a newline; a torn last line (a writer killed mid-append) is dropped."""
    parts = data.split(b"\n")
    return [p for p in parts[:-1] if p]


def parse_lines(lines: Sequence[bytes]) -> list[dict[str, Any]]:
    if not lines:
        return []
    try:
        out: list[dict[str, Any]] = json.loads(b"[" + b",".join(lines) + b"]")
        return [e for e in out if isinstance(e, dict)]
    except ValueError:
        parsed = []
        for line in lines:
            with contextlib.suppress(ValueError):
                obj = json.loads(line)
                if isinstance(obj, dict):
                    parsed.append(obj)
        return parsed


def _id_pattern(model_ids: Iterable[str]) -> re.Pattern[bytes]:
    """Matches the `"model_id": ...` field of these models' shard lines. A literal `", "`
    cannot occur inside a JSON string (its quote would be escaped), so only the field matches."""
    alts = b"|".join(re.escape(json.dumps(m, ensure_ascii=False).encode("utf-8"))
                     for m in sorted(set(model_ids)))
    return re.compile(b'", "model_id": (?:' + alts + b"), ")


def _matching_lines(data: bytes, pattern: re.Pattern[bytes], end: int | None = None
                    ) -> list[bytes]:
    """The complete lines of data[:end] that the pattern matches, in file order (C-speed
    search; only those lines are parsed)."""
    limit = data.rfind(b"\n", 0, len(data) if end is None else end) + 1
    out = []
    for m in pattern.finditer(data, 0, limit):
        start = data.rfind(b"\n", 0, m.start()) + 1
        stop = data.find(b"\n", m.end(), limit)
        if stop != -1:
            out.append(data[start:stop])
    return out


# --- reading -------------------------------------------------------------------------------

_PROJECTED_LINE = re.compile(r"^(\S+) (\d+)$")
_SEQ_RE = re.compile(rb', "seq": (-?\d+), "i": ')
_PROJECTED_BLOCK = 1 << 12  # the first read of projected.log's end (~130 runs); doubles


class Projected:
    """projected.log, read from its end only as far back as a question needs: which runs
    the shards cover (lines "run_id seq", in commit order; a torn last line is left out)."""

    def __init__(self, storage: LocalStorage) -> None:
        self.runs: dict[str, int] = {}
        self.newest: int | None = None  # the newest projected seq (None: no views)
        self.exists = False
        self._low: int | None = None  # no unread line has a seq above this
        try:
            self._data = storage.read(PROJECTED)
        except FileNotFoundError:
            self._data = b""
            return
        self.exists = True
        self._end = self._data.rfind(b"\n") + 1
        self._block = _PROJECTED_BLOCK
        self._read_back(self._block)
        if self.runs:
            self.newest = max(self.runs.values())

    def _read_back(self, size: int) -> None:
        start = 0 if self._end <= size else self._data.rfind(b"\n", 0, self._end - size) + 1
        for line in self._data[start:self._end].decode("ascii", "replace").split("\n"):
            m = _PROJECTED_LINE.match(line)
            if m and RUN_ID_RE.match(m.group(1)):
                seq = int(m.group(2))
                self.runs.setdefault(m.group(1), seq)
                self._low = seq if self._low is None else min(self._low, seq)
        self._end = start
        if start == 0:
            self._low = -1

    def covers(self, run_id: str, seq: int) -> bool:
        """True when this run's entries are in the shards (read back as far as seq)."""
        while self._end > 0 and (self._low is None or seq < self._low):
            self._block *= 2
            self._read_back(self._block)
        return self.runs.get(run_id) == seq


def read_symbols(storage: LocalStorage) -> dict[str, list[str]] | None:
    try:
        obj = load_json(storage.read(SYMBOLS))
    except (FileNotFoundError, ValueError):
        return None
    symbols = obj.get("symbols") if isinstance(obj, dict) else None
    if not isinstance(symbols, dict):
        return None
    return {str(k): [str(m) for m in v] for k, v in symbols.items() if isinstance(v, list)}


def symbols_from_shards(storage: LocalStorage) -> dict[str, list[str]]:
    symbols: dict[str, list[str]] = {}
    for name in sorted(storage.names(SHARDS)):
        if not name.endswith(".jsonl"):
            continue
        for e in parse_lines(complete_lines(storage.read(f"{SHARDS}/{name}"))):
            models = symbols.setdefault(str(e.get("symbol")), [])
            if e.get("model_id") not in models:
                models.append(str(e.get("model_id")))
    return symbols


def coverage(storage: Storage, log: CommitLog) -> tuple[Projected | None, list[dict[str, Any]]]:
    """(the shards' coverage, or None on an object store or without views; the log records
    of committed runs the shards do not cover, oldest first).

    The log may be a tail: it is read whole only when the views lag behind its start."""
    local = storage.local()
    projected = Projected(local) if local is not None else None
    if projected is None or projected.newest is None:
        return None, log.full(storage).records()
    if not log.complete and log.start > projected.newest + 1:
        log.full(storage)
    return projected, [r for r in log.records()
                       if not projected.covers(r["run_id"], int(r["seq"]))]


def shard_entries(storage: LocalStorage, model_ids: Iterable[str], projected: Projected
                  ) -> list[dict[str, Any]]:
    """Every shard entry of these models in projected runs: one file read per bucket."""
    out: list[dict[str, Any]] = []
    for key, models in by_shard(dict.fromkeys(model_ids)).items():
        try:
            data = storage.path(key).read_bytes()  # a local file, opened directly
        except FileNotFoundError:
            continue
        out += _entries_for(_matching_lines(data, _id_pattern(models)), set(models), projected)
    return out


def _entries_for(lines: Sequence[bytes], wanted: set[str], projected: Projected
                 ) -> list[dict[str, Any]]:
    out = []
    for e in parse_lines(lines):
        seq = e.get("seq")
        if e.get("model_id") in wanted and isinstance(seq, int) \
                and projected.covers(str(e.get("run_id")), seq):
            out.append(e)
    return out


def shard_batches_newest_first(storage: LocalStorage, key: str, model_ids: Sequence[str],
                               projected: Projected
                               ) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
    """A bucket's entries of these models in projected runs, newest first, read from the end
    of the file a block at a time: (the block's entries, newest first; a seq that no unread
    line exceeds (lines are in commit order), so every entry above it has been read; None
    once the start of the file is reached)."""
    try:
        fd = os.open(storage.path(key), os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return
    pattern = _id_pattern(model_ids)
    wanted = set(model_ids)
    try:
        end = _complete_end(fd, os.fstat(fd).st_size)  # a torn last line is left out
        carry = b""
        block = _BLOCK
        while end > 0:
            start = max(0, end - block)
            block = min(block * 2, 1 << 22)
            chunk = os.pread(fd, end - start, start) + carry
            end = start
            boundary: int | None = None
            if start > 0:
                cut = chunk.find(b"\n") + 1
                if cut == 0:  # no line boundary in this block: read further back
                    carry = chunk
                    continue
                carry, chunk = chunk[:cut], chunk[cut:]
                boundary = _first_seq(chunk)
                if boundary is None:  # no well-formed line read yet: no bound either
                    carry += chunk
                    continue
            else:
                carry = b""
            entries = _entries_for(_matching_lines(chunk, pattern), wanted, projected)
            entries.reverse()
            yield entries, boundary
    finally:
        os.close(fd)


def _first_seq(chunk: bytes) -> int | None:
    """The seq of the first well-formed line of a chunk."""
    pos = 0
    while pos < len(chunk):
        nl = chunk.find(b"\n", pos)
        line = chunk[pos:nl if nl != -1 else len(chunk)]
        m = _SEQ_RE.search(line) if line_id(line[:64]) is not None else None
        if m is not None:
            return int(m.group(1))
        if nl == -1:
            return None
        pos = nl + 1
    return None


def _line_seq(line: bytes) -> int | None:
    m = _SEQ_RE.search(line)
    return int(m.group(1)) if m is not None else None


def _complete_end(fd: int, size: int) -> int:
    """The offset just after the file's last newline (0 when it has none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - 4096)
        nl = os.pread(fd, pos - start, start).rfind(b"\n")
        if nl != -1:
            return start + nl + 1
        pos = start
    return 0


# --- writing (under the archive lock) ------------------------------------------------------

def _legacy_views(storage: LocalStorage) -> bool:
    return any(storage.exists(k) for k in (*LEGACY, *LEGACY_TREES))


def project(storage: LocalStorage, log: CommitLog, docs: Mapping[str, dict[str, Any]]) -> None:
    """Append the model entries of the log's runs after the newest projected one to the
    shards, in commit order, one append per touched bucket. Order: symbols.json, shards, then
    projected.log; all under the lock. With no format-3 views yet but runs to cover (an older
    archive, lost views), the views are rebuilt instead. `log` may be a tail (read whole when
    the views lag behind it)."""
    projected = Projected(storage)
    newest = -1 if projected.newest is None else projected.newest
    if not log.complete and log.start > newest + 1:
        log.full(storage)
    todo = [r for r in log.records() if int(r["seq"]) > newest]
    if not todo:
        return
    if projected.newest is None and (len(todo) > 1 or _legacy_views(storage)):
        rebuild_views(storage, log.full(storage).records(), docs)
        return
    loaded = dict(docs)
    loaded.update(documents(storage, [r["run_id"] for r in todo
                                      if r["run_id"] not in loaded]))
    done = [r for r in todo if r["run_id"] in loaded]
    if not done:
        return
    by_key: dict[str, list[bytes]] = {}
    pairs: dict[tuple[str, str], None] = {}
    for rec in done:
        for e in model_entries(loaded[rec["run_id"]], int(rec["seq"])):
            by_key.setdefault(shard_key(e["model_id"]), []).append(dump_line(e))
            pairs[(str(e["symbol"]), e["model_id"])] = None
    symbols = read_symbols(storage)
    if symbols is None:
        symbols = {} if projected.newest is None else symbols_from_shards(storage)
    known = {(sym, m) for sym, models in symbols.items() for m in models}
    missing = [p for p in pairs if p not in known]
    for sym, model in missing:
        symbols.setdefault(sym, []).append(model)
    if missing or not storage.exists(SYMBOLS):
        storage.replace(SYMBOLS, dump_line({"schema": VIEWS_FORMAT, "symbols": symbols})
                        + b"\n", durable=False)
    storage.write_path(SHARDS).mkdir(parents=True, exist_ok=True)
    for key, new in by_key.items():
        _append_after(storage.write_path(key), new, newest)
    _append_lines(storage.write_path(PROJECTED),
                  [f"{r['run_id']} {r['seq']}".encode() for r in done])


def rebuild_views(storage: LocalStorage, records: Sequence[Mapping[str, Any]],
                  docs: Mapping[str, dict[str, Any]] | None = None) -> None:
    """Write every shard from the run documents (records: the log's, in commit order), then
    symbols.json and projected.log; remove format-1 and format-2 views."""
    s = storage
    for key in LEGACY:  # their logs first: older readers then trust none of their shards
        s.delete(key)
    for tree in LEGACY_TREES:
        s.delete_tree(tree)
    build = s.write_path(f"{VIEWS}/{temp_name('rebuild')}")
    build.mkdir(parents=True)
    try:
        buffers: dict[str, list[bytes]] = {}
        size = 0
        symbols: dict[str, dict[str, None]] = {}
        done: list[str] = []

        def flush() -> None:
            for key, lines in buffers.items():
                with open(build / Path(key).name, "ab") as f:  # our own fresh folder
                    f.write(b"\n".join(lines) + b"\n")
            buffers.clear()

        for i in range(0, len(records), 64):
            batch = records[i:i + 64]
            got = documents(s, [r["run_id"] for r in batch
                                if docs is None or r["run_id"] not in docs])
            for rec in batch:
                rid = rec["run_id"]
                doc = docs.get(rid) if docs is not None else None
                if doc is None:
                    doc = got.get(rid)
                if doc is None:  # absent or damaged: no history lines
                    continue
                for e in model_entries(doc, int(rec["seq"])):
                    line = dump_line(e)
                    buffers.setdefault(shard_key(e["model_id"]), []).append(line)
                    size += len(line)
                    symbols.setdefault(str(e["symbol"]), {})[e["model_id"]] = None
                done.append(f"{rid} {rec['seq']}")
            if size > 64 << 20:
                flush()
                size = 0
        flush()
        s.delete(PROJECTED)  # no reader trusts the shards while they are replaced
        s.write_path(SHARDS).mkdir(parents=True, exist_ok=True)
        built = set(os.listdir(build))
        for name in built:
            os.replace(build / name, s.write_path(f"{SHARDS}/{name}"))
        for name in s.names(SHARDS):
            if name.endswith(".jsonl") and name not in built:  # no model any more
                s.delete(f"{SHARDS}/{name}")
        s.replace(SYMBOLS, dump_line({"schema": VIEWS_FORMAT, "symbols": {
            sym: list(models) for sym, models in symbols.items()}}) + b"\n")
        s.replace(PROJECTED, b"".join(r.encode() + b"\n" for r in done))
    finally:
        shutil.rmtree(build, ignore_errors=True)


# --- append helpers for the shards (called under the archive lock) -------------------------

def _lines_backward(fd: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of the lines of the file before `end` (a line boundary), last first;
    small reads first (usually only the last line is wanted)."""
    carry = b""
    block = 4096
    while end > 0:
        start = max(0, end - block)
        block = min(block * 4, 1 << 22)
        chunk = os.pread(fd, end - start, start) + carry
        end = start
        parts = chunk.split(b"\n")
        if parts[-1] == b"":
            parts.pop()
        if start > 0:
            carry = parts.pop(0)
            pos = start + len(carry) + 1
        else:
            carry = b""
            pos = 0
        offsets = []
        for p in parts:
            offsets.append(pos)
            pos += len(p) + 1
        yield from zip(reversed(offsets), reversed(parts), strict=True)


def _open_fixed(path: Path) -> int:
    """Open for read/write, creating it; cut off a torn last line left by a killed writer."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | getattr(os, "O_BINARY", 0), 0o644)
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        os.ftruncate(fd, _complete_end(fd, size))
    return fd


def _append_lines(path: Path, lines: Sequence[bytes]) -> None:
    if not lines:
        return
    fd = _open_fixed(path)
    try:
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, b"".join(line + b"\n" for line in lines))
    finally:
        os.close(fd)


def _copy_prefix(src: int, dst: int, count: int) -> None:
    """The first `count` bytes of src to dst (in the kernel where it can)."""
    done = 0
    copy_range = getattr(os, "copy_file_range", None)
    while done < count and copy_range is not None:
        try:
            n = copy_range(src, dst, count - done, done, done)
        except OSError:
            break
        if n <= 0:
            break
        done += n
    while done < count:
        data = os.pread(src, min(count - done, 1 << 20), done)
        if not data:
            raise OSError(f"shard shrank while copying: {done} of {count} bytes")
        os.pwrite(dst, data, done)
        done += len(data)


def _append_after(path: Path, lines: Sequence[bytes], newest: int) -> None:
    """Append shard lines (of runs after `newest`, in commit order) keeping the file in commit
    order. Lines at the end for runs after `newest` were left by a writer killed before its
    projected.log line (no reader trusts them): they are dropped first, by writing the file
    up to them plus the new lines to a temp file and replacing (atomic: a reader never sees a
    shorter file). The usual case is a plain append."""
    fd = _open_fixed(path)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        cut = size
        for off, line in _lines_backward(fd, size):
            seq = _line_seq(line)
            if seq is not None and seq <= newest:
                break
            cut = off
        if cut == size:
            os.write(fd, b"".join(line + b"\n" for line in lines))
            return
        tmp = path.with_name(temp_name(path.name))
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                      0o644)
        try:
            _copy_prefix(fd, out, cut)
            view = memoryview(b"".join(line + b"\n" for line in lines))
            pos = cut
            while view:
                n = os.pwrite(out, view, pos)
                view, pos = view[n:], pos + n
        except BaseException:
            os.close(out)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        os.close(out)
        os.replace(tmp, path)
    finally:
        os.close(fd)
