"""The reference string left in place of an offloaded payload."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._errors import DecodeError

__all__ = ["Reference", "is_reference", "payload_size"]

PREFIX = "ref/"
VERSION = "1"
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Sizes in ASCII digits only (str.isdigit() takes other scripts' digits), short enough for int().
_SIZE = re.compile(r"[0-9]{1,20}")


def is_reference(data: str) -> bool:
    """True if `data` is a reference to an offloaded payload (no decoding, no I/O)."""
    return data.startswith(PREFIX)


def payload_size(data: str) -> int:
    """Bytes stored for a reference, else the length of the inline envelope."""
    return Reference.parse(data).size if data.startswith(PREFIX) else len(data)


@dataclass(frozen=True)
class Reference:
    """`ref/1:<codec>/<version>:<size>:<sha256>:<uri>`: where a payload went and how to check it."""

    codec: str
    version: str
    size: int
    sha256: str
    uri: str

    def __str__(self) -> str:
        return f"{PREFIX}{VERSION}:{self.codec}/{self.version}:{self.size}:{self.sha256}:{self.uri}"

    @classmethod
    def parse(cls, data: str) -> Reference:
        """Parse a reference string; raises `DecodeError` if it is not one this version reads."""
        head, _, rest = data.partition(":")
        if head != PREFIX + VERSION:
            version = head[len(PREFIX) :] if head.startswith(PREFIX) else head
            raise DecodeError(
                f"unsupported reference version {version!r} (this installation reads {PREFIX}{VERSION})",
                codec="ref",
                version=version,
            )
        parts = rest.split(":", 3)
        if len(parts) != 4:
            raise DecodeError(f"malformed reference {data[:200]!r}", codec="ref", version=VERSION)
        codec_version, size, sha256, uri = parts
        codec, _, version = codec_version.partition("/")
        if not codec or not version or not _SIZE.fullmatch(size) or not _SHA256.fullmatch(sha256) or "://" not in uri:
            raise DecodeError(f"malformed reference {data[:200]!r}", codec="ref", version=VERSION)
        return cls(codec, version, int(size), sha256, uri)
