"""`history`: every archived (run, model) pair of a model or a symbol, in commit order.

Locally the models' bucket shards answer (lines in commit order, each with its run's `seq`),
plus the documents of the committed runs the shards do not cover yet. With `last=N` (the
newest N runs) each bucket is read from its end and only as far back as N runs of the
wanted models; object stores have no shards: documents are read newest first (the log's
tail, then older runs only if fewer than N were found). Object stores hold the
checkpointed runs' rows in segments (`segments`): a model's bucket, O(log n) objects, newest
first, plus the documents of the runs since the checkpoint. Without `last` every run is read:
the answer is one entry per run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pytest_model_gate.archive.log import CommitLog, newest_first, read_log
from pytest_model_gate.archive.segments import segment_entries, symbol_models
from pytest_model_gate.archive.storage import Storage
from pytest_model_gate.archive.views import (
    Projected,
    by_shard,
    coverage,
    documents,
    model_entries,
    read_symbols,
    shard_batches_newest_first,
    shard_entries,
    symbols_from_shards,
)

BATCH = 16  # documents read at once on the newest-first path


def history_entries(storage: Storage, *, model_id: str | None = None,
                    symbol: str | None = None, last: int | None = None,
                    skipped: list[str] | None = None) -> list[dict[str, Any]]:
    """Shard-line shaped entries of a model (or of every model of a symbol), one per
    (run, model), oldest run first; with `last`, of the newest `last` runs that hold one."""
    log = read_log(storage, tail=True)  # older runs: shards or segments (or read later)
    projected: Projected | None = None
    uncovered: list[dict[str, Any]] = []
    local = storage.local()
    if local is not None and log.next_seq > 0:
        projected, uncovered = coverage(storage, log)
    if local is None and log.checkpoint is not None:
        entries = _from_segments(storage, log, model_id, symbol, last, skipped)
    elif local is None or projected is None:
        entries = _from_documents(storage, log, model_id, symbol, last, skipped)
    else:
        if model_id is not None:
            models = [model_id]
        else:
            symbols = read_symbols(local)
            if symbols is None:
                symbols = symbols_from_shards(local)
            models = symbols.get(str(symbol), [])
        entries = []
        docs = documents(storage, [r["run_id"] for r in uncovered], skipped)
        for rec in uncovered:
            doc = docs.get(rec["run_id"])
            if doc is not None:
                entries += _matching(model_entries(doc, int(rec["seq"])), model_id, symbol)
        if last is None:
            entries += shard_entries(local, models, projected)
        else:
            for key, group in by_shard(dict.fromkeys(models)).items():
                entries += _newest_runs_of_bucket(local, key, group, projected, last)
        entries = _matching(entries, model_id, symbol)
    pruned = log.pruned()  # views or segments written before a prune still hold its runs
    entries = [e for e in entries if e["run_id"] not in pruned]
    entries.sort(key=lambda e: (e["seq"], e.get("i", 0)))
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for e in entries:
        pair = (e["run_id"], e["model_id"])
        if pair not in seen:
            seen.add(pair)
            out.append(e)
    if last is not None:
        keep = set(_newest_seqs(out, last))
        out = [e for e in out if e["seq"] in keep]
    return out


def _matching(entries: list[dict[str, Any]], model_id: str | None, symbol: str | None
              ) -> list[dict[str, Any]]:
    return [e for e in entries if (model_id is None or e["model_id"] == model_id)
            and (symbol is None or e["symbol"] == symbol)]


def _newest_seqs(entries: list[dict[str, Any]], n: int) -> list[int]:
    return sorted({e["seq"] for e in entries}, reverse=True)[:max(n, 0)]


def _newest_runs_of_bucket(storage: Any, key: str, models: list[str], projected: Projected,
                           last: int) -> list[dict[str, Any]]:
    """A bucket's entries of these models, read from its end until `last` runs are complete
    (every line above the read boundary is read)."""
    out: list[dict[str, Any]] = []
    for entries, boundary in shard_batches_newest_first(storage, key, models, projected):
        out += entries
        if boundary is not None and len({e["seq"] for e in out if e["seq"] > boundary}) >= last:
            break
    return out


def _from_documents(storage: Storage, log: CommitLog, model_id: str | None,
                    symbol: str | None, last: int | None, skipped: list[str] | None
                    ) -> list[dict[str, Any]]:
    """Run documents newest first, until `last` runs hold a wanted entry (all without)."""
    records: Iterator[dict[str, Any]] = newest_first(storage, log)
    entries: list[dict[str, Any]] = []
    runs = 0
    size = BATCH if last is not None else 1 << 30  # without `last`: every run, at once
    while last is None or runs < last:
        batch = [r for _, r in zip(range(size), records, strict=False)]
        if not batch:
            break
        got = documents(storage, [r["run_id"] for r in batch], skipped)
        for rec in batch:
            doc = got.get(rec["run_id"])
            if doc is None:
                continue
            found = _matching(model_entries(doc, int(rec["seq"])), model_id, symbol)
            if found:
                entries += found
                runs += 1
    return entries


def _from_segments(storage: Storage, log: CommitLog, model_id: str | None,
                   symbol: str | None, last: int | None, skipped: list[str] | None
                   ) -> list[dict[str, Any]]:
    """Object stores: the documents of the runs after the log's checkpoint, then the rows of
    the checkpointed runs from their segments, newest first (until `last` runs)."""
    checkpoint = log.checkpoint
    assert checkpoint is not None
    models = [model_id] if model_id is not None else \
        symbol_models(storage, str(symbol), checkpoint)
    if models is None:  # a segment's symbols missing or damaged: the documents
        return _from_documents(storage, log, model_id, symbol, last, skipped)
    after = [r for r in log.records() if int(r["seq"]) > checkpoint]
    docs = documents(storage, [r["run_id"] for r in after], skipped)
    entries: list[dict[str, Any]] = []
    for rec in after:
        doc = docs.get(rec["run_id"])
        if doc is not None:
            entries += _matching(model_entries(doc, int(rec["seq"])), model_id, symbol)
    runs = len({e["seq"] for e in entries})

    def runs_of(first: int, end: int) -> list[dict[str, Any]]:
        source = log if log.complete or first >= log.start else log.full(storage)
        return [r for r in source.records() if first <= int(r["seq"]) < end]

    if last is not None and runs >= last:
        return entries
    for got, _first in segment_entries(storage, models, checkpoint, runs_of):
        found = _matching(got, model_id, symbol)
        entries += found
        runs += len({e["seq"] for e in found})
        if last is not None and runs >= last:
            break
    return entries
