"""The `pandas` codec: a DataFrame or Series as Parquet, through pyarrow.

pandas and pyarrow are imported on first use, never by `import converters`.
Arrow shares the frame's column buffers, and on reading the frame shares the
table's (one chunk per column), so the Parquet bytes are the only full copy.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any, ClassVar

from ._codec import Codec
from ._errors import DecodeError, EncodeError
from ._path import type_name

__all__ = ["PandasCodec", "is_pandas"]

_META_KEY = b"pipeflow"
#: Payloads from this size on are read a column at a time (smaller ones: all columns at once, threaded).
COLUMNWISE_FROM = 8 * 1024 * 1024

#: Rows per Parquet row group; one chunk per column lets to_pandas skip copies on read.
ROW_GROUP = 1_048_576


def is_pandas(value: Any) -> bool:
    """True for a DataFrame or Series, without importing pandas."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, (pd.DataFrame, pd.Series))


class PandasCodec(Codec):
    """DataFrame and Series as Parquet: index, dtypes and column names kept."""

    name: ClassVar[str] = "pandas"
    version: ClassVar[int] = 1
    binary: ClassVar[bool] = True

    def encode(self, value: Any, *, what: str = "value") -> bytes:
        if not is_pandas(value):
            raise EncodeError(
                f"the pandas codec encodes a DataFrame or Series, not {type_name(value)} at {what}",
                type_name=type_name(value),
                path=what,
            )
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

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
            # Numeric, datetime and string columns convert without copying, so the one full
            # copy made here is the Parquet output.
            table = pa.Table.from_pandas(frame, preserve_index=None)
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()})
            sink = io.BytesIO()
            pq.write_table(table, sink, compression="snappy", row_group_size=ROW_GROUP)
            del table
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise EncodeError(
                f"the pandas codec cannot encode the {type(value).__name__} at {what}: {exc}",
                type_name=type_name(value),
                path=what,
            ) from exc
        return sink.getvalue()

    def decode(self, payload: Any) -> Any:
        import pyarrow as pa

        try:
            table = _read_table(payload)
        except pa.ArrowException as exc:
            raise DecodeError(f"corrupt pandas payload: {exc}", codec=self.name, version=str(self.version)) from exc
        del payload  # the caller handed over its only reference: free it before the frame is built
        raw = (table.schema.metadata or {}).get(_META_KEY, b'{"kind": "frame"}')
        meta = json.loads(raw)
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
        del table
        if meta.get("kind") == "series":
            series = frame["__series__"]
            series.name = meta.get("name")
            return series
        return frame


def _read_table(payload: Any) -> Any:
    """The Parquet payload as one Arrow table, read a column at a time.

    The allocator keeps a column's scratch buffers unless told to release them;
    releasing after each column keeps peak memory near the table itself.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if memoryview(payload).nbytes < COLUMNWISE_FROM:
        return pq.read_table(pa.BufferReader(payload))
    reader = pq.ParquetFile(pa.BufferReader(payload), pre_buffer=False)
    schema = reader.schema_arrow
    if not schema.names or reader.metadata.num_columns != len(schema.names):
        return reader.read()  # nested columns or no columns at all: read it whole
    pool = pa.default_memory_pool()
    columns = []
    for name in schema.names:
        part = reader.read(columns=[name], use_threads=False)
        if part.num_columns != 1:
            return reader.read()
        columns.append(part.column(0))
        del part
        pool.release_unused()
    return pa.Table.from_arrays(columns, schema=schema)
