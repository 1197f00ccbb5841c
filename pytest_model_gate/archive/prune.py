"""Pruning: remove old runs from the archive, and say so first in the commit log.

A prune picks its runs from the commit log it read (older than a limit by their commit
record's time, or all but the newest N), never the newest run. Then, in this order:

1. a create-only prune entry in the commit log (`log.append_prune`): the run ids, the reason,
   the time. From then on every reader (latest, previous, approved, runs, history, baselines,
   index.json, views, reindex) drops those runs: it is the prune's commit point.
2. each run's commit record in `index.d/` becomes a tombstone (`"abandoned": true`), so a
   summary archived again is written anew (its content key's run is abandoned) and `reindex`
   never adopts the run again;
3. the run folders are deleted.

A prune killed after step 1 is finished by the next `reindex` (`finish_prune`). A writer
racing a prune loses nothing: its run is not in the list the prune read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pytest_model_gate.archive.claims import now_iso
from pytest_model_gate.archive.index import RECORDS, dump_line, load_json
from pytest_model_gate.archive.log import CommitLog, append_prune
from pytest_model_gate.archive.storage import Storage
from pytest_model_gate.errors import ArchiveError


class PruneRefused(ArchiveError):
    """A prune refused before anything was touched (bad input)."""


@dataclass(frozen=True)
class PruneResult:
    removed: list[str]  # oldest first
    kept: int  # runs the archive holds afterwards
    seq: int | None  # the prune entry's number (None: nothing removed)
    table: str | None = None  # the lake table whose rows were removed and vacuumed


def _created(record: Mapping[str, object]) -> datetime | None:
    value = record.get("created")
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def select_runs(records: Sequence[Mapping[str, object]], where: str, *,
                older_than: timedelta | None = None, keep: int | None = None,
                yes: bool = False, now: datetime | None = None) -> list[str]:
    """The runs a prune removes (commit order, oldest first). `records`: the committed runs'
    records, oldest first. A run without a readable commit time is never removed by age; the
    newest run never. A limit that selects every run is refused unless yes=True (then all
    but the newest go)."""
    if (older_than is None) == (keep is None):
        raise PruneRefused("prune: give exactly one of --older-than AGE and --keep N")
    ids = [str(r["run_id"]) for r in records]
    if keep is not None:
        if keep < 0:
            raise PruneRefused(f"prune: --keep must be 0 or more, got {keep}")
        chosen = ids[:max(0, len(ids) - keep)]
    else:
        assert older_than is not None
        limit = (now or datetime.now(timezone.utc)) - older_than
        chosen = [str(r["run_id"]) for r in records
                  if (at := _created(r)) is not None and at < limit]
    if ids and len(chosen) == len(ids) and not yes:
        raise PruneRefused(f"prune would remove all {len(ids)} runs of archive {where}; the "
                           f"newest is always kept: pass --yes to remove the other "
                           f"{len(ids) - 1}")
    newest = ids[-1] if ids else None
    return [r for r in chosen if r != newest]


def reason_of(older_than: timedelta | None, keep: int | None, now: datetime | None = None
              ) -> str:
    """What the prune entry says about why."""
    if keep is not None:
        return f"--keep {keep}"
    assert older_than is not None
    limit = (now or datetime.now(timezone.utc)) - older_than
    return f"--older-than {older_than}: committed before {limit.isoformat()}"


def remove_runs(storage: Storage, log: CommitLog, run_ids: Sequence[str], reason: str
                ) -> int:
    """The prune entry, then tombstones and deleted folders. Returns the entry's number."""
    seq = append_prune(storage, log, run_ids, reason, now_iso())
    finish_prune(storage, run_ids, seq)
    return seq


def finish_prune(storage: Storage, run_ids: Iterable[str], seq: int | None = None) -> None:
    """Tombstone the commit records of pruned runs and delete their folders (idempotent:
    `reindex` calls it for a prune that was killed half way)."""
    where = f" (log entry {seq})" if seq is not None else ""
    for rid in run_ids:
        key = f"{RECORDS}/{rid}.json"
        rec = None
        with contextlib.suppress(FileNotFoundError, ValueError):
            rec = load_json(storage.read(key))
        if not (isinstance(rec, dict) and rec.get("abandoned")):
            tomb = {"run_id": rid, "abandoned": True, "at": now_iso(),
                    "reason": f"pruned{where}"}
            storage.replace(key, dump_line(tomb) + b"\n")
        storage.delete_tree(rid)
