"""Nesting depth for the msgpack codec, checked by msgpack's own C code where that is cheap.

msgpack's parser keeps nested arrays and maps on a fixed stack, and its packer refuses as
many nested containers; both raise when full (1,024 levels). Parsing a payload after, or
packing a value inside, enough one-element arrays to leave exactly `MAX_DEPTH` levels makes
them enforce the limit at C speed, for a fixed ~50 µs: worth it for a large payload only. A
small one has its container headers counted instead (fewer than the limit: it cannot be
deeper), and what is left gets a pass over the value (`nesting_exceeds`).
"""

from __future__ import annotations

import functools
import itertools
import operator
import threading
from collections.abc import Callable
from typing import Any

import msgpack

from ._limits import MAX_DEPTH

__all__ = ["BOUNDED_FROM", "could_nest", "large", "pack_wrapped", "parse_levels", "unpack_bounded", "unpacker", "wrap_levels"]

#: Every byte that can start an array, a map or an ext type; a payload holding no more of them
#: than MAX_DEPTH cannot nest deeper, whatever they mean in place.
_NOT_NESTING = bytes(
    b for b in range(256) if not (0x80 <= b <= 0x9F or 0xDC <= b <= 0xDF or b in b"\xc7\xc8\xc9\xd4\xd5\xd6\xd7\xd8")
)
#: Up to this size, counting those bytes costs less than a pass over the decoded value.
_COUNT_UP_TO = 4096
#: From this size on, a payload is parsed bounded (a fixed ~50 µs, less than a pass over the value).
BOUNDED_FROM = 128 * 1024
#: Containers of this many items (at the top, or one level down) are packed wrapped: a pass over a
#: value of many items costs a fifth of packing it, often more.
_WRAP_FROM = 4096
#: Up to this size a payload is fed to the parser whole, which copies it; a larger one is read a piece at a time.
_FEED_UP_TO = 32 * 1024 * 1024
_READ_SIZE = 1024 * 1024
_ARRAY_OF_ONE = b"\x91"


class _Wrapper(threading.local):
    lists: tuple[list[Any], list[Any]] | None = None  # the outer and the innermost list


_wrapper = _Wrapper()


def could_nest(data: Any, _limit: int = MAX_DEPTH, _count_up_to: int = _COUNT_UP_TO, _keep: bytes = _NOT_NESTING) -> bool:
    """False when `data` is too short, or holds too few container headers, to nest past MAX_DEPTH."""
    # (Constants bound as defaults: this runs on every small payload, where lookups show.)
    n = len(data)
    if n <= _limit:
        return False
    if n > _count_up_to:
        return True
    return len((data if type(data) is bytes else bytes(data)).translate(None, _keep)) > _limit


def large(value: Any) -> bool:
    """A quick guess that packing `value` costs far more than the ~40 µs of packing it wrapped."""
    t = type(value)
    if t is list or t is dict or t is tuple:
        n = len(value)
        if n >= _WRAP_FROM:
            return True
        if n <= 16:  # the usual {"rows": [...], "meta": {...}}
            for item in value.values() if t is dict else value:
                kind = type(item)
                if (kind is list or kind is dict or kind is tuple) and len(item) >= _WRAP_FROM:
                    return True
    return False


def _deepest(works: Callable[[int], bool], most: int) -> int | None:
    """The largest n < `most` for which `works(n)`, assuming it works up to a point; None if it always works."""
    if works(most):
        return None
    low, high = 0, most
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if works(middle) else (low, middle)
    return low


@functools.lru_cache(maxsize=None)
def parse_levels() -> int | None:
    """How many one-element arrays before a payload leave msgpack's parser exactly MAX_DEPTH levels.

    Asked of the parser once; None if it has no fixed stack (the value is walked instead).
    """

    def parses(levels: int) -> bool:
        try:
            msgpack.unpackb(_ARRAY_OF_ONE * levels + b"\xc0")
        except msgpack.StackError:
            return False
        return True

    room = _deepest(parses, 1 << 16)
    return room - MAX_DEPTH if room is not None and room > MAX_DEPTH else None


@functools.lru_cache(maxsize=None)
def wrap_levels() -> int | None:
    """How many one-element lists around a value leave msgpack's packer exactly MAX_DEPTH levels.

    Asked of the packer once; None if it sets no limit (the value is walked instead).
    """

    def packs(levels: int) -> bool:
        value: Any = None
        for _ in range(levels):
            value = [value]
        try:
            msgpack.packb(value)
        except ValueError:
            return False
        return True

    room = _deepest(packs, 1 << 13)
    return room - MAX_DEPTH if room is not None and room > MAX_DEPTH else None


def pack_wrapped(value: Any, levels: int, pack: Callable[[Any], bytes]) -> memoryview:
    """`value` packed by `pack` inside `levels` one-element lists, which then refuses it past MAX_DEPTH; unwrapped."""
    lists = _wrapper.lists
    if lists is None:
        outer: list[Any] = [None]
        inner = outer
        for _ in range(levels - 1):
            below: list[Any] = [None]
            inner[0] = below
            inner = below
        lists = _wrapper.lists = (outer, inner)
    outer, inner = lists
    inner[0] = value
    try:
        return memoryview(pack(outer))[levels:]  # each wrapping list packs as one byte
    finally:
        inner[0] = None


def unpacker(data: Any, levels: int = 0, **options: Any) -> msgpack.Unpacker:
    """An `Unpacker` (its parser state on the heap, not the C stack) for `data` after `levels` one-element arrays."""
    n = max(levels + len(data), 1)
    if n <= _FEED_UP_TO:
        parser = msgpack.Unpacker(max_buffer_size=n, **options)
        parser.feed(_ARRAY_OF_ONE * levels)
        parser.feed(data)
        return parser
    # A file is read a piece at a time (no second copy of a large payload), ~15% slower than feeding it.
    return msgpack.Unpacker(_Chunks(_ARRAY_OF_ONE * levels, data), read_size=_READ_SIZE, max_buffer_size=n, **options)


def unpack_bounded(data: Any, levels: int, **options: Any) -> Any:
    """`data` parsed inside `levels` one-element arrays: the parser then raises StackError past MAX_DEPTH."""
    parser = unpacker(data, levels, **options)
    value = parser.unpack()
    if parser.tell() != levels + len(data):
        raise ValueError("extra bytes after the value")
    return functools.reduce(operator.getitem, itertools.repeat(0, levels), value)


class _Chunks:
    """A file reading `head` then `body`, a piece at a time (an `Unpacker` wants bytes from `read`)."""

    def __init__(self, head: bytes, body: Any) -> None:
        self._parts = [memoryview(head), memoryview(body).cast("B")]
        self._at = 0

    def read(self, size: int = -1) -> bytes:
        while self._parts and self._at >= len(self._parts[0]):
            self._parts.pop(0)
            self._at = 0
        if not self._parts:
            return b""
        start = self._at
        self._at = len(self._parts[0]) if size < 0 else min(start + size, len(self._parts[0]))
        return bytes(self._parts[0][start : self._at])
