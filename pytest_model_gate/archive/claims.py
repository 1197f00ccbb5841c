"""Who owns what in the archive while runs are written: leases, tombstones, content keys.

Every decision here is a create-only write, so two parties never both win:

- The commit key `index.d/{run_id}.json`: the writer creates it as the run's commit record;
  `reindex` creates it as a tombstone (`"abandoned": true`) to claim a run folder it will
  delete. Whoever creates it first wins; a writer that loses retries under a new run id.
- A writer's lease, `{run_id}/.writer.{host}.{pid}`, is the first file of a run folder:
  `reindex` claims a folder only when its writer is provably gone (same host, dead pid), the
  folder holds nothing of a writer, or it is older than the maximum age.
- The content key `content/{digest}.{generation}.json` (digest of summary bytes + config
  digest) names the one run that archives a summary under a config: writers of the same
  summary at the same moment create it once; the others wait for that run and return it.
  A key whose run was abandoned is skipped (next generation).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from pytest_model_gate.archive.index import RECORDS, RUN_ID_RE, dump_line, load_json
from pytest_model_gate.archive.storage import HOST, Entry, Storage, temp_is_stale

LEASE_PREFIX = ".writer."
CONTENT = "content"
CONTENT_WAIT = 60.0  # how long a writer waits for another writer's run of the same summary
COMMITTED, ABANDONED, PENDING = "committed", "abandoned", "pending"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def lease_key(run_id: str) -> str:
    return f"{run_id}/{LEASE_PREFIX}{HOST}.{os.getpid()}"


def _pid_dead(host: str, pid: int) -> bool:
    if host != HOST or pid == os.getpid() or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def folder_abandoned(entries: list[Entry], max_age: float, now: float | None = None) -> bool:
    """A run folder without a commit record that reindex may claim: its writer is provably
    gone (a lease or temp file of a dead process on this host), it holds only temp files
    whose writer is dead, or nothing in it is younger than max_age. An empty folder is never
    claimed (a writer may have just made it): reindex removes it with rmdir, which fails
    once anything is in it."""
    now = time.time() if now is None else now
    newest = max((e.mtime for e in entries if e.mtime is not None), default=None)
    if newest is not None and now - newest > max_age:
        return True
    live = False
    for e in entries:
        if e.name.startswith(LEASE_PREFIX):
            host, _, pid = e.name[len(LEASE_PREFIX):].rpartition(".")
            if pid.isdigit() and _pid_dead(host, int(pid)):
                return True
            live = True
        elif not temp_is_stale(e.name, None, max_age=max_age):
            live = True
    return bool(entries) and not live


def run_status(storage: Storage, run_id: str) -> str:
    """committed / abandoned (a tombstone) / pending (no commit key yet)."""
    try:
        rec = load_json(storage.read(f"{RECORDS}/{run_id}.json"))
    except FileNotFoundError:
        return PENDING
    except ValueError:
        return COMMITTED  # an unreadable record still holds the id: never claimed
    if isinstance(rec, dict) and rec.get("abandoned"):
        return ABANDONED
    return COMMITTED


def tombstone(storage: Storage, run_id: str, reason: str) -> str:
    """Claim a run's commit key for nobody; returns the run's status afterwards (ABANDONED
    when the claim, or an earlier one, holds; COMMITTED when its writer won)."""
    tomb = {"run_id": run_id, "abandoned": True, "at": now_iso(), "reason": reason}
    try:
        storage.create(f"{RECORDS}/{run_id}.json", dump_line(tomb) + b"\n")
    except FileExistsError:
        return run_status(storage, run_id)
    return ABANDONED


def content_digest(summary_sha: str, config_sha: str) -> str:
    return hashlib.sha256(f"{summary_sha}:{config_sha}".encode()).hexdigest()


def _content_key(digest: str, generation: int) -> str:
    return f"{CONTENT}/{digest}.{generation}.json"


def _lease_dead(storage: Storage, run_id: str) -> bool:
    for e in storage.listdir(run_id):
        if e.name.startswith(LEASE_PREFIX):
            host, _, pid = e.name[len(LEASE_PREFIX):].rpartition(".")
            return pid.isdigit() and _pid_dead(host, int(pid))
    return False


def claim_content(storage: Storage, digest: str, run_id: str, *,
                  wait: float = CONTENT_WAIT,
                  sleep: Callable[[float], None] = time.sleep) -> str | None:
    """Make run_id the run of this content, or find the run that is.

    None: the key is ours (write the run). A run id: another writer's committed run of the
    same content (return it). A writer whose run is pending is waited for; one that is gone
    (dead pid on this host, or no commit within `wait` seconds) is tombstoned so it can never
    commit, and the next generation of the key is tried."""
    generation = 0
    body = dump_line({"run_id": run_id, "at": now_iso()}) + b"\n"
    while True:
        key = _content_key(digest, generation)
        try:
            storage.create(key, body)
            return None
        except FileExistsError:
            pass
        owner = _owner(storage, key)
        if owner is None or owner == run_id:
            if owner == run_id:
                return None
            generation += 1  # an unreadable key: skip it
            continue
        deadline = time.monotonic() + wait
        delay = 0.01
        while True:
            status = run_status(storage, owner)
            if status == COMMITTED:
                return owner
            if status == ABANDONED:
                break
            if _lease_dead(storage, owner) or time.monotonic() > deadline:
                if tombstone(storage, owner, "content key owner gone") == COMMITTED:
                    return owner
                break
            sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.5)
        generation += 1


def _owner(storage: Storage, key: str) -> str | None:
    with contextlib.suppress(FileNotFoundError, ValueError):
        rec: Any = load_json(storage.read(key))
        rid = rec.get("run_id") if isinstance(rec, dict) else None
        if isinstance(rid, str) and RUN_ID_RE.match(rid):  # validated before it is a path
            return rid
    return None
