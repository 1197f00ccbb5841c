"""The archive's side of the lake table: which table a config names, the rows of a committed
run, history and baselines read from the table, and `reindex`'s back-fill.

The table is derived from the commit log: rows are appended after a run commits, readers keep
only rows of runs the log holds (so a pruned run whose rows are still there never shows) and
order them by the log, and `reindex` adds the rows of any committed run the table lacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_model_gate.archive.index import Scan
from pytest_model_gate.archive.lake import LakeRun, LakeTable, baseline_of, require_lake, table_url
from pytest_model_gate.archive.storage import Storage
from pytest_model_gate.archive.views import documents
from pytest_model_gate.core.config import GateConfig
from pytest_model_gate.core.gating import BaselineValue
from pytest_model_gate.errors import ArchiveError

# the columns each reader needs (fewer columns: less to decode and to turn into Python)
HISTORY_COLUMNS = ("symbol", "classification", "flags", "metrics")
BASELINE_COLUMNS = ("classification", "metrics")
BACKFILL_BATCH = 256  # run documents read (and rows added) at once by reindex


def archive_table(archive_dir: str, config: GateConfig) -> LakeTable | None:
    """The table gate.yaml's `table:` names for this archive (None: off). With the table on
    and the `lake` extra missing: ArchiveError with the install hint, before any write."""
    url = table_url(archive_dir, config.table)
    if url is None:
        return None
    require_lake()
    return LakeTable(url)


def append_run(table: LakeTable, run_id: str, seq: int | None, committed_at: str | None,
               document: Mapping[str, Any]) -> str | None:
    """Append a committed run's rows; None when done, else the one-line error. The run is
    committed whatever happens here: the table is derived and `reindex` back-fills it."""
    try:
        table.append([LakeRun(run_id, seq, committed_at, document)])
    except ArchiveError as exc:
        return f"{exc} (run {run_id} is archived; `model-gate reindex` adds its rows)"
    except Exception as exc:  # delta-rs / pyarrow failures that are not ours to name
        text = str(exc).strip().splitlines()
        return (f"cannot write table {table.url}: {type(exc).__name__}: "
                f"{text[0] if text else ''} (run {run_id} is archived; `model-gate reindex` "
                "adds its rows)")
    return None


def _entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """A table row in the shape of views.model_entries (what history and baselines use)."""
    return {"run_id": row["run_id"], "model_id": row["model_id"], "i": row.get("position") or 0,
            "symbol": row.get("symbol"), "classification": row.get("classification"),
            "flags": list(row.get("flags") or []), "metrics": dict(row.get("metrics") or {})}


def table_history(table: LakeTable, scan: Scan, *, model_id: str | None = None,
                  symbol: str | None = None) -> list[dict[str, Any]]:
    """History entries of committed runs from the table (a filter on model_id or symbol),
    in commit order (the log's, never the run ids')."""
    positions = scan.positions()
    rows = table.history(model_id=model_id, symbol=symbol, columns=HISTORY_COLUMNS)
    kept = [r for r in rows if r["run_id"] in positions]
    kept.sort(key=lambda r: (positions[r["run_id"]], r.get("position") or 0))
    return [_entry(r) for r in kept]


def table_baselines(table: LakeTable, scan: Scan, wanted: Sequence[str], against: str,
                    window: int, metrics: Sequence[str], summary_sha256: str | None
                    ) -> dict[str, dict[str, BaselineValue]]:
    """Archive.baseline_values from the table: one read filtered on the model ids; runs are
    the log's committed ones, newest commit first, before a re-run's first run."""
    positions = scan.positions()
    cutoff = scan.first_position(summary_sha256) if summary_sha256 is not None else None
    by_model: dict[str, list[tuple[int, dict[str, Any]]]] = {m: [] for m in wanted}
    for row in table.rows_of_models(wanted, BASELINE_COLUMNS):
        pos = positions.get(row["run_id"])
        if pos is None or (cutoff is not None and pos >= cutoff):
            continue
        by_model[row["model_id"]].append((pos, row))
    out = {}
    for m in wanted:
        newest_first = [r for _, r in sorted(by_model[m], key=lambda p: p[0], reverse=True)]
        out[m] = baseline_of(newest_first, against, window, metrics)
    return out


def backfill(table: LakeTable, storage: Storage, records: Iterable[Mapping[str, Any]],
             skipped: list[str] | None = None) -> list[str]:
    """Merge (on run_id) the rows of the committed runs the table lacks, from their run
    documents; returns the run ids added. Damaged documents are left out (named in
    `skipped`)."""
    have = table.run_ids()
    missing = [r for r in records if r["run_id"] not in have]
    added: list[str] = []
    for i in range(0, len(missing), BACKFILL_BATCH):
        batch = missing[i:i + BACKFILL_BATCH]
        docs = documents(storage, [r["run_id"] for r in batch], skipped)
        runs = [LakeRun(r["run_id"], r.get("seq"), r.get("created"), docs[r["run_id"]])
                for r in batch if r["run_id"] in docs]
        added += table.backfill(runs)
    return added
