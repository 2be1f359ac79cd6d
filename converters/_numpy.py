"""numpy scalars and arrays as (dtype string, shape, raw bytes): no pickle, sizes checked before allocating.

Only plain numeric dtypes travel (bool, ints, floats, complex, datetime64 and
timedelta64, either byte order): their bytes are the values. An object array holds
Python objects that only pickle could carry, so it is refused, as are string,
structured and void dtypes. numpy is imported by the caller (values here are numpy's).

What is read is checked before anything is allocated: the dtype string must be one
numpy writes for such a dtype (`np.dtype(s).str == s`), the shape a short list of
non-negative ints, and shape product times itemsize exactly the bytes given.
"""

from __future__ import annotations

import re
import sys
from typing import Any

__all__ = [
    "KINDS",
    "MAX_DIMS",
    "array_from",
    "array_parts",
    "is_numpy",
    "parse_dtype",
    "refusal",
    "scalar_from_bytes",
    "scalar_from_item",
    "scalar_item",
]

#: dtype kinds that travel: bool, signed and unsigned ints, floats, complex, timedelta64, datetime64.
KINDS = frozenset("biufcmM")
#: numpy 1 allows 32 dimensions, numpy 2 64: the smaller, so both read what either writes.
MAX_DIMS = 32
_DTYPE = re.compile(r"[<>|][biufcmM][1-9][0-9]?(?:\[[0-9]{0,6}[a-zA-Z]{1,2}\])?")
#: numpy refuses arrays whose byte count passes a signed 64-bit int; refused here first, with a clear message.
_MAX_NBYTES = 2**62


def is_numpy(value: Any) -> bool:
    """True for a numpy scalar or array (numpy's str and bytes scalars excepted: they travel as str and bytes)."""
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, (np.ndarray, np.generic)) and not isinstance(value, (str, bytes))


def refusal(value: Any) -> str | None:
    """Why `value`, a numpy array or scalar, cannot travel; None when it can."""
    import numpy as np

    if isinstance(value, np.ndarray) and type(value) is not np.ndarray and not isinstance(value, np.memmap):
        return (f"an ndarray subclass ({type(value).__name__}) would lose what it adds (a mask, matrix semantics); "
                f"pass np.asarray(value), or the parts it holds (data and mask) separately")
    dtype = value.dtype
    if dtype.hasobject:
        return ("an object-dtype array holds Python objects, which only pickle could carry, and converters never "
                "unpickle; convert it with .tolist() or .astype(<a numeric dtype>)")
    if dtype.kind not in KINDS or dtype.fields is not None or dtype.subdtype is not None:
        return (f"numpy dtype {dtype} is not a plain numeric one (bool, int, float, complex, datetime64, timedelta64); "
                f"convert it with .tolist()")
    return None


def array_parts(array: Any) -> tuple[str, list[int], str, bytes]:
    """`(dtype string, shape, order, bytes)` of an array `refusal` accepts; order "F" keeps a Fortran layout."""
    order = "F" if array.ndim > 1 and array.flags.f_contiguous and not array.flags.c_contiguous else "C"
    return array.dtype.str, [int(n) for n in array.shape], order, array.tobytes(order=order)


def parse_dtype(text: Any) -> Any:
    """The dtype `text` names, if it is one `array_parts` writes; raises ValueError otherwise, before numpy parses it."""
    import numpy as np

    if type(text) is not str or _DTYPE.fullmatch(text) is None:
        raise ValueError(f"{str(text)[:40]!r} is not a plain numeric numpy dtype string (such as '<i8' or '<M8[ns]')")
    dtype = np.dtype(text)
    if dtype.str != text or dtype.kind not in KINDS or dtype.hasobject or dtype.itemsize == 0:
        raise ValueError(f"{text!r} is not a plain numeric numpy dtype string (such as '<i8' or '<M8[ns]')")
    return dtype


def array_from(dtype_text: Any, shape: Any, order: Any, data: Any, take: Any) -> Any:
    """The array `array_parts` described; `take(nbytes)` is charged before the array is allocated.

    Raises ValueError when the parts do not describe an array (unknown dtype, bad shape,
    a byte count that is not shape product times itemsize).
    """
    import numpy as np

    dtype = parse_dtype(dtype_text)
    if type(shape) is not list or len(shape) > MAX_DIMS or any(type(n) is not int or n < 0 for n in shape):
        raise ValueError(f"an array shape must be a list of at most {MAX_DIMS} non-negative ints")
    if order not in ("C", "F"):
        raise ValueError(f"an array order is 'C' or 'F', not {str(order)[:10]!r}")
    size = len(memoryview(data).cast("B"))
    count = 1
    bound = dtype.itemsize  # the product of the non-zero dimensions: numpy refuses a shape past 2**63 bytes even if empty
    for n in shape:
        count *= n
        bound *= max(n, 1)
        if bound > _MAX_NBYTES:
            raise ValueError(f"an array shape of {len(shape)} dimensions that passes {_MAX_NBYTES:,} bytes")
    if count * dtype.itemsize != size:
        raise ValueError(f"an array of shape {tuple(shape)} and dtype {dtype_text} takes {count * dtype.itemsize:,} "
                         f"bytes, not the {size:,} given")
    take(size)
    flat = np.frombuffer(data, dtype=dtype, count=count)
    return flat.reshape(shape, order=order).copy(order="K")  # writable, and no longer holding the payload


def scalar_item(value: Any) -> Any:
    """A numpy scalar as a JSON value: a number (complex as [real, imag]; datetime64 and timedelta64 as their
    int64 count), or None where a float cannot hold it exactly (long double)."""
    kind, size = value.dtype.kind, value.dtype.itemsize
    if kind == "b":
        return bool(value)
    if kind in "iu":
        return int(value)
    if kind == "f" and size <= 8:
        return float(value)
    if kind == "c" and size <= 16:
        return [float(value.real), float(value.imag)]
    if kind in "mM":
        return int(value.view("<i8"))
    return None


def scalar_from_item(dtype_text: Any, item: Any) -> Any:
    """The numpy scalar `scalar_item` gave `item` for; raises ValueError on a mismatched item."""
    import numpy as np

    dtype = parse_dtype(dtype_text)
    kind, t = dtype.kind, type(item)
    if kind == "b" and t is bool:
        return np.bool_(item)
    if kind in "iu" and t is int:
        info = np.iinfo(dtype)
        if not info.min <= item <= info.max:
            raise ValueError(f"{item} is out of range for {dtype}")
        return dtype.type(item)
    if kind == "f" and dtype.itemsize <= 8 and t in (int, float):
        return dtype.type(item)
    if kind == "c" and dtype.itemsize <= 16 and t is list and len(item) == 2 and all(type(x) in (int, float) for x in item):
        return dtype.type(complex(item[0], item[1]))
    if kind in "mM" and t is int and -(2**63) <= item < 2**63:
        return np.array(item, dtype="<i8").view(dtype.newbyteorder("<"))[()]
    raise ValueError(f"a {type(item).__name__} is not a value of numpy dtype {dtype}")


def scalar_from_bytes(dtype_text: Any, data: Any) -> Any:
    """The numpy scalar of dtype `dtype_text` whose bytes are `data`; raises ValueError on a size mismatch."""
    import numpy as np

    dtype = parse_dtype(dtype_text)
    if len(memoryview(data).cast("B")) != dtype.itemsize:
        raise ValueError(f"a {dtype} scalar takes {dtype.itemsize} bytes, not {len(data)}")
    return np.frombuffer(data, dtype=dtype, count=1)[0]
