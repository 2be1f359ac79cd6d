"""Limits on what crosses a process boundary: nesting depth and decoded size.

One documented number each, shared by the codecs, the envelope reader and the
engine's HTTP front, so a hostile payload meets the same wall wherever it enters.
"""

from __future__ import annotations

import gc
import os
import re
from typing import Any

from ._errors import ConverterError

__all__ = [
    "DECODED_BYTES_ENV",
    "INLINE_FLOOR",
    "INLINE_RATIO",
    "MAX_DECODED_BYTES",
    "MAX_DEPTH",
    "decoded_ceiling",
    "inline_ceiling",
    "json_depth_exceeds",
    "nesting_exceeds",
]

#: Deepest nesting of lists, dicts, tuples and sets that is encoded or decoded (json and msgpack):
#: nothing may sit inside more than this many containers. Real data rarely passes 20; C parsers
#: and Python's recursion crash or fail far below 1,000.
MAX_DEPTH = 100

#: Default ceiling on the memory one payload may decode to (bytes); `DECODED_BYTES_ENV` replaces it.
MAX_DECODED_BYTES = 256 * 2**20
#: Read on every call, not at import, so that a setting reaches the worker processes a pool starts.
DECODED_BYTES_ENV = "PIPEFLOW_MAX_DECODED_BYTES"
#: An inline envelope of n characters decodes to at most max(INLINE_FLOOR, INLINE_RATIO * n) bytes (and
#: never past the ceiling). Inline values come from SWF fields that anyone who can start a run writes,
#: so raising the ceiling for large references does not raise this bound.
INLINE_FLOOR = 64 * 2**20
INLINE_RATIO = 1024

_SIZE = re.compile(r"\s*([0-9][0-9_]*)\s*(|k|m|g|t|kib|mib|gib|tib)\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")

_CONTAINERS = (list, dict, tuple, set, frozenset)


def decoded_ceiling() -> int:
    """The most bytes a payload may decode to: `PIPEFLOW_MAX_DECODED_BYTES` (e.g. `1GiB`), else 256 MiB."""
    raw = os.environ.get(DECODED_BYTES_ENV)
    if raw is None or not raw.strip():
        return MAX_DECODED_BYTES
    found = _SIZE.fullmatch(raw)
    if found is None:
        raise ConverterError(
            f"{DECODED_BYTES_ENV}={raw!r} is not a size in bytes: give a number, optionally with KiB, MiB or GiB "
            f"(e.g. {DECODED_BYTES_ENV}=1GiB)"
        )
    return int(found.group(1).replace("_", "")) * _UNITS[found.group(2)[:1].lower()]


def inline_ceiling(length: int) -> int:
    """The most bytes an inline envelope of `length` characters may decode to."""
    return min(decoded_ceiling(), max(INLINE_FLOOR, INLINE_RATIO * length))


def nesting_exceeds(value: Any, limit: int = MAX_DEPTH, *, exact_types: bool = False) -> bool:
    """True when something in `value` sits inside more than `limit` lists, dicts, tuples or sets.

    A breadth-first pass at C speed: `gc.get_referents` yields what a level of containers
    holds (and skips scalars, which the collector does not track). With `exact_types` the
    caller vouches that `value` holds only built-in containers and scalars, as json and
    msgpack produce; otherwise each level keeps its containers only, since an instance's
    referents lead to its type. Subclasses can make the answer too deep, never too shallow.
    """
    level = [value]
    for _ in range(limit + 1):
        if not exact_types:
            level = [item for item in level if isinstance(item, _CONTAINERS)]
        level = gc.get_referents(*level)
        if not level:
            return False
    return True


def json_depth_exceeds(data: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """True when the JSON text `data` nests arrays and objects deeper than `limit`.

    A scan, not a parse: strings are skipped (a bracket inside one does not count),
    and it stops at the first level past `limit`, so a hostile body costs one pass.
    Malformed text is left for the parser to reject.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    depth = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False
