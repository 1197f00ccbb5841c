"""The commit log: the order of runs, fixed by create-only sequence numbers, never by clocks.

    log/00000000000000000042.json             one committed run (its record, with "seq": 42)
    log/00000000000000000063.checkpoint.json  every record of entries 0..63, in order
    log/_last_checkpoint.json                 a hint: the newest checkpoint's number and
                                              the records of its newest TAIL runs

A writer that finished its run (files, then its commit record in index.d/) appends it: it
creates the entry after the last one it read (put-if-absent: `create`), and on a conflict reads
that entry and tries the next number, as Delta Lake's log does. No writer's clock takes part,
so "latest", "previous", baselines and the re-run cutoff follow the commit order.

Every CHECKPOINT_EVERY-th entry's writer also writes a checkpoint covering the exact prefix
0..seq (it has read every entry before its own) and points the hint at it. A reader reads the
hint, the checkpoint and the entries after it: a constant number of objects however many runs
the archive holds. The hint and checkpoints are derived: a missing or damaged one only costs
reads (readers fall back to an older checkpoint, or to entry 0).

A prune (`model-gate prune`) is an entry too, of kind "prune": the run ids it removes, its
reason and time, at the next number. Every reader drops those runs from then on (a prune entry
comes after every run it names, so any suffix of the log that holds a pruned run holds its
prune entry).

Most readers want only the newest runs (latest, previous, approved, an append): they read the
log's *tail* (`read_log(storage, tail=True)`): the hint's records plus the entries after its
checkpoint, never the full checkpoint. What needs older runs asks for them: `find_summary`
searches the checkpoint's bytes for a summary digest (one record per line, only matching lines
parsed), and `full()` reads the whole log.

Archives written before the log (records in index.d/ only) are migrated by the first writer or
`reindex`: their committed runs become entries 0..n-1 in run-id order (their old order). The
same order from every migrator makes concurrent migrations agree entry by entry.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_model_gate.archive.index import (
    RUN_ID_RE,
    Scan,
    dump_line,
    load_json_or_none,
    scan_archive,
)
from pytest_model_gate.archive.storage import Storage

LOG = "log"
HINT = f"{LOG}/_last_checkpoint.json"
CHECKPOINT_EVERY = 32
TAIL = 64  # records the hint carries: more than HISTORY_DOCS, and two checkpoints' worth
PROBE_BATCH = 8  # entries read at once while looking for the end of the log
_WIDTH = 20
_CHECKPOINT_RE = re.compile(r"^(\d{20})\.checkpoint\.json$")
PRUNE = "prune"  # the `kind` of a prune entry (run entries have none)


def entry_key(seq: int) -> str:
    return f"{LOG}/{seq:0{_WIDTH}d}.json"


def checkpoint_key(seq: int) -> str:
    return f"{LOG}/{seq:0{_WIDTH}d}.checkpoint.json"


def _record(obj: Any, seq: int) -> dict[str, Any] | None:
    """A log entry's record when well formed (a damaged entry still holds its number)."""
    if isinstance(obj, dict) and obj.get("kind") == PRUNE:
        ids = obj.get("run_ids")
        if not isinstance(ids, list) or not all(isinstance(r, str) and RUN_ID_RE.match(r)
                                                 for r in ids):
            return None
        obj["seq"] = seq
        return obj
    if not isinstance(obj, dict) or not isinstance(obj.get("run_id"), str) \
            or not RUN_ID_RE.match(obj["run_id"]):
        return None
    obj["seq"] = seq
    return obj


@dataclass
class CommitLog:
    """The log as read: entries start.. in order (None for a damaged one) and the next number.

    A full read has start 0. A tail read (`read_log(..., tail=True)`) starts at the hint's
    oldest record; `complete` says whether older runs exist at all."""

    entries: list[dict[str, Any] | None] = field(default_factory=list)
    checkpoint: int | None = None  # the newest checkpoint read (its seq)
    start: int = 0
    complete: bool = True  # no run before `start` (always so when start == 0)

    @property
    def next_seq(self) -> int:
        return self.start + len(self.entries)

    def add(self, seq: int, record: dict[str, Any] | None) -> None:
        while self.next_seq < seq:  # never happens: numbers are taken in order
            self.entries.append(None)
        if seq == self.next_seq:
            self.entries.append(record)

    def records(self) -> list[dict[str, Any]]:
        """One record per committed run, in commit order (a run appended twice, by its writer
        and by a `reindex` that adopted it, counts at its first entry); pruned runs left out."""
        seen = self.pruned()
        out = []
        for rec in self.entries:
            if rec is not None and rec.get("kind") != PRUNE and rec["run_id"] not in seen:
                seen.add(rec["run_id"])
                out.append(rec)
        return out

    def pruned(self) -> set[str]:
        """Run ids removed by the prune entries read."""
        return {r for rec in self.entries if rec is not None and rec.get("kind") == PRUNE
                for r in rec["run_ids"]}

    def positions(self) -> dict[str, int]:
        """run id -> its commit sequence number."""
        return {rec["run_id"]: rec["seq"] for rec in self.records()}

    def full(self, storage: Storage) -> CommitLog:
        """This log with every entry (itself when it has them; else read whole, once)."""
        if self.start == 0:
            return self
        whole = read_log(storage)
        self.entries, self.start, self.complete = whole.entries, 0, True
        self.checkpoint = whole.checkpoint
        return self

    def find_summary(self, storage: Storage, summary_sha: str) -> list[dict[str, Any]]:
        """The records of runs of this summary older than the tail (none for a full log):
        the checkpoint's lines holding its digest, parsed alone."""
        if self.complete or self.start == 0:
            return []
        raw = _read(storage, checkpoint_key(self.checkpoint)) \
            if self.checkpoint is not None else None
        needle = f'"summary_sha256": "{summary_sha}"'.encode()
        if raw is None or not raw.startswith(_CHECKPOINT_HEAD):
            # not in the one-record-per-line form (or lost): every record, the slow way
            return [r for r in self.full(storage).records()
                    if r.get("summary_sha256") == summary_sha]
        out = []
        pruned = self.pruned() | _pruned_in(raw)
        pos = raw.find(needle)
        while pos != -1:
            start = raw.rfind(b"\n", 0, pos) + 1
            end = raw.find(b"\n", pos)
            line = raw[start:end if end != -1 else len(raw)].rstrip(b",")
            obj = load_json_or_none(line)
            seq = obj.get("seq") if isinstance(obj, dict) else None
            if isinstance(seq, int) and seq < self.start:
                rec = _record(obj, seq)
                if rec is not None and rec.get("summary_sha256") == summary_sha \
                        and rec["run_id"] not in pruned:
                    out.append(rec)
            pos = raw.find(needle, end if end != -1 else len(raw))
        return out


_PRUNE_NEEDLE = b'{"kind": "prune", '


def _pruned_in(raw: bytes) -> set[str]:
    """The run ids of the prune entries of a checkpoint's bytes (their lines parsed alone)."""
    out: set[str] = set()
    pos = raw.find(_PRUNE_NEEDLE)
    while pos != -1:
        end = raw.find(b"\n", pos)
        obj = load_json_or_none(raw[pos:end if end != -1 else len(raw)].rstrip(b","))
        ids = obj.get("run_ids") if isinstance(obj, dict) else None
        if isinstance(ids, list):
            out.update(r for r in ids if isinstance(r, str))
        pos = raw.find(_PRUNE_NEEDLE, end if end != -1 else len(raw))
    return out


def read_log(storage: Storage, *, tail: bool = False) -> CommitLog:
    """The whole log: the newest checkpoint (by the hint), then the entries after it. With
    tail=True only the hint's newest records and the entries after its checkpoint (the whole
    log when the hint carries no records)."""
    log = CommitLog()
    hint = load_json_or_none(_read(storage, HINT))
    start = _from_hint(hint, log) if tail else None
    if start is None:
        start = _from_checkpoint(storage, log, hint)
    _read_tail(storage, log, start)
    return log


def _from_hint(hint: Any, log: CommitLog) -> int | None:
    """Load the hint's records (the newest runs up to its checkpoint); None when it has
    none usable (then the checkpoint is read)."""
    if not isinstance(hint, dict):
        return None
    seq, runs, tail = hint.get("seq"), hint.get("runs"), hint.get("tail")
    if not isinstance(seq, int) or not isinstance(runs, int) or not isinstance(tail, list) \
            or not tail or len(tail) > runs:
        return None
    records = []
    last = -1
    for obj in tail:
        n = obj.get("seq") if isinstance(obj, dict) else None
        rec = _record(obj, n) if isinstance(n, int) and last < n <= seq else None
        if rec is None or not isinstance(n, int):
            return None
        records.append(rec)
        last = n
    log.start = records[0]["seq"]
    for rec in records:
        log.add(rec["seq"], rec)
    while log.next_seq <= seq:  # entries between the tail's runs: duplicates, or damaged
        log.entries.append(None)
    log.checkpoint = seq
    log.complete = runs == len(records)
    return seq + 1


def _from_checkpoint(storage: Storage, log: CommitLog, hint: Any) -> int:
    seq = hint.get("seq") if isinstance(hint, dict) else None
    candidates: list[int] = []
    if isinstance(seq, int) and seq >= 0:
        candidates.append(seq)
    for seq in candidates:
        if _load_checkpoint(storage, log, seq):
            return seq + 1
    # no usable hint: the newest readable checkpoint in a listing (rare: a lost hint)
    listed = sorted((int(m.group(1)) for m in map(_CHECKPOINT_RE.match, storage.names(LOG))
                     if m), reverse=True)
    for seq in listed:
        if _load_checkpoint(storage, log, seq):
            return seq + 1
    return 0


_CHECKPOINT_HEAD = b'{"seq": '


def _load_checkpoint(storage: Storage, log: CommitLog, seq: int) -> bool:
    obj = load_json_or_none(_read(storage, checkpoint_key(seq)))
    if not isinstance(obj, dict) or obj.get("seq") != seq:
        return False
    records = obj.get("records")
    if not isinstance(records, list) or len(records) != seq + 1:
        return False
    log.entries = [_record(r, i) for i, r in enumerate(records)]
    log.checkpoint = seq
    return True


def _read(storage: Storage, key: str) -> bytes | None:
    try:
        return storage.read(key)
    except FileNotFoundError:
        return None


def _read_tail(storage: Storage, log: CommitLog, start: int) -> None:
    """Entries start, start+1, ... until the first that does not exist (read a few at once)."""
    seq = start
    step = 1 if storage.local() is not None else PROBE_BATCH  # no round trips locally
    while True:
        batch = [entry_key(s) for s in range(seq, seq + step)]
        got = storage.read_many(batch)
        for i, key in enumerate(batch):
            data = got.get(key)
            if data is None:
                return
            log.add(seq + i, _record(load_json_or_none(data), seq + i))
        seq += step


def catch_up(storage: Storage, log: CommitLog) -> None:
    """Read the entries written since `log` was read (another writer's; usually none)."""
    _read_tail(storage, log, log.next_seq)


Derive = Callable[[Storage, "CommitLog", int], None]
"""Derived objects of a checkpoint (object-store segments), written after the checkpoint and
before the hint points readers at it."""


def append(storage: Storage, log: CommitLog, record: Mapping[str, Any],
           derive: Derive | None = None) -> int:
    """Append a run's record after the last entry read; on a conflict read the entry that won
    and try the next number. Returns the run's sequence number (the earlier entry when a
    `reindex` adopted the run meanwhile). `log` is brought up to date on the way."""
    run_id = record["run_id"]
    return _put_next(storage, log, dict(record), derive, run_id=run_id)


def append_prune(storage: Storage, log: CommitLog, run_ids: Iterable[str], reason: str,
                 created: str) -> int:
    """Append a prune entry (these runs are removed from then on) at the next number, as
    `append` does; returns its number."""
    body: dict[str, Any] = {"kind": PRUNE, "run_ids": sorted(run_ids), "reason": reason,
                            "created": created}
    return _put_next(storage, log, body, None)


def _put_next(storage: Storage, log: CommitLog, body: dict[str, Any], derive: Derive | None,
              *, run_id: str | None = None) -> int:
    """Put `body` at the next free number (put-if-absent); on a conflict read the entry that
    won and try the next. With `run_id`: that run's entry already read wins instead."""
    while True:
        # the entries we have not seen yet (another writer's) come first
        _read_tail(storage, log, log.next_seq)
        if run_id is not None:
            for rec in log.entries:
                if rec is not None and rec.get("run_id") == run_id:
                    return int(rec["seq"])
        seq = log.next_seq
        body["seq"] = seq
        try:
            storage.create(entry_key(seq), dump_line(body) + b"\n")
        except FileExistsError:
            # another writer took this number: read its entry (by name: a bulk read may
            # leave out a key it failed to fetch) and try the next number
            with contextlib.suppress(FileNotFoundError):
                log.add(seq, _record(load_json_or_none(storage.read(entry_key(seq))), seq))
            if log.next_seq == seq:
                log.add(seq, None)  # unreadable: it still holds its number
            continue
        log.add(seq, body)
        if (seq + 1) % CHECKPOINT_EVERY == 0:
            with contextlib.suppress(Exception):  # derived: readers fall back to entries
                write_checkpoint(storage, log, seq, derive)
        return seq


def write_checkpoint(storage: Storage, log: CommitLog, seq: int,
                     derive: Derive | None = None) -> None:
    """A checkpoint of entries 0..seq, then the hint pointing at it with the newest TAIL
    records. A writer that read only the tail reads the whole log first (one append in
    CHECKPOINT_EVERY pays that)."""
    log = log.full(storage)
    if len(log.entries) <= seq:
        return
    prefix = CommitLog(entries=log.entries[:seq + 1])
    records = [dict(r) if r is not None else {} for r in prefix.entries]
    # one record per line: `find_summary` parses only the lines it needs
    body = b",\n".join(dump_line(r) for r in records)
    data = _CHECKPOINT_HEAD + str(seq).encode() + b', "records": [\n' + body + b"\n]}\n"
    with contextlib.suppress(FileExistsError):
        storage.create(checkpoint_key(seq), data)
    if derive is not None:
        with contextlib.suppress(Exception):  # derived: readers fall back to documents
            derive(storage, log, seq)
    hint = load_json_or_none(_read(storage, HINT))
    old = hint.get("seq") if isinstance(hint, dict) else None
    if not isinstance(old, int) or old < seq:
        live = prefix.records()
        storage.replace(HINT, dump_line({"seq": seq, "runs": len(live),
                                         "tail": live[-TAIL:]}) + b"\n")


def migrate(storage: Storage, log: CommitLog, records: Iterable[Mapping[str, Any]]) -> None:
    """Append committed runs the log lacks (an archive from before the log, or runs whose
    writer died between its commit record and its entry), in run-id order."""
    log = log.full(storage)
    have = set(log.positions()) | log.pruned()  # a pruned run is never adopted again
    for rec in sorted(records, key=lambda r: str(r["run_id"])):
        if rec["run_id"] not in have:
            append(storage, log, {k: v for k, v in rec.items() if k != "seq"})


def newest_first(storage: Storage, log: CommitLog) -> Iterator[dict[str, Any]]:
    """The committed runs' records, newest first: the log's own, then (read only when asked
    for more) those older than a tail log holds. An archive from before the log: its
    committed runs in run-id order, numbered."""
    records = log.records()
    if not records and log.next_seq == 0:
        scan = scan_archive(storage)
        yield from ({"run_id": r, "seq": i} for i, r in reversed(list(enumerate(scan.ids))))
        return
    yield from reversed(records)
    if not log.complete:
        oldest = records[0]["seq"] if records else log.next_seq
        seen = {r["run_id"] for r in records}
        for rec in reversed(read_log(storage).records()):
            if rec["seq"] < oldest and rec["run_id"] not in seen:
                yield rec


def log_scan(storage: Storage, log: CommitLog | None = None) -> Scan:
    """What the archive holds, in commit order: the log's runs; an archive from before the
    log (no entry yet) is read from its commit records, in run-id order, until migrated.
    From a tail log the scan holds the newest runs (`complete` False when older ones exist;
    a summary's older runs are still found, through the checkpoint)."""
    log = read_log(storage) if log is None else log
    records = log.records()
    if not records and not log.complete:
        records = log.full(storage).records()
    if not records:
        return scan_archive(storage)
    committed: dict[str, dict[str, Any] | None] = {r["run_id"]: r for r in records}
    tail = log

    def search(summary_sha: str) -> list[dict[str, Any]]:
        return tail.find_summary(storage, summary_sha)

    return Scan(committed, set(), None, set(committed), set(), storage,
                order=[r["run_id"] for r in records],
                seqs={r["run_id"]: int(r["seq"]) for r in records},
                complete=log.complete, search=None if log.complete else search)
