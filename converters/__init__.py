"""Turn Python values into self-describing strings that fit SWF's fields, and back.

`loads` treats what it is given as hostile, and raises only `ConverterError`s:

- References are honoured only inside the root of the store passed as `store=`; without
  one they are refused before anything is opened. A reference's size is compared with
  the object's (stat or HEAD) before any memory is allocated, and the bytes are streamed
  through sha256. A local store never follows a symbolic link, and makes its folders
  0700 and its files 0600 whatever the umask.
- Nothing may sit inside more than 100 nested lists, dicts, tuples and sets (msgpack ext
  types included), on `dumps` (`EncodeError`, with the path) and on `loads` (`DecodeError`).
- A payload may decode to at most 256 MiB; set `PIPEFLOW_MAX_DECODED_BYTES` (bytes, or
  e.g. `4GiB`; read on every call) where a larger trusted value is read. An inline value
  may decode to at most 64 MiB, or 1,024 bytes per character of its envelope, capped by
  that ceiling; `dumps` offloads a frame that would expand past it (or, without a store,
  raises `EncodeError`), so what `dumps` writes `loads` reads. The numpy arrays, frames and
  tables inside one json or msgpack payload share its limit; an array's shape times its
  itemsize must equal its bytes, and its dtype be a plain numeric one, before it is allocated.

DataFrames and pyarrow Tables are Parquet (`pandas/1`, `arrow/1`), except that `dumps`
with `codec="auto"` offloads one to a store on this machine (`Store.machine_local`: a
`LocalStore`) as an uncompressed Arrow IPC stream (`pandas-ipc/1`, `arrow-ipc/1`): no
compress/decompress cycle between steps, and the frame read back shares the fetched bytes
(under 1 MiB of IPC, inline Parquet is tried first). S3 objects, inline values and
`codec="pandas"` stay Parquet any tool reads. An IPC payload is checked like Parquet before a column is built:
its messages walked (sizes inside the payload), compressed bodies refused, a batch's buffers
inside its body and not overlapping (so the table takes no more than the payload), then
validated in full and measured against the ceiling. Objects are read, never memory-mapped:
a mapped file could change after its checksum is verified.
"""

from __future__ import annotations

from ._api import SWF_LIMIT, dumps, loads
from ._codec import ENTRY_POINT_GROUP, Codec, register
from ._errors import (
    ConverterError,
    DecodeError,
    EncodeError,
    IntegrityError,
    PayloadTooLarge,
    StoreError,
)
from ._json import JsonCodec
from ._local import LocalStore
from ._msgpack import MsgpackCodec
from ._pandas import PandasCodec
from ._reference import Reference, is_reference, payload_size
from ._s3 import S3Store
from ._store import MemoryStore, ObjectInfo, Store, open_store

__all__ = [
    "ENTRY_POINT_GROUP",
    "SWF_LIMIT",
    "Codec",
    "ConverterError",
    "DecodeError",
    "EncodeError",
    "IntegrityError",
    "JsonCodec",
    "LocalStore",
    "MemoryStore",
    "MsgpackCodec",
    "ObjectInfo",
    "PandasCodec",
    "PayloadTooLarge",
    "Reference",
    "S3Store",
    "Store",
    "StoreError",
    "dumps",
    "is_reference",
    "loads",
    "open_store",
    "payload_size",
    "register",
]
