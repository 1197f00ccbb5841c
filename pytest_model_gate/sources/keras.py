"""Keras CSVLogger files: `epoch` first, then the sorted log keys, one row per epoch.

One model per CSV file (id = file stem); step = epoch + 1 (epochs count from 0). Cells are
"NA" where a key was not logged that epoch (validation_freq > 1): no point, not a NaN.
"""

from __future__ import annotations

from pathlib import Path

from .canonical import Digests, ModelRead, SourceRead, fail, number, walk_dirs
from .csvlog import header_of, read_rows
from .float32 import tidy


def is_keras_csv(path: Path) -> bool:
    head = header_of(path)
    return bool(head) and head[0] == "epoch"


def csv_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return [here / f for here, _d, files in walk_dirs(root, max_depth=3)
            for f in files if f.endswith(".csv") and is_keras_csv(here / f)]


def _read_file(spec: str, root: Path, path: Path, digests: Digests) -> ModelRead:
    header, rows = read_rows(spec, path, digests)
    if not header or header[0] != "epoch":
        raise fail(spec, f"{path}: not a Keras CSVLogger file (first column is not `epoch`)")
    stem = path.stem if root.is_file() or path.parent == root else \
        path.relative_to(root).with_suffix("").as_posix()
    model = ModelRead(id=stem, file=path)
    for line, row in enumerate(rows, start=2):
        if row == header:  # a resumed run with append=False header rewritten mid-file
            continue
        try:
            step = int(float(row[0])) + 1
        except (ValueError, IndexError):
            raise fail(spec, f"{path}:{line}: epoch is not a whole number") from None
        for name, cell in zip(header[1:], row[1:], strict=False):
            value = number(cell)
            if value is not None:
                model.add(name, step, tidy(value) if isinstance(value, float) else value)
    model.fields = {"log_path": path.as_posix()}
    return model


def read(spec: str, location: str) -> SourceRead:
    root = Path(location)
    if not root.exists():
        raise fail(spec, f"no such file or folder: {location}")
    files = csv_files(root)
    if not files:
        raise fail(spec, f"no Keras CSVLogger file under {location} (looked for *.csv whose "
                         "first column is `epoch`)")
    digests = Digests(root.parent if root.is_file() else root)
    models = [_read_file(spec, root, path, digests) for path in files]
    return SourceRead(spec=spec, kind="keras", location=location, models=models,
                      files=digests.files, anchor=root)
