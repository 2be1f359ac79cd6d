"""Turn Python values into self-describing strings that fit SWF's fields, and back."""

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
