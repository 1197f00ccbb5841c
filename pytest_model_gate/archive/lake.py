"""The lake table: every archived (run, model) pair as a row of a Delta Lake table.

Spark, Trino, Databricks, DuckDB and Polars read a Delta table as is, so a team's gate history
is a table its engines already read. The table is derived from the archive: rows are appended
after a run commits, and `backfill` adds (by run_id) any run the table lacks, so a writer
that died between its commit and its append loses nothing.

Concurrency is delta-rs's own: each append is one optimistic Delta commit (put-if-absent of
`_delta_log/N.json`; on S3 a conditional PUT, `conditional_put=etag`), retried by delta-rs on
a conflict. No lock service. `deltalake` (and pyarrow) are the optional extra `lake` and are
imported only inside the functions here.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pytest_model_gate.core.gating import BaselineValue
from pytest_model_gate.errors import ArchiveError

TABLE_FOLDER = "table"
SCHEMA_VERSION = "1"
DESCRIPTION = f"pytest-model-gate gate history (schema {SCHEMA_VERSION})"
INSTALL_HINT = "pip install pytest-model-gate[lake]"
# vacuum keeps files younger than this: a writer still uploading its data file (not yet in the
# log) must never see it removed under it
VACUUM_RETENTION_HOURS = 1
COMMIT_ATTEMPTS = 20


@dataclass(frozen=True)
class LakeRun:
    """One committed run as the table needs it: its place in the commit order and document."""

    run_id: str
    seq: int | None
    committed_at: str | None  # ISO 8601 (the commit record's `created`)
    document: Mapping[str, Any]  # model_assessments.json


@dataclass(frozen=True)
class CompactResult:
    files_before: int
    files_after: int
    bytes_before: int
    bytes_after: int


class LakeMissing(ArchiveError):
    """The `lake` extra is not installed (bad setup, not a store failure)."""


def require_lake() -> None:
    """ArchiveError with the install hint when the `lake` extra is missing: called before
    anything is written when gate.yaml turns the table on."""
    _deltalake()


def _deltalake() -> Any:
    """Import deltalake (and pyarrow) or say how to install them."""
    try:
        import deltalake
        import pyarrow  # noqa: F401  (reads and writes go through pyarrow tables)
    except ImportError as exc:
        raise LakeMissing(f"the lake table needs deltalake and pyarrow ({exc.name} is "
                           f"missing): {INSTALL_HINT}") from None
    return deltalake


def _schema() -> Any:
    import pyarrow as pa

    def num_map() -> Any:
        return pa.map_(pa.string(), pa.float64())

    return pa.schema([
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("seq", pa.int64()),
        pa.field("committed_at", pa.timestamp("us", tz="UTC")),
        pa.field("summary_sha256", pa.string()),
        pa.field("config_sha256", pa.string()),
        pa.field("position", pa.int32()),
        pa.field("model_id", pa.string(), nullable=False),
        pa.field("symbol", pa.string()),
        pa.field("classification", pa.string()),
        pa.field("flags", pa.list_(pa.string())),
        pa.field("metrics", num_map()),
        pa.field("tiers", pa.map_(pa.string(), pa.string())),
        pa.field("baseline", num_map()),
        pa.field("baseline_run", pa.map_(pa.string(), pa.string())),
        pa.field("regressions", pa.list_(pa.string())),
        pa.field("regression", pa.bool_()),
    ])


COLUMNS = ("run_id", "seq", "committed_at", "summary_sha256", "config_sha256", "position",
           "model_id", "symbol", "classification", "flags", "metrics", "tiers", "baseline",
           "baseline_run", "regressions", "regression")


KEY_COLUMNS = ("run_id", "seq", "position", "model_id")  # what ordering and de-duplication use


def table_url(archive: str, table: bool | str | None) -> str | None:
    """Where the table of an archive lives: `table: true` -> `<archive>/table`, a URL as is."""
    if table is None or table is False:
        return None
    if table is True:
        return f"{str(archive).rstrip('/')}/{TABLE_FOLDER}"
    return str(table)


def storage_options_from_env(url: str, extra: Mapping[str, str] | None = None
                             ) -> dict[str, str]:
    """Options for delta-rs's object store: the endpoint from the environment (as fsspec and
    the AWS SDKs read it) and conditional PUTs, so concurrent appends need no lock service."""
    opts: dict[str, str] = {}
    if url.startswith(("s3://", "s3a://")):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            opts["AWS_ENDPOINT_URL"] = endpoint
            if endpoint.startswith("http://"):
                opts["AWS_ALLOW_HTTP"] = "true"
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region:
            opts["AWS_REGION"] = region
        opts["conditional_put"] = "etag"
        opts["max_retries"] = "3"
        opts["retry_timeout"] = "20s"
    opts.update(extra or {})
    return opts


def _ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _num(v: Any) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def rows_of(run: LakeRun) -> list[dict[str, Any]]:
    """The table rows of one run: one per model, in the summary's order."""
    doc = run.document
    summary = doc.get("summary") or {}
    out = []
    for i, m in enumerate(doc.get("models") or []):
        metrics = m.get("metrics") or {}
        baseline = m.get("baseline") or {}
        regs = m.get("regressions") or []
        out.append({
            "run_id": run.run_id,
            "seq": run.seq,
            "committed_at": _ts(run.committed_at),
            "summary_sha256": summary.get("sha256"),
            "config_sha256": doc.get("config_sha256"),
            "position": i,
            "model_id": str(m.get("id")),
            "symbol": m.get("symbol"),
            "classification": m.get("classification"),
            "flags": sorted(str(f) for f in m.get("flags") or []),
            "metrics": [(k, _num(r.get("value"))) for k, r in metrics.items()],
            "tiers": [(k, r.get("tier")) for k, r in metrics.items()],
            "baseline": [(k, _num(b.get("value"))) for k, b in baseline.items()],
            "baseline_run": [(k, b.get("run_id")) for k, b in baseline.items()],
            "regressions": sorted({str(r.get("metric")) for r in regs}),
            "regression": bool(regs),
        })
    return out


def _arrow(rows: Sequence[Mapping[str, Any]]) -> Any:
    import pyarrow as pa

    return pa.Table.from_pylist(list(rows), schema=_schema())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0].strip() if text else ''}"


class LakeTable:
    """A gate history table at a URL (a local folder or s3://, gs://, az://)."""

    def __init__(self, url: str, storage_options: Mapping[str, str] | None = None) -> None:
        self.url = str(url)
        self.storage_options = storage_options_from_env(self.url, storage_options)

    # -- opening --------------------------------------------------------------------------

    def _open(self) -> Any | None:
        """The table, or None when no table exists at the URL yet; another schema, or a URL
        that cannot be reached, is an ArchiveError naming the URL."""
        dl = _deltalake()
        try:
            dt = dl.DeltaTable(self.url, storage_options=self.storage_options)
        except dl.exceptions.TableNotFoundError:
            return None
        except (OSError, dl.exceptions.DeltaError) as exc:
            raise ArchiveError(f"cannot reach table {self.url}: {_first_line(exc)}") from None
        self._check_schema(dt)
        return dt

    def _check_schema(self, dt: Any) -> None:
        import pyarrow as pa

        got = pa.schema(dt.schema())
        names = list(got.names)
        if names != list(COLUMNS):
            raise ArchiveError(
                f"table {self.url} has another schema (columns {', '.join(names)}), not "
                f"the gate history table of schema {SCHEMA_VERSION}")

    def exists(self) -> bool:
        return self._open() is not None

    # -- writing --------------------------------------------------------------------------

    def append(self, runs: Iterable[LakeRun]) -> int:
        """Append the rows of runs (one Delta commit); returns the number of rows."""
        rows = [r for run in runs for r in rows_of(run)]
        if not rows:
            return 0
        self._write(_arrow(rows))
        return len(rows)

    def _write(self, data: Any) -> None:
        dl = _deltalake()
        self._open()  # schema and reachability, with their one-line errors
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                dl.write_deltalake(
                    self.url, data, mode="append", storage_options=self.storage_options,
                    name="model_gate_history", description=DESCRIPTION)
                return
            except dl.exceptions.CommitFailedError:  # a concurrent commit took our version
                time.sleep(min(0.5, 0.01 * 2 ** attempt))
            except (OSError, dl.exceptions.DeltaError) as exc:
                raise ArchiveError(f"cannot write table {self.url}: "
                                   f"{_first_line(exc)}") from None
        raise ArchiveError(f"cannot write table {self.url}: no commit in "
                           f"{COMMIT_ATTEMPTS} attempts")

    def backfill(self, runs: Iterable[LakeRun]) -> list[str]:
        """Add the rows of runs the table lacks (by run_id): the repair after a writer died
        between its run's commit and its append. Returns the runs added.

        An append of the missing runs, not a Delta MERGE: delta-rs's merge writes string
        columns as string_view, which pyarrow's filtered scans then cannot compare with a
        string. A writer appending the same run at the same moment (alive, yet slower than
        this reindex) can double its rows; readers keep one row per (run, model)."""
        runs = list(runs)
        have = self.run_ids()
        missing = [r for r in runs if r.run_id not in have]
        rows = [row for run in missing for row in rows_of(run)]
        if not rows:
            return []
        self._write(_arrow(rows))
        return [r.run_id for r in missing]

    # -- reading --------------------------------------------------------------------------

    def _read(self, filters: Sequence[tuple[str, str, Any]] | None = None,
              columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        dl = _deltalake()
        import pyarrow as pa

        dt = self._open()
        if dt is None:
            return []
        if columns and len(columns) > 1:  # (one column alone: a listing, no order needed)
            columns = list(dict.fromkeys([*KEY_COLUMNS, *columns]))
        try:
            # a single-threaded scan: pyarrow's scan threads calling back into delta-rs's
            # Python file system intermittently abort the process at exit ("terminate called
            # without an active exception") with deltalake 1.x and pyarrow 25
            table = dt.to_pyarrow_dataset(schema=_schema()).to_table(
                filter=_expression(filters), columns=list(columns) if columns else None,
                use_threads=False)
        except (OSError, dl.exceptions.DeltaError, pa.ArrowException) as exc:
            raise ArchiveError(f"cannot read table {self.url}: {_first_line(exc)}") from None
        rows: list[dict[str, Any]] = table.to_pylist()
        for r in rows:
            for key in ("metrics", "tiers", "baseline", "baseline_run"):
                if key in r and r[key] is not None:
                    r[key] = dict(r[key])
        return rows

    def rows(self) -> list[dict[str, Any]]:
        """Every row, in commit order (seq, then the summary's order)."""
        return _ordered(self._read())

    def run_ids(self) -> set[str]:
        return {r["run_id"] for r in self._read(columns=["run_id"])}

    def history(self, *, model_id: str | None = None, symbol: str | None = None,
                columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The rows of a model id or a symbol, oldest run first (filter pushed down to the
        files' statistics, so other models' files are not read once the table is z-ordered)."""
        if (model_id is None) == (symbol is None):
            raise ValueError("history: give exactly one of model_id and symbol")
        filters = [("model_id", "=", model_id)] if model_id is not None \
            else [("symbol", "=", symbol)]
        rows = _unique(_ordered(self._read(filters, columns)))
        return rows

    def rows_of_models(self, model_ids: Iterable[str], columns: Sequence[str] | None = None
                       ) -> list[dict[str, Any]]:
        """The rows of these model ids (one read, filter pushed down), one per (run, model);
        `columns`: only these (run_id, model_id, seq and position are always read)."""
        wanted = list(dict.fromkeys(model_ids))
        if not wanted:
            return []
        return _unique(_ordered(self._read([("model_id", "in", wanted)], columns)))

    def baseline_values(self, model_ids: Iterable[str], *, against: str, window: int,
                        metrics: Sequence[str], before_seq: int | None = None
                        ) -> dict[str, dict[str, BaselineValue]]:
        """As Archive.baseline_values, from the table: per model, per metric, the median of
        its last `window` finite values in the runs `against` selects; runs at or after
        `before_seq` (a re-run's first archived run) do not count."""
        if against not in ("last", "last_approved"):
            raise ArchiveError(f"baseline against must be 'last' or 'last_approved', "
                               f"got {against!r}")
        wanted = list(dict.fromkeys(model_ids))
        if not wanted:
            return {}
        window = max(1, int(window))
        rows = _unique(_ordered(self._read([("model_id", "in", wanted)])))
        by_model: dict[str, list[dict[str, Any]]] = {m: [] for m in wanted}
        for r in rows:
            if before_seq is not None and r["seq"] is not None and r["seq"] >= before_seq:
                continue
            by_model[r["model_id"]].append(r)
        return {m: baseline_of(list(reversed(by_model[m])), against, window, metrics)
                for m in wanted}

    # -- maintenance ----------------------------------------------------------------------

    def compact(self) -> CompactResult:
        """Rewrite the table z-ordered by model_id (so a model's rows sit in few files and a
        filter on model_id skips the rest), checkpoint the log, drop replaced files."""
        dl = _deltalake()
        dt = self._open()
        if dt is None:
            raise ArchiveError(f"no table at {self.url}: nothing to compact")
        before = _file_stats(dt)
        try:
            dt.optimize.z_order(["model_id"])
            dt.update_incremental()
            dt.create_checkpoint()
            dt.cleanup_metadata()
            dt.vacuum(retention_hours=VACUUM_RETENTION_HOURS, dry_run=False,
                      enforce_retention_duration=False, full=True)
        except (OSError, dl.exceptions.DeltaError) as exc:
            raise ArchiveError(f"cannot compact table {self.url}: "
                               f"{_first_line(exc)}") from None
        dt.update_incremental()
        after = _file_stats(dt)
        return CompactResult(before[0], after[0], before[1], after[1])

    def prune_selection(self, *, older_than: timedelta | None = None, keep: int | None = None,
                        now: datetime | None = None) -> tuple[list[str], int]:
        """Which runs a prune removes (oldest first) and how many runs the table holds."""
        if (older_than is None) == (keep is None):
            raise ArchiveError("prune: give exactly one of --older-than and --keep")
        runs: dict[str, tuple[int, datetime | None]] = {}
        for r in self._read(columns=["run_id", "seq", "committed_at"]):
            seq = r["seq"] if r["seq"] is not None else -1
            runs[r["run_id"]] = (seq, r["committed_at"])
        order = sorted(runs, key=lambda rid: (runs[rid][0], rid))
        if keep is not None:
            if keep < 0:
                raise ArchiveError(f"prune: --keep must be 0 or more, got {keep}")
            victims = order[:max(0, len(order) - keep)]
        else:
            assert older_than is not None
            limit = (now or datetime.now(timezone.utc)) - older_than
            victims = []
            for rid in order:
                at = runs[rid][1]
                if at is not None and at < limit:
                    victims.append(rid)
        return victims, len(order)

    def prune(self, *, older_than: timedelta | None = None, keep: int | None = None,
              yes: bool = False, now: datetime | None = None) -> list[str]:
        """Delete the rows of runs older than a limit (or all but the newest `keep`), then
        vacuum; a prune that would remove every run is refused unless yes=True."""
        victims, total = self.prune_selection(older_than=older_than, keep=keep, now=now)
        if not victims:
            return []
        if len(victims) == total and not yes:
            raise ArchiveError(f"prune would remove all {total} runs of table {self.url}; "
                               f"pass --yes (yes=True) to remove them")
        self.remove_runs(victims)
        return victims

    def remove_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the rows of these runs, then vacuum (the archive's prune calls this)."""
        dl = _deltalake()
        self.delete_runs(run_ids)
        dt = self._open()
        try:
            if dt is not None:
                dt.vacuum(retention_hours=VACUUM_RETENTION_HOURS, dry_run=False,
                          enforce_retention_duration=False, full=True)
        except (OSError, dl.exceptions.DeltaError) as exc:
            raise ArchiveError(f"cannot vacuum table {self.url}: "
                               f"{_first_line(exc)}") from None

    def delete_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the rows of these runs (one Delta commit, retried on conflicts)."""
        dl = _deltalake()
        if not run_ids:
            return
        quoted = ", ".join("'" + r.replace("'", "''") + "'" for r in run_ids)
        for attempt in range(COMMIT_ATTEMPTS):
            dt = self._open()
            if dt is None:
                return
            try:
                dt.delete(f"run_id IN ({quoted})")
                return
            except dl.exceptions.CommitFailedError:
                time.sleep(min(0.5, 0.01 * 2 ** attempt))
            except (OSError, dl.exceptions.DeltaError) as exc:
                raise ArchiveError(f"cannot delete from table {self.url}: "
                                   f"{_first_line(exc)}") from None
        raise ArchiveError(f"cannot delete from table {self.url}: no commit in "
                           f"{COMMIT_ATTEMPTS} attempts")

    def file_stats(self) -> tuple[int, int]:
        """(data files, bytes) of the current version."""
        dt = self._open()
        return (0, 0) if dt is None else _file_stats(dt)


def _expression(filters: Sequence[tuple[str, str, Any]] | None) -> Any:
    """(column, "=" | "in", value) filters, AND-ed, as a pyarrow dataset expression (the
    dataset skips files whose statistics rule the value out)."""
    if not filters:
        return None
    import pyarrow.dataset as ds

    expr = None
    for column, op, value in filters:
        term = ds.field(column).isin(list(value)) if op == "in" else ds.field(column) == value
        expr = term if expr is None else expr & term
    return expr


def _file_stats(dt: Any) -> tuple[int, int]:
    import pyarrow as pa

    actions = pa.table(dt.get_add_actions(flatten=True))
    sizes = actions.column("size_bytes").to_pylist() if actions.num_rows else []
    return len(sizes), int(sum(sizes))


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(r: Mapping[str, Any]) -> tuple[int, str, int]:
        seq = r.get("seq")
        return (seq if seq is not None else -1, str(r.get("run_id")), r.get("position") or 0)

    return sorted(rows, key=key)


def _unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (run, model): a back-fill racing an append may double a run, but a
    reader never shows it twice either way."""
    seen: set[tuple[str, str]] = set()
    out = []
    for r in rows:
        k = (r["run_id"], r["model_id"])
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def baseline_of(newest_first: Sequence[Mapping[str, Any]], against: str, window: int,
                metrics: Sequence[str]) -> dict[str, BaselineValue]:
    """One model's baseline from its rows, newest run first (one row per run): per metric,
    the median of the first `window` finite values of the runs `against` selects."""
    values: dict[str, list[float]] = {m: [] for m in metrics}
    latest: dict[str, str] = {}
    newest: str | None = None
    for r in newest_first:
        if against == "last_approved" and r.get("classification") != "APPROVED":
            continue
        if newest is None:
            newest = r["run_id"]
        for name in metrics:
            v = (r.get("metrics") or {}).get(name)
            if len(values[name]) < window and v is not None and math.isfinite(v):
                values[name].append(float(v))
                latest.setdefault(name, r["run_id"])
        if all(len(v) >= window for v in values.values()):
            break
    if newest is None:
        return {}
    return {name: BaselineValue(value=float(statistics.median(vals)), run_id=latest[name])
            if vals else BaselineValue(value=math.nan, run_id=newest)
            for name, vals in values.items()}


def parse_age(text: str) -> timedelta:
    """`180d`, `12h`, `30m`, `2w` -> a timedelta (for `prune --older-than`)."""
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    t = text.strip().lower()
    if len(t) < 2 or t[-1] not in units or not t[:-1].isdigit():
        raise ArchiveError(f"--older-than: {text!r} is not an age such as 180d, 12h or 2w")
    return timedelta(**{units[t[-1]]: int(t[:-1])})
