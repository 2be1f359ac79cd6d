"""`LocalStore`: payloads as files in a directory (the embedded engine's default)."""

from __future__ import annotations

import contextlib
import os
import stat
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from ._errors import StoreError
from ._store import CHUNK, ObjectInfo, Store, check_key, check_part, check_prefix

__all__ = ["LocalStore"]


class LocalStore(Store):
    """A directory, given as a plain path or a `file://` URI; created on first write."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        text = os.fspath(path)
        if text.startswith("file://"):
            parsed = urllib.parse.urlparse(text)
            if parsed.netloc not in ("", "localhost"):
                raise StoreError(f"file URI {text!r} names a remote host {parsed.netloc!r}")
            text = urllib.request.url2pathname(parsed.path)
        self.path = Path(text).expanduser().resolve()
        self.uri = self.path.as_uri()

    def _file(self, key: str) -> Path:
        return self.path.joinpath(*check_key(key).split("/"))

    def uri_for(self, key: str) -> str:
        return self._file(key).as_uri()

    def key_for(self, uri: str) -> str | None:
        key = super().key_for(uri)
        return None if key is None else urllib.parse.unquote(key)

    def put(self, key: str, data: bytes | bytearray | memoryview) -> str:
        target = self._file(key)
        view = memoryview(data).cast("B")
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                for start in range(0, len(view), CHUNK):
                    out.write(view[start : start + CHUNK])
            os.replace(tmp, target)  # readers never see a half-written object
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(f"cannot write {target}: {exc}") from exc
        return target.as_uri()

    def open(self, key: str) -> IO[bytes]:
        target = self._file(key)
        try:
            return open(target, "rb")
        except OSError as exc:
            raise StoreError(f"cannot read {target.as_uri()}: {exc.strerror or exc}") from exc

    def exists(self, key: str) -> bool:
        return self._file(key).is_file()

    def child(self, *parts: str) -> LocalStore:
        return self._under(LocalStore(self.path.joinpath(*map(check_part, parts))))

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """The files under the directory (not `put`'s temporary `.*.tmp` files, nor symlinks)."""
        head, _, _ = check_prefix(prefix).rpartition("/")
        top = self.path.joinpath(*head.split("/")) if head else self.path
        yield from self._walk(top, head, prefix)

    def _walk(self, directory: Path, rel: str, prefix: str) -> Iterator[ObjectInfo]:
        try:
            with os.scandir(directory) as entries:
                found = sorted(entries, key=lambda e: e.name)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"cannot list {directory.as_uri()}: {exc.strerror or exc}") from exc
        for entry in found:
            key = f"{rel}/{entry.name}" if rel else entry.name
            if not key.startswith(prefix):  # then nothing below it does either
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    yield from self._walk(Path(entry.path), key, prefix)
                    continue
                if not entry.is_file(follow_symlinks=False) or _is_temp(entry.name):
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed while listed
                continue
            except OSError as exc:
                raise StoreError(f"cannot list {Path(entry.path).as_uri()}: {exc.strerror or exc}") from exc
            if stat.S_ISREG(st.st_mode):
                yield ObjectInfo(key, st.st_size, st.st_mtime)

    def delete(self, keys: Iterable[str]) -> int:
        """Unlink the files, then the directories that this emptied (never the store's own)."""
        removed = 0
        parents: set[Path] = set()
        for key in keys:
            target = self._file(key)
            try:
                target.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError(f"cannot delete {target.as_uri()}: {exc.strerror or exc}") from exc
            removed += 1
            parents.add(target.parent)
        # deepest first, so a directory's emptied children are gone before it is tried
        for directory in sorted(parents, key=lambda p: len(p.parts), reverse=True):
            while directory != self.path and self.path in directory.parents:
                try:
                    directory.rmdir()
                except OSError:  # not empty (or already gone): its parents are not empty either
                    break
                directory = directory.parent
        return removed


def _is_temp(name: str) -> bool:
    """`put` writes `.<name>.<hex>.tmp` and renames it into place."""
    return name.startswith(".") and name.endswith(".tmp")
