"""The archive's commit records: run ids, `index.d/` record files, and index.json.

A run exists exactly when `index.d/{run_id}.json` exists and is not a tombstone. index.json is
a derived, sorted copy of the records, one line per run, so that a reader need not read every
record file: `scan_archive` merges the two, and `refresh_index*` bring index.json up to date
after a commit.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pytest_model_gate.archive.storage import Storage
from pytest_model_gate.errors import ArchiveError

_ID_PATTERN = r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{6}"
RUN_ID_RE = re.compile(f"^{_ID_PATTERN}$")
RUN_ID_EXAMPLE = "20261125T163900.940462Z-3fe478"
INDEX = "index.json"
RECORDS = "index.d"
SUMMARY_FILE = "summary.json"
SUMMARY_YAML = "summary.yaml"  # a YAML summary is kept byte for byte under its own kind of name
DOCUMENT_FILE = "model_assessments.json"
REPORT_FILE = "recommendations.md"
RECORD_SCHEMA = 1

_INDEX_HEAD = b'{"schema": 1, "runs": [\n'
_INDEX_TAIL = b"]}\n"
_LINE_PREFIX = b'{"run_id": "'
_ID_LEN = len(RUN_ID_EXAMPLE)


# --- run ids -------------------------------------------------------------------------------

def utc_now() -> datetime:
    return datetime.now(timezone.utc)


clock: Callable[[], datetime] = utc_now
"""Where run ids take their time (a test injects a skewed clock here). Only the id's name
comes from it: the order of runs is the commit log's."""


def new_run_id(now: datetime | None = None) -> str:
    """UTC time to the microsecond plus a random suffix: a readable name, not the order."""
    now = now or clock()
    return now.strftime("%Y%m%dT%H%M%S.%fZ") + "-" + secrets.token_hex(3)


def validate_run_id(run_id: object) -> str:
    """The id itself when well formed; ArchiveError otherwise (before it touches a path)."""
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise ArchiveError(f"not a valid run id: {run_id!r} (expected e.g. {RUN_ID_EXAMPLE})")
    return run_id


# --- record lines --------------------------------------------------------------------------

def dump_line(obj: Mapping[str, Any]) -> bytes:
    """One record or shard line: compact JSON, no NaN (it would not be JSON)."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")


def load_json(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"))


def load_json_or_none(data: bytes | None) -> Any:
    """A file read in bulk: None when it was missing or is not JSON (callers skip it)."""
    try:
        return load_json(data) if data is not None else None
    except ValueError:
        return None


def line_id(line: bytes) -> str | None:
    """The run id an index or shard line starts with; None for a line of another shape."""
    if not line.startswith(_LINE_PREFIX):
        return None
    rid = line[len(_LINE_PREFIX):len(_LINE_PREFIX) + _ID_LEN].decode("ascii", "replace")
    return rid if RUN_ID_RE.match(rid) else None


_LINE_ID_RE = re.compile(r'^\{"run_id": "(' + _ID_PATTERN + r')"', re.M)
_INDEX_ID_RE = re.compile(r'\n\{"run_id": "([^"\n]{' + str(_ID_LEN) + r'})"')
_TOMB_ID_RE = re.compile(r'^\{"run_id": "(' + _ID_PATTERN + r')", "abandoned": true', re.M)
_RECORD_NAME_RE = re.compile(r"^(" + _ID_PATTERN + r")\.json$", re.M)


def index_bytes(lines: Mapping[str, bytes]) -> bytes:
    """index.json holding these lines, sorted by run id."""
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
            rec = load_json(line)
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
        return [index_bytes(merged)]


def index_record(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A record as index.json and list_runs() show it (run_id first, no schema key)."""
    out = {"run_id": rec["run_id"]}
    out.update({k: v for k, v in rec.items() if k not in ("run_id", "schema")})
    return out


# --- a consistent look at the commit records -----------------------------------------------

@dataclass
class Scan:
    """What the archive holds right now: every committed run id, and its record when parsed."""

    committed: dict[str, dict[str, Any] | None]
    tombstones: set[str]
    index: _Index | None
    names: set[str] = field(default_factory=set)
    unreadable: set[str] = field(default_factory=set)
    storage: Storage | None = None
    _sorted: list[str] | None = None
    # commit order from the log (None: an archive from before the log, ordered by run id)
    order: list[str] | None = None
    # the log's sequence numbers of the runs in `order` (positions are then these numbers)
    seqs: dict[str, int] | None = None
    # False: only the newest runs were read (a tail of the log); `search` finds the older
    # records of a summary digest
    complete: bool = True
    search: Callable[[str], list[dict[str, Any]]] | None = None

    @property
    def ids(self) -> list[str]:
        """Committed run ids, oldest first: commit order (never index.json's order)."""
        if self._sorted is None:
            self._sorted = self.order if self.order is not None else sorted(self.committed)
        return self._sorted

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        if self.seqs is not None:
            return self.seqs
        return {r: i for i, r in enumerate(self.ids)}

    def positions(self) -> dict[str, int]:
        """run id -> its place in the commit order (smaller = older): the log's sequence
        number, or the place in run-id order for an archive from before the log."""
        return self._positions

    def first_position(self, summary_sha: str) -> int | None:
        """Where the first archived run of this summary stands (the re-run cutoff)."""
        pos = self.positions()
        return min((pos[r] for r in self.runs_of(summary_sha)), default=None)

    def before(self, run_id: str) -> list[str]:
        """Committed runs before run_id in commit order (all of them for a new run; of a
        tail scan, those it holds)."""
        if run_id not in self.committed:
            return self.ids
        pos = self.positions()
        return [r for r in self.ids if pos[r] < pos[run_id]]

    def record(self, run_id: str) -> dict[str, Any]:
        rec = self.committed[run_id]
        if rec is None:
            rec = self.index.record(run_id) if self.index is not None else None
            if rec is None and self.storage is not None:  # a damaged line: the record file
                with contextlib.suppress(FileNotFoundError, ValueError):
                    rec = load_json(self.storage.read(f"{RECORDS}/{run_id}.json"))
            if not isinstance(rec, dict):
                rec = {"run_id": run_id, "timestamp": run_id}
            self.committed[run_id] = rec
        return rec

    def find(self, summary_sha: str, config_sha: str) -> str | None:
        """The latest committed run of this summary under this config, if any."""
        pos = self.positions()
        matches = [r for r in self.runs_of(summary_sha)
                   if self.record(r).get("config_sha256") == config_sha]
        return max(matches, key=pos.__getitem__) if matches else None

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
        if self.search is not None:  # older runs than a tail scan holds
            for older in self.search(summary_sha):
                rid = older["run_id"]
                if rid not in self.committed:
                    self.committed[rid] = older
                    self.positions()[rid] = int(older["seq"])
        for rid, rec in self.committed.items():
            if rec is not None and rec.get("summary_sha256") == summary_sha:
                found.add(rid)
        return [r for r in found if self.record(r).get("summary_sha256") == summary_sha]


def record_names(storage: Storage) -> set[str]:
    """Run ids with a record file in index.d/ (one regex over the whole listing)."""
    return set(_RECORD_NAME_RE.findall("\n".join(storage.names(RECORDS))))


def read_index(storage: Storage) -> bytes | None:
    try:
        return storage.read(INDEX)
    except FileNotFoundError:
        return None


def scan_archive(storage: Storage) -> Scan:
    """Committed runs = records in index.d/ minus tombstones; index.json saves reading
    each record, and the records it lacks are read and merged."""
    names = record_names(storage)
    index = _Index.parse(read_index(storage))
    committed: dict[str, dict[str, Any] | None] = {}
    tombstones: set[str] = set()
    if index is not None:
        # index.json is derived and may be edited: a line it marks abandoned is checked
        # against the record file, so a forged line can never hide a committed run
        listed = index.id_set & names
        doubtful = index.tombstones & names
        committed = dict.fromkeys(listed - doubtful)
        missing = sorted((names - listed) | doubtful)
    else:
        missing = sorted(names)
    unreadable: set[str] = set()
    got = storage.read_many(f"{RECORDS}/{r}.json" for r in missing)
    for rid in missing:
        rec = load_json_or_none(got.get(f"{RECORDS}/{rid}.json"))
        if not isinstance(rec, dict) or rec.get("run_id") != rid:
            unreadable.add(rid)
        elif rec.get("abandoned"):
            tombstones.add(rid)
        else:
            committed[rid] = rec
    return Scan(committed, tombstones, index, names, unreadable, storage)


# --- keeping index.json up to date ---------------------------------------------------------

def _merged_index(storage: Storage, known: Mapping[str, dict[str, Any]],
                  scan: Scan | None = None, *, listed: bool = True
                  ) -> tuple[list[bytes | memoryview] | None, set[str]]:
    """(index.json bytes with the records it lacks, or None when it lacks none;
    the committed run ids). Without a scan the records are listed afresh, unless `listed`
    is False: then the records wanted are `known` alone."""
    raw = read_index(storage)
    if scan is None and not listed:
        index = _Index.parse(raw)
        # a lost or damaged index.json is rebuilt from a listing (rare); else no listing
        names = set(known) if index is not None else record_names(storage) | set(known)
    elif scan is not None:
        names = scan.names | set(known)
        hint = scan.index
        index = hint if hint is not None and hint.raw == raw else _Index.parse(raw)
    else:
        names = record_names(storage)
        index = _Index.parse(raw)
    have = index.id_set if index is not None else set()
    if scan is None and listed and index is not None and not have <= names:  # removed by hand
        index, have = None, set()
    tombstones = set(index.tombstones) if index is not None else set()
    missing = sorted(names - have)
    got = storage.read_many(f"{RECORDS}/{r}.json" for r in missing if r not in known)
    new: dict[str, bytes] = {}
    for rid in missing:
        rec: Any = known.get(rid)
        if rec is None:
            rec = load_json_or_none(got.get(f"{RECORDS}/{rid}.json"))
        if isinstance(rec, dict) and rec.get("run_id") == rid:
            new[rid] = dump_line(index_record(rec))
            if rec.get("abandoned"):
                tombstones.add(rid)
    committed = (have | set(new)) - tombstones
    if index is None:
        return [index_bytes(new)], committed
    return (index.with_lines(new) if new else None), committed


def refresh_index(storage: Storage, known: Mapping[str, dict[str, Any]], scan: Scan) -> set[str]:
    data, committed = _merged_index(storage, known, scan)
    if data is not None:
        storage.replace(INDEX, data, durable=False)
    return committed


def refresh_index_remote(storage: Storage, known: Mapping[str, dict[str, Any]],
                         newest: Callable[[], Mapping[str, dict[str, Any]]] | None = None
                         ) -> None:
    """Without a lock: write, then re-read until index.json holds every record wanted (so
    the last writer to finish leaves it complete). Without `newest` (reindex) the records
    wanted are listed from index.d/ each time. A writer passes `newest`: the records of the
    log's newest entries, read again each time (a run committed since is among them), so
    nothing is listed: a listing of index.d/ costs O(runs) on an object store, the log's
    newest entries O(1). Older runs were added by their own writers, or by `reindex`."""
    for attempt in range(12):
        if newest is None:
            data, _ = _merged_index(storage, known)
        else:
            data, _ = _merged_index(storage, {**newest(), **known}, listed=False)
        if data is None:
            return
        storage.replace(INDEX, data)
        time.sleep(random.uniform(0.0, 0.02 * (attempt + 1)))
