"""Where inside a value an unsupported object sits, for `EncodeError` messages."""

from __future__ import annotations

import json
from typing import Any

from ._errors import EncodeError
from ._limits import MAX_DEPTH

__all__ = ["TOO_DEEP", "Unsupported", "encode_error", "key_segment", "type_name"]

#: The reason given for the first object that sits inside more than MAX_DEPTH containers.
TOO_DEEP = (
    f"it is nested deeper than {MAX_DEPTH} levels (lists, dicts, tuples and sets together), "
    f"the limit on what converters encode; flatten the value"
)


class Unsupported(Exception):
    """Raised at the offending object; each container on the way up adds its segment."""

    def __init__(self, obj: Any, reason: str | None = None) -> None:
        super().__init__(obj)
        self.obj = obj
        self.reason = reason
        self.segments: list[str] = []


def key_segment(key: Any) -> str:
    return f"[{json.dumps(key)}]" if type(key) is str else f"[{key!r}]"


def type_name(obj: Any) -> str:
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def encode_error(exc: Unsupported, what: str, codec: str) -> EncodeError:
    """The `EncodeError` for `exc`, with the path rooted at `what` (`result["rows"][3]`)."""
    path = what + "".join(reversed(exc.segments))
    name = type_name(exc.obj)
    reason = exc.reason or "it is not a supported type"
    return EncodeError(f"the {codec} codec cannot encode a value of type {name} at {path}: {reason}", type_name=name, path=path)
