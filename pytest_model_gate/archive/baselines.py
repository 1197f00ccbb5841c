"""Baseline values from the archive: per model, the median of its newest archived values.

"Newest" is the commit order of the log (never a writer's clock). Locally each model's bucket
shard is read (one file per bucket) and its entries ordered by commit; object stores have no
shards: run documents are read newest first until every model has its window.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pytest_model_gate.archive.index import Scan
from pytest_model_gate.archive.log import log_scan
from pytest_model_gate.archive.storage import Storage
from pytest_model_gate.archive.views import (
    documents,
    history_sources,
    model_entries,
    read_symbols,
    shard_entries,
)
from pytest_model_gate.core.gating import BaselineValue


def baseline_values(storage: Storage, wanted: list[str], against: str, window: int,
                    metrics: Sequence[str], summary_sha256: str | None = None,
                    skipped: list[str] | None = None) -> dict[str, dict[str, BaselineValue]]:
    """Per model in `wanted`: its baseline values (see Archive.baseline_values,
    which checks the arguments). Runs are taken newest first in commit order."""
    local = storage.local()
    scan = log_scan(storage)
    positions = scan.positions()
    cutoff = scan.first_position(summary_sha256) if summary_sha256 is not None else None
    if local is None:
        return _scan_documents(storage, scan, wanted, against, window, metrics, cutoff,
                               skipped)
    projected, docs = history_sources(local, skipped)
    found: dict[str, list[dict[str, Any]]] = {m: [] for m in wanted}
    for doc in docs.values():
        for e in model_entries(doc):
            if e["model_id"] in found:
                found[e["model_id"]].append(e)
    # every model of a projected run is in symbols.json: the others have no shard lines
    symbols = read_symbols(local) if projected else {}
    known = None if symbols is None else {m for ms in symbols.values() for m in ms}
    in_views = [m for m in wanted if known is None or m in known]
    for e in shard_entries(local, in_views, projected):  # one read per bucket
        found[e["model_id"]].append(e)
    out = {}
    for m in wanted:
        ordered = _newest_first(found[m], positions, cutoff)
        out[m] = _collect(iter(ordered), against, window, metrics) or {}
    return out


def _newest_first(entries: list[dict[str, Any]], positions: Mapping[str, int],
                  cutoff: int | None) -> list[dict[str, Any]]:
    """Entries of committed runs (before the cutoff, when given), newest commit first."""
    keep = [e for e in entries if e["run_id"] in positions
            and (cutoff is None or positions[e["run_id"]] < cutoff)]
    keep.sort(key=lambda e: positions[e["run_id"]], reverse=True)
    return keep


def _baselines_by_scan(storage: Storage, wanted: list[str], against: str, window: int,
                       metrics: Sequence[str], summary_sha256: str | None = None,
                       skipped: list[str] | None = None) -> dict[str, dict[str, BaselineValue]]:
    """From run documents alone (what object stores use; the reference for the views)."""
    scan = log_scan(storage)
    cutoff = scan.first_position(summary_sha256) if summary_sha256 is not None else None
    return _scan_documents(storage, scan, wanted, against, window, metrics, cutoff, skipped)


def _scan_documents(storage: Storage, scan: Scan, wanted: list[str], against: str,
                    window: int, metrics: Sequence[str], cutoff: int | None,
                    skipped: list[str] | None = None) -> dict[str, dict[str, BaselineValue]]:
    """Run documents newest first (commit order), until every model has its window."""
    streams: dict[str, list[dict[str, Any]]] = {m: [] for m in wanted}
    done: dict[str, dict[str, BaselineValue]] = {}
    ids = scan.ids if cutoff is None else scan.ids[:cutoff_index(scan, cutoff)]
    ids = list(reversed(ids))
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


def cutoff_index(scan: Scan, cutoff: int) -> int:
    """How many of scan.ids come before the run at position `cutoff`."""
    positions = scan.positions()
    return sum(1 for r in scan.ids if positions[r] < cutoff)


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
