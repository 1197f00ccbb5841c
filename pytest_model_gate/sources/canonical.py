"""What every reader produces: models with step-indexed points, turned into our summary shape.

Readers collect `step -> value` per metric in the order the tool wrote them, so a later write
for the same step replaces an earlier one (latest wins); `summary_dict` then lays each metric
out as a history sorted by step plus a `<metric>_steps` list, which is the summary shape the
loader already understands. Nothing here knows about gating.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SummaryError

STEPS_SUFFIX = "_steps"

Value = float | str
"""A logged value: a number, or the text a tool wrote where a number belongs (kept, so that a
gated metric logged as text is reported with its place, as in a summary file)."""


@dataclass
class ModelRead:
    """One model (run / output folder) as a reader found it."""

    id: str
    points: dict[str, dict[int, Value]] = field(default_factory=dict)
    finals: dict[str, Value | None] = field(default_factory=dict)  # finals with no history
    fields: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None  # the file that holds most of it (pytest's reportinfo)

    def add(self, key: str, step: int, value: Value) -> None:
        """Record one logged point; a later write for the same step wins."""
        series = self.points.get(key)
        if series is None:
            self.points[key] = {step: value}
        else:
            series[step] = value


@dataclass
class SourceRead:
    """A whole source read: its models plus the record the archive keeps."""

    spec: str
    kind: str
    location: str
    models: list[ModelRead]
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    extra: dict[str, Any] = field(default_factory=dict)  # more of the source record
    anchor: Path | None = None  # a file or folder that stands for the whole source


class Digests:
    """Reads files and remembers their sha256 under a path relative to the source root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, str] = {}

    def name(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def read(self, path: Path) -> bytes:
        data = path.read_bytes()
        self.files[self.name(path)] = hashlib.sha256(data).hexdigest()
        return data

    def note(self, path: Path) -> None:
        """Digest a file the reader does not parse (hparams.yaml): it is part of the run."""
        with contextlib.suppress(OSError):
            self.read(path)


def fail(spec: str, message: str) -> SummaryError:
    """The one-line error of a source: `KIND:LOCATION: what was looked for / went wrong`."""
    return SummaryError(message, file=spec)


def source_folder(spec: str, location: str, marker: str) -> Path:
    """The folder a folder source reads: `location`, or the folder of its `marker` file."""
    root = Path(location)
    if root.is_file() and root.name == marker:
        root = root.parent
    if not root.is_dir():
        raise fail(spec, f"no such folder: {location}")
    return root


def number(text: str) -> Value | None:
    """A cell of a text log: None when empty / "NA" (nothing logged), a float when it parses,
    else the text itself (a metric logged as text)."""
    text = text.strip()
    if not text or text in ("NA", "None", "null"):
        return None
    try:
        return float(text)
    except ValueError:
        return text


def rel_id(root: Path, folder: Path) -> str:
    """A model id for `folder` found under `root`: its path under root, or root's own name."""
    if folder == root:
        return root.resolve().name or str(root)
    return folder.relative_to(root).as_posix()


def walk_dirs(root: Path, max_depth: int = 6) -> Iterable[tuple[Path, list[str], list[str]]]:
    """os.walk in sorted order, hidden folders left out, bounded depth."""
    base_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if len(here.parts) - base_depth >= max_depth:
            dirnames[:] = []
        yield here, dirnames, sorted(filenames)


def _metrics_block(model: ModelRead) -> dict[str, Any]:
    block: dict[str, Any] = {}
    for key, final in model.finals.items():
        if key not in model.points:
            block[key] = final
    for key in sorted(model.points, key=_natural):
        series = model.points[key]
        steps = sorted(series)
        block[key] = [series[s] for s in steps]
        block[key + STEPS_SUFFIX] = steps
    return block


def _natural(key: str) -> tuple[str, str]:
    return (key.lower(), key)


def summary_dict(read: SourceRead) -> dict[str, Any]:
    """The canonical summary of a source: our summary shape, JSON-ready (NaN aside)."""
    models: dict[str, Any] = {}
    for model in read.models:
        entry: dict[str, Any] = dict(model.fields)
        entry["metrics"] = _metrics_block(model)
        models[model.id] = entry
    record: dict[str, Any] = {"kind": read.kind, "location": read.location}
    record.update(read.extra)
    record["files"] = dict(sorted(read.files.items()))
    return {"source": record, "models": models}


def unique_ids(spec: str, models: list[ModelRead]) -> None:
    seen: set[str] = set()
    for model in models:
        if model.id in seen:
            raise fail(spec, f"two models would both be called {model.id!r}")
        seen.add(model.id)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_or_text(value: Any) -> Value | None:
    """A JSON value of a tool's log as a logged value; None for null."""
    if value is None:
        return None
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity", "+infinity"):
            return float(low.replace("infinity", "inf"))
        return value
    return None


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


