"""`dumps` and `loads`: values to SWF strings (inline envelopes or references) and back."""

from __future__ import annotations

import hashlib
from typing import Any

from ._b64 import b64decode, b64encode
from ._codec import Codec, Payload, get_codec
from ._errors import ConverterError, DecodeError, IntegrityError, PayloadTooLarge, StoreError
from ._json import HoldsBytes, JsonCodec
from ._pandas import is_pandas
from ._reference import PREFIX as REF_PREFIX
from ._reference import Reference
from ._store import StoreLike, open_store

__all__ = ["dumps", "loads", "SWF_LIMIT"]

#: SWF's limit on input, result, details and signal fields, in characters.
SWF_LIMIT = 32_768

# Errors that parsers raise on corrupt input (binascii.Error, msgpack's and pyarrow's are ValueErrors).
_CORRUPT = (ValueError, TypeError, KeyError, IndexError, OverflowError)


def _encode(value: Any, codec: str | Codec, what: str) -> tuple[Codec, Payload]:
    if isinstance(codec, Codec):
        return codec, codec.encode(value, what=what)
    if codec != "auto":
        chosen = get_codec(codec)
        return chosen, chosen.encode(value, what=what)
    if is_pandas(value):
        chosen = get_codec("pandas")
        return chosen, chosen.encode(value, what=what)
    json_codec = get_codec("json")
    if isinstance(json_codec, JsonCodec):
        try:
            return json_codec, json_codec.encode(value, what=what, refuse_bytes=True)
        except HoldsBytes:
            pass
    else:  # a user registered their own "json"
        return json_codec, json_codec.encode(value, what=what)
    chosen = get_codec("msgpack")
    return chosen, chosen.encode(value, what=what)


def dumps(
    value: Any,
    codec: str | Codec = "auto",
    store: StoreLike | None = None,
    threshold: float = SWF_LIMIT,
    *,
    what: str = "value",
) -> str:
    """Encode `value` as a self-describing string of at most `threshold` characters.

    Longer payloads go to `store` under their sha256 and the string becomes a
    reference; without a store they raise `PayloadTooLarge`. `what` names the
    value in error messages (`result["rows"][3]`).
    """
    chosen, payload = _encode(value, codec, what)
    header = f"{chosen.name}/{chosen.version}:"
    if isinstance(payload, str):
        size = len(header) + len(payload)
        if size <= threshold:
            return header + payload
        body: Any = payload.encode("utf-8")
    else:
        nbytes = memoryview(payload).nbytes
        size = len(header) + 4 * ((nbytes + 2) // 3)
        if size <= threshold:
            return header + b64encode(payload)
        body = payload
    del payload
    if store is None:
        raise PayloadTooLarge(size, int(threshold), what)
    target = open_store(store)
    sha256 = hashlib.sha256(body).hexdigest()
    # Content-addressed: an object already stored under its hash is the same bytes.
    uri = target.uri_for(sha256) if target.exists(sha256) else target.put(sha256, body)
    return str(Reference(chosen.name, str(chosen.version), memoryview(body).nbytes, sha256, uri))


def _fetch(ref: Reference, store: StoreLike | None) -> memoryview:
    if store is not None:
        # Confined to the root: a run's scope reads what its workflow's other scopes wrote (its input).
        source = open_store(store).root
        key = source.key_for(ref.uri)
        if key is None:
            raise StoreError(f"the reference points to {ref.uri}, outside the store {source.uri}")
    else:
        base, _, key = ref.uri.rpartition("/")
        source = open_store(base)
    try:
        data = source.read(key, ref.size)
    except ValueError as exc:  # a key that would climb out of its store
        raise StoreError(f"the reference points to an invalid location {ref.uri}: {exc}") from exc
    if data.nbytes != ref.size:
        found = "longer than" if data.nbytes > ref.size else f"{data.nbytes:,} bytes, not"
        raise IntegrityError(
            f"the object at {ref.uri} is {found} the {ref.size:,} bytes its reference gives",
            key=ref.uri,
            expected=ref.sha256,
        )
    actual = hashlib.sha256(data).hexdigest()
    if actual != ref.sha256:
        raise IntegrityError(
            f"the object at {ref.uri} does not match its reference: sha256 {actual}, expected {ref.sha256}",
            key=ref.uri,
            expected=ref.sha256,
            actual=actual,
        )
    return data


def _decode(codec: Codec, box: list[Any]) -> Any:
    try:
        # pop() hands the codec the only reference, so it can free the payload early.
        return codec.decode(box.pop())
    except ConverterError:
        raise
    except _CORRUPT as exc:
        raise DecodeError(
            f"corrupt {codec.name}/{codec.version} payload: {type(exc).__name__}: {exc}",
            codec=codec.name,
            version=str(codec.version),
        ) from exc


def loads(data: str, store: StoreLike | None = None) -> Any:
    """Decode what `dumps` produced, fetching and verifying a reference's object.

    A reference carries its object's full URI, so no store is needed; given one,
    the reference must lie inside its root (a scoped store's unscoped ancestor)
    and is read through it.
    """
    if not isinstance(data, str):
        raise DecodeError(f"expected an encoded str, not {type(data).__name__}")
    if data.startswith(REF_PREFIX):
        ref = Reference.parse(data)
        codec = get_codec(ref.codec, ref.version, decoding=True)
        box: list[Any] = [_fetch(ref, store)]
        if not codec.binary:
            try:
                box = [str(box.pop(), "utf-8")]
            except UnicodeDecodeError as exc:
                raise DecodeError(f"corrupt {ref.codec}/{ref.version} payload: {exc}", codec=ref.codec, version=ref.version) from exc
        return _decode(codec, box)
    colon = data.find(":", 0, 80)
    name, slash, version = data[: max(colon, 0)].partition("/")
    if colon < 0 or not slash or not name or not version:
        raise DecodeError(f"not an encoded value (no codec/version header): {data[:40]!r}")
    codec = get_codec(name, version, decoding=True)
    if codec.binary:
        try:
            box = [b64decode(data[colon + 1 :])]
        except ValueError as exc:
            raise DecodeError(f"corrupt {name}/{version} payload: bad base64 ({exc})", codec=name, version=version) from exc
    else:
        box = [data[colon + 1 :]]
    return _decode(codec, box)
