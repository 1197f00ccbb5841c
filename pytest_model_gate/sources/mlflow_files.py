"""MLflow's file store (`mlflow:./mlruns`): `<exp>/meta.yaml`, `<exp>/<run>/metrics/<key>`.

meta.yaml files are flat `key: value` YAML written by MLflow itself, read here line by line
(no YAML library in a reader). Metric files hold `timestamp value step` lines; keys with `/`
are nested folders. Deleted experiments live in `.trash/` and are never looked at.
"""

from __future__ import annotations

from pathlib import Path

from .canonical import Digests, SourceRead, fail
from .mlflow_common import Experiment, Query, Run, keep, models_of, select_experiments


def flat_yaml(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line[0] in " #-" or ":" not in line:
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1].replace("''", "'")
        out[key.strip()] = value
    return out


def _meta(spec: str, path: Path, digests: Digests) -> dict[str, str]:
    try:
        return flat_yaml(digests.read(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(spec, f"{path}: cannot read ({exc})") from None


def is_file_store(root: Path) -> bool:
    try:
        return any((c / "meta.yaml").is_file() and c.name != ".trash" for c in root.iterdir()
                   if c.is_dir())
    except OSError:
        return False


def _tags(folder: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if folder.is_dir():
        for path in folder.rglob("*"):
            if path.is_file():
                try:
                    out[path.relative_to(folder).as_posix()] = path.read_text("utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
    return out


def _read_metric(spec: str, path: Path, key: str, run: Run, digests: Digests) -> None:
    try:
        text = digests.read(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(spec, f"{path}: cannot read ({exc})") from None
    for line_no, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            timestamp = int(parts[0])
            value = float(parts[1])
            step = int(parts[2]) if len(parts) > 2 else 0
        except (ValueError, IndexError):
            raise fail(spec, f"{path}:{line_no}: expected `timestamp value step`, got "
                             f"{line.strip()[:60]!r}") from None
        run.add(key, step, timestamp, value)


def read(spec: str, location: str, query: Query) -> SourceRead:
    root = Path(location)
    if not root.is_dir():
        raise fail(spec, f"no such folder: {location}")
    digests = Digests(root)
    experiments: list[Experiment] = []
    for child in sorted(root.iterdir(), key=lambda p: p.name):
        if child.is_dir() and not child.name.startswith(".") and (child / "meta.yaml").is_file():
            meta = _meta(spec, child / "meta.yaml", digests)
            if "experiment_id" not in meta and "name" not in meta:
                continue
            experiments.append(Experiment(id=meta.get("experiment_id", child.name),
                                          name=meta.get("name", child.name),
                                          active=meta.get("lifecycle_stage") != "deleted"))
    if not experiments:
        raise fail(spec, f"no MLflow experiment under {location} (looked for "
                         f"{location}/*/meta.yaml)")
    chosen = select_experiments(spec, experiments, query.experiments)
    runs: list[Run] = []
    for exp in chosen:
        exp_dir = root / exp.id
        for run_dir in sorted(p for p in exp_dir.iterdir() if p.is_dir()):
            if not (run_dir / "meta.yaml").is_file():
                continue
            meta = _meta(spec, run_dir / "meta.yaml", digests)
            if meta.get("lifecycle_stage") == "deleted":
                continue
            tags = _tags(run_dir / "tags")
            status = meta.get("status", "")
            status = {"1": "RUNNING", "2": "SCHEDULED", "3": "FINISHED", "4": "FAILED",
                      "5": "KILLED"}.get(status, status)
            run = Run(id=meta.get("run_id", run_dir.name),
                      name=tags.get("mlflow.runName") or meta.get("run_name", ""),
                      experiment=exp, status=status,
                      start_time=int(meta.get("start_time") or 0), tags=tags,
                      params=_tags(run_dir / "params"))
            runs.append(run)
    runs.sort(key=lambda r: (r.start_time, r.id))
    runs = keep(spec, runs, query) if not query.filter else _with_latest(spec, root, runs,
                                                                          query, digests)
    for run in runs:
        _read_points(spec, root, run, digests)
    return SourceRead(spec=spec, kind="mlflow", location=location,
                      models=models_of(spec, runs), files=digests.files, anchor=root,
                      extra=query.record())


def _metric_files(root: Path, run: Run) -> list[tuple[str, Path]]:
    folder = root / run.experiment.id / run.id / "metrics"
    if not folder.is_dir():
        return []
    return [(p.relative_to(folder).as_posix(), p) for p in sorted(folder.rglob("*"))
            if p.is_file()]


def _read_points(spec: str, root: Path, run: Run, digests: Digests) -> None:
    if run.points:
        return
    for key, path in _metric_files(root, run):
        _read_metric(spec, path, key, run, digests)


def _with_latest(spec: str, root: Path, runs: list[Run], query: Query,
                 digests: Digests) -> list[Run]:
    for run in runs:
        _read_points(spec, root, run, digests)
        for key, series in run.points.items():
            if series:
                run.latest[key] = series[max(series)][2]
    return keep(spec, runs, query)
