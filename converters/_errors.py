"""Errors raised by converters; all are `pipeflow.PipeflowError`s (the root is defined here).

    PipeflowError
    └── ConverterError          a value could not become an SWF string, or back
        ├── EncodeError         a value the codec cannot represent (type, or nesting past MAX_DEPTH)
        ├── DecodeError         unknown codec or version, corrupt data, too deep, or over the decoded-size ceiling
        ├── IntegrityError      an offloaded object that is not what its reference says (size, sha256)
        ├── PayloadTooLarge     too long for SWF's field, and no store to offload it to
        └── StoreError          a store that cannot be read or written, or a reference outside it

`loads` and `dumps` raise nothing else: parser errors, RecursionError and MemoryError
from hostile input are turned into one of these.
"""

from __future__ import annotations

__all__ = [
    "PipeflowError",
    "ConverterError",
    "DecodeError",
    "EncodeError",
    "IntegrityError",
    "PayloadTooLarge",
    "StoreError",
]


class PipeflowError(Exception):
    """Root of every error pipeflow raises on purpose (`pipeflow.PipeflowError`).

    Defined here, in the lowest layer, so that converters imports nothing of pipeflow and its
    errors are still PipeflowErrors; pipeflow re-exports it.
    """

    __module__ = "pipeflow"


class ConverterError(PipeflowError):
    """A value could not be turned into an SWF string, or back."""


class EncodeError(ConverterError):
    """A value the codec cannot represent; names the type and where it sits."""

    def __init__(self, message: str, *, type_name: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.path = path


class DecodeError(ConverterError):
    """An encoded string that cannot be decoded (unknown codec or version, corrupt data)."""

    def __init__(self, message: str, *, codec: str | None = None, version: str | None = None) -> None:
        super().__init__(message)
        self.codec = codec
        self.version = version


class IntegrityError(ConverterError):
    """An offloaded object whose content does not match its reference's checksum."""

    def __init__(self, message: str, *, key: str | None = None, expected: str | None = None, actual: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.expected = expected
        self.actual = actual


class PayloadTooLarge(ConverterError):
    """An encoded value longer than the field limit, with no store to offload it to."""

    def __init__(self, size: int, limit: int, what: str = "value") -> None:
        super().__init__(
            f"the encoded {what} is {size:,} characters, over SWF's limit of {limit:,}; "
            f"give a store to offload large payloads (--s3-bucket BUCKET[/PREFIX] or --store URI)"
        )
        self.size = size
        self.limit = limit


class StoreError(ConverterError):
    """A payload store that cannot be read or written."""
