"""Per-model rows on object stores: bucketed segments of the checkpointed runs.

    views/v3/segments/{bucket}/{level:02d}-{first:020d}.jsonl   the bucket's rows
    views/v3/segments/symbols/{level:02d}-{first:020d}.json    symbol -> model ids in them

Object stores cannot append, so the local shards (`views`) have no place there. Instead the
writer of each checkpoint (every SPAN commits) writes, per bucket, one segment holding the
shard lines (views format 3: one per (run, model) of the bucket's models, with the run's seq,
in commit order) of exactly the SPAN runs that checkpoint added: level 0, runs
[first, first + SPAN). When that completes a pair of segments of one level, it writes their
merge one level up (runs [first, first + SPAN * 2**level)), as an LSM tree does: the runs of
the newest checkpoint are covered by one segment per set bit of (checkpoint + 1) / SPAN, so a
model's rows are O(log n) objects (its bucket's segments) plus the documents of the runs
since the checkpoint.

Every segment is written create-only and complete (a conditional PUT), before the hint points
readers at its checkpoint. Segments are derived: a missing or damaged one (a writer killed
before it, a line out of its range) makes readers read the documents of its runs (or its two
halves one level down), slower, never wrong.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest_model_gate.archive.log as commit_log
from pytest_model_gate.archive.index import RUN_ID_RE, dump_line, load_json_or_none
from pytest_model_gate.archive.log import CommitLog
from pytest_model_gate.archive.storage import Storage
from pytest_model_gate.archive.views import (
    SHARD_COUNT,
    VIEWS,
    complete_lines,
    documents,
    model_entries,
    parse_lines,
    shard_key,
)

SEGMENTS = f"{VIEWS}/segments"


def span() -> int:
    """Runs in a level-0 segment: one checkpoint's worth."""
    return commit_log.CHECKPOINT_EVERY


def segment_key(bucket: str, level: int, first: int) -> str:
    return f"{SEGMENTS}/{bucket}/{level:02d}-{first:020d}.jsonl"


def symbols_key(level: int, first: int) -> str:
    return f"{SEGMENTS}/symbols/{level:02d}-{first:020d}.json"


def bucket_of(model_id: str) -> str:
    """The bucket name of a model (the shard file's stem)."""
    return shard_key(model_id).rsplit("/", 1)[1].split(".", 1)[0]


def _all_buckets() -> list[str]:
    return [f"{b:02x}" for b in range(SHARD_COUNT)]


# --- writing (the checkpoint's writer, before the hint) -------------------------------------

def write_segments(storage: Storage, log: CommitLog, checkpoint: int) -> None:
    """The level-0 segments of the runs checkpoint `checkpoint` added, then the merges they
    complete. `log` holds every entry up to the checkpoint."""
    size = span()
    first = checkpoint + 1 - size
    if first < 0 or (checkpoint + 1) % size:
        return
    records = [r for r in log.records() if first <= int(r["seq"]) <= checkpoint]
    _write_level(storage, 0, first, _lines_from_documents(storage, records))
    level, block = 0, first // size
    while block % 2 == 1:  # this block completes a pair: merge it with its left neighbour
        width = size << level
        left = first - width
        merged: dict[str, list[bytes]] = {}
        for start in (left, first):
            got = _read_level(storage, level, start, _all_buckets())
            if got is None:  # a half is missing or damaged: from its documents
                got = _lines_from_documents(storage, [
                    r for r in log.records() if start <= int(r["seq"]) < start + width])
            for bucket, lines in got.items():
                merged.setdefault(bucket, []).extend(lines)
        level, first, block = level + 1, left, block // 2
        _write_level(storage, level, first, merged)


def _lines_from_documents(storage: Storage, records: Sequence[Mapping[str, Any]]
                          ) -> dict[str, list[bytes]]:
    docs = documents(storage, [r["run_id"] for r in records])
    out: dict[str, list[bytes]] = {b: [] for b in _all_buckets()}
    for rec in records:
        doc = docs.get(rec["run_id"])
        if doc is None:  # absent or damaged: no rows (readers skip it as documents do)
            continue
        for e in model_entries(doc, int(rec["seq"])):
            out[bucket_of(e["model_id"])].append(dump_line(e))
    return out


def _write_level(storage: Storage, level: int, first: int,
                 lines: Mapping[str, list[bytes]], *, replace: bool = False) -> None:
    """Every bucket's segment (empty ones too: a missing one means "not written"), then the
    symbols of the range (the last: its presence says the level is complete)."""
    symbols: dict[str, dict[str, None]] = {}
    for bucket in _all_buckets():
        rows = lines.get(bucket, [])
        for e in parse_lines(rows):
            symbols.setdefault(str(e.get("symbol")), {})[str(e.get("model_id"))] = None
        _put(storage, segment_key(bucket, level, first),
             b"".join(line + b"\n" for line in rows), replace)
    body = dump_line({"symbols": {k: list(v) for k, v in symbols.items()}}) + b"\n"
    _put(storage, symbols_key(level, first), body, replace)


def _put(storage: Storage, key: str, data: bytes, replace: bool) -> None:
    """Create-only (a checkpoint's writer: the first of two racing writers wins, with the
    same rows); `reindex` replaces a damaged one."""
    if replace:
        storage.replace(key, data)
        return
    with contextlib.suppress(FileExistsError):
        storage.create(key, data)


def _read_level(storage: Storage, level: int, first: int, buckets: Sequence[str]
                ) -> dict[str, list[bytes]] | None:
    """The lines of these buckets' segments at (level, first); None when one is missing
    or damaged."""
    keys = {segment_key(b, level, first): b for b in buckets}
    got = storage.read_many(keys)
    out: dict[str, list[bytes]] = {}
    last = first + (span() << level) - 1
    for key, bucket in keys.items():
        data = got.get(key)
        if data is None or (data and not data.endswith(b"\n")):
            return None
        lines = complete_lines(data)
        if not _valid(lines, first, last):
            return None
        out[bucket] = lines
    return out


def _valid(lines: list[bytes], first: int, last: int) -> bool:
    """Every line parses, in commit order, within the segment's runs."""
    entries = parse_lines(lines)
    if len(entries) != len(lines):
        return False
    prev = first
    for e in entries:
        seq = e.get("seq")
        if not isinstance(seq, int) or not prev <= seq <= last \
                or not isinstance(e.get("model_id"), str) \
                or not RUN_ID_RE.match(str(e.get("run_id"))):
            return False
        prev = seq
    return True


def repair_segments(storage: Storage, log: CommitLog) -> None:
    """`reindex` on an object store: segments holding a pruned run are removed, and those
    readers use (covering the newest checkpoint) are rewritten from the documents where
    missing or damaged. `log` holds every entry."""
    pruned = log.pruned()
    size = span()
    top = max(1, (log.next_seq // size).bit_length() + 1)
    for rec in log.entries:
        if rec is None or rec.get("run_id") not in pruned:
            continue
        for level in range(top):
            width = size << level
            first = int(rec["seq"]) // width * width
            for bucket in _all_buckets():
                storage.delete(segment_key(bucket, level, first))
            storage.delete(symbols_key(level, first))
    if log.checkpoint is None:
        return
    records = log.records()
    for level, first in covering(log.checkpoint):
        if _read_level(storage, level, first, _all_buckets()) is not None \
                and storage.exists(symbols_key(level, first)):
            continue
        end = first + (size << level)
        lines = _lines_from_documents(storage, [r for r in records
                                                if first <= int(r["seq"]) < end])
        _write_level(storage, level, first, lines, replace=True)


# --- reading --------------------------------------------------------------------------------

def covering(checkpoint: int | None) -> list[tuple[int, int]]:
    """(level, first) of the segments that cover runs 0..checkpoint, newest first."""
    if checkpoint is None:
        return []
    blocks = (checkpoint + 1) // span()
    out = []
    pos = 0
    for level in range(blocks.bit_length() - 1, -1, -1):
        if blocks >> level & 1:
            out.append((level, pos * span()))
            pos += 1 << level
    out.reverse()
    return out


def symbol_models(storage: Storage, symbol: str, checkpoint: int | None) -> list[str] | None:
    """The model ids of a symbol in the runs 0..checkpoint; None when a segment's symbols
    are missing or damaged (then: documents)."""
    keys = [symbols_key(level, first) for level, first in covering(checkpoint)]
    got = storage.read_many(keys) if keys else {}
    out: dict[str, None] = {}
    for key in keys:
        obj = load_json_or_none(got.get(key))
        symbols = obj.get("symbols") if isinstance(obj, dict) else None
        if not isinstance(symbols, dict):
            return None
        models = symbols.get(symbol, [])
        if not isinstance(models, list):
            return None
        out.update(dict.fromkeys(str(m) for m in models))
    return list(out)


RunsOf = Callable[[int, int], list[dict[str, Any]]]
"""(first, end) -> the log records of the runs first <= seq < end."""


def segment_entries(storage: Storage, model_ids: Sequence[str], checkpoint: int | None,
                    runs_of: RunsOf) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """The entries of these models in the segments covering runs 0..checkpoint, newest
    segment first: (entries, the first seq it covers). A missing or damaged segment is
    replaced by the documents of its runs (`runs_of(first, end)`: their log records)."""
    wanted = set(model_ids)
    buckets = sorted({bucket_of(m) for m in wanted})
    for level, first in covering(checkpoint):
        yield _covered(storage, buckets, wanted, level, first, runs_of), first


def _covered(storage: Storage, buckets: list[str], wanted: set[str], level: int, first: int,
             runs_of: RunsOf) -> list[dict[str, Any]]:
    got = _read_level(storage, level, first, buckets)
    if got is not None:
        lines = [ln for b in buckets for ln in got[b]]
        return [e for e in parse_lines(lines) if e.get("model_id") in wanted]
    if level > 0:  # its two halves, one level down
        half = span() << (level - 1)
        return (_covered(storage, buckets, wanted, level - 1, first, runs_of)
                + _covered(storage, buckets, wanted, level - 1, first + half, runs_of))
    records = runs_of(first, first + span())
    docs = documents(storage, [r["run_id"] for r in records])
    out = []
    for rec in records:
        doc = docs.get(rec["run_id"])
        if doc is not None:
            out += [e for e in model_entries(doc, int(rec["seq"])) if e["model_id"] in wanted]
    return out
