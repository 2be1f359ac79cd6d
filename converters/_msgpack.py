"""The `msgpack` codec: compact binary; special types travel as msgpack ext types.

The common case is one C call: `packb(strict_types=True, default=...)` hands the
`default` hook only what msgpack cannot pack natively (tuples included, thanks to
`strict_types`), and the hook turns those into ext types. Integers beyond 64 bits,
which msgpack refuses outright, send the value through a Python walk.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any, ClassVar

import msgpack

from ._codec import Codec
from ._errors import DecodeError
from ._path import Unsupported, encode_error, key_segment

__all__ = ["MsgpackCodec"]

# ext type codes (0-127 are for applications)
TUPLE, SET, FROZENSET, DATETIME, DATE, TIME, TIMEDELTA, DECIMAL, UUID, BIGINT = range(1, 11)

_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def _pack(obj: Any) -> bytes:
    # strict_types sends tuples and subclasses to _default (and packs faster).
    return msgpack.packb(obj, default=_default, strict_types=True, use_bin_type=True)  # type: ignore[no-any-return]


def _pack_surrogates(obj: Any) -> bytes:
    # unicode_errors halves packing speed, so only strings with lone surrogates pay for it.
    return msgpack.packb(  # type: ignore[no-any-return]
        obj, default=_default_surrogates, strict_types=True, use_bin_type=True, unicode_errors="surrogatepass"
    )


def _unpack(data: Any) -> Any:
    return msgpack.unpackb(
        data, ext_hook=_ext_hook, strict_map_key=False, raw=False, unicode_errors="surrogatepass"
    )


def _default_surrogates(obj: Any) -> Any:
    return _default(obj, _pack_surrogates)


def _default(obj: Any, pack: Any = _pack) -> Any:
    t = type(obj)
    if t is tuple:
        return msgpack.ExtType(TUPLE, pack(list(obj)))
    if t is set or t is frozenset:
        return msgpack.ExtType(SET if t is set else FROZENSET, pack(list(obj)))
    if isinstance(obj, dt.datetime):
        zone = getattr(obj.tzinfo, "key", None)
        return msgpack.ExtType(DATETIME, pack([obj.isoformat(), zone]))
    if isinstance(obj, dt.date):
        return msgpack.ExtType(DATE, obj.isoformat().encode())
    if isinstance(obj, dt.time):
        return msgpack.ExtType(TIME, obj.isoformat().encode())
    if isinstance(obj, dt.timedelta):
        return msgpack.ExtType(TIMEDELTA, pack([obj.days, obj.seconds, obj.microseconds]))
    if isinstance(obj, decimal.Decimal):
        return msgpack.ExtType(DECIMAL, str(obj).encode())
    if isinstance(obj, uuid.UUID):
        return msgpack.ExtType(UUID, obj.bytes)
    # Subclasses of built-in types travel as their base type (strict_types sends them here).
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, int):
        return int(obj) if _INT64_MIN <= obj <= _UINT64_MAX else msgpack.ExtType(BIGINT, str(int(obj)).encode())
    if isinstance(obj, str):
        return str.__str__(obj)  # the value, whatever a subclass's __str__ says (str-mixin enums)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, bytes):
        return bytes(obj)
    if isinstance(obj, list):
        return list(obj)
    if isinstance(obj, dict):
        return dict(obj)
    if isinstance(obj, tuple):
        return msgpack.ExtType(TUPLE, pack(list(obj)))
    raise TypeError(f"can not serialize {type(obj).__name__!r} object")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == TUPLE:
        return tuple(_unpack(data))
    if code == SET:
        return set(_unpack(data))
    if code == FROZENSET:
        return frozenset(_unpack(data))
    if code == DATETIME:
        iso, zone = _unpack(data)
        value = dt.datetime.fromisoformat(iso)
        if zone is not None:
            from zoneinfo import ZoneInfo

            value = value.astimezone(ZoneInfo(zone))
        return value
    if code == DATE:
        return dt.date.fromisoformat(data.decode())
    if code == TIME:
        return dt.time.fromisoformat(data.decode())
    if code == TIMEDELTA:
        days, seconds, micros = _unpack(data)
        return dt.timedelta(days=days, seconds=seconds, microseconds=micros)
    if code == DECIMAL:
        return decimal.Decimal(data.decode())
    if code == UUID:
        return uuid.UUID(bytes=bytes(data))
    if code == BIGINT:
        return int(data.decode())
    raise DecodeError(f"unknown msgpack ext type {code} (written by a newer pipeflow?)", codec="msgpack")


class _Big(int):
    """An int too wide for msgpack; `_default` turns it into a BIGINT ext."""


class _Walker:
    """Finds the unsupported object and its path, and wraps wide ints (slow path only)."""

    def __init__(self) -> None:
        self.active: set[int] = set()

    def walk(self, obj: Any) -> Any:
        t = type(obj)
        if t is int:
            return obj if _INT64_MIN <= obj <= _UINT64_MAX else _Big(obj)
        if t in (str, float, bool, bytes) or obj is None:
            return obj
        if isinstance(obj, (list, tuple, set, frozenset)):
            self._enter(obj)
            out = []
            for i, item in enumerate(obj):
                try:
                    out.append(self.walk(item))
                except Unsupported as exc:
                    exc.segments.append(f"[{i}]" if isinstance(obj, (list, tuple)) else "[<item of a set>]")
                    raise
            self.active.discard(id(obj))
            base = next(b for b in (list, tuple, set, frozenset) if isinstance(obj, b))
            return out if base is list else base(out)
        if isinstance(obj, dict):
            self._enter(obj)
            res = {}
            for k, v in obj.items():
                try:
                    key = self.walk(k)
                except Unsupported as exc:
                    exc.segments.append(f"[<key {k!r}>]")
                    raise
                try:
                    res[key] = self.walk(v)
                except Unsupported as exc:
                    exc.segments.append(key_segment(k))
                    raise
            self.active.discard(id(obj))
            return res
        try:
            _default(obj)
        except TypeError:
            raise Unsupported(obj) from None
        return obj

    def _enter(self, obj: Any) -> None:
        if id(obj) in self.active:
            raise Unsupported(obj, "it contains itself (a circular reference)")
        self.active.add(id(obj))


class MsgpackCodec(Codec):
    """Binary msgpack; faster and smaller than json for numbers and bytes."""

    name: ClassVar[str] = "msgpack"
    version: ClassVar[int] = 1
    binary: ClassVar[bool] = True

    def encode(self, value: Any, *, what: str = "value") -> bytes:
        pack = _pack
        try:
            return pack(value)
        except UnicodeEncodeError:
            pack = _pack_surrogates
            try:
                return pack(value)
            except (TypeError, ValueError, OverflowError):
                pass
        except (TypeError, ValueError, OverflowError):
            pass  # the walk below finds the cause and its path, or fixes wide ints
        try:
            wrapped = _Walker().walk(value)
            return pack(wrapped)
        except Unsupported as exc:
            raise encode_error(exc, what, self.name) from None
        except (RecursionError, ValueError):
            raise encode_error(Unsupported(value, "it is nested too deeply"), what, self.name) from None

    def decode(self, payload: Any) -> Any:
        return _unpack(payload)
