"""The training archive: every gated run, stored create-only, committed by one small record.

Layout (DESIGN.md "The archive")::

    archive/
    ├── index.json                 derived view of index.d/ (one line per run, sorted)
    ├── index.d/{run_id}.json      the commit record of a run, written last
    ├── {run_id}/summary.json (summary.yaml for a YAML file: bytes are kept as they are),
    │            model_assessments.json, recommendations.md
    └── views/                     derived, local folders only (rebuilt by `reindex`)
        ├── projected.log          run ids whose model entries are in the shards
        ├── symbols.json           symbol -> model ids
        └── models/{sha256(model id)[:32]}.jsonl   one line per (run, model), sorted by run id

Truth is `index.d/`: a run exists exactly when its record exists (and is not a tombstone that
`reindex` wrote to claim an abandoned run folder). Everything else in the root is derived and
may lag or be lost: readers merge the records `index.json` lacks and read the documents of
runs the shards do not cover yet. Derived views are updated after the commit, under a file
lock locally; remotely `index.json` is rewritten until a re-read shows every listed record.

The shards make `history` and baseline look-ups read one small file per model instead of every
run, so their cost follows the size of the answer, not the size of the archive.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import heapq
import itertools
import json
import math
import os
import random
import re
import secrets
import shutil
import statistics
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .config import GateConfig, ModelGatingConfig, as_gate_config
from .errors import ArchiveError
from .gating import Assessment, BaselineValue, assess_all
from .records import run_document
from .storage import (
    LocalStorage,
    Storage,
    open_storage,
    temp_is_stale,
    temp_name,
    translate_errors,
)
from .summary import TrainingSummary, decode_summary, load_summary, parse_summary

__all__ = ["ArchivedRun", "TrainingArchiveManager", "new_run_id", "validate_run_id"]

_ID_PATTERN = r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{6}"
RUN_ID_RE = re.compile(f"^{_ID_PATTERN}$")
RUN_ID_EXAMPLE = "20261125T163900.940462Z-3fe478"
INDEX = "index.json"
RECORDS = "index.d"
VIEWS = "views"
SHARDS = "views/models"
SYMBOLS = "views/symbols.json"
PROJECTED = "views/projected.log"
SUMMARY_FILE = "summary.json"
SUMMARY_YAML = "summary.yaml"  # a YAML summary is kept byte for byte under its own kind of name
DOCUMENT_FILE = "model_assessments.json"
REPORT_FILE = "recommendations.md"
HISTORY_DOCS = 20
VIEW_LOCK_TIMEOUT = 10.0  # a writer waits this long for the view lock, then leaves it to others
RECORD_SCHEMA = 1

_INDEX_HEAD = b'{"schema": 1, "runs": [\n'
_INDEX_TAIL = b"]}\n"
_LINE_PREFIX = b'{"run_id": "'
_ID_LEN = len(RUN_ID_EXAMPLE)


# --- run ids -------------------------------------------------------------------------------

def new_run_id(now: datetime | None = None) -> str:
    """UTC time to the microsecond plus a random suffix: sorting ids sorts runs by time."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S.%fZ") + "-" + secrets.token_hex(3)


def validate_run_id(run_id: object) -> str:
    """The id itself when well formed; ArchiveError otherwise (before it touches a path)."""
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise ArchiveError(f"not a valid run id: {run_id!r} (expected e.g. {RUN_ID_EXAMPLE})")
    return run_id


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# --- small encoders ------------------------------------------------------------------------

def _dump_line(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _dump_doc(obj: Mapping[str, Any]) -> bytes:
    """A run document: one top-level key per line and one model per line. Readable and
    diff-friendly, yet written by the C encoder (`indent=` would use the slow Python one)."""
    def enc(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, allow_nan=False)

    parts = []
    for key, value in obj.items():
        if key == "models" and isinstance(value, list) and value:
            models = ",\n  ".join(enc(m) for m in value)
            parts.append(f' {enc(key)}: [\n  {models}\n ]')
        else:
            parts.append(f" {enc(key)}: {enc(value)}")
    return ("{\n" + ",\n".join(parts) + "\n}\n").encode("utf-8")


def _loads(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"))


def _line_id(line: bytes) -> str | None:
    if not line.startswith(_LINE_PREFIX):
        return None
    rid = line[len(_LINE_PREFIX):len(_LINE_PREFIX) + _ID_LEN].decode("ascii", "replace")
    return rid if RUN_ID_RE.match(rid) else None


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


_LINE_ID_RE = re.compile(r'^\{"run_id": "(' + _ID_PATTERN + r')"', re.M)
_INDEX_ID_RE = re.compile(r'\n\{"run_id": "([^"\n]{' + str(_ID_LEN) + r'})"')
_TOMB_ID_RE = re.compile(r'^\{"run_id": "(' + _ID_PATTERN + r')", "abandoned": true', re.M)
_RECORD_NAME_RE = re.compile(r"^(" + _ID_PATTERN + r")\.json$", re.M)


def _index_bytes(lines: Mapping[str, bytes]) -> bytes:
    body = b",\n".join(lines[k] for k in sorted(lines))
    return _INDEX_HEAD + (body + b"\n" if body else b"") + _INDEX_TAIL


@dataclass
class _Index:
    """index.json as written by this module: its bytes, and its run ids in file order.
    Scanned with whole-buffer regexes (C speed): no per-line Python work on a large archive."""

    raw: bytes
    ids: list[str]
    tombstones: set[str]

    @classmethod
    def parse(cls, data: bytes | None) -> _Index | None:
        """None when absent or not in the shape this module writes (then: rebuild/merge)."""
        if data is None or not data.startswith(_INDEX_HEAD) or not data.endswith(_INDEX_TAIL):
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        # one id per line by a literal-prefix regex over the whole buffer (C speed). A damaged
        # line only hides its run from this view: readers then read that run's record. Ids
        # are not validated here: callers only use those the (validated) index.d/ listing has.
        ids = _INDEX_ID_RE.findall(text)
        tombstones: set[str] = set()
        if '"abandoned": true' in text:
            tombstones = set(_TOMB_ID_RE.findall(text))
        return cls(data, ids, tombstones)

    @functools.cached_property
    def id_set(self) -> set[str]:
        return set(self.ids)

    def line(self, run_id: str) -> bytes | None:
        start = self.raw.find(_LINE_PREFIX + run_id.encode("ascii") + b'"')
        if start == -1:
            return None
        end = self.raw.find(b"\n", start)
        line = self.raw[start:end]
        return line[:-1] if line.endswith(b",") else line

    def record(self, run_id: str) -> dict[str, Any] | None:
        line = self.line(run_id)
        if line is None:
            return None
        try:
            rec = _loads(line)
        except ValueError:
            return None
        return rec if isinstance(rec, dict) and rec.get("run_id") == run_id else None

    def lines(self) -> dict[str, bytes]:
        body = self.raw[len(_INDEX_HEAD):len(self.raw) - len(_INDEX_TAIL)]
        raw_lines = body.split(b"\n")[:-1]
        return {rid: (ln[:-1] if ln.endswith(b",") else ln)
                for rid, ln in zip(self.ids, raw_lines, strict=True)}

    def with_lines(self, new: Mapping[str, bytes]) -> list[bytes | memoryview]:
        """index.json with more lines, as chunks to write: the old bytes (not copied) plus the
        new lines when they sort after the last line (the usual case), else re-sorted."""
        order = sorted(new)
        if not self.ids or order[0] > self.ids[-1]:
            keep = len(self.raw) - len(_INDEX_TAIL) - (1 if self.ids else 0)
            sep = b",\n" if self.ids else b""
            return [memoryview(self.raw)[:keep], sep + b",\n".join(new[k] for k in order)
                    + b"\n" + _INDEX_TAIL]
        merged = self.lines()
        merged.update(new)
        return [_index_bytes(merged)]


def _shard_key(model_id: str) -> str:
    """A model's shard file: a digest of its id, so summary text never becomes a path."""
    return f"{SHARDS}/{hashlib.sha256(model_id.encode('utf-8')).hexdigest()[:32]}.jsonl"


def _model_entries(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
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


def _entry_order(e: Mapping[str, Any]) -> tuple[str, int]:
    return e["run_id"], e.get("i", 0)


def _public_entry(e: Mapping[str, Any]) -> dict[str, Any]:
    return {"run_id": e["run_id"], "timestamp": e["run_id"], "model_id": e["model_id"],
            "symbol": e["symbol"], "classification": e["classification"],
            "flags": list(e["flags"]), "metrics": dict(e["metrics"])}


def _canonical_summary(data: Mapping[str, Any]) -> bytes:
    """A dict summary as bytes: deterministic JSON (key order kept: model order matters)."""
    try:
        return (json.dumps(data, ensure_ascii=False, indent=2, allow_nan=True, default=str)
                + "\n").encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ArchiveError(f"the summary cannot be stored as JSON: {exc}") from None


def _summary_bytes(summary: TrainingSummary) -> bytes:
    if summary.raw:
        return summary.raw
    container: dict[str, Any] = {m.id: dict(m.data) for m in summary.models}
    return _canonical_summary({**summary.metadata, "models": container})


# --- public result -------------------------------------------------------------------------

@dataclass
class ArchivedRun:
    """One archived run, as `archive_training_run` / `archive_gated` return it."""

    run_id: str
    timestamp: str
    approved_count: int
    review_count: int
    dropped_count: int
    assessments: list[Assessment]
    path: str
    document: dict[str, Any]
    previous: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    reused: bool = False


# --- a consistent look at the commit records ------------------------------------------------

@dataclass
class _Scan:
    """What the archive holds right now: every committed run id, and its record when parsed."""

    committed: dict[str, dict[str, Any] | None]
    tombstones: set[str]
    index: _Index | None
    names: set[str] = field(default_factory=set)
    unreadable: set[str] = field(default_factory=set)
    storage: Storage | None = None
    _sorted: list[str] | None = None

    @property
    def ids(self) -> list[str]:
        """Committed run ids, oldest first."""
        if self._sorted is None:
            index = self.index
            if index is not None and len(index.ids) == len(self.committed) \
                    and index.id_set == self.committed.keys():
                self._sorted = index.ids  # index.json is sorted and holds exactly these
            else:
                self._sorted = sorted(self.committed)
        return self._sorted

    def record(self, run_id: str) -> dict[str, Any]:
        rec = self.committed[run_id]
        if rec is None:
            rec = self.index.record(run_id) if self.index is not None else None
            if rec is None and self.storage is not None:  # a damaged line: the record file
                with contextlib.suppress(FileNotFoundError, ValueError):
                    rec = _loads(self.storage.read(f"{RECORDS}/{run_id}.json"))
            if not isinstance(rec, dict):
                rec = {"run_id": run_id, "timestamp": run_id}
            self.committed[run_id] = rec
        return rec

    def find(self, summary_sha: str, config_sha: str) -> str | None:
        """The latest committed run of this summary under this config, if any."""
        matches = [r for r in self.runs_of(summary_sha)
                   if self.record(r).get("config_sha256") == config_sha]
        return max(matches) if matches else None

    def runs_of(self, summary_sha: str) -> list[str]:
        """The committed runs of this summary (whatever their config)."""
        found: set[str] = set()
        if self.index is not None:
            raw = self.index.raw
            needle = f'"summary_sha256": "{summary_sha}"'.encode()
            pos = raw.find(needle)
            while pos != -1:
                start = raw.rfind(b"\n", 0, pos) + 1
                m = _LINE_ID_RE.match(raw[start:start + 64].decode("ascii", "replace"))
                if m and m.group(1) in self.committed:
                    found.add(m.group(1))
                pos = raw.find(needle, pos + 1)
        for rid, rec in self.committed.items():
            if rec is not None and rec.get("summary_sha256") == summary_sha:
                found.add(rid)
        return [r for r in found if self.record(r).get("summary_sha256") == summary_sha]


# --- the manager ---------------------------------------------------------------------------

class TrainingArchiveManager:
    """Archive gated runs and answer questions about them (local folder or fsspec URL)."""

    def __init__(self, archive_dir: str | os.PathLike[str] = "training_archives",
                 config: GateConfig | ModelGatingConfig | None = None,
                 storage_options: dict[str, Any] | None = None) -> None:
        self.archive_dir = os.fspath(archive_dir)
        self.config: GateConfig = as_gate_config(config)
        self.storage: Storage = open_storage(self.archive_dir, storage_options)
        self.location = self.storage.location

    # -- writing ------------------------------------------------------------------------

    def archive_training_run(self, summary_data: dict[str, Any] | str | os.PathLike[str], *,
                             force: bool = False) -> ArchivedRun:
        """Gate a summary (a parsed dict or a file) with this manager's config and archive it."""
        cfg = self.config
        if isinstance(summary_data, Mapping):
            raw = _canonical_summary(summary_data)
            data = decode_summary(raw, "<summary>")
            summary = parse_summary(data, source="<summary>", raw=raw, config=cfg)
        else:
            summary = load_summary(os.fspath(summary_data), cfg)
        baselines = None
        if cfg.baseline is not None:
            baselines = self.baseline_values(
                [m.id for m in summary.models], against=cfg.baseline.against,
                window=cfg.baseline.window, metrics=list(cfg.metrics),
                summary_sha256=hashlib.sha256(_summary_bytes(summary)).hexdigest())
        assessments = assess_all(summary.models, cfg, baselines)
        return self.archive_gated(summary, assessments, force=force)

    def archive_gated(self, summary: TrainingSummary, assessments: Sequence[Assessment], *,
                      force: bool = False) -> ArchivedRun:
        """Archive an already gated summary as one run (or return the run it already is)."""
        cfg = self.config
        raw = _summary_bytes(summary)
        summary_sha = hashlib.sha256(raw).hexdigest()
        config_sha = cfg.digest()
        with translate_errors(self.location, "read"):
            scan = self._scan()
        if not force:
            existing = scan.find(summary_sha, config_sha)
            if existing is not None:
                return self._archived_run(existing, list(assessments), scan, reused=True)
        with translate_errors(self.location, "write to"):
            for _attempt in range(5):
                run_id = new_run_id()
                doc = run_document(summary, assessments, cfg, run_id=run_id)
                doc["summary"]["sha256"] = summary_sha
                history = self._documents_before(run_id, scan)
                previous = history[-1] if history else None
                record = {"run_id": run_id, "timestamp": run_id, "created": _now_iso(),
                          "counts": doc["counts"], "models": len(doc["models"]),
                          "summary_sha256": summary_sha, "config_sha256": config_sha,
                          "source": doc["summary"]["path"],
                          "summary_timestamp": doc["summary"].get("timestamp"),
                          "schema": RECORD_SCHEMA}
                report = self._render(doc, previous, history)
                if self._write_run(run_id, raw, doc, report, record):
                    break
            else:
                raise ArchiveError(f"cannot write to archive {self.location}: could not "
                                   "commit a run after several attempts")
        self._update_views({run_id: record}, {run_id: doc}, scan)
        c = doc["counts"]
        return ArchivedRun(run_id=run_id, timestamp=run_id, approved_count=c["APPROVED"],
                           review_count=c["REVIEW"], dropped_count=c["DROP"],
                           assessments=list(assessments), path=self.storage.url_of(run_id),
                           document=doc, previous=previous, history=history, reused=False)

    @staticmethod
    def _render(doc: dict[str, Any], previous: dict[str, Any] | None,
                history: list[dict[str, Any]]) -> bytes:
        from . import report

        try:
            text = report.render_markdown(
                [report.ReportSection(document=doc, previous=previous, history=history)])
        except Exception as exc:  # a report bug must not lose the run: the JSON has it all
            text = (f"# Model gate report\n\nrun `{doc.get('run_id')}`: the report could not be "
                    f"rendered ({type(exc).__name__}: {exc}); see {DOCUMENT_FILE}.\n")
        return text.encode("utf-8")

    def _write_run(self, run_id: str, raw: bytes, doc: dict[str, Any], report: bytes,
                   record: dict[str, Any]) -> bool:
        """Write the run's files, then its record (the commit point). False: retry."""
        s = self.storage
        source = str(doc.get("summary", {}).get("path", "")).lower()
        name = SUMMARY_YAML if source.endswith((".yaml", ".yml")) else SUMMARY_FILE
        try:
            s.create(f"{run_id}/{name}", raw, sync_folder=False)
            s.create(f"{run_id}/{DOCUMENT_FILE}", _dump_doc(doc), sync_folder=False)
            s.create(f"{run_id}/{REPORT_FILE}", report, sync_folder=False)
        except FileExistsError:  # another writer drew the same id: draw again
            return False
        s.sync_folder(run_id)  # the three names are durable before the commit record is
        try:
            s.create(f"{RECORDS}/{run_id}.json", _dump_line(record) + b"\n")
        except FileExistsError:
            # `reindex` claimed the folder as abandoned (a tombstone) before we committed:
            # our files are garbage; write the run again under a new id.
            with contextlib.suppress(Exception):
                existing = _loads(s.read(f"{RECORDS}/{run_id}.json"))
                if isinstance(existing, dict) and existing.get("abandoned"):
                    s.delete_tree(run_id)
            return False
        return True

    # -- derived views ------------------------------------------------------------------

    def _update_views(self, records: Mapping[str, dict[str, Any]],
                      docs: Mapping[str, dict[str, Any]], scan: _Scan) -> None:
        """Bring index.json (and local shards) up to date; never fails the caller: the run
        is committed and readers merge what the views lack.

        Locally the records added are ours plus those our scan listed and index.json lacks
        (a crashed writer's): a record committed after our scan is its own writer's to add,
        or the next writer's scan sees it. That keeps the listing out of the lock."""
        try:
            if isinstance(self.storage, LocalStorage):
                with self.storage.lock(timeout=VIEW_LOCK_TIMEOUT):
                    committed = self._refresh_index(records, scan)
                    self._project(committed, docs)
            else:
                self._refresh_index_remote(records)
        except Exception:  # derived data: `reindex` repairs it
            return

    def _record_names(self) -> set[str]:
        """Run ids with a record file in index.d/ (one regex over the whole listing)."""
        return set(_RECORD_NAME_RE.findall("\n".join(self.storage.names(RECORDS))))

    def _read_index(self) -> bytes | None:
        try:
            return self.storage.read(INDEX)
        except FileNotFoundError:
            return None

    def _merged_index(self, known: Mapping[str, dict[str, Any]], scan: _Scan | None = None
                      ) -> tuple[list[bytes | memoryview] | None, set[str]]:
        """(index.json bytes with the records it lacks, or None when it lacks none;
        the committed run ids). Without a scan the records are listed afresh."""
        raw = self._read_index()
        if scan is not None:
            names = scan.names | set(known)
            hint = scan.index
            index = hint if hint is not None and hint.raw == raw else _Index.parse(raw)
        else:
            names = self._record_names()
            index = _Index.parse(raw)
        have = index.id_set if index is not None else set()
        if scan is None and index is not None and not have <= names:  # removed by hand
            index, have = None, set()
        tombstones = set(index.tombstones) if index is not None else set()
        missing = sorted(names - have)
        got = self.storage.read_many(f"{RECORDS}/{r}.json" for r in missing if r not in known)
        new: dict[str, bytes] = {}
        for rid in missing:
            rec: Any = known.get(rid)
            if rec is None:
                data = got.get(f"{RECORDS}/{rid}.json")
                try:
                    rec = _loads(data) if data is not None else None
                except ValueError:
                    rec = None
            if isinstance(rec, dict) and rec.get("run_id") == rid:
                new[rid] = _dump_line(_index_record(rec))
                if rec.get("abandoned"):
                    tombstones.add(rid)
        committed = (have | set(new)) - tombstones
        if index is None:
            return [_index_bytes(new)], committed
        return (index.with_lines(new) if new else None), committed

    def _refresh_index(self, known: Mapping[str, dict[str, Any]], scan: _Scan) -> set[str]:
        data, committed = self._merged_index(known, scan)
        if data is not None:
            self.storage.replace(INDEX, data, durable=False)
        return committed

    def _refresh_index_remote(self, known: Mapping[str, dict[str, Any]]) -> None:
        """Without a lock: write, then re-list and re-read until index.json holds every
        record listed after the write (so the last writer to finish leaves it complete)."""
        for attempt in range(12):
            data, _ = self._merged_index(known)
            if data is None:
                return
            self.storage.replace(INDEX, data)
            time.sleep(random.uniform(0.0, 0.02 * (attempt + 1)))

    def _read_projected(self) -> set[str]:
        try:
            data = self.storage.read(PROJECTED)
        except FileNotFoundError:
            return set()
        out = set(data.decode("ascii", "replace").split("\n")[:-1])  # a torn tail is dropped
        out.discard("")
        return out

    def _read_symbols(self) -> dict[str, list[str]] | None:
        try:
            obj = _loads(self.storage.read(SYMBOLS))
        except (FileNotFoundError, ValueError):
            return None
        symbols = obj.get("symbols") if isinstance(obj, dict) else None
        if not isinstance(symbols, dict):
            return None
        return {str(k): [str(m) for m in v] for k, v in symbols.items() if isinstance(v, list)}

    def _project(self, committed: set[str], docs: Mapping[str, dict[str, Any]]) -> None:
        """Append the model entries of committed, not yet projected runs to the shards.
        Order: symbols.json, shards, then projected.log; all under the lock."""
        assert isinstance(self.storage, LocalStorage)
        projected = self._read_projected()
        todo = sorted(committed - projected)
        if not todo:
            return
        loaded = dict(docs)
        need = [r for r in todo if r not in loaded]
        for key, data in self.storage.read_many(f"{r}/{DOCUMENT_FILE}" for r in need).items():
            with contextlib.suppress(ValueError):
                loaded[key.split("/", 1)[0]] = _loads(data)
        done = [r for r in todo if isinstance(loaded.get(r), dict)]
        by_shard: dict[str, list[bytes]] = {}
        pairs: set[tuple[str, str]] = set()
        for rid in done:
            for e in _model_entries(loaded[rid]):
                by_shard.setdefault(_shard_key(e["model_id"]), []).append(_dump_line(e))
                pairs.add((str(e["symbol"]), e["model_id"]))
        symbols = self._read_symbols()
        if symbols is None:
            symbols = {} if not projected else self._symbols_from_shards()
        changed = False
        for sym, model in sorted(pairs):
            models = symbols.setdefault(sym, [])
            if model not in models:
                models.append(model)
                changed = True
        if changed or not self.storage.exists(SYMBOLS):
            self.storage.replace(SYMBOLS, _dump_line({"schema": 1, "symbols": symbols}) + b"\n",
                                 durable=False)
        for key, new in by_shard.items():
            _append_sorted(self.storage.path(key), new)
        _append_lines(self.storage.path(PROJECTED), [r.encode() for r in done])

    def _symbols_from_shards(self) -> dict[str, list[str]]:
        assert isinstance(self.storage, LocalStorage)
        symbols: dict[str, list[str]] = {}
        for name in sorted(self.storage.names(SHARDS)):
            if not name.endswith(".jsonl"):
                continue
            for e in _parse_lines(_complete_lines(self.storage.read(f"{SHARDS}/{name}"))):
                models = symbols.setdefault(str(e.get("symbol")), [])
                if e.get("model_id") not in models:
                    models.append(str(e.get("model_id")))
        return symbols

    # -- reading ------------------------------------------------------------------------

    def _scan(self) -> _Scan:
        """Committed runs = records in index.d/ minus tombstones; index.json saves reading
        each record, and the records it lacks are read and merged."""
        names = self._record_names()
        index = _Index.parse(self._read_index())
        committed: dict[str, dict[str, Any] | None] = {}
        tombstones: set[str] = set()
        if index is not None:
            listed = index.id_set & names
            tombstones = index.tombstones & names
            committed = dict.fromkeys(listed - tombstones)
            missing = sorted(names - listed)
        else:
            missing = sorted(names)
        unreadable: set[str] = set()
        got = self.storage.read_many(f"{RECORDS}/{r}.json" for r in missing)
        for rid in missing:
            data = got.get(f"{RECORDS}/{rid}.json")
            try:
                rec = _loads(data) if data is not None else None
            except ValueError:
                rec = None
            if not isinstance(rec, dict) or rec.get("run_id") != rid:
                unreadable.add(rid)
            elif rec.get("abandoned"):
                tombstones.add(rid)
            else:
                committed[rid] = rec
        return _Scan(committed, tombstones, index, names, unreadable, self.storage)

    def _documents_before(self, run_id: str, scan: _Scan) -> list[dict[str, Any]]:
        earlier = [r for r in scan.ids if r < run_id][-HISTORY_DOCS:]
        got = self.storage.read_many(f"{r}/{DOCUMENT_FILE}" for r in earlier)
        out = []
        for rid in earlier:
            data = got.get(f"{rid}/{DOCUMENT_FILE}")
            if data is None:
                continue
            with contextlib.suppress(ValueError):
                doc = _loads(data)
                if isinstance(doc, dict):
                    out.append(doc)
        return out

    def _archived_run(self, run_id: str, assessments: list[Assessment], scan: _Scan, *,
                      reused: bool) -> ArchivedRun:
        doc = self._load_doc(run_id)
        history = self._documents_before(run_id, scan)
        c = doc.get("counts", {})
        return ArchivedRun(run_id=run_id, timestamp=run_id,
                           approved_count=int(c.get("APPROVED", 0)),
                           review_count=int(c.get("REVIEW", 0)),
                           dropped_count=int(c.get("DROP", 0)), assessments=assessments,
                           path=self.storage.url_of(run_id), document=doc,
                           previous=history[-1] if history else None, history=history,
                           reused=reused)

    def _require_run(self, run_id: str) -> dict[str, Any]:
        """The record of a committed run; ArchiveError for a bad or unknown id."""
        validate_run_id(run_id)
        try:
            with translate_errors(self.location, "read"):
                data = self.storage.read(f"{RECORDS}/{run_id}.json")
            rec = _loads(data)
        except (FileNotFoundError, ValueError):
            rec = None
        if not isinstance(rec, dict) or rec.get("abandoned") or rec.get("run_id") != run_id:
            raise ArchiveError(f"unknown run id {run_id!r} in archive {self.location}")
        return rec

    def _load_doc(self, run_id: str) -> dict[str, Any]:
        try:
            with translate_errors(self.location, "read"):
                doc = _loads(self.storage.read(f"{run_id}/{DOCUMENT_FILE}"))
        except FileNotFoundError:
            raise ArchiveError(f"run {run_id} in archive {self.location} has no "
                               f"{DOCUMENT_FILE}") from None
        except ValueError:
            raise ArchiveError(f"run {run_id} in archive {self.location}: "
                               f"{DOCUMENT_FILE} is not valid JSON") from None
        if not isinstance(doc, dict):
            raise ArchiveError(f"run {run_id}: {DOCUMENT_FILE} is not a JSON object")
        return doc

    def list_runs(self) -> list[dict[str, Any]]:
        """One record per committed run, oldest first."""
        with translate_errors(self.location, "read"):
            scan = self._scan()
            if scan.index is not None:
                with contextlib.suppress(ValueError):
                    parsed = _loads(scan.index.raw)
                    for rec in parsed.get("runs", []):
                        rid = rec.get("run_id") if isinstance(rec, dict) else None
                        if rid in scan.committed and scan.committed[rid] is None:
                            scan.committed[rid] = rec
            return [_index_record(scan.record(r)) for r in scan.ids]

    def latest_run(self) -> dict[str, Any] | None:
        with translate_errors(self.location, "read"):
            scan = self._scan()
        ids = scan.ids
        return _index_record(scan.record(ids[-1])) if ids else None

    def run_ids(self) -> list[str]:
        """Committed run ids, oldest first."""
        with translate_errors(self.location, "read"):
            return self._scan().ids

    def load_document(self, run_id: str) -> dict[str, Any]:
        """model_assessments.json of a committed run."""
        self._require_run(run_id)
        return self._load_doc(run_id)

    def load_summary_bytes(self, run_id: str) -> bytes:
        """The archived summary, byte for byte."""
        self._require_run(run_id)
        with translate_errors(self.location, "read"):
            for name in (SUMMARY_FILE, SUMMARY_YAML):
                with contextlib.suppress(FileNotFoundError):
                    return self.storage.read(f"{run_id}/{name}")
        raise ArchiveError(f"run {run_id} in archive {self.location} has no {SUMMARY_FILE}")

    def load_report(self, run_id: str) -> str:
        """recommendations.md of a committed run."""
        self._require_run(run_id)
        with translate_errors(self.location, "read"):
            return self.storage.read(f"{run_id}/{REPORT_FILE}").decode("utf-8")

    def run_context(self, run_id: str) -> tuple[dict[str, Any], dict[str, Any] | None,
                                                 list[dict[str, Any]]]:
        """(document, previous document, earlier documents) of a run: a report's input."""
        self._require_run(run_id)
        doc = self._load_doc(run_id)
        with translate_errors(self.location, "read"):
            history = self._documents_before(run_id, self._scan())
        return doc, (history[-1] if history else None), history

    def resolve_run(self, run_id: str | None) -> str:
        """None or "latest" -> the latest run id; otherwise the id, checked."""
        if run_id is None or run_id == "latest":
            latest = self.latest_run()
            if latest is None:
                raise ArchiveError(f"the archive {self.location} has no runs")
            return str(latest["run_id"])
        self._require_run(run_id)
        return run_id

    def get_approved_models(self, run_id: str | None = None) -> list[str]:
        """Model ids classified APPROVED in a run (None = the latest run)."""
        rid = self.resolve_run(run_id)
        doc = self._load_doc(rid)
        return [m["id"] for m in doc.get("models", []) if m.get("classification") == "APPROVED"]

    # -- history ------------------------------------------------------------------------

    def _uses_views(self) -> bool:
        return isinstance(self.storage, LocalStorage)

    def _history_sources(self) -> tuple[set[str], dict[str, dict[str, Any]]]:
        """(runs covered by the shards, documents of committed runs they do not cover).

        Locally index.json is not needed: committed runs the shards lack are the listed
        records not in projected.log, usually none; only those records are read."""
        if self._uses_views():
            names = self._record_names()
            projected = self._read_projected() & names
            rest = sorted(names - projected)
            got = self.storage.read_many(f"{RECORDS}/{r}.json" for r in rest)
            uncovered = []
            for rid in rest:
                try:
                    rec = _loads(got[f"{RECORDS}/{rid}.json"])
                except (KeyError, ValueError):
                    continue
                if isinstance(rec, dict) and rec.get("run_id") == rid \
                        and not rec.get("abandoned"):
                    uncovered.append(rid)
        else:
            projected = set()
            uncovered = self._scan().ids
        docs: dict[str, dict[str, Any]] = {}
        for key, data in self.storage.read_many(f"{r}/{DOCUMENT_FILE}" for r in uncovered).items():
            with contextlib.suppress(ValueError):
                doc = _loads(data)
                if isinstance(doc, dict):
                    docs[key.split("/", 1)[0]] = doc
        return projected, docs

    def _shard_entries(self, model_id: str, projected: set[str]) -> list[dict[str, Any]]:
        if not self._uses_views():
            return []
        try:
            data = self.storage.read(_shard_key(model_id))
        except FileNotFoundError:
            return []
        return [e for e in _parse_lines(_complete_lines(data))
                if e.get("model_id") == model_id and e.get("run_id") in projected]

    def _history(self, *, symbol: str | None = None, model_id: str | None = None
                 ) -> list[dict[str, Any]]:
        with translate_errors(self.location, "read"):
            projected, docs = self._history_sources()
            entries: list[dict[str, Any]] = []
            if self._uses_views() and projected:
                if model_id is not None:
                    models = [model_id]
                else:
                    symbols = self._read_symbols()
                    if symbols is None:
                        symbols = self._symbols_from_shards()
                    models = symbols.get(str(symbol), [])
                for m in models:
                    entries += self._shard_entries(m, projected)
            for doc in docs.values():
                entries += _model_entries(doc)
        if model_id is not None:
            entries = [e for e in entries if e["model_id"] == model_id]
        if symbol is not None:
            entries = [e for e in entries if e["symbol"] == symbol]
        entries.sort(key=_entry_order)  # shards are sorted already: a near-linear merge
        seen: set[tuple[str, str]] = set()
        out = []
        for e in entries:
            key = (e["run_id"], e["model_id"])
            if key not in seen:
                seen.add(key)
                out.append(_public_entry(e))
        return out

    def get_symbol_history(self, symbol: str) -> list[dict[str, Any]]:
        """Every archived (run, model) of a symbol, oldest run first."""
        out = self._history(symbol=symbol)
        if not out:
            raise ArchiveError(f"unknown symbol {symbol!r}: no archived run of "
                               f"{self.location} has a model of that symbol")
        return out

    def get_model_history(self, model_id: str) -> list[dict[str, Any]]:
        """Every archived run of a model, oldest first."""
        out = self._history(model_id=model_id)
        if not out:
            raise ArchiveError(f"unknown model {model_id!r}: no archived run of "
                               f"{self.location} has that model")
        return out

    # -- baselines ----------------------------------------------------------------------

    def baseline_values(self, model_ids: Iterable[str], *, against: str, window: int,
                        metrics: Sequence[str], summary_sha256: str | None = None
                        ) -> dict[str, dict[str, BaselineValue]]:
        """Per model, per metric: the median of its last `window` finite archived values in
        the runs `against` selects ("last": runs holding the model; "last_approved": runs
        where it was APPROVED); `run_id` is the latest run used. Unknown models -> {}; a
        metric with no finite value in the selected runs -> value NaN, `run_id` the latest
        selected run.

        `summary_sha256` (of the summary being gated): when the archive already holds that
        summary, only runs older than its first archived run count, so a re-run is gated
        against the same baseline as the first run (never against itself)."""
        if against not in ("last", "last_approved"):
            raise ArchiveError(f"baseline against must be 'last' or 'last_approved', "
                               f"got {against!r}")
        window = max(1, int(window))
        wanted = list(dict.fromkeys(model_ids))
        out: dict[str, dict[str, BaselineValue]] = {m: {} for m in wanted}
        if not wanted:
            return out
        with translate_errors(self.location, "read"):
            cutoff = None
            if summary_sha256 is not None and self._uses_views():
                cutoff = min(self._scan().runs_of(summary_sha256), default=None)
            if self._uses_views():
                projected, docs = self._history_sources()
                doc_entries: dict[str, list[dict[str, Any]]] = {}
                for doc in docs.values():
                    for e in _model_entries(doc):
                        doc_entries.setdefault(e["model_id"], []).append(e)
                for m in wanted:
                    recent = sorted(doc_entries.get(m, []), key=lambda e: e["run_id"],
                                    reverse=True)
                    stream: Iterator[dict[str, Any]] = heapq.merge(
                        self._shard_reverse(m, projected), recent,
                        key=lambda e: e["run_id"], reverse=True)
                    if cutoff is not None:
                        stream = itertools.dropwhile(
                            functools.partial(_at_or_after, cutoff), stream)
                    out[m] = _collect(stream, against, window, metrics) or {}
            else:
                out = self._baselines_by_scan(wanted, against, window, metrics,
                                              summary_sha256)
        return out

    def _shard_reverse(self, model_id: str, projected: set[str]) -> Iterator[dict[str, Any]]:
        """A model's shard entries, newest run first, read from the end of the file."""
        assert isinstance(self.storage, LocalStorage)
        path = self.storage.path(_shard_key(model_id))
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

    def _baselines_by_scan(self, wanted: list[str], against: str, window: int,
                           metrics: Sequence[str], summary_sha256: str | None = None
                           ) -> dict[str, dict[str, BaselineValue]]:
        """Object stores: one pass over run documents, newest first, until all are found."""
        scan = self._scan()
        streams: dict[str, list[dict[str, Any]]] = {m: [] for m in wanted}
        done: dict[str, dict[str, BaselineValue]] = {}
        ids = list(reversed(scan.ids))
        if summary_sha256 is not None:
            cutoff = min(scan.runs_of(summary_sha256), default=None)
            if cutoff is not None:
                ids = [r for r in ids if r < cutoff]
        for i in range(0, len(ids), 16):
            batch = ids[i:i + 16]
            got = self.storage.read_many(f"{r}/{DOCUMENT_FILE}" for r in batch)
            for rid in batch:
                data = got.get(f"{rid}/{DOCUMENT_FILE}")
                if data is None:
                    continue
                try:
                    doc = _loads(data)
                except ValueError:
                    continue
                for e in _model_entries(doc):
                    if e["model_id"] in streams:
                        streams[e["model_id"]].append(e)
            for m in [m for m in streams if m not in done]:
                values = _collect(iter(streams[m]), against, window, metrics, partial=True)
                if values is not None:
                    done[m] = values
            if len(done) == len(wanted):
                break
        out = {}
        for m in wanted:
            out[m] = done.get(m) or _collect(iter(streams[m]), against, window, metrics) or {}
        return out

    # -- maintenance --------------------------------------------------------------------

    def reindex(self, *, temp_max_age: float = 3600.0) -> int:
        """Rebuild index.json (and local views) from index.d/; claim and remove run folders
        without a commit record; remove leftover temp files. Returns the number of runs."""
        s = self.storage
        lock = s.lock(timeout=300) if isinstance(s, LocalStorage) else contextlib.nullcontext()
        with translate_errors(self.location, "reindex"), lock:
            names = self._record_names()
            got = s.read_many(f"{RECORDS}/{r}.json" for r in names)
            records: dict[str, dict[str, Any]] = {}
            tombstones: dict[str, dict[str, Any]] = {}
            for rid in names:
                data = got.get(f"{RECORDS}/{rid}.json")
                try:
                    rec = _loads(data) if data is not None else None
                except ValueError:
                    continue  # unreadable record: left as it is (it holds the id)
                if isinstance(rec, dict) and rec.get("run_id") == rid:
                    (tombstones if rec.get("abandoned") else records)[rid] = rec
            root = s.listdir("")
            for entry in root:
                rid = entry.name
                if not RUN_ID_RE.match(rid) or rid in records:
                    continue
                if rid not in tombstones:
                    # claim the folder with a tombstone at its commit key: whoever creates
                    # that key first (this reindex, or a writer committing now) wins
                    tomb = {"run_id": rid, "abandoned": True, "at": _now_iso(),
                            "reason": "run folder without a commit record (reindex)"}
                    try:
                        s.create(f"{RECORDS}/{rid}.json", _dump_line(tomb) + b"\n")
                    except FileExistsError:
                        rec = None
                        with contextlib.suppress(ValueError, FileNotFoundError):
                            rec = _loads(s.read(f"{RECORDS}/{rid}.json"))
                        if not (isinstance(rec, dict) and rec.get("abandoned")):
                            if isinstance(rec, dict) and rec.get("run_id") == rid:
                                records[rid] = rec  # committed just now: keep it
                            continue  # (or a record we cannot read: touch nothing)
                        tombstones[rid] = rec
                    else:
                        tombstones[rid] = tomb
                s.delete_tree(rid)
            if isinstance(s, LocalStorage):
                folders = ["", RECORDS, VIEWS, SHARDS, *sorted(records)]
                for folder in folders:
                    for entry in s.listdir(folder):
                        if not temp_is_stale(entry.name, entry.mtime, max_age=temp_max_age):
                            continue
                        key = f"{folder}/{entry.name}" if folder else entry.name
                        if entry.is_dir:
                            s.delete_tree(key)
                        else:
                            s.delete(key)
            lines = {r: _dump_line(_index_record(rec)) for r, rec in records.items()}
            lines.update({r: _dump_line(_index_record(rec)) for r, rec in tombstones.items()})
            s.replace(INDEX, _index_bytes(lines))
            if isinstance(s, LocalStorage):
                self._rebuild_views(sorted(records))
        if not isinstance(s, LocalStorage):
            self._refresh_index_remote({})
        return len(records)

    def _rebuild_views(self, run_ids: list[str]) -> None:
        """Write every shard from the run documents, then symbols.json and projected.log."""
        s = self.storage
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
                    data = got.get(f"{rid}/{DOCUMENT_FILE}")
                    try:
                        doc = _loads(data) if data is not None else None
                    except ValueError:
                        doc = None
                    if not isinstance(doc, dict):
                        continue
                    for e in _model_entries(doc):
                        line = _dump_line(e)
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
            s.replace(SYMBOLS, _dump_line({"schema": 1, "symbols": symbols}) + b"\n")
            s.replace(PROJECTED, b"".join(r.encode() + b"\n" for r in done))
        finally:
            shutil.rmtree(build, ignore_errors=True)


def _index_record(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A record as index.json and list_runs() show it (run_id first, no schema key)."""
    out = {"run_id": rec["run_id"]}
    out.update({k: v for k, v in rec.items() if k not in ("run_id", "schema")})
    return out


def _at_or_after(run_id: str, e: Mapping[str, Any]) -> bool:
    return bool(e["run_id"] >= run_id)


def _collect(stream: Iterator[dict[str, Any]], against: str, window: int,
             metrics: Sequence[str], *, partial: bool = False
             ) -> dict[str, BaselineValue] | None:
    """Walk entries newest first; per metric, the median of the first `window` finite values
    from selected runs. With partial=True, None unless every metric got its window. A metric
    with no finite value in any selected run gets NaN (the model has a baseline run, but
    not a usable value of that metric); no selected run at all -> {}."""
    values: dict[str, list[float]] = {m: [] for m in metrics}
    latest: dict[str, str] = {}
    seen: set[str] = set()
    newest: str | None = None
    for e in stream:
        if e["run_id"] in seen:
            continue
        seen.add(e["run_id"])
        if against == "last_approved" and e.get("classification") != "APPROVED":
            continue
        if newest is None:
            newest = e["run_id"]
        for name in metrics:
            bucket = values[name]
            if len(bucket) >= window:
                continue
            v = e.get("metrics", {}).get(name)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                bucket.append(float(v))
                latest.setdefault(name, e["run_id"])
        if all(len(v) >= window for v in values.values()):
            break
    if partial and not all(len(v) >= window for v in values.values()):
        return None
    if newest is None:
        return {}
    return {name: BaselineValue(value=float(statistics.median(vals)), run_id=latest[name])
            if vals else BaselineValue(value=math.nan, run_id=newest)
            for name, vals in values.items()}


# --- append helpers for the local shards (called under the archive lock) -------------------

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
        last_id = _line_id(last) if last else None
        first_id = _line_id(lines[0]) or ""
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
    merged = sorted(set(old) | set(lines), key=lambda ln: (_line_id(ln) or "", ln))
    tmp = path.with_name(temp_name(path.name))
    tmp.write_bytes(b"".join(line + b"\n" for line in merged))
    os.replace(tmp, path)
