"""The `msgpack` codec: compact binary; special types travel as msgpack ext types.

The common case is one C call: `packb(strict_types=True, default=...)` hands the
`default` hook only what msgpack cannot pack natively (tuples included, thanks to
`strict_types`), and the hook turns those into ext types. Integers beyond 64 bits,
which msgpack refuses outright, send the value through a Python walk.

Nesting past `MAX_DEPTH` is refused, mostly by msgpack's own C code (`_msgpack_depth`).
Each ext type is packed and parsed by a call of its own, out of that code's sight (and,
unbounded, they used to exhaust the C stack), so the hooks count them, and when tuples or
sets are involved the whole value is checked.
"""

from __future__ import annotations

import datetime as dt
import decimal
import threading
import uuid
from typing import Any, ClassVar

import msgpack

from . import _leaves
from ._codec import Codec
from ._errors import DecodeError
from ._limits import MAX_DEPTH, nesting_exceeds
from ._msgpack_depth import (
    BOUNDED_FROM,
    could_nest,
    large,
    pack_wrapped,
    parse_levels,
    unpack_bounded,
    unpacker,
    wrap_levels,
)
from ._path import TOO_DEEP, Unsupported, encode_error, key_segment

__all__ = ["MsgpackCodec"]

# ext type codes (0-127 are for applications)
TUPLE, SET, FROZENSET, DATETIME, DATE, TIME, TIMEDELTA, DECIMAL, UUID, BIGINT = range(1, 11)
# numpy scalar [dtype, bytes]; numpy array [dtype, shape, order, bytes]; a nested payload [codec, version, bytes]
NUMPY, NDARRAY, ENCODED = range(11, 14)

_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1

#: A reused packer keeps its buffer at the largest output it made: past this, it is dropped instead.
_PACKER_KEEPS = 1024 * 1024
#: Ext types nested deeper than this are parsed by an `Unpacker`: `unpackb` keeps ~40 KB of parser
#: state on the C stack per level, and a thread's stack can be 1 MB or less.
_ON_STACK = 8
_LEAF_TYPES = frozenset({dt.datetime, dt.date, dt.time, dt.timedelta, decimal.Decimal})


class _Encoding(threading.local):
    ext = 0  # tuples and sets being packed around this point: each is a packb call of its own
    containers = False  # a tuple or set was packed: its items are out of a parse's sight
    custom = False  # `_default` met a type of the user's: the depth pass must filter by type
    packer: msgpack.Packer | None = None  # reused by `encode` (building one costs more than a small pack)


class _Decoding(threading.local):
    ext = 0  # ext types being unpacked around this point: each is a C parse of its own
    containers = False  # a tuple or set came out of an ext type, outside the C parser's bound
    uuid = False  # a UUID, numpy value, frame or table came out: `gc.get_referents` would lead from it to its class


_encoding = _Encoding()
_decoding = _Decoding()


class _TooDeep(Exception):
    """Raised by `_default` past MAX_DEPTH nested tuples and sets; the walk then names the path."""


def _too_deep() -> DecodeError:
    return DecodeError(
        f"the msgpack/1 payload nests deeper than {MAX_DEPTH} levels (arrays, maps and ext types together), "
        f"the limit on decoded values",
        codec="msgpack",
        version="1",
    )


def _pack(obj: Any) -> bytes:
    # strict_types sends tuples and subclasses to _default (and packs faster).
    return msgpack.packb(obj, default=_default, strict_types=True, use_bin_type=True)  # type: ignore[no-any-return]


def _pack_top(obj: Any) -> bytes:
    """`_pack`, with this thread's reused packer (`_default` packs tuples with fresh ones: it runs mid-pack)."""
    state = _encoding
    packer = state.packer
    if packer is None:
        packer = state.packer = msgpack.Packer(default=_default, strict_types=True, use_bin_type=True)
    packed: bytes = packer.pack(obj)  # on an error the packer resets itself
    if len(packed) > _PACKER_KEEPS:
        state.packer = None
    return packed


def _pack_surrogates(obj: Any) -> bytes:
    # unicode_errors halves packing speed, so only strings with lone surrogates pay for it.
    return msgpack.packb(  # type: ignore[no-any-return]
        obj, default=_default_surrogates, strict_types=True, use_bin_type=True, unicode_errors="surrogatepass"
    )


def _unpack(data: Any) -> Any:
    # unpackb sets its max_str_len, max_bin_len, max_array_len, max_map_len and max_ext_len from
    # len(data) (each item takes a byte at least): no header makes it allocate more than the payload
    # justifies. timestamp=3: msgpack's own Timestamp ext (pipeflow never writes one) as a datetime.
    return msgpack.unpackb(
        data, ext_hook=_ext_hook, strict_map_key=False, raw=False, unicode_errors="surrogatepass", timestamp=3
    )


def _options() -> dict[str, Any]:
    """`_unpack`'s options, for an `Unpacker` (whose max_*_len follow its max_buffer_size)."""
    return {"ext_hook": _ext_hook, "strict_map_key": False, "raw": False, "unicode_errors": "surrogatepass", "timestamp": 3}


def _unpack_ext(data: bytes) -> Any:
    """The msgpack inside an ext type, parsed by a C call of its own and so counted here."""
    state = _decoding
    if state.ext >= MAX_DEPTH:
        raise _too_deep()
    state.ext += 1
    try:
        if state.ext <= _ON_STACK:
            return _unpack(data)
        parser = unpacker(data, **_options())
        value = parser.unpack()
        if parser.tell() != len(data):
            raise DecodeError("corrupt msgpack/1 payload: extra bytes in an ext type", codec="msgpack", version="1")
        return value
    finally:
        state.ext -= 1


def _pack_ext(items: list[Any], pack: Any) -> bytes:
    """The items of a tuple or set, packed by a call of their own and so counted here."""
    state = _encoding
    if state.ext >= MAX_DEPTH:
        raise _TooDeep
    state.containers = True
    state.ext += 1
    try:
        return pack(items)  # type: ignore[no-any-return]
    finally:
        state.ext -= 1


def _default_surrogates(obj: Any) -> Any:
    return _default(obj, _pack_surrogates)


def _default(obj: Any, pack: Any = _pack) -> Any:
    t = type(obj)
    if t is tuple:
        return msgpack.ExtType(TUPLE, _pack_ext(list(obj), pack))
    if t is set or t is frozenset:
        return msgpack.ExtType(SET if t is set else FROZENSET, _pack_ext(list(obj), pack))
    if t not in _LEAF_TYPES:
        _encoding.custom = True
    leaf = _leaves.kind(obj)  # before the subclasses: numpy's float64 is a float
    if leaf is not None:
        return _leaf_ext(obj, leaf)
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
        return msgpack.ExtType(TUPLE, _pack_ext(list(obj), pack))
    raise TypeError(f"can not serialize {type(obj).__name__!r} object")


def _leaf_ext(obj: Any, kind: str) -> msgpack.ExtType:
    """A numpy value, frame or table as its ext type; raises `_leaves.Refused` (a TypeError) for one that cannot travel."""
    parts: list[Any]
    if kind == "numpy":
        code, parts = NUMPY, list(_leaves.scalar_bytes(obj))
    elif kind == "ndarray":
        code, parts = NDARRAY, list(_leaves.encode_array(obj))
    else:
        code, parts = ENCODED, list(_leaves.encode_nested(obj, kind))
    return msgpack.ExtType(code, msgpack.packb(parts, use_bin_type=True))


def _leaf_parts(data: bytes, n: int) -> list[Any]:
    """The `n` items of a leaf's ext type: a flat list (a shape inside), parsed on the heap past a few ext levels."""
    if _decoding.ext < _ON_STACK:
        parts = msgpack.unpackb(data, raw=False, strict_map_key=True)
    else:
        parser = unpacker(data, raw=False, strict_map_key=True)
        parts = parser.unpack()
        if parser.tell() != len(data):
            raise ValueError("extra bytes in an ext type")
    if type(parts) is not list or len(parts) != n:
        raise ValueError(f"a leaf's ext type holds a list of {n} items")
    _decoding.uuid = True
    return parts


def _ext_hook(code: int, data: bytes) -> Any:
    if code == TUPLE or code == SET or code == FROZENSET:
        items = _unpack_ext(data)
        _decoding.containers = True
        return tuple(items) if code == TUPLE else set(items) if code == SET else frozenset(items)
    if code == DATETIME:
        iso, zone = _unpack_ext(data)
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
        days, seconds, micros = _unpack_ext(data)
        return dt.timedelta(days=days, seconds=seconds, microseconds=micros)
    if code == DECIMAL:
        return decimal.Decimal(data.decode())
    if code == UUID:
        _decoding.uuid = True
        return uuid.UUID(bytes=bytes(data))
    if code == BIGINT:
        return int(data.decode())
    if code == NUMPY:
        dtype, scalar = _leaf_parts(data, 2)
        return _leaves.decode_scalar(dtype, scalar, raw=True)
    if code == NDARRAY:
        return _leaves.decode_array(*_leaf_parts(data, 4))
    if code == ENCODED:
        return _leaves.decode_nested(*_leaf_parts(data, 3))
    raise DecodeError(f"unknown msgpack ext type {code} (written by a newer pipeflow?)", codec="msgpack")


class _Big(int):
    """An int too wide for msgpack; `_default` turns it into a BIGINT ext."""


class _Walker:
    """Finds the unsupported object and its path, and wraps wide ints (slow path only)."""

    def __init__(self) -> None:
        self.active: set[int] = set()

    def walk(self, obj: Any, depth: int = 0) -> Any:
        """`obj`, which sits inside `depth` containers, ready to pack."""
        if depth > MAX_DEPTH:
            raise Unsupported(obj, TOO_DEEP)
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
                    out.append(self.walk(item, depth + 1))
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
                    key = self.walk(k, depth + 1)
                except Unsupported as exc:
                    exc.segments.append(f"[<key {k!r}>]")
                    raise
                try:
                    res[key] = self.walk(v, depth + 1)
                except Unsupported as exc:
                    exc.segments.append(key_segment(k))
                    raise
            self.active.discard(id(obj))
            return res
        try:
            _default(obj)
        except TypeError as exc:
            raise Unsupported(obj, getattr(exc, "reason", None)) from None
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

    def encode(self, value: Any, *, what: str = "value") -> bytes | memoryview:
        state = _encoding
        pack = _pack
        packed: bytes | memoryview | None = None
        # Wrapped, the packer itself refuses lists and dicts past MAX_DEPTH: worth it for a large value only.
        levels = wrap_levels() if large(value) else None
        try:
            packed = _pack_top(value) if levels is None else pack_wrapped(value, levels, _pack_top)
        except UnicodeEncodeError:
            pack, levels = _pack_surrogates, None
            try:
                packed = pack(value)
            except (TypeError, ValueError, OverflowError, RecursionError, _TooDeep):
                pass
        except (TypeError, ValueError, OverflowError, RecursionError, _TooDeep):
            pass  # the walk below finds the cause and its path, or fixes wide ints
        custom, containers = state.custom, state.containers  # set by `_default`, cleared here
        if custom or containers:
            state.custom = state.containers = False
        if packed is not None:
            if containers:  # tuples and sets are packed by calls of their own, out of the packer's count
                deep = nesting_exceeds(value, exact_types=not custom)
            else:
                deep = levels is None and could_nest(packed) and nesting_exceeds(value, exact_types=not custom)
            if not deep:
                return packed
        try:
            wrapped = _Walker().walk(value)
            return packed if packed is not None else pack(wrapped)
        except Unsupported as exc:
            raise encode_error(exc, what, self.name) from None
        except (RecursionError, ValueError, _TooDeep):
            raise encode_error(Unsupported(value, "it is nested too deeply"), what, self.name) from None

    def decode(self, payload: Any) -> Any:
        return self.decode_within(payload, None)

    def decode_within(self, payload: Any, max_bytes: int | None) -> Any:
        """`decode`, holding the numpy arrays, frames and tables inside to `max_bytes` together (None: the ceiling)."""
        outer = _leaves.enter_budget(max_bytes)
        try:
            return self._decode(payload)
        finally:
            _leaves.leave_budget(outer)

    def _decode(self, payload: Any) -> Any:
        levels = parse_levels() if len(payload) >= BOUNDED_FROM else None
        try:
            value = _unpack(payload) if levels is None else unpack_bounded(payload, levels, **_options())
        except msgpack.StackError:
            raise _too_deep() from None
        except msgpack.UnpackException as exc:  # OutOfData and friends are not ValueErrors
            raise DecodeError(f"corrupt msgpack/1 payload: {type(exc).__name__}: {exc}", codec="msgpack", version="1") from None
        if levels is None and not could_nest(payload):
            return value  # the common small payload: the hook's flags are left for the next check to clear
        # The hook only ever sets these: a flag left over from an earlier decode costs a look, nothing more.
        state = _decoding
        containers, uuids = state.containers, state.uuid
        state.containers = state.uuid = False
        if (levels is None or containers) and nesting_exceeds(value, exact_types=not uuids):
            raise _too_deep()
        return value
