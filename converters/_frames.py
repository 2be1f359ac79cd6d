"""DataFrames and Series as Arrow tables and back, for the pandas codecs (Parquet and Arrow IPC).

pandas and pyarrow are imported on first use. The schema's metadata keeps the index,
dtypes and column names (pandas' own) and whether a Series was sent (ours).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ._errors import DecodeError, EncodeError
from ._path import type_name

__all__ = ["frame_table", "is_pandas", "table_frame", "unencodable"]

_META_KEY = b"pipeflow"


def is_pandas(value: Any) -> bool:
    """True for a DataFrame or Series, without importing pandas."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, (pd.DataFrame, pd.Series))


def unencodable(value: Any, what: str, exc: Exception) -> EncodeError:
    return EncodeError(
        f"the pandas codec cannot encode the {type(value).__name__} at {what}: {exc}", type_name=type_name(value), path=what
    )


def frame_table(value: Any, what: str) -> Any:
    """The Arrow table a DataFrame or Series is written as, its kind (frame or series) in the schema's metadata.

    Numeric, datetime and string columns convert without copying.
    """
    if not is_pandas(value):
        raise EncodeError(
            f"the pandas codec encodes a DataFrame or Series, not {type_name(value)} at {what}",
            type_name=type_name(value),
            path=what,
        )
    import pandas as pd
    import pyarrow as pa

    meta: dict[str, Any] = {"kind": "frame"}
    frame = value
    if isinstance(value, pd.Series):
        meta = {"kind": "series", "name": value.name}
        frame = value.to_frame(name="__series__")
    try:
        json.dumps(meta)
    except TypeError:
        raise EncodeError(
            f"the pandas codec cannot keep a Series name of type {type_name(value.name)} at {what}",
            type_name=type_name(value.name),
            path=what,
        ) from None
    for column, dtype in frame.dtypes.items():
        # pyarrow writes these but cannot read them back ("data type ... not understood").
        if isinstance(dtype, pd.ArrowDtype) and pa.types.is_nested(dtype.pyarrow_dtype):
            raise EncodeError(
                f"the pandas codec cannot encode column {column!r} of the {type(value).__name__} at {what}: "
                f"nested pyarrow dtype {dtype} does not survive Parquet; convert it to object or flatten it",
                type_name=type_name(value),
                path=f"{what}[{column!r}]",
            )
    try:
        table = pa.Table.from_pandas(frame, preserve_index=None)
        return table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()})
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise unencodable(value, what, exc) from exc


def table_frame(box: list[Any], codec: str = "pandas") -> Any:
    """The DataFrame or Series the one table in `box` holds (`frame_table` wrote it); the box is emptied."""
    import pyarrow as pa

    table = box.pop()
    try:
        raw = (table.schema.metadata or {}).get(_META_KEY, b'{"kind": "frame"}')
        meta = json.loads(raw)
        if not isinstance(meta, dict):
            raise ValueError(f"pipeflow metadata is a {type(meta).__name__}, not an object")  # noqa: TRY004
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
    except (pa.ArrowException, OSError) as exc:
        raise DecodeError(f"corrupt {codec} payload: {exc}", codec=codec, version="1") from exc
    del table
    if meta.get("kind") == "series":
        series = frame["__series__"]
        series.name = meta.get("name")
        return series
    return frame
