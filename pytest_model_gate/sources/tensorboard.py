"""TensorBoard log folders: every scalar of every `events.out.tfevents.*` file, never sampled.

One model per folder holding event files (id = its path under the log folder). A run
resumed into the same folder writes a new file: files are read in the order they were
created (the timestamp in their name), so the latest write of a step wins.
"""

from __future__ import annotations

import re
from pathlib import Path

from .canonical import Digests, ModelRead, SourceRead, fail, rel_id, walk_dirs
from .tfevents import EventFileError, records, scalars, simple_scalar

PREFIX = "events.out.tfevents."
_STAMP = re.compile(r"events\.out\.tfevents\.(\d+)")


def _order(path: Path) -> tuple[int, str]:
    match = _STAMP.match(path.name)
    return (int(match.group(1)) if match else 0, path.name)


def event_folders(root: Path) -> dict[Path, list[Path]]:
    if root.is_file():
        return {root.parent: [root]}
    found: dict[Path, list[Path]] = {}
    for here, _dirs, files in walk_dirs(root, max_depth=8):
        events = [here / f for f in files if f.startswith(PREFIX)]
        if events:
            found[here] = sorted(events, key=_order)
    return found


def _read_folder(spec: str, root: Path, folder: Path, files: list[Path],
                 digests: Digests) -> ModelRead:
    model = ModelRead(id=rel_id(root, folder), file=files[-1])
    plugins: dict[str, str] = {}
    points = model.points
    for path in files:
        try:
            buf = digests.read(path)
        except OSError as exc:
            raise fail(spec, f"{path}: cannot read ({exc})") from None
        try:
            for data in records(buf):
                simple = simple_scalar(data)
                found = (simple,) if simple is not None else scalars(data, plugins)
                for step, tag, value in found:
                    series = points.get(tag)
                    if series is None:
                        points[tag] = {step: value}
                    else:
                        series[step] = value
        except (EventFileError, IndexError, UnicodeDecodeError, ValueError) as exc:
            detail = str(exc) if isinstance(exc, EventFileError) else "malformed event"
            raise fail(spec, f"{path}: not a complete TensorBoard event file: {detail}"
                       ) from None
    model.fields = {"log_dir": folder.as_posix()}
    return model


def read(spec: str, location: str) -> SourceRead:
    root = Path(location)
    if not root.exists():
        raise fail(spec, f"no such folder: {location}")
    folders = event_folders(root)
    if not folders:
        raise fail(spec, f"no {PREFIX}* file under {location}")
    base = root.parent if root.is_file() else root
    digests = Digests(base)
    models = [_read_folder(spec, base, folder, files, digests)
              for folder, files in folders.items()]
    return SourceRead(spec=spec, kind="tensorboard", location=location, models=models,
                      files=digests.files, anchor=root)
