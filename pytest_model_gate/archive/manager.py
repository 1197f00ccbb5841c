"""The training archive: every gated run, stored create-only, committed by one small record.

Layout (DESIGN.md "The archive")::

    archive/
    ├── log/{seq:020d}.json        the commit log: the order of runs (see `log`)
    ├── log/{seq}.checkpoint.json  every CHECKPOINT_EVERY entries: the records so far
    ├── log/_last_checkpoint.json  hint: the newest checkpoint and its newest records
    ├── index.json                 derived view of index.d/ (one line per run, sorted by id)
    ├── index.d/{run_id}.json      the commit record of a run (or reindex's tombstone)
    ├── content/{digest}.{n}.json  which run archived a summary under a config (`claims`)
    ├── {run_id}/summary.json (summary.yaml for a YAML file: bytes are kept as they are),
    │            model_assessments.json, recommendations.md
    └── views/v3/                  derived (rebuilt by `reindex`)
        ├── projected.log          local: "run_id seq" of the runs in the shards
        ├── symbols.json           local: symbol -> model ids
        ├── shards/{bucket}.jsonl  local: one line per (run, model) of the models of that
        │                          bucket (64 buckets by sha256 of the model id), with the
        │                          run's seq, in commit order
        └── segments/              object stores: the same lines, per bucket, in create-only
                                   segments of the checkpointed runs (see `segments`)

A writer writes its files, then its record in `index.d/` (the key `reindex` would tombstone to
claim an abandoned folder: whoever creates it first wins), then appends the run to the commit
log, whose sequence numbers order the runs for every reader; `reindex` appends a record whose
writer died before its entry. Everything else in the root is derived and
may lag or be lost: readers merge the records `index.json` lacks and read the documents of
runs the shards do not cover yet. Derived views are updated after the commit, under a file
lock locally; remotely `index.json` is rewritten until a re-read shows the runs of the log's
newest entries (no listing of `index.d/`, which costs O(runs) on an object store).

The shards make `history` and baseline look-ups read one file per model (its bucket) instead of
every run, from its end when only the newest runs are wanted; a run appends to at most 64
files however many models it has. Readers of the newest runs read the log's tail (`log`).

This module is the archive's API (`Archive`: write a gated run, queries, reindex); the commit
records and index.json are in `index`, the per-model views in `views` and `segments`,
history in `history`, baseline look-ups in `baselines`. The archive never renders and never
gates: the pipeline hands it the report (`ReportRenderer`), and the public
`TrainingArchiveManager` (pytest_model_gate.api) adds `archive_training_run` over the pipeline.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from pytest_model_gate.archive.baselines import baseline_values
from pytest_model_gate.archive.claims import (
    ABANDONED,
    CONTENT,
    claim_content,
    content_digest,
    folder_abandoned,
    lease_key,
    now_iso,
    tombstone,
)
from pytest_model_gate.archive.history import history_entries
from pytest_model_gate.archive.index import (
    DOCUMENT_FILE,
    INDEX,
    RECORD_SCHEMA,
    RECORDS,
    REPORT_FILE,
    RUN_ID_RE,
    SUMMARY_FILE,
    SUMMARY_YAML,
    Scan,
    dump_line,
    index_bytes,
    index_record,
    load_json,
    new_run_id,
    record_names,
    refresh_index,
    refresh_index_remote,
    validate_run_id,
)
from pytest_model_gate.archive.lake import LakeTable
from pytest_model_gate.archive.lake_sync import (
    append_run,
    archive_table,
    backfill,
    table_baselines,
    table_history,
)
from pytest_model_gate.archive.log import (
    LOG,
    CommitLog,
    append,
    catch_up,
    log_scan,
    migrate,
    read_log,
)
from pytest_model_gate.archive.prune import (
    PruneResult,
    finish_prune,
    reason_of,
    remove_runs,
    select_runs,
)
from pytest_model_gate.archive.segments import repair_segments, write_segments
from pytest_model_gate.archive.storage import Storage, open_storage, translate_errors
from pytest_model_gate.archive.views import (
    LEGACY_SHARDS,
    SHARDS,
    VIEWS,
    VIEWS_ROOT,
    project,
    rebuild_views,
)
from pytest_model_gate.core.config import (
    DEFAULT_ARCHIVE,
    GateConfig,
    ModelGatingConfig,
    as_gate_config,
)
from pytest_model_gate.core.document import (
    DocumentError,
    RunDocument,
    parse_run_document,
    run_document,
)
from pytest_model_gate.core.gating import Assessment, BaselineValue
from pytest_model_gate.core.summary import TrainingSummary
from pytest_model_gate.errors import ArchiveError, NoArchiveError

__all__ = ["Archive", "ArchivedRun", "ReportRenderer", "RunReport", "canonical_summary",
           "new_run_id", "open_archive", "validate_run_id"]

HISTORY_DOCS = 20
WRITE_ATTEMPTS = 50  # lost races (reindex claimed the folder) are retried, with backoff
VIEW_LOCK_TIMEOUT = 10.0  # a writer waits this long for the view lock, then leaves it to others


# --- encoders ------------------------------------------------------------------------------

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


def _public_entry(e: Mapping[str, Any]) -> dict[str, Any]:
    return {"run_id": e["run_id"], "timestamp": e["run_id"], "model_id": e["model_id"],
            "symbol": e["symbol"], "classification": e["classification"],
            "flags": list(e["flags"]), "metrics": dict(e["metrics"])}


def canonical_summary(data: Mapping[str, Any]) -> bytes:
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
    return canonical_summary({**summary.metadata, "models": container})


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
    document: RunDocument
    previous: RunDocument | None = None
    history: list[RunDocument] = field(default_factory=list)
    reused: bool = False
    seq: int | None = None  # the run's commit sequence number (None: not in the log yet)
    committed_at: str | None = None  # when its commit record was created (ISO 8601, UTC)
    # the one-line error of a failed lake-table append (the run is committed regardless)
    table_error: str | None = None
    # recommendations.md as archived, when rendered now from (document, previous, history)
    # (None for a reused run, or when rendering failed): the report of this run alone
    report_text: str | None = None


# --- the archive ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RunReport:
    """recommendations.md of one run, as the pipeline rendered it; `complete` is False when
    rendering failed and `text` is a stub that points at the run document."""

    text: str
    complete: bool = True


ReportRenderer = Callable[[RunDocument, "RunDocument | None", list[RunDocument]], RunReport]
"""(run document, previous run's document or None, earlier documents) -> the run's report.
Called once per attempt to commit: a retry under a new run id renders again."""


def open_archive(location: str | os.PathLike[str],
                 storage_options: dict[str, Any] | None = None,
                 config: GateConfig | None = None) -> Archive:
    """An archive to read; NoArchiveError when it surely does not exist (never created).
    `config` only says where its lake table is (`table:`)."""
    archive = Archive(location, config=config, storage_options=storage_options)
    if archive.storage.is_missing():
        raise NoArchiveError(os.fspath(location))
    return archive


class Archive:
    """Write gated runs and answer questions about them (local folder or fsspec URL).

    The archive stores what it is handed (summary bytes, run document, the rendered report)
    and never renders: the pipeline gates and renders (see pytest_model_gate.pipeline), and
    the public `TrainingArchiveManager` adds `archive_training_run` on top of both."""

    def __init__(self, archive_dir: str | os.PathLike[str] = DEFAULT_ARCHIVE,
                 config: GateConfig | ModelGatingConfig | None = None,
                 storage_options: dict[str, Any] | None = None) -> None:
        self.archive_dir = os.fspath(archive_dir)
        self.config: GateConfig = as_gate_config(config)
        self.storage: Storage = open_storage(self.archive_dir, storage_options)
        self.location = self.storage.location
        # one line per damaged run document a query skipped (history, baselines)
        self.skipped: list[str] = []
        # gate.yaml `table:`: history and baselines read it, each new run appends to it
        self.table: LakeTable | None = archive_table(self.archive_dir, self.config)

    # -- writing ------------------------------------------------------------------------

    def archive_gated(self, summary: TrainingSummary, assessments: Sequence[Assessment], *,
                      report: ReportRenderer, force: bool = False) -> ArchivedRun:
        """Archive an already gated summary as one run (or return the run it already is);
        `report` renders the run's recommendations.md from its document and history."""
        cfg = self.config
        raw = _summary_bytes(summary)
        summary_sha = hashlib.sha256(raw).hexdigest()
        config_sha = cfg.digest()
        with translate_errors(self.location, "read"):
            log = read_log(self.storage, tail=True)  # the newest runs (and a summary's own)
            scan = log_scan(self.storage, log)
        if not force:
            existing = scan.find(summary_sha, config_sha)
            if existing is not None:
                return self._archived_run(existing, list(assessments), scan, reused=True,
                                          summary=summary)
        digest = None if force else content_digest(summary_sha, config_sha)
        with translate_errors(self.location, "write to"):
            for attempt in range(WRITE_ATTEMPTS):
                run_id = new_run_id()
                if digest is not None:
                    other = claim_content(self.storage, digest, run_id)
                    if other is not None:  # a concurrent writer archived this very content
                        return self._archived_run(other, list(assessments),
                                                  log_scan(self.storage), reused=True,
                                                  summary=summary)
                doc = run_document(summary, assessments, cfg, run_id=run_id)
                doc["summary"]["sha256"] = summary_sha
                history = self._documents_before(run_id, scan)
                previous = history[-1] if history else None
                created = now_iso()
                record = {"run_id": run_id, "timestamp": run_id, "created": created,
                          "counts": doc["counts"], "models": len(doc["models"]),
                          "summary_sha256": summary_sha, "config_sha256": config_sha,
                          "source": doc["summary"]["path"],
                          "summary_timestamp": doc["summary"].get("timestamp"),
                          "schema": RECORD_SCHEMA}
                rendered = report(doc, previous, history)
                if self._write_run(run_id, raw, doc, rendered.text.encode("utf-8"), record):
                    seq = self._append_to_log(log, scan, record)
                    break
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2 ** attempt)))
            else:
                raise ArchiveError(f"cannot write to archive {self.location}: could not "
                                   f"commit a run in {WRITE_ATTEMPTS} attempts")
        self._update_views({run_id: record}, {run_id: cast(dict[str, Any], doc)}, scan, log)
        table_error = None
        if self.table is not None:
            table_error = append_run(self.table, run_id, seq, created, doc)
        c = doc["counts"]
        return ArchivedRun(run_id=run_id, timestamp=run_id, approved_count=c["APPROVED"],
                           review_count=c["REVIEW"], dropped_count=c["DROP"],
                           assessments=list(assessments), path=self.storage.url_of(run_id),
                           document=doc, previous=previous, history=history, reused=False,
                           report_text=rendered.text if rendered.complete else None,
                           seq=seq, committed_at=created, table_error=table_error)

    def _write_run(self, run_id: str, raw: bytes, doc: RunDocument, report: bytes,
                   record: dict[str, Any]) -> bool:
        """Write the run's lease and files, then its record (the commit point). False: this
        attempt lost a race (another writer drew the same id, or `reindex` claimed the folder
        and tombstoned its commit key): retry under a new id."""
        s = self.storage
        source = str(doc.get("summary", {}).get("path", "")).lower()
        name = SUMMARY_YAML if source.endswith((".yaml", ".yml")) else SUMMARY_FILE
        try:
            s.create(lease_key(run_id), b"", durable=False)
            s.create(f"{run_id}/{name}", raw, sync_folder=False)
            s.create(f"{run_id}/{DOCUMENT_FILE}", _dump_doc(doc), sync_folder=False)
            s.create(f"{run_id}/{REPORT_FILE}", report, sync_folder=False)
            s.sync_folder(run_id)  # the names are durable before the commit record is
            s.create(f"{RECORDS}/{run_id}.json", dump_line(record) + b"\n")
        except (FileExistsError, FileNotFoundError, NotADirectoryError):
            # lost: the id was drawn twice, or reindex claimed or removed the folder (it
            # tombstones the commit key first, so this run can never commit). We give the
            # id up for good (a tombstone: whoever waits on it moves on) and drop our files.
            if tombstone(s, run_id, "writer retries under a new id") == ABANDONED:
                with contextlib.suppress(OSError, ArchiveError):
                    s.delete_tree(run_id)
            return False
        return True

    def _append_to_log(self, log: CommitLog, scan: Scan, record: dict[str, Any]) -> int:
        """Give the committed run its place in the commit order (migrating an archive from
        before the log first, so its runs keep their order ahead of this one)."""
        if scan.order is None and scan.committed:
            migrate(self.storage, log, [scan.record(r) for r in scan.ids])
        # object stores: each checkpoint's writer also writes its per-model row segments
        derive = write_segments if self.storage.local() is None else None
        return append(self.storage, log, record, derive)

    # -- derived views ------------------------------------------------------------------

    def _update_views(self, records: Mapping[str, dict[str, Any]],
                      docs: Mapping[str, dict[str, Any]], scan: Scan, log: CommitLog) -> None:
        """Bring index.json (and local shards) up to date; never fails the caller: the run
        is committed and readers merge what the views lack.

        Locally the records added are ours plus those our scan listed and index.json lacks
        (a crashed writer's): a record committed after our scan is its own writer's to add,
        or the next writer's scan sees it. That keeps the listing out of the lock."""
        local = self.storage.local()
        try:
            if local is not None:
                with local.lock(timeout=VIEW_LOCK_TIMEOUT):
                    refresh_index(local, records, scan)
                    project(local, log, docs)
            else:
                def newest() -> dict[str, dict[str, Any]]:
                    catch_up(self.storage, log)
                    return {r["run_id"]: {k: v for k, v in r.items() if k != "seq"}
                            for r in log.records()}

                refresh_index_remote(self.storage, records, newest)
        except Exception:  # derived data: `reindex` repairs it
            return

    # -- reading ------------------------------------------------------------------------

    def _documents_before(self, run_id: str, scan: Scan) -> list[RunDocument]:
        earlier = scan.before(run_id)[-HISTORY_DOCS:]
        if len(earlier) < HISTORY_DOCS and not scan.complete:  # older runs than it holds
            scan = log_scan(self.storage, read_log(self.storage))
            earlier = scan.before(run_id)[-HISTORY_DOCS:]
        got = self.storage.read_many(f"{r}/{DOCUMENT_FILE}" for r in earlier)
        out = []
        for rid in earlier:
            data = got.get(f"{rid}/{DOCUMENT_FILE}")
            if data is None:
                continue
            # a damaged earlier run (not JSON, or JSON of the wrong shape) is left out of
            # "changes since" and trends; `show` names it (DocumentError)
            with contextlib.suppress(ValueError, DocumentError):
                out.append(parse_run_document(load_json(data), self._doc_name(rid)))
        return out

    def _doc_name(self, run_id: str) -> str:
        return f"{self.location}: run {run_id}: {DOCUMENT_FILE}"

    def _archived_run(self, run_id: str, assessments: list[Assessment], scan: Scan, *,
                      reused: bool, summary: TrainingSummary | None = None) -> ArchivedRun:
        try:
            doc = self._load_doc(run_id)
        except DocumentError as exc:
            if summary is None:
                raise
            # the run's stored document was damaged after the fact: the run is still this
            # summary's; describe it from the verdicts just computed (never a crash)
            self.skipped.append(str(exc))
            doc = run_document(summary, assessments, self.config, run_id=run_id)
        history = self._documents_before(run_id, scan)
        rec = scan.record(run_id) if run_id in scan.committed else {}
        seq = rec.get("seq")
        c = doc.get("counts", {})
        return ArchivedRun(run_id=run_id, timestamp=run_id,
                           approved_count=int(c.get("APPROVED", 0)),
                           review_count=int(c.get("REVIEW", 0)),
                           dropped_count=int(c.get("DROP", 0)), assessments=assessments,
                           path=self.storage.url_of(run_id), document=doc,
                           previous=history[-1] if history else None, history=history,
                           reused=reused, seq=seq if isinstance(seq, int) else None,
                           committed_at=rec.get("created"))

    def _require_run(self, run_id: str) -> dict[str, Any]:
        """The record of a committed run; ArchiveError for a bad or unknown id."""
        validate_run_id(run_id)
        try:
            with translate_errors(self.location, "read"):
                data = self.storage.read(f"{RECORDS}/{run_id}.json")
            rec = load_json(data)
        except (FileNotFoundError, ValueError):
            rec = None
        if not isinstance(rec, dict) or rec.get("abandoned") or rec.get("run_id") != run_id:
            raise ArchiveError(f"unknown run id {run_id!r} in archive {self.location}")
        return rec

    def _load_doc(self, run_id: str) -> RunDocument:
        try:
            with translate_errors(self.location, "read"):
                doc = load_json(self.storage.read(f"{run_id}/{DOCUMENT_FILE}"))
        except FileNotFoundError:
            raise ArchiveError(f"run {run_id} in archive {self.location} has no "
                               f"{DOCUMENT_FILE}") from None
        except ValueError:
            raise ArchiveError(f"run {run_id} in archive {self.location}: "
                               f"{DOCUMENT_FILE} is not valid JSON") from None
        if not isinstance(doc, dict):
            raise ArchiveError(f"run {run_id}: {DOCUMENT_FILE} is not a JSON object")
        return parse_run_document(doc, self._doc_name(run_id))

    def list_runs(self) -> list[dict[str, Any]]:
        """One record per committed run, oldest first."""
        with translate_errors(self.location, "read"):
            scan = log_scan(self.storage)
            if scan.index is not None:
                with contextlib.suppress(ValueError):
                    parsed = load_json(scan.index.raw)
                    for rec in parsed.get("runs", []):
                        rid = rec.get("run_id") if isinstance(rec, dict) else None
                        if rid in scan.committed and scan.committed[rid] is None:
                            scan.committed[rid] = rec
            return [index_record(scan.record(r)) for r in scan.ids]

    def latest_run(self) -> dict[str, Any] | None:
        with translate_errors(self.location, "read"):
            scan = log_scan(self.storage, read_log(self.storage, tail=True))
        ids = scan.ids
        return index_record(scan.record(ids[-1])) if ids else None

    def run_ids(self) -> list[str]:
        """Committed run ids, oldest first."""
        with translate_errors(self.location, "read"):
            return log_scan(self.storage).ids

    def load_document(self, run_id: str) -> RunDocument:
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

    def run_context(self, run_id: str) -> tuple[RunDocument, RunDocument | None,
                                                 list[RunDocument]]:
        """(document, previous document, earlier documents) of a run: a report's input."""
        self._require_run(run_id)
        doc = self._load_doc(run_id)
        with translate_errors(self.location, "read"):
            history = self._documents_before(
                run_id, log_scan(self.storage, read_log(self.storage, tail=True)))
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

    def _history(self, *, symbol: str | None = None, model_id: str | None = None,
                 last: int | None = None) -> list[dict[str, Any]]:
        if self.table is not None:  # the lake table: one filtered read
            with translate_errors(self.location, "read"):
                scan = log_scan(self.storage)
            rows = table_history(self.table, scan, model_id=model_id, symbol=symbol)
            if last is not None:  # the newest `last` runs
                keep = set(list(dict.fromkeys(e["run_id"] for e in rows))[-last:])
                rows = [e for e in rows if e["run_id"] in keep]
            return [_public_entry(e) for e in rows]
        with translate_errors(self.location, "read"):
            entries = history_entries(self.storage, model_id=model_id, symbol=symbol,
                                      last=last, skipped=self.skipped)
        return [_public_entry(e) for e in entries]

    def get_symbol_history(self, symbol: str, *, last: int | None = None
                           ) -> list[dict[str, Any]]:
        """Every archived (run, model) of a symbol, oldest run first; with `last`, those of
        the newest `last` runs holding the symbol (read newest first, stopping early)."""
        out = self._history(symbol=symbol, last=last)
        if not out:
            raise ArchiveError(f"unknown symbol {symbol!r}: no archived run of "
                               f"{self.location} has a model of that symbol")
        return out

    def get_model_history(self, model_id: str, *, last: int | None = None
                          ) -> list[dict[str, Any]]:
        """Every archived run of a model, oldest first; with `last`, its newest `last` runs
        (still oldest first; read newest first, stopping early)."""
        out = self._history(model_id=model_id, last=last)
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
        if not wanted:
            return {}
        with translate_errors(self.location, "read"):
            if self.table is not None:  # the lake table: one read filtered on model_id
                return table_baselines(self.table, log_scan(self.storage), wanted, against,
                                       window, metrics, summary_sha256)
            return baseline_values(self.storage, wanted, against, window, metrics,
                                   summary_sha256, self.skipped)

    # -- maintenance --------------------------------------------------------------------

    def prune(self, *, older_than: timedelta | None = None, keep: int | None = None,
              yes: bool = False, now: datetime | None = None) -> PruneResult:
        """Remove runs committed before `now - older_than` (or all but the newest `keep`),
        never the newest: a prune entry in the commit log first (every reader drops them),
        then their commit records become tombstones and their folders go; then index.json and
        the views are rebuilt, and the lake table (when on) loses their rows and is
        vacuumed. A limit that selects every run is refused (PruneRefused) unless yes."""
        s = self.storage
        with translate_errors(self.location, "prune"):
            log = read_log(s)
            scan = log_scan(s, log)
            records = [scan.record(r) for r in scan.ids]
            victims = select_runs(records, self.location, older_than=older_than, keep=keep,
                                  yes=yes, now=now)
            seq = remove_runs(s, log, victims, reason_of(older_than, keep, now)) \
                if victims else None
        kept = len(records) - len(victims)
        if victims:
            self.reindex()  # index.json and the views without the pruned runs
        if self.table is None:
            return PruneResult(victims, kept, seq)
        with translate_errors(self.location, "read"):
            pruned = read_log(s).pruned()
        self.table.remove_runs(sorted(set(victims) | (self.table.run_ids() & pruned)))
        return PruneResult(victims, kept, seq, self.table.url)

    def reindex(self, *, temp_max_age: float = 3600.0) -> int:
        """Rebuild index.json (and local views) from index.d/; claim and remove run folders
        without a commit record; remove leftover temp files. Returns the number of runs."""
        s = self.storage
        local = s.local()
        with translate_errors(self.location, "reindex"), s.lock(timeout=300):
            names = record_names(s)
            got = s.read_many(f"{RECORDS}/{r}.json" for r in names)
            records: dict[str, dict[str, Any]] = {}
            tombstones: dict[str, dict[str, Any]] = {}
            for rid in names:
                data = got.get(f"{RECORDS}/{rid}.json")
                try:
                    rec = load_json(data) if data is not None else None
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
                    entries = s.listdir(rid)
                    if not entries:  # nothing to claim: a writer that just made it retries
                        s.remove_empty_folder(rid)
                        continue
                    # a folder a live writer may still own is left alone (its lease names a
                    # live process, or something in it is younger than temp_max_age)
                    if not folder_abandoned(entries, temp_max_age):
                        continue
                    # claim it with a tombstone at its commit key: whoever creates that key
                    # first (this reindex, or its writer committing now) wins; a writer that
                    # loses retries under a new run id
                    status = tombstone(s, rid, "run folder without a commit record (reindex)")
                    if status != ABANDONED:
                        with contextlib.suppress(ValueError, FileNotFoundError):
                            rec = load_json(s.read(f"{RECORDS}/{rid}.json"))
                            if isinstance(rec, dict) and rec.get("run_id") == rid:
                                records[rid] = rec  # committed just now: keep it
                        continue  # (or a record we cannot read: touch nothing)
                    with contextlib.suppress(ValueError, FileNotFoundError):
                        tombstones[rid] = load_json(s.read(f"{RECORDS}/{rid}.json"))
                    tombstones.setdefault(rid, {"run_id": rid, "abandoned": True})
                s.delete_tree(rid)
            s.remove_stale_temps(["", RECORDS, CONTENT, LOG, VIEWS_ROOT, LEGACY_SHARDS, VIEWS,
                                  SHARDS, *sorted(records)], temp_max_age)
            # the commit log holds every committed run: an archive from before the log is
            # migrated, a run whose writer died between its record and its entry adopted
            log = read_log(s)
            left = log.pruned() & (set(records) | {e.name for e in root})
            if left:  # a prune killed after its log entry: finish it
                finish_prune(s, sorted(left))
                for rid in left:
                    tombstones[rid] = {"run_id": rid, "abandoned": True, "reason": "pruned"}
                    records.pop(rid, None)
            migrate(s, log, records.values())
            lines = {r: dump_line(index_record(rec)) for r, rec in records.items()}
            lines.update({r: dump_line(index_record(rec)) for r, rec in tombstones.items()})
            s.replace(INDEX, index_bytes(lines))
            if local is not None:
                rebuild_views(local, [r for r in log.records() if r["run_id"] in records])
        if local is None:
            refresh_index_remote(s, {})
            with translate_errors(self.location, "reindex"):
                repair_segments(s, read_log(s))
        if self.table is not None:  # rows of committed runs the table lacks (by run_id)
            with translate_errors(self.location, "read"):
                committed = read_log(s).records()
            backfill(self.table, s, committed, self.skipped)
        return len(records)

