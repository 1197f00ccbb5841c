"""MLflow's sqlite store (`mlflow:sqlite:///mlflow.db`), read-only through sqlite3.

Opened as `file:...?mode=ro`, so a gate can never write to (or create) a team's tracking
database; a locked or corrupt file is one error line, bounded by the sqlite busy timeout.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from .canonical import SourceRead, fail
from .mlflow_common import Experiment, Query, Run, keep, models_of, select_experiments

_TABLES = ("experiments", "runs", "metrics")


def db_path(spec: str, uri: str) -> Path:
    """SQLAlchemy's URL rule: `sqlite:///rel.db` is relative, `sqlite:////abs.db` absolute."""
    if not uri.startswith("sqlite:///"):
        raise fail(spec, "expected sqlite:///PATH (relative) or sqlite:////PATH (absolute)")
    return Path(uri[len("sqlite:///"):])


def _connect(spec: str, path: Path, timeout: float) -> sqlite3.Connection:
    if not path.is_file():
        raise fail(spec, f"no MLflow database at {path}")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as exc:
        raise fail(spec, f"cannot read {path} as an MLflow sqlite store: {exc}") from None
    missing = [t for t in _TABLES if t not in names]
    if missing:
        conn.close()
        raise fail(spec, f"{path} is not an MLflow store (no table {missing[0]!r})")
    return conn


def _runs(conn: sqlite3.Connection, chosen: list[Experiment], query: Query) -> list[Run]:
    by_id = {e.id: e for e in chosen}
    marks = ",".join("?" * len(by_id))
    rows = conn.execute(
        "SELECT run_uuid, name, experiment_id, status, start_time FROM runs "
        f"WHERE lifecycle_stage = 'active' AND experiment_id IN ({marks}) "
        "ORDER BY start_time, run_uuid", [int(i) if i.isdigit() else i for i in by_id]
    ).fetchall()
    runs = [Run(id=r[0], name=r[1] or "", experiment=by_id[str(r[2])], status=r[3] or "",
                start_time=r[4] or 0) for r in rows]
    if query.filter:
        by_run = {run.id: run for run in runs}
        for table, attr in (("tags", "tags"), ("params", "params")):
            for key, value, run_id in conn.execute(f"SELECT key, value, run_uuid FROM {table}"):
                if run_id in by_run:
                    getattr(by_run[run_id], attr)[key] = value
        for key, value, run_id, is_nan in conn.execute(
                "SELECT key, value, run_uuid, is_nan FROM latest_metrics"):
            if run_id in by_run:
                by_run[run_id].latest[key] = float("nan") if is_nan else value
    return runs


def _points(conn: sqlite3.Connection, runs: list[Run]) -> None:
    by_id = {run.id: run for run in runs}
    cursor = conn.execute(
        "SELECT m.run_uuid, m.key, m.step, m.timestamp, m.value, m.is_nan FROM metrics m "
        "JOIN runs r ON r.run_uuid = m.run_uuid WHERE r.lifecycle_stage = 'active'")
    nan = float("nan")
    for run_id, key, step, timestamp, value, is_nan in cursor:
        run = by_id.get(run_id)
        if run is not None:
            run.add(key, step, timestamp, nan if is_nan else value)


def read(spec: str, location: str, query: Query) -> SourceRead:
    path = db_path(spec, location)
    conn = _connect(spec, path, min(query.timeout, 5.0))
    try:
        experiments = [Experiment(id=str(r[0]), name=r[1], active=r[2] == "active")
                       for r in conn.execute(
                           "SELECT experiment_id, name, lifecycle_stage FROM experiments "
                           "ORDER BY experiment_id")]
        chosen = select_experiments(spec, experiments, query.experiments)
        runs = keep(spec, _runs(conn, chosen, query), query)
        _points(conn, runs)
    except sqlite3.Error as exc:
        raise fail(spec, f"cannot read {path} as an MLflow sqlite store: {exc}") from None
    finally:
        conn.close()
    models = models_of(spec, runs)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return SourceRead(spec=spec, kind="mlflow", location=location, models=models,
                      files={path.name: digest}, anchor=path,
                      extra=query.record())

