"""The `json` codec: readable JSON, plus tagged forms for what JSON cannot hold.

Speed comes from doing the common case at C speed: `json.dumps` with a `default`
that bails out on the first special scalar, then a C-level scan (`gc.get_referents`
breadth first, `set(map(type, ...))`) for tuples, subclasses and non-str keys.
Only values that hold something special take the Python tagged walk; on decode,
the object hook runs only when the text contains the tag marker.

Nesting past `MAX_DEPTH` is refused: the C-level scan above counts levels as it goes
(the walk then names the path), and a decoded value that could be too deep (its text
holds more brackets than the limit) gets the same C-speed pass.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import gc
import json
import uuid
from collections.abc import Callable
from itertools import chain, compress
from typing import Any, ClassVar

from . import _leaves
from ._b64 import b64decode, b64encode
from ._codec import Codec
from ._errors import DecodeError
from ._limits import MAX_DEPTH, nesting_exceeds
from ._path import TOO_DEEP, Unsupported, encode_error, key_segment

__all__ = ["JsonCodec", "HoldsBytes"]

#: Tagged objects are single-key dicts whose key starts with "!"; in JSON text produced by
#: json.dumps, '{"!' can only be the start of such an object (quotes in strings are escaped).
TAG = "!"
MARKER = '{"' + TAG

_SCALARS = frozenset({str, int, float, bool, type(None)})
_CONTAINERS = frozenset({list, dict})
_PLAIN = _SCALARS | _CONTAINERS
_STR = frozenset({str})
_DICT = frozenset({dict})

#: Up to this length, counting brackets costs less than a pass over the decoded value.
_COUNT_UP_TO = 8192


class _Special(Exception):
    """Raised by the fast encoder's `default` to fall back to the tagged walk."""


class HoldsBytes(Exception):
    """Raised by `encode(..., refuse_bytes=True)` so `auto` can choose msgpack instead."""


def _refuse(obj: Any) -> Any:
    raise _Special


_fast = json.JSONEncoder(separators=(",", ":"), default=_refuse).encode
_tagged = json.JSONEncoder(separators=(",", ":")).encode


def _keys_by_count() -> bool:
    # CPython's GC traverses a dict whose keys are all exact str by its values only, and
    # any other dict by keys and values; check that this interpreter does so before using it.
    return len(gc.get_referents({"a": 1})) == 1 and len(gc.get_referents({1: 1})) == 2


_KEYS_BY_COUNT = _keys_by_count()


def _is_plain(value: Any) -> bool:
    """True if `value` holds only exact JSON types and str keys, at most MAX_DEPTH deep (checked at C speed)."""
    level = [value]
    for _ in range(MAX_DEPTH + 1):
        types = set(map(type, level))
        if not types <= _PLAIN:
            return False
        if types.isdisjoint(_CONTAINERS):
            return True
        # Scalars are not GC objects, so get_referents skips them: this yields the children.
        children = gc.get_referents(*level)
        if dict in types:
            only_dicts = len(types) == 1
            dicts = level if only_dicts else list(compress(level, map(_DICT.__contains__, map(type, level))))
            if _KEYS_BY_COUNT:
                # A dict with a non-str key reports its keys too, so the counts differ.
                reported = len(children) if only_dicts else len(gc.get_referents(*dicts))
                if reported != sum(map(len, dicts)):
                    return False
            elif not set(map(type, chain.from_iterable(dicts))) <= _STR:
                return False
        level = children
    return not level  # something sits inside more than MAX_DEPTH containers: the walk says where


class _Walker:
    """Turns a value into plain JSON data with tags; slow path, keeps the path for errors."""

    def __init__(self, refuse_bytes: bool) -> None:
        self.refuse_bytes = refuse_bytes
        self.active: set[int] = set()

    def walk(self, obj: Any, depth: int = 0) -> Any:
        """`obj`, which sits inside `depth` containers, as plain JSON data."""
        if depth > MAX_DEPTH:
            raise Unsupported(obj, TOO_DEEP)
        t = type(obj)
        if t is str or t is int or t is float or t is bool or obj is None:
            return obj
        if t is list or t is tuple:
            return self._seq(obj, depth) if t is list else {"!tuple": self._seq(obj, depth)}
        if t is dict:
            return self._dict(obj, depth)
        conv = _SCALAR_TAGS.get(t)
        if conv is not None:
            if t is bytes and self.refuse_bytes:
                raise HoldsBytes
            return {TAG + conv[0]: conv[1](obj)}
        if t is set or t is frozenset:
            items = self._seq(obj, depth, "[<item of a set>]")
            return {"!set" if t is set else "!frozenset": items}
        leaf = _leaves.kind(obj)  # before the subclasses: numpy's float64 is a float
        if leaf is not None:
            try:
                return self._leaf(obj, leaf)
            except _leaves.Refused as exc:
                raise Unsupported(obj, exc.reason) from None
        # Subclasses of built-in types are encoded as their base type, as json does.
        if isinstance(obj, bool):
            return bool(obj)
        if isinstance(obj, str):
            return str.__str__(obj)  # the value, whatever a subclass's __str__ says (str-mixin enums)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj)
        if isinstance(obj, dict):
            return self._dict(obj, depth)
        if isinstance(obj, list):
            return self._seq(obj, depth)
        if isinstance(obj, tuple):
            return {"!tuple": self._seq(obj, depth)}
        if isinstance(obj, (dt.datetime, dt.date, dt.time, decimal.Decimal, uuid.UUID, bytes)):
            base = next(b for b in _SCALAR_TAGS if isinstance(obj, b))
            tag, fn = _SCALAR_TAGS[base]
            return {TAG + tag: fn(obj)}
        raise Unsupported(obj)

    def _leaf(self, obj: Any, kind: str) -> Any:
        """A numpy value, frame or table: tagged, its bytes in base64 (which `auto` leaves to msgpack)."""
        if kind == "numpy":
            dtype, item = _leaves.encode_scalar(obj)
            if item is None:  # a long double: its bytes
                if self.refuse_bytes:
                    raise HoldsBytes
                item = b64encode(obj.tobytes())
            return {"!numpy": [dtype, item]}
        if self.refuse_bytes:
            if kind == "ndarray":
                _leaves.check(obj)  # an array that cannot travel is refused here, not by msgpack
            raise HoldsBytes
        if kind == "ndarray":
            dtype, shape, order, data = _leaves.encode_array(obj)
            return {"!ndarray": [dtype, shape, order, b64encode(data)]}
        name, version, payload = _leaves.encode_nested(obj, kind)
        return {"!encoded": [name, version, b64encode(payload)]}

    def _enter(self, obj: Any) -> None:
        if id(obj) in self.active:
            raise Unsupported(obj, "it contains itself (a circular reference)")
        self.active.add(id(obj))

    def _seq(self, seq: Any, depth: int, segment: str | None = None) -> list[Any]:
        self._enter(seq)
        out = []
        for i, item in enumerate(seq):
            try:
                out.append(self.walk(item, depth + 1))
            except Unsupported as exc:
                exc.segments.append(segment or f"[{i}]")
                raise
        self.active.discard(id(seq))
        return out

    def _dict(self, d: dict[Any, Any], depth: int) -> Any:
        self._enter(d)
        plain_keys = all(type(k) is str for k in d) and not (len(d) == 1 and next(iter(d)).startswith(TAG))
        if plain_keys:
            out: Any = {}
            for k, v in d.items():
                try:
                    out[k] = self.walk(v, depth + 1)
                except Unsupported as exc:
                    exc.segments.append(key_segment(k))
                    raise
        else:
            # Non-str keys (or a user dict that looks like a tag) travel as [key, value] pairs.
            pairs = []
            for k, v in d.items():
                try:
                    key = self.walk(k, depth + 1)
                except Unsupported as exc:
                    exc.segments.append(f"[<key {k!r}>]")
                    raise
                try:
                    pairs.append([key, self.walk(v, depth + 1)])
                except Unsupported as exc:
                    exc.segments.append(key_segment(k))
                    raise
            out = {"!dict": pairs}
        self.active.discard(id(d))
        return out


def _iso(obj: Any) -> str:
    return str(obj.isoformat())


def _datetime(obj: dt.datetime) -> Any:
    zone = getattr(obj.tzinfo, "key", None)
    return obj.isoformat() if zone is None else [obj.isoformat(), zone]


def _timedelta(obj: dt.timedelta) -> list[int]:
    return [obj.days, obj.seconds, obj.microseconds]


_SCALAR_TAGS: dict[type, tuple[str, Callable[[Any], Any]]] = {
    dt.datetime: ("datetime", _datetime),
    dt.date: ("date", _iso),
    dt.time: ("time", _iso),
    dt.timedelta: ("timedelta", _timedelta),
    decimal.Decimal: ("decimal", str),
    uuid.UUID: ("uuid", str),
    bytes: ("bytes", lambda b: base64.b64encode(b).decode("ascii")),
}


def _load_datetime(v: Any) -> dt.datetime:
    if isinstance(v, list):
        from zoneinfo import ZoneInfo

        return dt.datetime.fromisoformat(v[0]).astimezone(ZoneInfo(v[1]))
    return dt.datetime.fromisoformat(v)


_UNTAG: dict[str, Callable[[Any], Any]] = {
    "!tuple": tuple,
    "!set": set,
    "!frozenset": frozenset,
    "!dict": dict,
    "!datetime": _load_datetime,
    "!date": dt.date.fromisoformat,
    "!time": dt.time.fromisoformat,
    "!timedelta": lambda v: dt.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "!decimal": decimal.Decimal,
    "!uuid": uuid.UUID,
    "!bytes": lambda v: base64.b64decode(v, validate=True),
}


def _parts(v: Any, n: int, tag: str) -> list[Any]:
    if type(v) is not list or len(v) != n:
        raise ValueError(f"the {tag} tag holds a list of {n} items")
    return v


def _load_numpy(v: Any) -> Any:
    dtype, item = _parts(v, 2, "!numpy")
    if type(item) is str:
        return _leaves.decode_scalar(dtype, b64decode(item), raw=True)
    return _leaves.decode_scalar(dtype, item, raw=False)


def _load_ndarray(v: Any) -> Any:
    dtype, shape, order, data = _parts(v, 4, "!ndarray")
    if type(data) is not str:
        raise ValueError("an !ndarray's data is base64 text")
    return _leaves.decode_array(dtype, shape, order, b64decode(data))


def _load_encoded(v: Any) -> Any:
    name, version, data = _parts(v, 3, "!encoded")
    if type(data) is not str:
        raise ValueError("an !encoded payload is base64 text")
    return _leaves.decode_nested(name, version, b64decode(data))


_UNTAG.update({"!numpy": _load_numpy, "!ndarray": _load_ndarray, "!encoded": _load_encoded})


def _object_hook(d: dict[str, Any]) -> Any:
    if len(d) == 1:
        for key, val in d.items():
            if key[:1] == TAG:
                fn = _UNTAG.get(key)
                if fn is None:
                    raise DecodeError(f"unknown json tag {key!r} (written by a newer pipeflow?)", codec="json")
                return fn(val)
    return d


class JsonCodec(Codec):
    """Readable JSON; tuples, sets, datetimes, Decimal, UUID, bytes, non-str keys, numpy values, frames and
    tables are tagged (arrays, frames and tables in base64, which `auto` leaves to msgpack)."""

    name: ClassVar[str] = "json"
    version: ClassVar[int] = 1
    binary: ClassVar[bool] = False

    def encode(self, value: Any, *, what: str = "value", refuse_bytes: bool = False) -> str:
        try:
            text = _fast(value)
        except (_Special, TypeError, ValueError, RecursionError):
            text = None  # the tagged walk below finds the cause and its path
        # '!' is rare, and a one-character search runs at memchr speed.
        if text is not None and ("!" not in text or MARKER not in text) and _is_plain(value):
            return text
        try:
            data = _Walker(refuse_bytes).walk(value)
        except Unsupported as exc:
            raise encode_error(exc, what, self.name) from None
        except RecursionError:
            deep = Unsupported(value, "it is nested too deeply")
            raise encode_error(deep, what, self.name) from None
        return _tagged(data)

    def decode(self, payload: Any) -> Any:
        return self.decode_within(payload, None)

    def decode_within(self, payload: Any, max_bytes: int | None) -> Any:
        """`decode`, holding the numpy arrays, frames and tables inside to `max_bytes` together (None: the ceiling)."""
        if "!" not in payload or MARKER not in payload:
            return self._decode(payload, False)
        outer = _leaves.enter_budget(max_bytes)  # what the arrays, frames and tables inside may take, together
        try:
            return self._decode(payload, True)
        finally:
            _leaves.leave_budget(outer)

    def _decode(self, payload: Any, tagged: bool) -> Any:
        try:
            value = json.loads(payload, object_hook=_object_hook) if tagged else json.loads(payload)
        except RecursionError:
            raise _too_deep() from None
        # Each level takes two characters at least; a text with few brackets cannot be deep.
        n = len(payload)
        if n > 2 * MAX_DEPTH and (n > _COUNT_UP_TO or payload.count("[") + payload.count("{") > MAX_DEPTH):
            # Tagged text may hold UUIDs, whose referents lead to their class: filter by type then.
            if nesting_exceeds(value, exact_types=not tagged):
                raise _too_deep()
        return value


def _too_deep() -> DecodeError:
    return DecodeError(
        f"the json/1 payload nests deeper than {MAX_DEPTH} levels (lists, dicts, tuples and sets together), "
        f"the limit on decoded values",
        codec="json",
        version="1",
    )
