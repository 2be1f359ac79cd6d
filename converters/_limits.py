"""Limits on what crosses a process boundary: nesting depth and decoded size.

One documented number each, shared by the codecs, the envelope reader and the
engine's HTTP front, so a hostile payload meets the same wall wherever it enters.
"""

from __future__ import annotations

import re

__all__ = ["MAX_DEPTH", "json_depth_exceeds"]

#: Deepest nesting of lists, dicts, tuples and sets that is encoded or decoded (json and msgpack).
#: Real data rarely passes 20; C parsers and Python's recursion crash or fail far below 1,000.
MAX_DEPTH = 100

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


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
