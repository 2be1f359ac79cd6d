"""Turn Python values into self-describing strings that fit SWF's fields, and back."""

from __future__ import annotations

from ._errors import (
    ConverterError,
    DecodeError,
    EncodeError,
    IntegrityError,
    PayloadTooLarge,
    StoreError,
)

__all__ = [
    "ConverterError",
    "DecodeError",
    "EncodeError",
    "IntegrityError",
    "PayloadTooLarge",
    "StoreError",
]
