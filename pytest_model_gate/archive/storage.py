"""Where the archive's bytes live: a local folder, or any fsspec URL (s3://, gs://, memory://).

Two write primitives, both all-or-nothing:

- `create(key, data)`: the key must not exist (FileExistsError otherwise). Locally a temp file
  in the same folder is written, fsynced and hard-linked to its name (link fails if the name
  exists), then the temp name is dropped and the folder fsynced. On object stores it is a
  conditional PUT (`If-None-Match: *`), which s3fs exposes as `pipe_file(..., mode="create")`.
- `replace(key, data)`: atomic replace (temp file + `os.replace` locally; a plain PUT, which is
  atomic, on object stores).

Keys are POSIX-style relative paths built by the archive from validated names only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import socket
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_model_gate.errors import ArchiveError
from pytest_model_gate.files import fsync_dir

TEMP_SUFFIX = ".tmp"
LOCK_NAME = ".index.lock"
REMOTE_HINT = "install pytest-model-gate[remote]"
HOST = socket.gethostname().replace(".", "_")[:40] or "host"  # in temp and lease names


Chunks = bytes | Sequence[bytes | memoryview]
"""What `replace` writes: bytes, or chunks written one after another (no concatenation)."""


def _join(data: Chunks) -> bytes:
    return data if isinstance(data, bytes) else b"".join(data)


@dataclass(frozen=True)
class Entry:
    """One name in a folder listing."""

    name: str
    is_dir: bool
    mtime: float | None = None


def temp_name(final_name: str) -> str:
    """`.{name}.{host}.{pid}.{random}.tmp`: who wrote it is in the name, for `reindex`."""
    return f".{final_name}.{HOST}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}"


def temp_is_stale(name: str, mtime: float | None, *, max_age: float = 3600.0) -> bool:
    """A leftover temp file: its writer on this host is dead, or (another host's) it is older
    than max_age. A live writer's temp file on this host is never stale, whatever its age."""
    if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
        return False
    parts = name[: -len(TEMP_SUFFIX)].rsplit(".", 3)
    ours = len(parts) == 4 and parts[1] == HOST and parts[2].isdigit()
    if not ours:  # another host's writer: only its age tells
        return mtime is not None and time.time() - mtime > max_age
    pid = int(parts[2])
    if os.name != "posix":  # on Windows os.kill(pid, 0) would kill it: age only
        return mtime is not None and time.time() - mtime > max_age
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists but not ours (EPERM)
        return False
    return False


class Storage:
    """The small interface the archive needs: the same calls on a folder and an object store.

    What only a local folder can do (append in place under a file lock: the derived views)
    is reached through `local()`, so no caller asks which class it holds."""

    location: str

    def local(self) -> LocalStorage | None:
        """This storage as a local folder, when it is one (derived views need one)."""
        return None

    def is_missing(self) -> bool:
        """True when the location surely holds no archive (a local folder that does not
        exist). Object stores have no folders to miss: False."""
        return False

    def remove_stale_temps(self, folders: Iterable[str], max_age: float) -> None:
        """Remove temp files whose writer is gone (object stores write whole objects: none)."""

    def remove_empty_folder(self, folder: str) -> None:
        """Remove folder if it is empty, atomically (object stores have no empty folders)."""

    def url_of(self, key: str) -> str:
        raise NotImplementedError

    def read(self, key: str) -> bytes:
        """The bytes at key; FileNotFoundError when absent."""
        raise NotImplementedError

    def read_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """Several keys at once (absent ones are left out)."""
        out: dict[str, bytes] = {}
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                out[key] = self.read(key)
        return out

    def create(self, key: str, data: bytes, *, durable: bool = True,
               sync_folder: bool = True) -> None:
        """Write a new key completely or not at all; FileExistsError if it exists.
        durable: fsync the data (and, with sync_folder, the folder's entry) before returning."""
        raise NotImplementedError

    def sync_folder(self, folder: str) -> None:
        """Make the names created in folder durable (after create(..., sync_folder=False))."""

    def replace(self, key: str, data: Chunks, *, durable: bool = True) -> None:
        """Atomically write key, replacing what was there (data: bytes or a list of chunks)."""
        raise NotImplementedError

    def listdir(self, folder: str = "") -> list[Entry]:
        """Entries directly in folder ("" = the root); [] when the folder does not exist."""
        raise NotImplementedError

    def names(self, folder: str = "") -> list[str]:
        """Names only (locally cheaper than `list`: no stat)."""
        return [e.name for e in self.listdir(folder)]

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove a key; absent is fine."""
        raise NotImplementedError

    def delete_tree(self, folder: str) -> None:
        """Remove a folder and everything in it; absent is fine."""
        raise NotImplementedError

    def lock(self, timeout: float = 60.0) -> contextlib.AbstractContextManager[Any]:
        """Serialise derived-view updates among writers of this archive (no-op remotely)."""
        return contextlib.nullcontext()


class SymlinkError(ArchiveError):
    """A write or delete would go through a symlink planted inside the archive."""


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class LocalStorage(Storage):
    """A folder on a local (or network) file system."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.location = str(root)

    def local(self) -> LocalStorage:
        return self

    def is_missing(self) -> bool:
        return not self.root.is_dir()

    def remove_empty_folder(self, folder: str) -> None:
        with contextlib.suppress(OSError):  # not empty (a writer is in it), or gone
            os.rmdir(self.write_path(folder))

    def remove_stale_temps(self, folders: Iterable[str], max_age: float) -> None:
        for folder in folders:
            for entry in self.listdir(folder):
                if not temp_is_stale(entry.name, entry.mtime, max_age=max_age):
                    continue
                key = f"{folder}/{entry.name}" if folder else entry.name
                if entry.is_dir:
                    self.delete_tree(key)
                else:
                    self.delete(key)

    def path(self, key: str) -> Path:
        return self.root / key if key else self.root

    def write_path(self, key: str) -> Path:
        """The path of key for a write, rename or delete: SymlinkError when a folder on the way
        from the root (or the name itself) is a symlink, so nothing planted in the archive
        (`views -> /etc`, `index.d -> ~/.ssh`) redirects a write or a delete out of it."""
        path = self.root
        seen: list[str] = []
        for part in key.split("/") if key else []:
            path = path / part
            seen.append(part)
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                break  # the rest is created by us, as real folders
            if stat.S_ISLNK(st.st_mode):
                raise SymlinkError(f"archive {self.location}: {'/'.join(seen)} is a symlink: "
                                   "refusing to write or delete through it")
        return self.path(key)

    def url_of(self, key: str) -> str:
        return str(self.path(key))

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def _ensure_folder(self, folder: Path) -> None:
        if folder.is_dir():
            return
        missing: list[Path] = []
        p = folder
        while not p.exists():
            missing.append(p)
            if p.parent == p:
                break
            p = p.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # a file where a folder should be
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(folder)) from None
        for made in reversed(missing):
            fsync_dir(made.parent)

    def _write_temp(self, target: Path, data: Chunks, durable: bool) -> Path:
        self._ensure_folder(target.parent)
        tmp = target.parent / temp_name(target.name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o644)
        try:
            for chunk in ([data] if isinstance(data, bytes) else data):
                view = memoryview(chunk)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
            if durable:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        os.close(fd)
        return tmp

    def create(self, key: str, data: bytes, *, durable: bool = True,
               sync_folder: bool = True) -> None:
        target = self.write_path(key)
        tmp = self._write_temp(target, data, durable)
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                                 errno.ENOSYS):
                raise
            # No hard links here (some network/FUSE file systems): O_EXCL create of the final
            # name, then copy. Still create-only; a crash mid-copy can leave a short file.
            self._create_excl(target, data, durable)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        if durable and sync_folder:
            fsync_dir(target.parent)

    def sync_folder(self, folder: str) -> None:
        fsync_dir(self.path(folder))

    def _create_excl(self, target: Path, data: bytes, durable: bool) -> None:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
                     | getattr(os, "O_BINARY", 0), 0o644)
        try:
            os.write(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def replace(self, key: str, data: Chunks, *, durable: bool = True) -> None:
        target = self.write_path(key)
        tmp = self._write_temp(target, data, durable)
        try:
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        if durable:
            fsync_dir(target.parent)

    def listdir(self, folder: str = "") -> list[Entry]:
        try:
            with os.scandir(self.path(folder)) as it:
                out = []
                for e in it:
                    try:
                        out.append(Entry(e.name, e.is_dir(follow_symlinks=False),
                                         e.stat(follow_symlinks=False).st_mtime))
                    except FileNotFoundError:  # removed while listing
                        continue
                return out
        except (FileNotFoundError, NotADirectoryError):
            return []

    def names(self, folder: str = "") -> list[str]:
        """Names only (cheaper than `list`: no stat)."""
        try:
            return os.listdir(self.path(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.write_path(key).unlink()

    def delete_tree(self, folder: str) -> None:
        import shutil

        shutil.rmtree(self.write_path(folder), ignore_errors=True)

    def lock(self, timeout: float = 60.0) -> contextlib.AbstractContextManager[Any]:
        from filelock import FileLock

        self._ensure_folder(self.root)
        return FileLock(str(self.write_path(LOCK_NAME)), timeout=timeout)


class FsspecStorage(Storage):
    """Any fsspec file system; create-only writes use the store's conditional PUT."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        try:
            import fsspec
        except ImportError:
            raise ArchiveError(f"{url}: an archive URL needs fsspec: {REMOTE_HINT}") from None
        try:
            fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
        except ImportError as exc:
            raise ArchiveError(f"{url}: {exc}; {REMOTE_HINT}") from None
        except (ValueError, TypeError) as exc:
            raise ArchiveError(f"{url}: cannot open this archive URL: {exc}") from None
        self.fs = fs
        self.root = str(root).rstrip("/")
        self.location = url
        self._protocol = url.split("://", 1)[0]

    def _p(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def url_of(self, key: str) -> str:
        return f"{self.location.rstrip('/')}/{key}" if key else self.location

    def read(self, key: str) -> bytes:
        data = self.fs.cat_file(self._p(key))
        return bytes(data)

    def read_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        keys = list(keys)
        if not keys:
            return {}
        paths = {self._p(k): k for k in keys}
        for folder in {p.rsplit("/", 1)[0] for p in paths}:
            # a cached listing (fsspec's dircache) must never hide a key written since
            with contextlib.suppress(Exception):
                self.fs.invalidate_cache(folder)
        try:
            got = self.fs.cat(list(paths), on_error="omit")
        except FileNotFoundError:
            got = {}
        out: dict[str, bytes] = {}
        for path, data in got.items():
            key = paths.get(path) or paths.get(path.split("://", 1)[-1])
            if key is not None and isinstance(data, (bytes, bytearray)):
                out[key] = bytes(data)
        return out

    def create(self, key: str, data: bytes, *, durable: bool = True,
               sync_folder: bool = True) -> None:
        path = self._p(key)
        try:
            # s3fs: PUT with If-None-Match: * (FileExistsError on 412); memory: "xb"
            self.fs.pipe_file(path, data, mode="create")
            return
        except TypeError:  # a driver without mode="create"
            pass
        try:
            with self.fs.open(path, "xb") as f:
                f.write(data)
        except (ValueError, NotImplementedError):
            # no exclusive create at all: check, then write (not atomic against a racer;
            # run ids are unique, so only a reindex/commit race could meet here)
            if self.fs.exists(path):
                raise FileExistsError(path) from None
            self.fs.pipe_file(path, data)

    def replace(self, key: str, data: Chunks, *, durable: bool = True) -> None:
        self.fs.pipe_file(self._p(key), _join(data))

    def listdir(self, folder: str = "") -> list[Entry]:
        path = self._p(folder)
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(path)
        try:
            items = self.fs.ls(path, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        finally:  # leave no cached listing behind: later reads must see later writes
            with contextlib.suppress(Exception):
                self.fs.invalidate_cache(path)
        out = []
        own = path.split("://", 1)[-1].rstrip("/")
        for item in items:
            name = str(item.get("name", "")).split("://", 1)[-1].rstrip("/")
            if name == own:
                continue
            base = name.rsplit("/", 1)[-1]
            mtime = item.get("LastModified") or item.get("mtime") or item.get("created")
            stamp: float | None
            if hasattr(mtime, "timestamp"):
                stamp = float(mtime.timestamp())
            elif isinstance(mtime, (int, float)):
                stamp = float(mtime)
            else:
                stamp = None
            out.append(Entry(base, item.get("type") == "directory", stamp))
        return out

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._p(key)))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._p(key))

    def delete_tree(self, folder: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._p(folder), recursive=True)


def open_storage(location: str | os.PathLike[str],
                 storage_options: dict[str, Any] | None = None) -> Storage:
    """A local path (or file:// URL) -> LocalStorage; any other URL -> FsspecStorage."""
    text = os.fspath(location)
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme == "file" and not storage_options:
            return LocalStorage(rest)
        return FsspecStorage(text, storage_options)
    return LocalStorage(text)


@contextlib.contextmanager
def translate_errors(where: str, action: str) -> Iterator[None]:
    """OSError -> ArchiveError naming the archive and the action."""
    try:
        yield
    except ArchiveError:
        raise
    except (FileExistsError, FileNotFoundError):
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ArchiveError(f"cannot {action} archive {where}: {reason}") from exc
