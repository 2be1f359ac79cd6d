"""The `Store` base, the in-memory store, and `open_store` for URIs."""

from __future__ import annotations

import io
import os
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, TypeVar, Union

from ._errors import StoreError

__all__ = ["MemoryStore", "ObjectInfo", "Store", "StoreLike", "open_store", "CHUNK"]

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


def check_prefix(prefix: str) -> str:
    """A `walk` prefix: whole segments, then possibly the start of one (`wf/`, `wf/ru`, `wf-`)."""
    if not isinstance(prefix, str):
        raise ValueError(f"invalid store prefix {prefix!r}")
    head, _, last = prefix.rpartition("/")
    if head:
        check_key(head)
    if last in (".", "..") or "\\" in last or "\x00" in last:
        raise ValueError(f"invalid store prefix {prefix!r}")
    return prefix


def is_key(key: str) -> bool:
    """True for a key the store could have written (no empty, `.` or `..` segment)."""
    try:
        check_key(key)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object, as `Store.walk` lists it."""

    key: str  #: relative to the store that listed it
    size: int  #: bytes
    modified: float  #: when it was last written, seconds since the epoch


_S = TypeVar("_S", bound="Store")


class Store(ABC):
    """Where large payloads go; keys are relative to the store's `uri` (sha256 hex, or `a/b/<sha256>`).

    A store made by `child()` is scoped under its parent; `root` is the unscoped store
    it descends from (the store itself when unscoped).
    """

    uri: str
    _root: Store | None = None

    @property
    def root(self) -> Store:
        """The unscoped store this one descends from: references are confined to it."""
        return self._root if self._root is not None else self

    def _under(self, child: _S) -> _S:
        """`child`, scoped under this store: it keeps this store's root."""
        child._root = self.root
        return child

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

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, keys relative to this store, in no set order."""
        raise StoreError(f"{type(self).__name__} {self.uri} cannot list its objects")

    def delete(self, keys: Iterable[str]) -> int:
        """Remove the objects at `keys` (missing ones are skipped); returns how many were removed."""
        raise StoreError(f"{type(self).__name__} {self.uri} cannot delete objects")

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
_memory_times: dict[str, dict[str, float]] = {}  # when each object was put, for `walk`
_memory_lock = threading.Lock()


class MemoryStore(Store):
    """A store in this process's memory, shared by name (`memory://name`); the test fake."""

    def __init__(self, name: str | None = None, *, _prefix: str = "") -> None:
        self.name = check_part(name) if name is not None else uuid.uuid4().hex
        self._prefix = _prefix
        with _memory_lock:
            self._objects = _memory.setdefault(self.name, {})
            self._times = _memory_times.setdefault(self.name, {})
        self.uri = f"memory://{self.name}" + (f"/{_prefix}" if _prefix else "")

    def _path(self, key: str) -> str:
        check_key(key)
        return f"{self._prefix}/{key}" if self._prefix else key

    def put(self, key: str, data: bytes | bytearray | memoryview) -> str:
        path = self._path(key)
        self._objects[path] = bytes(data)
        self._times[path] = time.time()
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
        return self._under(MemoryStore(self.name, _prefix=prefix))

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = f"{self._prefix}/" if self._prefix else ""
        start = base + check_prefix(prefix)
        with _memory_lock:
            found = [(k, len(v), self._times.get(k, 0.0)) for k, v in list(self._objects.items()) if k.startswith(start)]
        for key, size, modified in found:
            yield ObjectInfo(key[len(base) :], size, modified)

    def delete(self, keys: Iterable[str]) -> int:
        paths = [self._path(key) for key in keys]
        with _memory_lock:
            for path in paths:
                self._times.pop(path, None)
            return sum(self._objects.pop(path, None) is not None for path in paths)

    def objects(self) -> dict[str, bytes]:
        """Every object under this store, by key (for tests and inspection)."""
        start = f"{self._prefix}/" if self._prefix else ""
        return {k[len(start) :]: v for k, v in self._objects.items() if k.startswith(start)}

    def clear(self) -> None:
        """Drop every object of this store's name."""
        self._objects.clear()
        self._times.clear()


StoreLike = Union[Store, str, "os.PathLike[str]"]

_cache: dict[tuple[Any, ...], Store] = {}
_cache_lock = threading.Lock()


def open_store(uri: StoreLike) -> Store:
    """The store for `uri`: `s3://bucket/prefix`, `file:///dir` or a plain path, `memory://name`.

    A *scoped* URI `<uri>#<part>/<part>...` is `open_store(<uri>).child(<part>, ...)`:
    a literal `#` in a store URI always starts a scope (the last one does). A
    `LocalStore`'s `uri` is a percent-encoded `file://` URI, so a directory whose
    name holds a `#` stays unambiguous when its URI comes from `store.uri`.
    Stores are cached per URI (and S3 endpoint), so an S3 client is built once.
    """
    if isinstance(uri, Store):
        return uri
    text = os.fspath(uri)
    if not isinstance(text, str) or not text:
        raise StoreError(f"invalid store URI {uri!r}")
    base, hash_, scope = text.rpartition("#")
    if not hash_:
        return _cached(_cache_key(text), lambda: _open_root(text))
    if not base:
        raise StoreError(f"invalid store URI {text!r}: nothing before the scope #{scope}")
    try:
        parts = [check_part(part) for part in scope.split("/")]
    except ValueError as exc:
        raise StoreError(f"invalid scope #{scope} in store URI {text!r}: {exc}") from None
    root = _cached(_cache_key(base), lambda: _open_root(base))
    return _cached((*_cache_key(base), "#", *parts), lambda: root.child(*parts))


def _cache_key(text: str) -> tuple[Any, ...]:
    scheme = _scheme(text)
    env = (os.environ.get("AWS_ENDPOINT_URL_S3"), os.environ.get("AWS_ENDPOINT_URL")) if scheme == "s3" else ()
    # A relative path means the directory as of now, not whatever the cwd is later.
    return (os.path.abspath(os.path.expanduser(text)) if not scheme else text, *env)


def _scheme(text: str) -> str:
    return text.split("://", 1)[0].lower() if "://" in text else ""


def _cached(key: tuple[Any, ...], make: Callable[[], Store]) -> Store:
    with _cache_lock:
        store = _cache.get(key)
    if store is None:
        store = make()
        with _cache_lock:
            store = _cache.setdefault(key, store)
    return store


def _open_root(text: str) -> Store:
    scheme = _scheme(text)
    if scheme == "s3":
        from ._s3 import S3Store

        return S3Store(text)
    if scheme in ("", "file"):
        from ._local import LocalStore

        return LocalStore(text)
    if scheme == "memory":
        name, _, rest = text[len("memory://") :].partition("/")
        try:
            return MemoryStore(name, _prefix="/".join(map(check_part, rest.split("/"))) if rest else "")
        except ValueError as exc:
            raise StoreError(f"invalid store URI {text!r}: {exc}") from None
    raise StoreError(f"unsupported store URI {text!r}: use s3://bucket/prefix, a directory or file:///dir, or memory://name")
