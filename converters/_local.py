"""`LocalStore`: payloads as files in a directory (the embedded engine's default)."""

from __future__ import annotations

import contextlib
import os
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import IO

from ._errors import StoreError
from ._store import CHUNK, Store, check_key, check_part

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
        return LocalStore(self.path.joinpath(*map(check_part, parts)))
