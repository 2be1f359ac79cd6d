"""The `Codec` base class and the registry that finds codecs by name."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Union

from ._errors import DecodeError, EncodeError

__all__ = ["Codec", "Payload", "get_codec", "register", "ENTRY_POINT_GROUP"]

#: An encoded payload: text for text codecs, bytes-like for binary ones.
Payload = Union[str, bytes, bytearray, memoryview]

ENTRY_POINT_GROUP = "pipeflow.converters"

#: Names that may never be used by a codec, because the wire format gives them a meaning.
_RESERVED = frozenset({"auto", "ref"})


class Codec(ABC):
    """Turns values into a payload and back; `name` and `version` go on the wire.

    A binary codec returns bytes (base64 when inline, raw bytes when offloaded);
    a text codec returns str (inline as is, UTF-8 when offloaded).
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    binary: ClassVar[bool] = True

    @abstractmethod
    def encode(self, value: Any, *, what: str = "value") -> Payload:
        """Encode `value`; raise `EncodeError` naming the type and its path under `what`."""

    @abstractmethod
    def decode(self, payload: Any) -> Any:
        """Decode what `encode` produced: str for text codecs; bytes or memoryview for binary ones."""

    def decode_within(self, payload: Any, max_bytes: int) -> Any:
        """Decode, refusing with `DecodeError` a payload that would take more than `max_bytes` of memory.

        `loads` calls this with the documented ceiling for the payload. The default calls
        `decode`, right for a codec whose output grows with its input; one that
        decompresses overrides it.
        """
        return self.decode(payload)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}/{self.version}>"


_lock = threading.Lock()
_codecs: dict[str, Codec] = {}
_entry_points_loaded = False


def register(codec: Codec) -> Codec:
    """Make `codec` available to `dumps(codec=name)` and `loads`; replaces one of the same name."""
    if not isinstance(codec, Codec):
        raise TypeError(f"register() takes a converters.Codec instance, not {type(codec).__name__}")
    name = getattr(codec, "name", None)
    if not isinstance(name, str) or not name or "/" in name or ":" in name or name in _RESERVED:
        raise ValueError(f"invalid codec name {name!r}: a non-empty name without '/' or ':', not {sorted(_RESERVED)}")
    with _lock:
        _codecs[name] = codec
    return codec


def _builtin(name: str) -> Codec | None:
    # Imported on demand so that `import converters` stays light.
    if name == "json":
        from ._json import JsonCodec

        return JsonCodec()
    if name == "msgpack":
        from ._msgpack import MsgpackCodec

        return MsgpackCodec()
    if name == "pandas":
        from ._pandas import PandasCodec

        return PandasCodec()
    if name == "arrow":
        from ._arrow import ArrowCodec

        return ArrowCodec()
    if name in ("pandas-ipc", "arrow-ipc"):
        from ._ipc import ArrowIpcCodec, PandasIpcCodec

        return PandasIpcCodec() if name == "pandas-ipc" else ArrowIpcCodec()
    return None


def _load_entry_points() -> None:
    global _entry_points_loaded
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _codecs:
            continue
        obj = ep.load()
        codec = obj() if isinstance(obj, type) else obj
        if not isinstance(codec, Codec):
            raise TypeError(f"entry point {ep.name!r} in {ENTRY_POINT_GROUP!r} is not a converters.Codec")
        register(codec)
    _entry_points_loaded = True


def _reset_entry_points() -> None:
    """Forget entry-point codecs so they are scanned again (for tests)."""
    global _entry_points_loaded
    with _lock:
        _entry_points_loaded = False


def get_codec(name: str, version: str | int | None = None, *, decoding: bool = False) -> Codec:
    """The codec called `name`; raises DecodeError (decoding) or EncodeError if unknown."""
    codec = _codecs.get(name)
    if codec is None:
        builtin = _builtin(name)
        if builtin is not None:
            codec = register(builtin)
        elif not _entry_points_loaded:
            _load_entry_points()
            codec = _codecs.get(name)
    if codec is None:
        known = ", ".join(sorted(set(_codecs) | {"json", "msgpack", "pandas", "arrow", "pandas-ipc", "arrow-ipc"}))
        if decoding:
            raise DecodeError(
                f"unknown codec {name!r} (version {version}); known codecs: {known}. "
                f"A third-party codec registers with converters.register() or the "
                f"{ENTRY_POINT_GROUP!r} entry point group",
                codec=name,
                version=None if version is None else str(version),
            )
        raise EncodeError(f"unknown codec {name!r}; known codecs: {known}, auto")
    if version is not None and str(version) != str(codec.version):
        raise DecodeError(
            f"unsupported version {version} of codec {name!r}: this installation reads {name}/{codec.version}",
            codec=name,
            version=str(version),
        )
    return codec
