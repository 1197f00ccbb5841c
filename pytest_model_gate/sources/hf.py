"""Hugging Face Trainer output: `trainer_state.json` in the output folder or its checkpoints.

One model per output folder. The state with the highest `global_step` (the top-level file or
the newest `checkpoint-*/`) carries the whole `log_history`, resumed runs included.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .canonical import (
    Digests,
    ModelRead,
    SourceRead,
    fail,
    finite_or_text,
    rel_id,
    source_folder,
    walk_dirs,
)
from .float32 import tidy

STATE = "trainer_state.json"
_CHECKPOINT = re.compile(r"checkpoint-(\d+)$")
_NOT_METRICS = frozenset(("step", "epoch"))


def checkpoints_of(folder: Path) -> dict[int, Path]:
    out: dict[int, Path] = {}
    try:
        children = list(folder.iterdir())
    except OSError:
        return out
    for child in children:
        match = _CHECKPOINT.fullmatch(child.name)
        if match and child.is_dir():
            out[int(match.group(1))] = child
    return dict(sorted(out.items()))


def is_output_folder(folder: Path) -> bool:
    if (folder / STATE).is_file():
        return True
    return any((c / STATE).is_file() for c in checkpoints_of(folder).values())


def output_folders(root: Path) -> list[Path]:
    if is_output_folder(root):
        return [root]
    found: list[Path] = []
    for here, dirnames, _files in walk_dirs(root, max_depth=4):
        if here != root and is_output_folder(here):
            found.append(here)
            dirnames[:] = []
        else:
            dirnames[:] = [d for d in dirnames if not _CHECKPOINT.fullmatch(d)]
    return found


def _load_state(spec: str, path: Path, digests: Digests) -> dict[str, Any]:
    try:
        data = json.loads(digests.read(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise fail(spec, f"{path}: not a readable trainer_state.json ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("log_history"), list):
        raise fail(spec, f"{path}: not a trainer_state.json (no log_history list)")
    return data


def _newest_state(spec: str, folder: Path, digests: Digests) -> tuple[Path, dict[str, Any]]:
    candidates: list[Path] = []
    if (folder / STATE).is_file():
        candidates.append(folder / STATE)
    ckpts = [c / STATE for c in checkpoints_of(folder).values() if (c / STATE).is_file()]
    if ckpts:
        candidates.append(ckpts[-1])
    best: tuple[int, Path, dict[str, Any]] | None = None
    for path in candidates:
        state = _load_state(spec, path, digests)
        raw = state.get("global_step")
        step = raw if isinstance(raw, int) else -1
        if best is None or step > best[0]:
            best = (step, path, state)
    assert best is not None  # is_output_folder() said there is one
    return best[1], best[2]


def _read_folder(spec: str, root: Path, folder: Path, digests: Digests) -> ModelRead:
    path, state = _newest_state(spec, folder, digests)
    model = ModelRead(id=rel_id(root, folder), file=path)
    for entry in state["log_history"]:
        if not isinstance(entry, dict):
            continue
        step = entry.get("step")
        if not isinstance(step, int) or isinstance(step, bool):
            continue
        for key, raw in entry.items():
            if key in _NOT_METRICS:
                continue
            value = finite_or_text(raw)
            if value is None:
                continue
            model.add(key, step, tidy(value) if isinstance(value, float) else value)
    fields: dict[str, Any] = {"model_path": folder.as_posix()}
    ckpts = checkpoints_of(folder)
    if ckpts:
        fields["checkpoints"] = {str(step): f"{p.name}/" for step, p in ckpts.items()}
    best = state.get("best_model_checkpoint")
    if isinstance(best, str) and best:
        fields["best_checkpoint"] = Path(best).name + "/"
    if isinstance(state.get("global_step"), int):
        fields["global_step"] = state["global_step"]
    model.fields = fields
    return model


def read(spec: str, location: str) -> SourceRead:
    root = source_folder(spec, location, STATE)
    folders = output_folders(root)
    if not folders:
        raise fail(spec, f"no {STATE} under {location} (looked in {location} and "
                         f"{location}/checkpoint-*, and in its subfolders)")
    digests = Digests(root)
    models = [_read_folder(spec, root, folder, digests) for folder in folders]
    return SourceRead(spec=spec, kind="hf", location=location, models=models,
                      files=digests.files, anchor=root)
