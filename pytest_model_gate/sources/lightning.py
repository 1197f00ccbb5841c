"""PyTorch Lightning CSVLogger: `version_*/metrics.csv` (+ `hparams.yaml`, `checkpoints/`).

The CSV is sparse (train and validation rows interleaved, empty cells where a key was not
logged), so a metric's history is the rows where its column is non-empty, by `step`. Values
are `.item()` of float32 tensors, read back as their shortest float32 decimal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .canonical import (
    Digests,
    ModelRead,
    SourceRead,
    fail,
    number,
    rel_id,
    source_folder,
    walk_dirs,
)
from .csvlog import read_rows
from .float32 import tidy

METRICS = "metrics.csv"
_STEP_IN_NAME = re.compile(r"(?:^|[-_])step=(\d+)")
_NOT_METRICS = frozenset(("step", "epoch"))


def version_folders(root: Path) -> list[Path]:
    if (root / METRICS).is_file():
        return [root]
    return [here for here, _d, files in walk_dirs(root) if METRICS in files and here != root]


def _checkpoints(folder: Path) -> dict[str, str]:
    out: dict[int, str] = {}
    ckpt_dir = folder / "checkpoints"
    if ckpt_dir.is_dir():
        for path in sorted(ckpt_dir.glob("*.ckpt")):
            match = _STEP_IN_NAME.search(path.stem)
            if match:
                out[int(match.group(1))] = f"checkpoints/{path.name}"
    return {str(k): v for k, v in sorted(out.items())}


def _read_folder(spec: str, root: Path, folder: Path, digests: Digests) -> ModelRead:
    path = folder / METRICS
    header, rows = read_rows(spec, path, digests)
    if "step" not in header:
        raise fail(spec, f"{path}: no `step` column (header: {', '.join(header)})")
    step_at = header.index("step")
    columns = [(i, name) for i, name in enumerate(header) if name not in _NOT_METRICS]
    model = ModelRead(id=rel_id(root, folder), file=path)
    for line, row in enumerate(rows, start=2):
        try:
            step = int(float(row[step_at]))
        except (ValueError, IndexError):
            raise fail(spec, f"{path}:{line}: step is not a whole number") from None
        for i, name in columns:
            if i >= len(row):
                continue
            value = number(row[i])
            if value is not None:
                model.add(name, step, tidy(value) if isinstance(value, float) else value)
    fields: dict[str, Any] = {"model_path": folder.as_posix()}
    ckpts = _checkpoints(folder)
    if ckpts:
        fields["checkpoints"] = ckpts
    digests.note(folder / "hparams.yaml")
    model.fields = fields
    return model


def read(spec: str, location: str) -> SourceRead:
    root = source_folder(spec, location, METRICS)
    folders = version_folders(root)
    if not folders:
        raise fail(spec, f"no {METRICS} under {location} (looked for version_*/{METRICS})")
    digests = Digests(root)
    models = [_read_folder(spec, root, folder, digests) for folder in folders]
    return SourceRead(spec=spec, kind="lightning", location=location, models=models,
                      files=digests.files, anchor=root)
