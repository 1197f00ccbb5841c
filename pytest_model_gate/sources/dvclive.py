"""DVCLive folders: `metrics.json` (latest values) + `plots/metrics/**.tsv` (every step).

One model per DVCLive folder. A metric's name is its path in metrics.json joined with `/`
(`val/acc`), which is also its TSV path under plots/metrics. A run resumed with
`Live(resume=True)` appends to the same TSVs: one model, the latest row per step wins.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .canonical import (
    Digests,
    ModelRead,
    SourceRead,
    fail,
    finite_or_text,
    number,
    rel_id,
    source_folder,
    walk_dirs,
)
from .float32 import tidy

METRICS = "metrics.json"
PLOTS = Path("plots") / "metrics"


def is_dvclive_folder(folder: Path) -> bool:
    return (folder / METRICS).is_file() or (folder / PLOTS).is_dir()


def live_folders(root: Path) -> list[Path]:
    if is_dvclive_folder(root):
        return [root]
    found: list[Path] = []
    for here, dirnames, _files in walk_dirs(root, max_depth=4):
        if here != root and is_dvclive_folder(here):
            found.append(here)
            dirnames[:] = []
    return found


def _flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "/"))
        else:
            out[name] = value
    return out


def _read_tsv(spec: str, path: Path, name: str, model: ModelRead, digests: Digests) -> None:
    try:
        text = digests.read(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(spec, f"{path}: cannot read ({exc})") from None
    rows = [r for r in csv.reader(io.StringIO(text), delimiter="\t") if r]
    if not rows:
        return
    header = rows[0]
    if "step" not in header or len(header) < 2:
        raise fail(spec, f"{path}: not a DVCLive metric file (header: {' '.join(header)})")
    step_at = header.index("step")
    value_at = len(header) - 1
    for line, row in enumerate(rows[1:], start=2):
        if row == header:
            continue
        try:
            step = int(float(row[step_at]))
        except (ValueError, IndexError):
            raise fail(spec, f"{path}:{line}: step is not a whole number") from None
        value = number(row[value_at]) if value_at < len(row) else None
        if value is not None:
            model.add(name, step, tidy(value) if isinstance(value, float) else value)


def _read_folder(spec: str, root: Path, folder: Path, digests: Digests) -> ModelRead:
    model = ModelRead(id=rel_id(root, folder))
    latest: dict[str, Any] = {}
    if (folder / METRICS).is_file():
        model.file = folder / METRICS
        try:
            data = json.loads(digests.read(folder / METRICS).decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise fail(spec, f"{folder / METRICS}: not readable JSON ({exc})") from None
        if isinstance(data, Mapping):
            latest = _flatten(data)
    plots = folder / PLOTS
    if plots.is_dir():
        for tsv in sorted(plots.rglob("*.tsv")):
            name = tsv.relative_to(plots).with_suffix("").as_posix()
            _read_tsv(spec, tsv, name, model, digests)
            if model.file is None:
                model.file = tsv
    for name, raw in latest.items():
        if name == "step" or name in model.points:
            continue
        value = finite_or_text(raw)
        if value is not None:
            model.finals[name] = tidy(value) if isinstance(value, float) else value
    model.fields = {"model_path": folder.as_posix()}
    for extra in ("params.yaml", "dvc.yaml"):
        digests.note(folder / extra)
    return model


def read(spec: str, location: str) -> SourceRead:
    root = source_folder(spec, location, METRICS)
    folders = live_folders(root)
    if not folders:
        raise fail(spec, f"no DVCLive folder under {location} (looked for {METRICS} and "
                         f"{PLOTS.as_posix()}/)")
    digests = Digests(root)
    models = [_read_folder(spec, root, folder, digests) for folder in folders]
    return SourceRead(spec=spec, kind="dvclive", location=location, models=models,
                      files=digests.files, anchor=root)
