"""The `arrow` codec: a pyarrow Table as Parquet, read back as the same Table.

Parquet keeps the Arrow schema (types, field and schema metadata) beside the
columns, so the table comes back as it went; what Parquet cannot store (unions,
some interval types) is refused on encode. Decoding goes through the pandas
codec's reader, which sizes a payload from its footer before reading a column.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, ClassVar

from ._codec import Codec
from ._errors import EncodeError
from ._limits import decoded_ceiling
from ._pandas import read_parquet, write_parquet
from ._path import type_name

__all__ = ["ArrowCodec", "is_arrow"]


def is_arrow(value: Any) -> bool:
    """True for a pyarrow Table, without importing pyarrow."""
    pa = sys.modules.get("pyarrow")
    return pa is not None and isinstance(value, pa.Table)


def encode_table(value: Any, what: str, codec: str, write: Callable[[Any], Any]) -> Any:
    """A pyarrow Table as `write` writes it; EncodeError naming `codec` for anything else or a failed write."""
    if not is_arrow(value):
        raise EncodeError(
            f"the {codec} codec encodes a pyarrow Table, not {type_name(value)} at {what}",
            type_name=type_name(value),
            path=what,
        )
    import pyarrow as pa

    try:
        return write(value)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise EncodeError(
            f"the {codec} codec cannot encode the Table at {what}: {exc}", type_name=type_name(value), path=what
        ) from exc


class ArrowCodec(Codec):
    """pyarrow Tables as Parquet: schema, metadata and values kept."""

    name: ClassVar[str] = "arrow"
    version: ClassVar[int] = 1
    binary: ClassVar[bool] = True

    def encode(self, value: Any, *, what: str = "value") -> bytes:
        encoded: bytes = encode_table(value, what, self.name, write_parquet)
        return encoded

    def decode(self, payload: Any) -> Any:
        return self.decode_within(payload, decoded_ceiling())

    def decode_within(self, payload: Any, max_bytes: int) -> Any:
        return read_parquet(payload, max_bytes, codec=self.name)[0]
