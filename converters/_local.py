"""`LocalStore`: payloads as files in a directory (the embedded engine's default).

Below the store's directory, every folder is opened from a descriptor of the one above
it and never through a symbolic link (`O_NOFOLLOW`), objects likewise: a link planted
inside the store cannot lead a read, a write, a listing or a delete out of it. Folders
the store creates are 0700 and objects 0600, whatever the process's umask.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from ._errors import StoreError
from ._store import ObjectInfo, Store, check_key, check_part, check_prefix

__all__ = ["LocalStore", "FOLDER_MODE", "OBJECT_MODE", "WRITE_CHUNK"]

FOLDER_MODE = 0o700
OBJECT_MODE = 0o600
#: Size of the pieces an object is written in (reads and S3 parts use the store's CHUNK).
#: Measured on Linux 6.18 (ext4, a Firecracker VM), writing 28 MB: 1 MiB pieces took 5-8 ms
#: every time; 8 MiB pieces took as long at first, then 58-82 ms once the process had
#: written a few hundred MB.
WRITE_CHUNK = 1 << 20


def _url2pathname(path: str) -> str:
    """urllib.request's url2pathname, which is unquote on POSIX: importing it costs http.client, email and ssl."""
    if os.name == "nt":
        from urllib.request import url2pathname

        return url2pathname(path)
    return urllib.parse.unquote(path)


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
# O_NONBLOCK: a FIFO planted under an object's name must not hang the reader.
_OBJECT = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | _NOFOLLOW | _CLOEXEC
# What opening a symbolic link with O_NOFOLLOW gives (EMLINK on FreeBSD), or a file where a folder should be.
_IN_THE_WAY = frozenset({errno.ELOOP, errno.EMLINK, errno.ENOTDIR})


class LocalStore(Store):
    """A directory, given as a plain path or a `file://` URI; created on first write."""

    machine_local = True

    def __init__(
        self, path: str | os.PathLike[str], *, _base: Path | None = None, _parts: tuple[str, ...] = ()
    ) -> None:
        if _base is None:
            text = os.fspath(path)
            if text.startswith("file://"):
                parsed = urllib.parse.urlparse(text)
                if parsed.netloc not in ("", "localhost"):
                    raise StoreError(f"file URI {text!r} names a remote host {parsed.netloc!r}")
                text = _url2pathname(parsed.path)
            # Links above the store's directory are the user's own choice: resolved once, here.
            _base = Path(text).expanduser().resolve()
        self._base = _base
        self._parts = _parts  # folders below `_base` for a scoped store: never resolved, opened without following
        self.path = _base.joinpath(*_parts)
        self.uri = self.path.as_uri()

    def uri_for(self, key: str) -> str:
        return self.path.joinpath(*check_key(key).split("/")).as_uri()

    def key_for(self, uri: str) -> str | None:
        key = super().key_for(uri)
        return None if key is None else urllib.parse.unquote(key)

    def child(self, *parts: str) -> LocalStore:
        return self._under(LocalStore(self.path, _base=self._base, _parts=(*self._parts, *map(check_part, parts))))

    def put(self, key: str, data: bytes | bytearray | memoryview) -> str:
        folders, name = self._split(key)
        uri = self.uri_for(key)
        view = memoryview(data).cast("B")
        tmp = f".{name}.{uuid.uuid4().hex}.tmp"
        try:
            folder = self._folder(folders, create=True)
            try:
                with os.fdopen(os.open(tmp, _NEW, OBJECT_MODE, dir_fd=folder), "wb") as out:
                    os.fchmod(out.fileno(), OBJECT_MODE)  # os.open's mode went through the umask
                    for start in range(0, len(view), WRITE_CHUNK):
                        out.write(view[start : start + WRITE_CHUNK])
                # Readers never see a half-written object; a link at `name` is replaced, not followed.
                os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=folder)
                raise
            finally:
                os.close(folder)
        except OSError as exc:
            raise _refused("write", uri, exc) from exc
        return uri

    def appender(self, key: str) -> IO[bytes]:
        """An unbuffered file appending to the object at `key` (created 0600): a write is one system call.

        Readers may see the object grow; marking where each write ends is the writer's business.
        """
        folders, name = self._split(key)
        uri = self.uri_for(key)
        try:
            folder = self._folder(folders, create=True)
            try:
                fd = os.open(name, _APPEND, OBJECT_MODE, dir_fd=folder)
            finally:
                os.close(folder)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise StoreError(f"cannot append to {uri}: not a file; a store holds plain folders and files only")
            os.fchmod(fd, OBJECT_MODE)  # os.open's mode went through the umask
            return os.fdopen(fd, "ab", buffering=0)
        except OSError as exc:
            raise _refused("write", uri, exc) from exc

    def open(self, key: str) -> IO[bytes]:
        folders, name = self._split(key)
        uri = self.uri_for(key)
        try:
            folder = self._folder(folders)
            try:
                fd = os.open(name, _OBJECT, dir_fd=folder)
            finally:
                os.close(folder)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise StoreError(f"cannot read {uri}: not a file; a store holds plain folders and files only")
            return os.fdopen(fd, "rb")
        except OSError as exc:
            raise _refused("read", uri, exc) from exc

    def size(self, key: str) -> int:
        with self.open(key) as src:
            return os.fstat(src.fileno()).st_size

    def exists(self, key: str) -> bool:
        folders, name = self._split(key)
        try:
            folder = self._folder(folders)
        except OSError:  # missing, or a link in the way: nothing of this store's
            return False
        try:
            return stat.S_ISREG(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
        except OSError:
            return False
        finally:
            os.close(folder)

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """The files under the directory (not `put`'s temporary `.*.tmp` files, nor symlinks)."""
        head, _, _ = check_prefix(prefix).rpartition("/")
        folders = (*self._parts, *head.split("/")) if head else self._parts
        try:
            folder = self._folder(folders)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) or exc.errno in _IN_THE_WAY:
                return
            raise _refused("list", self.path.joinpath(*folders).as_uri(), exc) from exc
        yield from self._walk(folder, head, prefix)

    def _walk(self, folder: int, rel: str, prefix: str) -> Iterator[ObjectInfo]:
        """The objects below the open `folder` (closed here), keys starting with `rel`."""
        try:
            with os.scandir(folder) as entries:
                found = sorted(entries, key=lambda e: e.name)
            for entry in found:
                key = f"{rel}/{entry.name}" if rel else entry.name
                if not key.startswith(prefix):  # then nothing below it does either
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        below = os.open(entry.name, _FOLDER, dir_fd=folder)
                    elif entry.is_file(follow_symlinks=False) and not _is_temp(entry.name):
                        st = entry.stat(follow_symlinks=False)
                        if stat.S_ISREG(st.st_mode):
                            yield ObjectInfo(key, st.st_size, st.st_mtime)
                        continue
                    else:
                        continue
                except FileNotFoundError:  # removed while listed
                    continue
                except OSError as exc:
                    if exc.errno in _IN_THE_WAY:  # replaced by a link while listed
                        continue
                    raise _refused("list", self.uri_for(key), exc) from exc
                yield from self._walk(below, key, prefix)
        except OSError as exc:
            raise _refused("list", self.path.joinpath(*rel.split("/")).as_uri() if rel else self.uri, exc) from exc
        finally:
            os.close(folder)

    def delete(self, keys: Iterable[str]) -> int:
        """Unlink the files, then the folders that this emptied (never the store's own)."""
        removed = 0
        emptied: set[tuple[str, ...]] = set()
        for key in keys:
            folders, name = self._split(key)
            try:
                folder = self._folder(folders)
            except OSError as exc:
                if isinstance(exc, FileNotFoundError) or exc.errno in _IN_THE_WAY:
                    continue  # nothing of this store's there
                raise _refused("delete", self.uri_for(key), exc) from exc
            try:
                os.unlink(name, dir_fd=folder)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise _refused("delete", self.uri_for(key), exc) from exc
            finally:
                os.close(folder)
            removed += 1
            emptied.add(folders)
        # deepest first, so a folder's emptied children are gone before it is tried
        for folders in sorted(emptied, key=len, reverse=True):
            while len(folders) > len(self._parts):
                try:
                    parent = self._folder(folders[:-1])
                    try:
                        os.rmdir(folders[-1], dir_fd=parent)
                    finally:
                        os.close(parent)
                except OSError:  # not empty (or already gone): its parents are not empty either
                    break
                folders = folders[:-1]
        return removed

    def _split(self, key: str) -> tuple[tuple[str, ...], str]:
        """The folders below the base directory that hold `key`, and its file name."""
        parts = (*self._parts, *check_key(key).split("/"))
        return parts[:-1], parts[-1]

    def _folder(self, parts: Sequence[str], *, create: bool = False) -> int:
        """A descriptor of the folder `parts` below the base directory, opened one folder at a time.

        Raises `OSError`: FileNotFoundError when missing (unless `create`), ELOOP at a link.
        """
        folder = self._open_base(create)
        try:
            for part in parts:
                below = _open_folder(folder, part, create)
                os.close(folder)
                folder = below
        except BaseException:
            os.close(folder)
            raise
        return folder

    def _open_base(self, create: bool) -> int:
        try:
            return os.open(self._base, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC)
        except FileNotFoundError:
            if not create:
                raise
        missing = [p for p in (self._base, *self._base.parents) if not p.exists()]
        for path in reversed(missing):
            try:
                path.mkdir(FOLDER_MODE)
            except FileExistsError:
                continue
            path.chmod(FOLDER_MODE)  # mkdir's mode went through the umask
        return os.open(self._base, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC)


def _open_folder(folder: int, name: str, create: bool) -> int:
    """The folder `name` inside the open `folder`, not through a link; made 0700 when `create` and missing."""
    try:
        return os.open(name, _FOLDER, dir_fd=folder)
    except NotADirectoryError:
        # Linux says ENOTDIR, not ELOOP, for a link opened with O_DIRECTORY | O_NOFOLLOW.
        if stat.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), name) from None
        raise
    except FileNotFoundError:
        if not create:
            raise
    try:
        os.mkdir(name, FOLDER_MODE, dir_fd=folder)
    except FileExistsError:  # made meanwhile by another writer
        return os.open(name, _FOLDER, dir_fd=folder)
    below = os.open(name, _FOLDER, dir_fd=folder)
    os.fchmod(below, FOLDER_MODE)  # mkdir's mode went through the umask
    return below


def _refused(action: str, uri: str, exc: OSError) -> StoreError:
    if exc.errno in (errno.ELOOP, errno.EMLINK):
        return StoreError(f"cannot {action} {uri}: a symbolic link is in the way; a store holds plain folders and files only")
    return StoreError(f"cannot {action} {uri}: {exc.strerror or exc}")


def _is_temp(name: str) -> bool:
    """`put` writes `.<name>.<hex>.tmp` and renames it into place."""
    return name.startswith(".") and name.endswith(".tmp")
