"""Values the json and msgpack codecs carry whole inside a container: numpy values, frames and tables.

A leaf travels as bytes plus what reads them back, never pickled:

- a numpy scalar: its dtype string and bytes (json: the dtype string and a number);
- a numpy array: dtype string, shape, order ("C" or "F") and bytes (`_numpy`);
- a DataFrame, Series or pyarrow Table: the payload the `pandas` or `arrow` codec
  writes for it (Parquet), with that codec's name and version: a nested encoded value.

What leaves decode to counts against one budget per payload: the ceiling `loads`
holds the payload to (`decode_within`), shared by all its leaves, so a container of
many small Parquet bombs is refused like one large one. `dumps` sums, the other way,
what the leaves it encodes will take (`tally`), to keep inline only what `loads` reads.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from ._errors import DecodeError, EncodeError
from ._limits import DECODED_BYTES_ENV, decoded_ceiling
from ._numpy import (
    array_from,
    array_parts,
    refusal,
    scalar_from_bytes,
    scalar_from_item,
    scalar_item,
)
from ._pandas import decoded_size, is_pandas, read_frame, read_parquet

__all__ = [
    "NESTED_CODECS",
    "Refused",
    "check",
    "decode_array",
    "decode_nested",
    "decode_scalar",
    "encode_array",
    "encode_nested",
    "encode_scalar",
    "enter_budget",
    "kind",
    "leave_budget",
    "scalar_bytes",
    "start_tally",
    "stop_tally",
]

#: Codecs whose payloads nest inside json and msgpack: their values hold no Python containers.
NESTED_CODECS = frozenset({"pandas", "arrow"})
_HERE = "\x00here\x00"  # the path given to a nested codec, cut from its message (the container names the path)


class Refused(TypeError):
    """A leaf that cannot travel, and why (msgpack's `default` hook must raise a TypeError)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _State(threading.local):
    tally: list[int] | None = None  # bytes the leaves encoded by this `dumps` take once decoded
    budget: list[int] | None = None  # bytes the leaves of this payload may still take; [-1]: the ceiling, once needed


_state = _State()


def kind(value: Any) -> str | None:
    """"numpy", "ndarray", "pandas" or "arrow" for a leaf, else None; imports nothing."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, (np.ndarray, np.generic)) and not isinstance(value, (str, bytes)):
        return "ndarray" if isinstance(value, np.ndarray) else "numpy"
    if is_pandas(value):
        return "pandas"
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(value, pa.Table):
        return "arrow"
    return None


# -- encoding -------------------------------------------------------------------------------


def start_tally() -> list[int] | None:
    """Start summing what encoded leaves take once decoded; returns what `stop_tally` restores."""
    outer = _state.tally
    _state.tally = [0]
    return outer


def stop_tally(outer: list[int] | None) -> int:
    """The bytes summed since `start_tally`."""
    mine = _state.tally
    _state.tally = outer
    return mine[0] if mine is not None else 0


def _count(size: int) -> None:
    tally = _state.tally
    if tally is not None:
        tally[0] += size


def check(value: Any) -> None:
    """Raise `Refused` for a numpy value that cannot travel (object, string or structured dtype; a subclass)."""
    reason = refusal(value)
    if reason is not None:
        raise Refused(reason)


def encode_scalar(value: Any) -> tuple[str, Any]:
    """`(dtype string, number)` for json, the number None where a float cannot hold the value (long double)."""
    check(value)
    return value.dtype.str, scalar_item(value)


def scalar_bytes(value: Any) -> tuple[str, bytes]:
    """`(dtype string, bytes)` of a numpy scalar, for msgpack."""
    check(value)
    return value.dtype.str, value.tobytes()


def encode_array(value: Any) -> tuple[str, list[int], str, bytes]:
    """`(dtype string, shape, order, bytes)` of an array."""
    check(value)
    parts = array_parts(value)
    _count(len(parts[3]))
    return parts


def encode_nested(value: Any, name: str) -> tuple[str, int, bytes]:
    """`(codec name, version, payload)` of a frame or table, by the `pandas` or `arrow` codec."""
    from ._arrow import ArrowCodec
    from ._pandas import PandasCodec

    codec = PandasCodec() if name == "pandas" else ArrowCodec()
    try:
        payload = codec.encode(value, what=_HERE)
    except EncodeError as exc:
        raise Refused(str(exc).replace(f" at {_HERE}", "")) from None
    if _state.tally is not None:
        ceiling = decoded_ceiling()
        _count(decoded_size(payload, ceiling))
    return codec.name, codec.version, payload


# -- decoding -------------------------------------------------------------------------------


def enter_budget(max_bytes: int | None) -> list[int] | None:
    """Hold the leaves of the payload about to be decoded to `max_bytes` (None: the ceiling); returns the outer budget."""
    outer = _state.budget
    _state.budget = [-1 if max_bytes is None else max_bytes]
    return outer


def leave_budget(outer: list[int] | None) -> None:
    _state.budget = outer


def _remaining() -> list[int]:
    budget = _state.budget
    if budget is None:  # a leaf decoded outside a codec's decode: held to the ceiling on its own
        budget = [-1]
    if budget[0] < 0:
        budget[0] = decoded_ceiling()
    return budget


def _take(size: int) -> None:
    budget = _remaining()
    if size > budget[0]:
        raise _too_much(size, budget[0])
    budget[0] -= size


def _too_much(size: int, left: int) -> DecodeError:
    return DecodeError(
        f"the numpy arrays, frames and tables in this payload would decode to more than its limit: {size:,} bytes "
        f"more with {left:,} left. A trusted reference may take more: raise {DECODED_BYTES_ENV} "
        f"(e.g. {DECODED_BYTES_ENV}=4GiB) where it is read"
    )


def decode_scalar(dtype: Any, item: Any, raw: bool) -> Any:
    """A numpy scalar from its dtype string and json number, or (`raw`) its bytes."""
    return scalar_from_bytes(dtype, item) if raw else scalar_from_item(dtype, item)


def decode_array(dtype: Any, shape: Any, order: Any, data: Any) -> Any:
    """The array the parts describe, charged to the payload's budget before it is allocated."""
    return array_from(dtype, shape, order, data, _take)


def decode_nested(name: Any, version: Any, payload: Any) -> Any:
    """The frame or table a nested `pandas` or `arrow` payload holds, within what the budget has left."""
    if name not in NESTED_CODECS or type(version) is not int:
        raise ValueError(f"{str(name)[:20]!r} is not a codec whose values nest inside json and msgpack")
    if version != 1:
        raise DecodeError(
            f"unsupported version {version} of codec {name!r} nested in this payload: this installation reads {name}/1",
            codec=name,
            version=str(version),
        )
    if type(payload) is not bytes:
        raise ValueError("a nested payload must be bytes")
    budget = _remaining()
    if name == "pandas":
        value, size = read_frame(payload, budget[0])
    else:
        value, size = read_parquet(payload, budget[0], codec="arrow")
    budget[0] -= min(size, budget[0])
    return value
