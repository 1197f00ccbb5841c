"""Writing report files safely: the one place a report, HTML page or PR comment reaches disk.

Rules (DESIGN "Safety of the archive and of every file written"):
- a regular file (or a new one) is replaced atomically: a temp file in the target's own folder,
  fsync, rename over it, so a reader sees the old file or the new one, never half of it; through
  a symlink, the link's final target is replaced and the link stays;
- an existing non-regular file (a character device such as /dev/null, a FIFO such as bash's
  `>(cat)`) is written through, never replaced: renaming over /dev/null as root would turn the
  machine's /dev/null into a regular file;
- a target that is a summary being gated is refused (`refuse_inputs`), before anything is read.

Standard library only (no package imports): the pipeline turns a TargetError into the
package's one-line error.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path


class TargetError(ValueError):
    """An output target that must not be written (it is an input of the same run)."""

    def __init__(self, message: str, target: str) -> None:
        super().__init__(message)
        self.target = target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename or a new entry in `folder` durable (a no-op where folders have no fd)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 `text` to `path` by the rules above (errors are OSError, with filename)."""
    data = text.encode("utf-8")
    target = os.path.realpath(path)  # through a symlink: its target
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "Is a directory", os.fspath(path))
        _write_through(target, data)
        return
    folder = os.path.dirname(target)
    try:
        os.makedirs(folder, exist_ok=True)
        _replace(target, folder, data, st)
    except OSError as exc:  # name the target, not our temp file
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from exc
    fsync_dir(folder)


def _replace(target: str, folder: str, data: bytes, st: os.stat_result | None) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_through(target: str, data: bytes) -> None:
    """Write into an existing device or FIFO as it is (no truncation, no rename)."""
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    finally:
        os.close(fd)


def append_text(path: str | os.PathLike[str], text: str) -> None:
    """Append UTF-8 text (the CI step summary: GitHub owns the file, we add to it)."""
    with open(path, "a", encoding="utf-8", newline="\n") as f:
        f.write(text)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when both names reach one file (through symlinks, hard links, `..`)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def refuse_inputs(targets: Iterable[tuple[str, str | None]],
                  inputs: Iterable[str | os.PathLike[str]]) -> None:
    """Raise TargetError when an output target (what, path) is one of the run's inputs."""
    inputs = list(inputs)
    for what, target in targets:
        if target is None:
            continue
        for source in inputs:
            if same_file(target, source):
                raise TargetError(f"the {what} target is the summary being gated "
                                  f"({Path(source)}): choose another path for the {what}",
                                  os.fspath(target))
