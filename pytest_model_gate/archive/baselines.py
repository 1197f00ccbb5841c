"""Baseline values from the archive: per model, the median of its newest archived values.

Locally each model's bucket shard is read from its end, newest run first, so the cost follows
the window, not the size of the archive. Object stores have no shards: run documents are read
newest first until every model has its window.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import statistics
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pytest_model_gate.archive.index import scan_archive
from pytest_model_gate.archive.storage import LocalStorage, Storage
from pytest_model_gate.archive.views import (
    by_shard,
    documents,
    history_sources,
    model_entries,
    read_symbols,
    shard_batches_newest_first,
)
from pytest_model_gate.core.gating import BaselineValue


def baseline_values(storage: Storage, wanted: list[str], against: str, window: int,
                    metrics: Sequence[str], summary_sha256: str | None = None,
                    skipped: list[str] | None = None) -> dict[str, dict[str, BaselineValue]]:
    """Per model in `wanted`: its baseline values (see Archive.baseline_values,
    which checks the arguments)."""
    local = storage.local()
    if local is None:
        return _baselines_by_scan(storage, wanted, against, window, metrics, summary_sha256,
                                  skipped)
    cutoff = None
    if summary_sha256 is not None:
        cutoff = min(scan_archive(local).runs_of(summary_sha256), default=None)
    projected, docs = history_sources(local, skipped)
    doc_entries: dict[str, list[dict[str, Any]]] = {}
    for doc in docs.values():
        for e in model_entries(doc):
            doc_entries.setdefault(e["model_id"], []).append(e)
    for entries in doc_entries.values():
        entries.sort(key=_run_id, reverse=True)
    # every model of a projected run is in symbols.json: the others have no shard lines
    symbols = read_symbols(local) if projected else {}
    known = None if symbols is None else {m for ms in symbols.values() for m in ms}
    in_views = [m for m in wanted if known is None or m in known]
    out: dict[str, dict[str, BaselineValue]] = {}
    for key, models in by_shard(in_views).items():
        out.update(_bucket_baselines(local, key, models, projected, doc_entries, cutoff,
                                     against, window, metrics))
    return {m: out[m] if m in out else _collect(
        _stream([], doc_entries.get(m, []), None, cutoff), against, window, metrics) or {}
        for m in wanted}


def _run_id(e: Mapping[str, Any]) -> str:
    return str(e["run_id"])


def _stream(shard: list[dict[str, Any]], docs: list[dict[str, Any]], boundary: str | None,
            cutoff: str | None) -> Iterator[dict[str, Any]]:
    """Shard entries read so far merged with the documents' entries, newest first. Before
    the start of the shard is reached (boundary: the oldest run read) only documents newer
    than the boundary take part, so the stream is a prefix of the whole one."""
    if boundary is not None:
        docs = [e for e in docs if e["run_id"] > boundary]
    stream: Iterator[dict[str, Any]] = heapq.merge(shard, docs, key=_run_id, reverse=True)
    if cutoff is not None:
        stream = itertools.dropwhile(functools.partial(_at_or_after, cutoff), stream)
    return stream


def _bucket_baselines(storage: LocalStorage, key: str, models: list[str], projected: set[str],
                      doc_entries: Mapping[str, list[dict[str, Any]]], cutoff: str | None,
                      against: str, window: int, metrics: Sequence[str]
                      ) -> dict[str, dict[str, BaselineValue]]:
    """The baselines of the models of one bucket: its shard is read once from its end, and
    only until every one of them has its window."""
    read: dict[str, list[dict[str, Any]]] = {m: [] for m in models}
    out: dict[str, dict[str, BaselineValue]] = {}
    for entries, boundary in shard_batches_newest_first(storage, key, models, projected):
        for e in entries:
            read[e["model_id"]].append(e)
        if boundary is None:
            break
        for m in [m for m in models if m not in out]:
            values = _collect(_stream(read[m], doc_entries.get(m, []), boundary, cutoff),
                              against, window, metrics, partial=True)
            if values is not None:
                out[m] = values
        if len(out) == len(models):
            return out
    for m in models:
        if m not in out:
            out[m] = _collect(_stream(read[m], doc_entries.get(m, []), None, cutoff),
                              against, window, metrics) or {}
    return out


def _baselines_by_scan(storage: Storage, wanted: list[str], against: str, window: int,
                       metrics: Sequence[str], summary_sha256: str | None = None,
                       skipped: list[str] | None = None) -> dict[str, dict[str, BaselineValue]]:
    """Object stores: one pass over run documents, newest first, until all are found."""
    scan = scan_archive(storage)
    streams: dict[str, list[dict[str, Any]]] = {m: [] for m in wanted}
    done: dict[str, dict[str, BaselineValue]] = {}
    ids = list(reversed(scan.ids))
    if summary_sha256 is not None:
        cutoff = min(scan.runs_of(summary_sha256), default=None)
        if cutoff is not None:
            ids = [r for r in ids if r < cutoff]
    for i in range(0, len(ids), 16):
        batch = ids[i:i + 16]
        got = documents(storage, batch, skipped)
        for rid in batch:
            doc = got.get(rid)
            if doc is None:  # absent or damaged: skipped (named in `skipped`)
                continue
            for e in model_entries(doc):
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
