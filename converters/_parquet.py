"""A Parquet file's footer, read without pyarrow: the numbers a payload is sized by before it is decoded.

pyarrow's metadata accessors throw C++ exceptions that nothing catches on some malformed
footers (`RowGroupMetaData.column(i)` aborts the process), so the footer of a payload
nobody vouches for is read here: the thrift compact protocol, the fields of
`FileMetaData` that sizing needs, and a `ValueError` for anything else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

__all__ = ["Chunk", "Footer", "read_footer"]

# Parquet's enums, as the format's thrift file numbers them.
PHYSICAL_TYPES = ("BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY")
CODECS = ("UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW")
_DICTIONARY_ENCODINGS = frozenset({2, 8})  # PLAIN_DICTIONARY, RLE_DICTIONARY

# Thrift compact protocol type ids.
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)
_IN_STRUCT = -1
_NESTING = 32  # structs and lists in a Parquet footer nest 8 deep at most; a deeper one is hostile


@dataclass(frozen=True)
class Chunk:
    """One column of one row group, as the footer declares it."""

    leaf: int  #: the column's index among the schema's leaves
    physical_type: str
    codec: str
    num_values: int
    total_uncompressed_size: int
    has_dictionary: bool
    type_length: int  #: bytes per value of a FIXED_LEN_BYTE_ARRAY column


@dataclass(frozen=True)
class Footer:
    num_leaves: int
    chunks: list[Chunk]


def read_footer(data: Any) -> Footer:
    """The footer of the Parquet file `data`; raises `ValueError` if it is not one this module reads."""
    view = memoryview(data).cast("B")
    if len(view) < 12 or bytes(view[-4:]) != b"PAR1" or bytes(view[:4]) != b"PAR1":
        raise ValueError("not a Parquet file (or an encrypted one)")
    (length,) = struct.unpack("<I", view[-8:-4])
    if length > len(view) - 12:
        raise ValueError(f"the footer claims {length:,} bytes of a {len(view):,}-byte file")
    reader = _Reader(bytes(view[-8 - length : -8]))
    try:
        leaves, groups = reader.file_metadata()
    except IndexError:
        raise ValueError("the footer ends early") from None
    chunks = []
    for group in groups:
        if len(group) != len(leaves):
            raise ValueError(f"a row group has {len(group)} columns, the schema {len(leaves)}")
        for leaf, (kind, codec, num_values, size, dictionary) in enumerate(group):
            chunks.append(
                Chunk(leaf, _enum(PHYSICAL_TYPES, kind), _enum(CODECS, codec), num_values, size, dictionary, leaves[leaf])
            )
    return Footer(len(leaves), chunks)


def _enum(names: tuple[str, ...], value: int) -> str:
    return names[value] if 0 <= value < len(names) else f"UNKNOWN({value})"


def _count(value: int) -> int:
    if value < 0:
        raise ValueError(f"a count of {value}")
    return value


class _Reader:
    """Thrift's compact protocol, reading the fields sizing needs and skipping the others."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def varint(self) -> int:
        buf, pos = self.buf, self.pos
        byte = buf[pos]
        pos += 1
        value, shift = byte & 0x7F, 7
        while byte >= 0x80:
            byte = buf[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if shift > 70:
                raise ValueError("a varint longer than 64 bits")
        self.pos = pos
        return value

    def integer(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)

    def field(self, last: int) -> tuple[int, int]:
        """The next field's (id, type) after field `last`; type 0 at the struct's end."""
        head = self.buf[self.pos]
        self.pos += 1
        if head == 0:
            return 0, 0
        delta, kind = head >> 4, head & 0x0F
        return (last + delta if delta else self.integer()), kind

    def list_header(self) -> tuple[int, int]:
        head = self.buf[self.pos]
        self.pos += 1
        size = head >> 4
        if size == 15:
            size = self.varint()
        if size > len(self.buf) - self.pos:  # each item takes a byte at least
            raise ValueError("a list longer than the footer")
        return size, head & 0x0F

    def skip(self, kind: int) -> None:
        """Step over a value of type `kind`: one loop over the bytes, no call per field (statistics are most of a footer)."""
        buf, pos = self.buf, self.pos
        # What is left to skip, innermost last: [item type, items left] for a list, [_IN_STRUCT, 0] for a struct.
        # (Parquet's thrift has no maps: one is refused as an unknown type.)
        pending: list[list[int]] = []
        while True:
            if kind in (_I16, _I32, _I64):
                while buf[pos] >= 0x80:
                    pos += 1
                pos += 1
            elif kind == _BINARY:
                self.pos = pos
                size = self.varint()
                pos = self.pos + size
                if pos > len(buf):
                    raise ValueError("a string longer than the footer")
            elif kind == _STRUCT:
                pending.append([_IN_STRUCT, 0])
            elif kind in (_LIST, _SET):
                self.pos = pos
                size, item = self.list_header()
                pos = self.pos
                if item in (_TRUE, _FALSE, _BYTE):  # a byte each, in a collection
                    pos += size
                elif size:
                    pending.append([item, size])
            elif kind == _DOUBLE:
                pos += 8
            elif kind == _BYTE:
                pos += 1
            elif kind not in (_TRUE, _FALSE):  # a bool field's value is in its header
                raise ValueError(f"unknown thrift type {kind}")
            if len(pending) > _NESTING:
                raise ValueError("thrift values nested too deep")
            # The next value to skip, from the innermost pending collection or struct.
            while True:
                if not pending:
                    self.pos = pos
                    return
                top = pending[-1]
                if top[0] == _IN_STRUCT:
                    head = buf[pos]
                    pos += 1
                    if head == 0:
                        pending.pop()
                        continue
                    if not head >> 4:  # a long-form field id follows
                        while buf[pos] >= 0x80:
                            pos += 1
                        pos += 1
                    kind = head & 0x0F
                    break
                if not top[1]:
                    pending.pop()
                    continue
                top[1] -= 1
                kind = top[0]
                break

    def file_metadata(self) -> tuple[list[int], list[list[tuple[int, int, int, int, bool]]]]:
        """FileMetaData: each schema leaf's type_length, and each row group's columns."""
        leaves: list[int] | None = None
        groups: list[list[tuple[int, int, int, int, bool]]] = []
        last = 0
        while True:
            last, kind = self.field(last)
            if not kind:
                break
            if last == 2 and kind == _LIST:
                size, _ = self.list_header()
                elements = [self.schema_element() for _ in range(size)]
                leaves = [length for length, children in elements if not children]
            elif last == 4 and kind == _LIST:
                size, _ = self.list_header()
                groups = [self.row_group() for _ in range(size)]
            else:
                self.skip(kind)
        if leaves is None:
            raise ValueError("a footer without a schema")
        return leaves, groups

    def schema_element(self) -> tuple[int, int]:
        length = children = 0
        last = 0
        while True:
            last, kind = self.field(last)
            if not kind:
                return length, children
            if last == 2 and kind == _I32:
                length = _count(self.integer())
            elif last == 5 and kind == _I32:
                children = self.integer()
            else:
                self.skip(kind)

    def row_group(self) -> list[tuple[int, int, int, int, bool]]:
        columns: list[tuple[int, int, int, int, bool]] = []
        last = 0
        while True:
            last, kind = self.field(last)
            if not kind:
                return columns
            if last == 1 and kind == _LIST:
                size, _ = self.list_header()
                columns = [self.column_chunk() for _ in range(size)]
            else:
                self.skip(kind)

    def column_chunk(self) -> tuple[int, int, int, int, bool]:
        found: tuple[int, int, int, int, bool] | None = None
        last = 0
        while True:
            last, kind = self.field(last)
            if not kind:
                break
            if last == 3 and kind == _STRUCT:
                found = self.column_metadata()
            else:
                self.skip(kind)
        if found is None:
            raise ValueError("a column chunk without metadata (encrypted, or in another file)")
        return found

    def column_metadata(self) -> tuple[int, int, int, int, bool]:
        """ColumnMetaData: (type, codec, num_values, total_uncompressed_size, has a dictionary)."""
        kind_of = codec = values = size = -1
        dictionary = False
        last = 0
        while True:
            last, kind = self.field(last)
            if not kind:
                break
            if last == 1 and kind == _I32:
                kind_of = self.integer()
            elif last == 4 and kind == _I32:
                codec = self.integer()
            elif last == 5 and kind == _I64:
                values = _count(self.integer())
            elif last == 6 and kind == _I64:
                size = _count(self.integer())
            elif last == 11:
                dictionary = True
                self.skip(kind)
            elif last == 2 and kind == _LIST:
                count, item = self.list_header()
                for _ in range(count):
                    if item == _I32 and self.integer() in _DICTIONARY_ENCODINGS:
                        dictionary = True
                    elif item != _I32:
                        self.skip(item)
            else:
                self.skip(kind)
        if min(kind_of, codec, values, size) < 0:
            raise ValueError("a column chunk's metadata lacks a required field")
        return kind_of, codec, values, size, dictionary
