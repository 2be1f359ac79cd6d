"""The `Store` base, the in-memory store, and `open_store` for URIs."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, ClassVar, TypeVar, Union

from ._errors import IntegrityError, StoreError

__all__ = ["MemoryStore", "ObjectInfo", "Store", "StoreLike", "open_store", "CHUNK", "size_mismatch"]

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


def size_mismatch(uri: str, stored: int, size: int, sha256: str | None = None) -> IntegrityError:
    return IntegrityError(
        f"the object at {uri} is {stored:,} bytes, not the {size:,} bytes its reference gives", key=uri, expected=sha256
    )


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
    #: True when the objects stay on this machine: `dumps` writes large frames and tables there as
    #: uncompressed Arrow IPC (nothing to decompress on the next step), elsewhere as Parquet.
    machine_local: ClassVar[bool] = False

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

    def appender(self, key: str) -> IO[bytes] | None:
        """A file appending to the object at `key`, or None when this store cannot append (S3, memory)."""
        return None

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, keys relative to this store, in no set order."""
        raise StoreError(f"{type(self).__name__} {self.uri} cannot list its objects")

    def delete(self, keys: Iterable[str]) -> int:
        """Remove the objects at `keys` (missing ones are skipped); returns how many were removed."""
        raise StoreError(f"{type(self).__name__} {self.uri} cannot delete objects")

    def size(self, key: str) -> int:
        """Bytes stored at `key`, from a stat or HEAD (nothing is read); raises `StoreError` if missing."""
        with self.open(key) as src:
            return src.seek(0, io.SEEK_END)

    def read(self, key: str, size: int) -> memoryview:
        """At most `size + 1` bytes of the object at `key`, so a caller can tell a longer object by the length.

        Memory follows what is stored (a stat or HEAD first), never `size`: it may be a bound nobody checked.
        """
        view = memoryview(bytearray(min(size, self.size(key)) + 1))
        with self._stream(key) as src:
            got = _fill(src, view)
        return view[:got]

    def fetch(self, key: str, size: int, sha256: str) -> memoryview:
        """The object at `key`, checked against the `size` and `sha256` its reference gives.

        The stored size (a stat or HEAD) is compared before anything is allocated, then the
        bytes are streamed through sha256; raises `IntegrityError` when either differs.
        """
        uri = self.uri_for(key)
        stored = self.size(key)
        if stored != size:
            raise size_mismatch(uri, stored, size, sha256)
        view = memoryview(bytearray(size + 1))  # one byte more: an object that grew since shows
        digest = hashlib.sha256()
        with self._stream(key) as src:
            got = _fill(src, view, digest)
        if got != size:
            changed = "longer" if got > size else "shorter"
            raise IntegrityError(f"the object at {uri} changed while it was read (it is {changed} now)", key=uri, expected=sha256)
        actual = digest.hexdigest()
        if actual != sha256:
            raise IntegrityError(
                f"the object at {uri} does not match its reference: sha256 {actual}, expected {sha256}",
                key=uri,
                expected=sha256,
                actual=actual,
            )
        return view[:size]

    def _stream(self, key: str) -> IO[bytes]:
        """A file reading the object at `key` from its start, for `read` and `fetch`."""
        return self.open(key)

    def uri_for(self, key: str) -> str:
        return f"{self.uri}/{key}"

    def key_for(self, uri: str) -> str | None:
        """The key of `uri` in this store, or None if it lies elsewhere."""
        base = self.uri + "/"
        return uri[len(base) :] if uri.startswith(base) and len(uri) > len(base) else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.uri}>"


def _fill(src: Any, view: memoryview, digest: Any = None) -> int:
    """Read `src` into `view` until either ends, a CHUNK at a time (through `digest` if given); the bytes read."""
    readinto = getattr(src, "readinto", None)
    got = 0
    while got < len(view):
        end = min(got + CHUNK, len(view))
        if readinto is not None:
            n = readinto(view[got:end])
        else:  # an HTTP body: read() only
            piece = src.read(end - got)
            n = len(piece)
            view[got : got + n] = piece
        if not n:
            break
        if digest is not None:
            digest.update(view[got : got + n])
        got += n
    return got


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

    def size(self, key: str) -> int:
        try:
            return len(self._objects[self._path(key)])
        except KeyError:
            raise StoreError(f"no object at {self.uri_for(key)}") from None

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
