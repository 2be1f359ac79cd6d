"""Base64 for inline binary payloads: pybase64 (SIMD) when installed, else binascii."""

from __future__ import annotations

import binascii
from typing import Any

__all__ = ["b64decode", "b64encode"]

_fast: Any
try:
    import pybase64 as _fast
except ImportError:  # pragma: no cover - pybase64 is a declared dependency
    _fast = None


def b64encode(data: Any) -> str:
    if _fast is not None:
        return str(_fast.b64encode_as_string(data))
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64decode(text: str) -> bytes:
    """Decode strict base64; raises `binascii.Error` (a ValueError) on anything else."""
    if _fast is not None:
        return bytes(_fast.b64decode(text, validate=True))
    return binascii.a2b_base64(text, strict_mode=True)
