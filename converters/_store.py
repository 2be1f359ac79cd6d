"""The `Store` base, the in-memory store, and `open_store` for URIs."""

from __future__ import annotations

import io
import os
import threading
import uuid
from abc import ABC, abstractmethod
from typing import IO, Any, Union

from ._errors import StoreError

__all__ = ["MemoryStore", "Store", "StoreLike", "open_store", "CHUNK"]

#: Size of the pieces a payload is written and read in (also the S3 part size).
CHUNK = 8 * 1024 * 1024


def check_part(part: str) -> str:
    """A path segment that cannot climb out of its prefix."""
    if not isinstance(part, str) or part in ("", ".", "..") or "/" in part or "\\" in part or "\x00" in part:
        raise ValueError(f"invalid store path segment {part!r}")
    return part


def check_key(key: str) -> str:
    for part in key.split("/"):
        check_part(part)
    return key


class Store(ABC):
    """Where large payloads go; keys are relative to the store's `uri` (sha256 hex, or `a/b/<sha256>`)."""

    uri: str

    @abstractmethod
    def put(self, key: str, data: bytes | bytearray | memoryview) -> str:
        """Write `data` under `key` (streamed in pieces) and return the object's URI."""

    @abstractmethod
    def open(self, key: str) -> IO[bytes]:
        """A binary file reading the object at `key`; raises `StoreError` if missing."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """True if an object is stored at `key`."""

    @abstractmethod
    def child(self, *parts: str) -> Store:
        """The same store scoped under `uri/part/...` (e.g. a workflow id and run id)."""

    def read(self, key: str, size: int) -> memoryview:
        """The object at `key` in one buffer, read in pieces; `size` is the expected length.

        Reads at most `size + 1` bytes, so a caller can tell a longer object by the length.
        """
        buf = bytearray(size + 1)
        view = memoryview(buf)
        got = 0
        with self.open(key) as src:
            while got <= size:
                n = src.readinto(view[got : min(got + CHUNK, size + 1)])  # type: ignore[attr-defined]
                if not n:
                    break
                got += n
        return view[:got]

    def uri_for(self, key: str) -> str:
        return f"{self.uri}/{key}"

    def key_for(self, uri: str) -> str | None:
        """The key of `uri` in this store, or None if it lies elsewhere."""
        base = self.uri + "/"
        return uri[len(base) :] if uri.startswith(base) and len(uri) > len(base) else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.uri}>"


_memory: dict[str, dict[str, bytes]] = {}
_memory_lock = threading.Lock()


class MemoryStore(Store):
    """A store in this process's memory, shared by name (`memory://name`); the test fake."""

    def __init__(self, name: str | None = None, *, _prefix: str = "") -> None:
        self.name = check_part(name) if name is not None else uuid.uuid4().hex
        self._prefix = _prefix
        with _memory_lock:
            self._objects = _memory.setdefault(self.name, {})
        self.uri = f"memory://{self.name}" + (f"/{_prefix}" if _prefix else "")

    def _path(self, key: str) -> str:
        check_key(key)
        return f"{self._prefix}/{key}" if self._prefix else key

    def put(self, key: str, data: bytes | bytearray | memoryview) -> str:
        self._objects[self._path(key)] = bytes(data)
        return self.uri_for(key)

    def open(self, key: str) -> IO[bytes]:
        try:
            return io.BytesIO(self._objects[self._path(key)])
        except KeyError:
            raise StoreError(f"no object at {self.uri_for(key)}") from None

    def exists(self, key: str) -> bool:
        return self._path(key) in self._objects

    def child(self, *parts: str) -> MemoryStore:
        prefix = "/".join([self._prefix, *map(check_part, parts)] if self._prefix else map(check_part, parts))
        return MemoryStore(self.name, _prefix=prefix)

    def objects(self) -> dict[str, bytes]:
        """Every object under this store, by key (for tests and inspection)."""
        start = f"{self._prefix}/" if self._prefix else ""
        return {k[len(start) :]: v for k, v in self._objects.items() if k.startswith(start)}

    def clear(self) -> None:
        """Drop every object of this store's name."""
        self._objects.clear()


StoreLike = Union[Store, str, "os.PathLike[str]"]

_cache: dict[tuple[Any, ...], Store] = {}
_cache_lock = threading.Lock()


def open_store(uri: StoreLike) -> Store:
    """The store for `uri`: `s3://bucket/prefix`, `file:///dir` or a plain path, `memory://name`.

    Stores are cached per URI (and S3 endpoint), so an S3 client is built once.
    """
    if isinstance(uri, Store):
        return uri
    text = os.fspath(uri)
    if not isinstance(text, str) or not text:
        raise StoreError(f"invalid store URI {uri!r}")
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    env = (os.environ.get("AWS_ENDPOINT_URL_S3"), os.environ.get("AWS_ENDPOINT_URL")) if scheme == "s3" else ()
    # A relative path means the directory as of now, not whatever the cwd is later.
    key = (os.path.abspath(os.path.expanduser(text)) if not scheme else text, *env)
    with _cache_lock:
        store = _cache.get(key)
    if store is not None:
        return store
    if scheme == "s3":
        from ._s3 import S3Store

        store = S3Store(text)
    elif scheme in ("", "file"):
        from ._local import LocalStore

        store = LocalStore(text)
    elif scheme == "memory":
        name, _, rest = text[len("memory://") :].partition("/")
        store = MemoryStore(name)
        if rest:
            store = store.child(*rest.split("/"))
    else:
        raise StoreError(f"unsupported store URI {text!r}: use s3://bucket/prefix, a directory or file:///dir, or memory://name")
    with _cache_lock:
        _cache[key] = store
    return store
