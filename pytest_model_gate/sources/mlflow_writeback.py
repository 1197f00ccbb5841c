"""Write verdicts back onto MLflow runs as tags (`model_gate.class`, `model_gate.flags`,
`model_gate.run_id`), so they show where people look at runs. Off by default.

The same three stores as the readers, with the standard library: the REST API's
`runs/log-batch` (one request per run, bounded timeout), the sqlite store's own `tags` table
(one transaction, busy timeout), the file store's `tags/<key>` files.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from .canonical import fail
from .mlflow_common import split_query
from .mlflow_rest import Client
from .mlflow_sqlite import db_path
from .registry import detect, split_spec

Tags = Mapping[str, Mapping[str, str]]
"""MLflow run id -> tag key -> value."""


def write_back(text: str, tags: Tags) -> int:
    """Set the tags on the runs of the mlflow source `text`; returns the runs tagged."""
    kind, location = detect(text)
    spec = text if split_spec(text)[0] is not None else f"{kind}:{text}"
    if kind != "mlflow":
        raise fail(spec, "write-back is only for mlflow sources")
    base, query = split_query(spec, location)
    if base.startswith(("http://", "https://")):
        client = Client(spec, base, query.timeout)
        for run_id, values in tags.items():
            client.call("POST", "runs/log-batch", {
                "run_id": run_id, "metrics": [], "params": [],
                "tags": [{"key": k, "value": v} for k, v in values.items()]})
        return len(tags)
    if base.startswith("file:"):
        base = base[len("file://"):] if base.startswith("file://") else base[len("file:"):]
    if base.startswith("sqlite:") or Path(base).is_file():
        path = db_path(spec, base if base.startswith("sqlite:") else "sqlite:///" + base)
        return _sqlite(spec, path, tags, min(query.timeout, 5.0))
    return _files(spec, Path(base), tags)


def _sqlite(spec: str, path: Path, tags: Tags, timeout: float) -> int:
    if not path.is_file():
        raise fail(spec, f"no MLflow database at {path}")
    rows = [(key, value, run_id) for run_id, values in tags.items()
            for key, value in values.items()]
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=timeout)
        try:
            with conn:
                known = {r[0] for r in conn.execute("SELECT run_uuid FROM runs")}
                missing = sorted(set(tags) - known)
                if missing:
                    raise fail(spec, f"run {missing[0]} is not in {path} any more")
                conn.executemany("INSERT OR REPLACE INTO tags (key, value, run_uuid) "
                                 "VALUES (?, ?, ?)", rows)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise fail(spec, f"cannot write tags to {path}: {exc}") from None
    return len(tags)


def _files(spec: str, root: Path, tags: Tags) -> int:
    runs = {p.parent.name: p.parent for p in root.glob("*/*/meta.yaml")
            if not p.parent.parent.name.startswith(".")}
    for run_id, values in tags.items():
        run_dir = runs.get(run_id)
        if run_dir is None:
            raise fail(spec, f"run {run_id} is not under {root} any more")
        try:
            (run_dir / "tags").mkdir(exist_ok=True)
            for key, value in values.items():
                (run_dir / "tags" / key).write_text(value, encoding="utf-8")
        except OSError as exc:
            raise fail(spec, f"cannot write tags under {run_dir}: "
                             f"{exc.strerror or exc}") from None
    return len(tags)
