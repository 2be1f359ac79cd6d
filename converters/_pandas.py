"""The `pandas` codec: a DataFrame or Series as Parquet, through pyarrow.

pandas and pyarrow are imported on first use, never by `import converters`.
Arrow shares the frame's column buffers, and on reading the frame shares the
table's (one chunk per column), so the Parquet bytes are the only full copy.

Parquet compresses (dictionaries, run lengths, snappy): a few KB can describe a
gigabyte. Before a payload is decoded, the memory its columns will take is counted
from the file's footer (values times width; stored size for strings; read by
`_parquet`, since pyarrow's accessors can abort on a hostile one), and strings
stored as a dictionary, which expand once per row, are read as the dictionary they
are and measured before they are expanded. Past the caller's ceiling it is refused.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

from ._codec import Codec
from ._errors import DecodeError
from ._frames import frame_table, is_pandas, table_frame, unencodable
from ._limits import DECODED_BYTES_ENV, INLINE_FLOOR, INLINE_RATIO, decoded_ceiling
from ._parquet import Chunk, Footer, read_footer

__all__ = [
    "PandasCodec",
    "decoded_size",
    "decoded_size_exceeds",
    "frame_table",
    "is_pandas",
    "read_parquet",
    "table_frame",
    "write_parquet",
]

#: Payloads from this size on are read a column at a time (smaller ones: all columns at once, threaded).
COLUMNWISE_FROM = 8 * 1024 * 1024

#: Rows per Parquet row group; one chunk per column lets to_pandas skip copies on read.
ROW_GROUP = 1_048_576

#: What `encode` writes. Pages compressed otherwise are refused: snappy cannot grow a page more than
#: ~21 times, so the pages of a file with a lying footer still cannot take much more than the payload.
_COMPRESSIONS = frozenset({"SNAPPY", "UNCOMPRESSED"})
#: Bytes per value of Parquet's fixed-width physical types once read (bool as numpy holds it).
_WIDTH = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8}
#: Bytes per value of a variable-width column besides its data: 64-bit offsets, validity, slack.
_PER_VALUE = 16


class PandasCodec(Codec):
    """DataFrame and Series as Parquet: index, dtypes and column names kept."""

    name: ClassVar[str] = "pandas"
    version: ClassVar[int] = 1
    binary: ClassVar[bool] = True

    def encode(self, value: Any, *, what: str = "value") -> bytes:
        import pyarrow as pa

        table = frame_table(value, what)
        try:
            sink = io.BytesIO()
            _write(table, sink)
            del table
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise unencodable(value, what, exc) from exc
        return sink.getvalue()

    def decode(self, payload: Any) -> Any:
        return self.decode_within(payload, decoded_ceiling())

    def decode_within(self, payload: Any, max_bytes: int) -> Any:
        return read_frame(payload, max_bytes)[0]


def _write(table: Any, sink: Any, **options: Any) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, sink, compression="snappy", row_group_size=ROW_GROUP, **options)


def write_parquet(table: Any) -> bytes:
    """`table` as the Parquet bytes the arrow codec writes (snappy: see `_COMPRESSIONS`), list fields' names kept."""
    sink = io.BytesIO()
    _write(table, sink, use_compliant_nested_type=False)
    return sink.getvalue()


def read_parquet(payload: Any, max_bytes: int, codec: str = "pandas") -> tuple[Any, int]:
    """`(Arrow table, bytes it takes)` of a Parquet payload, refused with `DecodeError` past `max_bytes`."""
    import pyarrow as pa

    try:
        return _read_table(payload, max_bytes)
    except (pa.ArrowException, OSError) as exc:  # pyarrow reports a corrupt file as an OSError too
        raise DecodeError(f"corrupt {codec} payload: {exc}", codec=codec, version="1") from exc


def read_frame(payload: Any, max_bytes: int) -> tuple[Any, int]:
    """`(DataFrame or Series, bytes its table took)` of what `PandasCodec.encode` wrote; past `max_bytes`, DecodeError."""
    box = [payload]
    del payload  # the caller handed over its only reference: free it before the frame is built
    table, size = read_parquet(box.pop(), max_bytes)
    return table_frame([table]), size


class DecodedTooLarge(DecodeError):
    """A payload that would decode past the ceiling it is held to."""


def _too_big(size: int, limit: int) -> DecodeError:
    return DecodedTooLarge(
        f"the pandas/1 payload would decode to at least {size:,} bytes, over the limit of {limit:,} bytes. "
        f"A trusted reference may take more: raise {DECODED_BYTES_ENV} (e.g. {DECODED_BYTES_ENV}=4GiB) where it "
        f"is read; an inline value never takes more than {INLINE_FLOOR // 2**20} MiB or {INLINE_RATIO:,} bytes "
        f"per character",
        codec="pandas",
        version="1",
    )


def _footer_bytes(footer: Footer) -> int:
    """The memory the columns take once read, as the file's footer declares them.

    Strings count as stored: those stored as a dictionary expand once per row, which the
    footer cannot tell (see `_expanding`).
    """
    total = 0
    for chunk in footer.chunks:
        if chunk.codec not in _COMPRESSIONS:
            raise DecodeError(
                f"corrupt pandas payload: a column is compressed with {chunk.codec}, which the pandas codec never writes",
                codec="pandas",
                version="1",
            )
        kind = chunk.physical_type
        if kind == "BYTE_ARRAY":
            total += chunk.total_uncompressed_size + _PER_VALUE * chunk.num_values
        elif kind == "FIXED_LEN_BYTE_ARRAY":
            total += chunk.num_values * (chunk.type_length + 1)
        else:
            total += chunk.num_values * _WIDTH.get(kind, 8)
    return total


def _leaf_types(t: Any) -> list[Any]:
    """The Arrow types of the Parquet leaf columns a field of type `t` is stored as, in order."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return [leaf for i in range(t.num_fields) for leaf in _leaf_types(t.field(i).type)]
    if pa.types.is_map(t):
        return _leaf_types(t.key_type) + _leaf_types(t.item_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _leaf_types(t.value_type)
    return [t]


def _expansion_bound(chunks: list[Chunk]) -> int:
    """At most what `chunks`, strings stored as a dictionary, take once expanded: rows times their largest value."""
    return sum(chunk.num_values * chunk.total_uncompressed_size for chunk in chunks)


def _dictionary_strings(footer: Footer) -> list[Chunk]:
    return [chunk for chunk in footer.chunks if chunk.physical_type == "BYTE_ARRAY" and chunk.has_dictionary]


def _expanding(footer: Footer, schema: Any, room: int) -> dict[int, list[int]]:
    """Columns to read as dictionaries and measure: top-level index -> its Parquet leaf indices.

    A string leaf stored as a dictionary takes, once read, up to its row count times its
    largest value; when that bound fits in `room` for every such leaf, nothing needs a look
    (the common small frame), else all of them are read as dictionaries.
    """
    import pyarrow as pa

    leaves = [(top, leaf) for top, field in enumerate(schema) for leaf in _leaf_types(field.type)]
    if len(leaves) != footer.num_leaves:
        raise DecodeError(
            "corrupt pandas payload: its Arrow schema does not match its Parquet columns", codec="pandas", version="1"
        )
    found: dict[int, list[int]] = {}
    counted = []
    for chunk in _dictionary_strings(footer):
        top, leaf = leaves[chunk.leaf]
        if pa.types.is_dictionary(schema.field(top).type):
            continue  # a categorical: read back as the dictionary it is
        if not any(is_kind(leaf) for is_kind in (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary,
                                                 pa.types.is_large_binary)):
            continue
        counted.append(chunk)
        if chunk.leaf not in found.setdefault(top, []):
            found[top].append(chunk.leaf)
    return found if _expansion_bound(counted) > room else {}


def _dictionary_bytes(array: Any, room: int) -> int:
    """Bytes of string data that the dictionary-encoded leaves of `array` take once expanded.

    Exact (a length per row) only when rows times the longest value does not fit in `room`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(array.type):
        lengths = pc.binary_length(array.dictionary)
        bound = len(array) * int(pc.max(lengths).as_py() or 0)
        return bound if bound <= room else int(pc.sum(pc.take(lengths, array.indices)).as_py() or 0)
    if isinstance(array, pa.StructArray):
        return sum(_dictionary_bytes(child, room) for child in array.flatten())
    if isinstance(array, (pa.ListArray, pa.LargeListArray, pa.FixedSizeListArray)):  # a MapArray is a ListArray
        return _dictionary_bytes(array.flatten(), room)
    return 0


class _Reading:
    """A Parquet payload, measured against a ceiling from its footer before any column is read."""

    def __init__(self, payload: Any, max_bytes: int, footer: Footer) -> None:
        self.payload = payload
        self.max_bytes = max_bytes
        self.size = _footer_bytes(footer)
        if self.size > max_bytes:
            raise _too_big(self.size, max_bytes)
        self.expand: dict[int, list[int]] = {}
        self._reader: Any = None
        self._schema: Any = None
        # Opening the file for its Arrow schema costs more than the footer's sums: only when they do not settle it.
        if _expansion_bound(_dictionary_strings(footer)) > max_bytes - self.size:
            self.expand = _expanding(footer, self.schema, max_bytes - self.size)
            if self.expand:
                self._reader = _open(payload, [leaf for found in self.expand.values() for leaf in found])

    @property
    def reader(self) -> Any:
        if self._reader is None:
            self._reader = _open(self.payload)
        return self._reader

    @property
    def schema(self) -> Any:
        """The Arrow schema the frame is read back as (not the dictionary-reading reader's)."""
        if self._schema is None:
            self._schema = self.reader.schema_arrow  # read before `reader` reads strings as dictionaries
        return self._schema

    def expanded(self, index: int, column: Any) -> Any:
        """Column `index` as the frame holds it: a dictionary-read one measured, then expanded."""
        if index not in self.expand:
            return column
        for chunk in column.chunks:
            self.size += _dictionary_bytes(chunk, self.max_bytes - self.size)
        if self.size > self.max_bytes:
            raise _too_big(self.size, self.max_bytes)
        return column.cast(self.schema.field(index).type)


def _open(payload: Any, read_dictionary: list[int] | None = None) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.ParquetFile(pa.BufferReader(payload), pre_buffer=False, read_dictionary=read_dictionary)


def _untrusted_footer(payload: Any) -> Footer:
    try:
        return read_footer(payload)
    except ValueError as exc:
        raise DecodeError(f"corrupt pandas payload: {exc}", codec="pandas", version="1") from None


def _own_footer(payload: Any) -> Footer:
    """The footer of a payload `encode` just wrote, through pyarrow's (faster) metadata."""
    meta = _open(payload).metadata
    chunks = []
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for i in range(group.num_columns):
            column = group.column(i)
            chunks.append(Chunk(i, column.physical_type, column.compression, column.num_values, column.total_uncompressed_size,
                                column.has_dictionary_page, meta.schema.column(i).length or 0))
    return Footer(meta.num_columns, chunks)


def decoded_size(payload: Any, max_bytes: int) -> int:
    """The bytes the Parquet `payload`, which `encode` wrote, takes once decoded; `max_bytes + 1` past `max_bytes`."""
    try:
        reading = _Reading(payload, max_bytes, _own_footer(payload))
        for index in reading.expand:
            name = reading.schema.field(index).name
            reading.expanded(index, reading.reader.read(columns=[name], use_threads=False).column(0))
    except DecodedTooLarge:
        return max_bytes + 1
    return reading.size


def decoded_size_exceeds(payload: Any, max_bytes: int) -> bool:
    """True when the Parquet `payload`, which `encode` wrote, would take more than `max_bytes` once decoded."""
    return decoded_size(payload, max_bytes) > max_bytes


def _read_table(payload: Any, max_bytes: int) -> tuple[Any, int]:
    """The Parquet payload as one Arrow table and its measured size, refused past `max_bytes`, read a column
    at a time when large.

    The allocator keeps a column's scratch buffers unless told to release them;
    releasing after each column keeps peak memory near the table itself.
    """
    import pyarrow as pa

    reading = _Reading(payload, max_bytes, _untrusted_footer(payload))
    reader, schema = reading.reader, reading.schema
    columnwise = memoryview(payload).nbytes >= COLUMNWISE_FROM
    if not columnwise or not schema.names or reader.metadata.num_columns != len(schema.names):
        return _whole(reading), reading.size  # small, nested columns or no columns at all
    pool = pa.default_memory_pool()
    columns = []
    for index, name in enumerate(schema.names):
        part = reader.read(columns=[name], use_threads=False)
        if part.num_columns != 1:
            return _whole(reading), reading.size
        columns.append(reading.expanded(index, part.column(0)))
        del part
        pool.release_unused()
    return pa.Table.from_arrays(columns, schema=schema), reading.size


def _whole(reading: _Reading) -> Any:
    table = reading.reader.read()
    schema = reading.schema
    for index in reading.expand:
        table = table.set_column(index, schema.field(index), reading.expanded(index, table.column(index)))
    return table
