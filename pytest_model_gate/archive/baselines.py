"""Baseline values from the archive: per model, the median of its newest archived values.

"Newest" is the commit order of the log (never a writer's clock). Locally each model's bucket
shard is read from its end (lines are in commit order) until every model has its window, and
the runs the shards do not cover yet are read from their documents; object stores have no
shards: run documents are read newest first (the log's tail, then older runs only if a window
is still open) until every model has its window.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pytest_model_gate.archive.log import log_scan, newest_first, read_log
from pytest_model_gate.archive.storage import Storage
from pytest_model_gate.archive.views import (
    by_shard,
    coverage,
    documents,
    model_entries,
    read_symbols,
    shard_batches_newest_first,
)
from pytest_model_gate.core.gating import BaselineValue


def baseline_values(storage: Storage, wanted: list[str], against: str, window: int,
                    metrics: Sequence[str], summary_sha256: str | None = None,
                    skipped: list[str] | None = None) -> dict[str, dict[str, BaselineValue]]:
    """Per model in `wanted`: its baseline values (see Archive.baseline_values,
    which checks the arguments). Runs are taken newest first in commit order."""
    log = read_log(storage, tail=True)
    scan = log_scan(storage, log)
    cutoff = scan.first_position(summary_sha256) if summary_sha256 is not None else None
    local = storage.local()
    projected = None
    if local is not None and log.next_seq > 0:
        projected, uncovered = coverage(storage, log)
    if local is None or projected is None:
        return _scan_documents(storage, newest_first(storage, log), wanted, against, window,
                               metrics, cutoff, skipped)
    found: dict[str, list[dict[str, Any]]] = {m: [] for m in wanted}
    if uncovered:
        docs = documents(storage, [r["run_id"] for r in uncovered], skipped)
        for rec in uncovered:
            doc = docs.get(rec["run_id"])
            if doc is None or (cutoff is not None and rec["seq"] >= cutoff):
                continue
            for e in model_entries(doc, int(rec["seq"])):
                if e["model_id"] in found:
                    found[e["model_id"]].append(e)
    # every model of a projected run is in symbols.json: the others have no shard lines
    symbols = read_symbols(local)
    known = None if symbols is None else {m for ms in symbols.values() for m in ms}
    in_views = [m for m in wanted if known is None or m in known]
    pruned = log.pruned()  # views written before a prune still hold its runs
    for key, models in by_shard(in_views).items():
        for entries, boundary in shard_batches_newest_first(local, key, models, projected):
            for e in entries:
                if (cutoff is None or e["seq"] < cutoff) and e["run_id"] not in pruned:
                    found[e["model_id"]].append(e)
            if boundary is not None and all(
                    _collect(_newest(found[m], above=boundary), against, window, metrics,
                             partial=True) is not None for m in models):
                break  # every older line is below the boundary: the windows are full
    return {m: _collect(_newest(found[m]), against, window, metrics) or {} for m in wanted}


def _newest(entries: Iterable[dict[str, Any]], above: int | None = None
            ) -> Iterator[dict[str, Any]]:
    """Entries newest commit first (only those with seq above `above`, when given)."""
    keep = [e for e in entries if above is None or e["seq"] > above]
    keep.sort(key=lambda e: e["seq"], reverse=True)
    return iter(keep)


def _baselines_by_scan(storage: Storage, wanted: list[str], against: str, window: int,
                       metrics: Sequence[str], summary_sha256: str | None = None,
                       skipped: list[str] | None = None) -> dict[str, dict[str, BaselineValue]]:
    """From run documents alone, the whole log read (the reference for the views)."""
    log = read_log(storage)
    scan = log_scan(storage, log)
    cutoff = scan.first_position(summary_sha256) if summary_sha256 is not None else None
    return _scan_documents(storage, newest_first(storage, log), wanted, against, window,
                           metrics, cutoff, skipped)


def _scan_documents(storage: Storage, records: Iterator[dict[str, Any]], wanted: list[str],
                    against: str, window: int, metrics: Sequence[str], cutoff: int | None,
                    skipped: list[str] | None = None) -> dict[str, dict[str, BaselineValue]]:
    """Run documents newest first (commit order), until every model has its window."""
    streams: dict[str, list[dict[str, Any]]] = {m: [] for m in wanted}
    done: dict[str, dict[str, BaselineValue]] = {}
    while len(done) < len(wanted):
        batch = []
        for rec in records:
            if cutoff is None or rec["seq"] < cutoff:
                batch.append(rec)
                if len(batch) == 16:
                    break
        if not batch:
            break
        got = documents(storage, [r["run_id"] for r in batch], skipped)
        for rec in batch:
            doc = got.get(rec["run_id"])
            if doc is None:  # absent or damaged: skipped (named in `skipped`)
                continue
            for e in model_entries(doc, int(rec["seq"])):
                if e["model_id"] in streams:
                    streams[e["model_id"]].append(e)
        for m in [m for m in streams if m not in done]:
            values = _collect(iter(streams[m]), against, window, metrics, partial=True)
            if values is not None:
                done[m] = values
    out = {}
    for m in wanted:
        out[m] = done.get(m) or _collect(iter(streams[m]), against, window, metrics) or {}
    return out


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
