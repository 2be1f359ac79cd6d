"""The `pandas-ipc` and `arrow-ipc` codecs: frames and tables as uncompressed Arrow IPC streams.

`dumps` picks them over Parquet for a frame or table it offloads to a store on this
machine (`Store.machine_local`: a `LocalStore`), where nothing needs Parquet's
compression: writing is a copy of the columns, and reading shares the fetched bytes
(sha256-checked, like any reference) instead of decompressing them. Any Arrow reader
opens the objects (`pyarrow.ipc.open_stream`, polars' `read_ipc_stream`).

A payload is read as strictly as Parquet, before any column is built: each message is
walked (`MessageReader` refuses a truncated stream or a metadata or body size past the
end), and its flatbuffer is read here for what pyarrow would act on unchecked: a
compressed body (it would allocate whatever size the body declares) is refused, and the
buffers of a batch must lie inside its body without overlapping, so the table, which
shares the payload's memory, takes no more than the payload. Then the table is validated
in full (offsets, UTF-8, dictionary indices) and measured against the caller's ceiling
before pandas gets it. The fetched object is never memory-mapped: a mapped file can change
or shrink after its checksum is verified (other bytes than were checked, or SIGBUS), and a
read from the page cache costs one copy.
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar

from . import _pandas
from ._arrow import encode_table
from ._codec import Codec
from ._errors import DecodeError
from ._frames import frame_table, table_frame, unencodable
from ._limits import DECODED_BYTES_ENV, decoded_ceiling

__all__ = ["IPC_FROM", "ArrowIpcCodec", "PandasIpcCodec", "read_ipc", "write_ipc"]

#: `dumps` writes Arrow IPC for frames and tables from this many bytes of it on; below, Parquet (which may fit inline).
IPC_FROM = 1 << 20
#: Messages a payload may hold (`write_ipc` writes a batch per million rows, and its dictionaries).
MAX_MESSAGES = 10_000
#: Buffers all batches of a payload may hold (a column has one to three): bounds the cost of checking a hostile one.
MAX_BUFFERS = 1 << 22

# Message.fbs: the union tags of MessageHeader, and field indices of the tables read here.
_SCHEMA, _DICTIONARY, _BATCH = 1, 2, 3
_KINDS = {"schema": _SCHEMA, "dictionary": _DICTIONARY, "record batch": _BATCH}


def _corrupt(codec: str, why: str) -> DecodeError:
    return DecodeError(f"corrupt {codec}/1 payload: {why}", codec=codec, version="1")


class _Flat:
    """The few flatbuffer reads the checks need, each bounds-checked (ValueError past the end)."""

    def __init__(self, data: memoryview) -> None:
        self.data = data

    def _at(self, fmt: str, pos: int) -> int:
        if pos < 0 or pos + struct.calcsize(fmt) > len(self.data):
            raise ValueError("a flatbuffer offset points past the message metadata")
        value: int = struct.unpack_from(fmt, self.data, pos)[0]
        return value

    def root(self) -> int:
        return self._at("<I", 0)

    def field(self, table: int, index: int) -> int | None:
        """The position of field `index` of the table at `table`, None when absent."""
        vtable = table - self._at("<i", table)
        size = self._at("<H", vtable)
        slot = 4 + 2 * index
        offset = self._at("<H", vtable + slot) if slot + 2 <= size else 0
        return table + offset if offset else None

    def scalar(self, table: int, index: int, fmt: str, default: int = 0) -> int:
        pos = self.field(table, index)
        return default if pos is None else self._at(fmt, pos)

    def target(self, table: int, index: int) -> int | None:
        """Where the table or vector that field `index` refers to starts, None when absent."""
        pos = self.field(table, index)
        return None if pos is None else pos + self._at("<I", pos)

    def count(self, vector: int) -> int:
        return self._at("<I", vector)

    def pair(self, pos: int) -> tuple[int, int]:
        return self._at("<q", pos), self._at("<q", pos + 8)


def _check_batch(flat: _Flat, batch: int, body: int) -> int:
    """A RecordBatch table: uncompressed, its buffers inside `body` bytes and apart; returns how many it has."""
    if flat.field(batch, 3) is not None:
        raise ValueError("its body is compressed, which this codec never writes")
    if flat.scalar(batch, 0, "<q") < 0:
        raise ValueError("a batch has a negative length")
    vector = flat.target(batch, 2)
    spans = []
    count = 0 if vector is None else flat.count(vector)
    if vector is not None:
        if vector + 4 + 16 * count > len(flat.data):
            raise ValueError("a batch's buffer list runs past its metadata")
        for i in range(count):
            offset, length = flat.pair(vector + 4 + 16 * i)
            if offset < 0 or length < 0 or offset + length > body:
                raise ValueError(f"a buffer ({offset:,} + {length:,} bytes) lies outside its body of {body:,} bytes")
            if length:
                spans.append((offset, length))
    end = 0
    for offset, length in sorted(spans):
        if offset < end:
            raise ValueError("two buffers of a batch overlap")
        end = offset + length
    return count


def _check_messages(payload: Any, codec: str) -> None:
    """Walk the stream's messages and check each before pyarrow builds anything from them."""
    import pyarrow as pa

    reader = pa.ipc.MessageReader.open_stream(pa.BufferReader(payload))
    seen = buffers = 0
    while True:
        try:
            message = reader.read_next_message()
        except StopIteration:
            break
        kind = _KINDS.get(message.type)
        if kind is None or (kind == _SCHEMA) != (seen == 0):
            raise _corrupt(codec, f"unexpected {message.type} message at position {seen}")
        seen += 1
        if seen > MAX_MESSAGES:
            raise _corrupt(codec, f"more than {MAX_MESSAGES:,} messages")
        flat = _Flat(memoryview(message.metadata))
        message_table = flat.root()
        if flat.scalar(message_table, 1, "<B") != kind:
            raise _corrupt(codec, "a message's header does not match its type")
        header = flat.target(message_table, 2)
        if header is None:
            raise _corrupt(codec, "a message has no header")
        if kind == _SCHEMA:
            continue
        if kind == _DICTIONARY and flat.scalar(header, 2, "<B"):
            raise _corrupt(codec, "a delta dictionary (concatenated before any check), which this codec never writes")
        batch = flat.target(header, 1) if kind == _DICTIONARY else header
        if batch is None:
            raise _corrupt(codec, "a dictionary batch has no data")
        buffers += _check_batch(flat, batch, message.body.size if message.body is not None else 0)
        if buffers > MAX_BUFFERS:
            raise _corrupt(codec, f"more than {MAX_BUFFERS:,} buffers")
    if not seen:
        raise _corrupt(codec, "no schema")


def _too_big(codec: str, size: int, limit: int) -> DecodeError:
    return DecodeError(
        f"the {codec}/1 payload would decode to at least {size:,} bytes, over the limit of {limit:,} bytes. "
        f"A trusted reference may take more: raise {DECODED_BYTES_ENV} (e.g. {DECODED_BYTES_ENV}=4GiB) where it is read",
        codec=codec,
        version="1",
    )


def read_ipc(payload: Any, max_bytes: int, codec: str) -> tuple[Any, int]:
    """`(Arrow table, bytes it takes)` of an IPC stream payload, checked and validated; past `max_bytes`, DecodeError."""
    import pyarrow as pa

    try:
        _check_messages(payload, codec)
        table = pa.ipc.open_stream(pa.BufferReader(payload)).read_all()
        table.validate(full=True)
        # Shared with the payload; pandas spends a byte per value on booleans and on validity masks.
        size = table.get_total_buffer_size() + table.num_rows * len(table.schema.names)
    except (pa.ArrowException, OSError, ValueError, struct.error) as exc:
        raise _corrupt(codec, str(exc)) from exc
    if size > max_bytes:
        raise _too_big(codec, size, max_bytes)
    return table, size


def write_ipc(table: Any) -> memoryview:
    """`table` as an uncompressed Arrow IPC stream."""
    import pyarrow as pa

    # A batch per chunk otherwise: pandas' Arrow-backed strings keep one per frame concatenated.
    groups = max(1, -(-table.num_rows // _pandas.ROW_GROUP))
    if max((column.num_chunks for column in table.columns), default=1) > groups:
        table = table.combine_chunks()
    # Measured first (no bytes copied), then written once into a buffer of its exact size: a growing
    # buffer's reallocations copied the payload again and made the write's time vary 10-fold.
    mock = pa.MockOutputStream()
    _write_stream(pa, mock, table)
    buffer = pa.allocate_buffer(mock.size())
    _write_stream(pa, pa.FixedSizeBufferWriter(buffer), table)
    return memoryview(buffer)


def _write_stream(pa: Any, sink: Any, table: Any) -> None:
    with pa.ipc.new_stream(sink, table.schema) as writer:
        # Batches of Parquet's row groups: a reader after the first rows stops at the first batch.
        writer.write_table(table, max_chunksize=_pandas.ROW_GROUP)


class PandasIpcCodec(Codec):
    """DataFrame and Series as an Arrow IPC stream: what the Parquet `pandas` codec keeps, kept."""

    name: ClassVar[str] = "pandas-ipc"
    version: ClassVar[int] = 1
    binary: ClassVar[bool] = True

    def encode(self, value: Any, *, what: str = "value") -> memoryview:
        import pyarrow as pa

        table = frame_table(value, what)
        try:
            return write_ipc(table)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise unencodable(value, what, exc) from exc

    def decode(self, payload: Any) -> Any:
        return self.decode_within(payload, decoded_ceiling())

    def decode_within(self, payload: Any, max_bytes: int) -> Any:
        box = [payload]
        del payload
        return table_frame([read_ipc(box.pop(), max_bytes, self.name)[0]], self.name)


class ArrowIpcCodec(Codec):
    """pyarrow Tables as an Arrow IPC stream: schema, metadata and values kept."""

    name: ClassVar[str] = "arrow-ipc"
    version: ClassVar[int] = 1
    binary: ClassVar[bool] = True

    def encode(self, value: Any, *, what: str = "value") -> memoryview:
        encoded: memoryview = encode_table(value, what, self.name, write_ipc)
        return encoded

    def decode(self, payload: Any) -> Any:
        return self.decode_within(payload, decoded_ceiling())

    def decode_within(self, payload: Any, max_bytes: int) -> Any:
        return read_ipc(payload, max_bytes, self.name)[0]
