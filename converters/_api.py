"""`dumps` and `loads`: values to SWF strings (inline envelopes or references) and back."""

from __future__ import annotations

import hashlib
from typing import Any

from . import _leaves
from ._arrow import ArrowCodec, is_arrow
from ._b64 import b64decode, b64encode
from ._codec import Codec, Payload, get_codec
from ._errors import (
    ConverterError,
    DecodeError,
    EncodeError,
    PayloadTooLarge,
    StoreError,
)
from ._ipc import IPC_FROM
from ._json import HoldsBytes, JsonCodec
from ._limits import DECODED_BYTES_ENV, decoded_ceiling, inline_ceiling
from ._pandas import PandasCodec, decoded_size_exceeds, is_pandas
from ._reference import PREFIX as REF_PREFIX
from ._reference import Reference
from ._store import Store, StoreLike, check_key, open_store, size_mismatch

__all__ = ["dumps", "loads", "SWF_LIMIT"]

#: SWF's limit on input, result, details and signal fields, in characters.
SWF_LIMIT = 32_768

# Errors that parsers raise on corrupt or hostile input (binascii.Error, msgpack's and pyarrow's are
# ValueErrors); RecursionError and MemoryError too, so that no input ends a caller's loop.
_CORRUPT = (ValueError, TypeError, LookupError, ArithmeticError, RecursionError, MemoryError)

_PLAIN_DECODE = Codec.decode_within


def _encode(value: Any, codec: str | Codec, what: str) -> tuple[Codec, Payload]:
    if isinstance(codec, Codec):
        return codec, codec.encode(value, what=what)
    if codec != "auto":
        chosen = get_codec(codec)
        return chosen, chosen.encode(value, what=what)
    if is_pandas(value) or is_arrow(value):
        chosen = get_codec("pandas" if is_pandas(value) else "arrow")
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


def _expands_past(codec: Codec, payload: Any, leaves: int, limit: int) -> bool:
    """True when `payload` would decode past `limit`: a frame or table by its footer, a container by its leaves."""
    if isinstance(codec, (PandasCodec, ArrowCodec)):
        return decoded_size_exceeds(payload, limit)
    return leaves > limit


def _expands(what: str, size: int, value: Any) -> EncodeError:
    return EncodeError(
        f"the {what} would expand from {size:,} characters to more than an inline value may take in memory "
        f"({inline_ceiling(size):,} bytes); give a store to offload it (--s3-bucket BUCKET[/PREFIX] or --store URI)",
        type_name=type(value).__name__,
        path=what,
    )


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
    # A large frame or table bound for a store on this machine goes as Arrow IPC; the rest as before.
    target = None
    fast = None
    if codec == "auto" and store is not None and (is_pandas(value) or is_arrow(value)):
        target = open_store(store)
        fast = _ipc(value, what) if target.machine_local else None
        # Parquet compresses: below IPC_FROM it may still fit inline, and is tried first.
        if fast is not None and memoryview(fast[1]).nbytes >= IPC_FROM:
            return _offload(*fast, target)
    outer = _leaves.start_tally()
    try:
        chosen, payload = _encode(value, codec, what)
    except ConverterError:
        raise
    except _CORRUPT as exc:  # a third-party codec's own failure, kept inside the error tree
        name = codec.name if isinstance(codec, Codec) else codec
        raise EncodeError(f"the {name} codec cannot encode the {what}: {type(exc).__name__}: {exc}", path=what) from exc
    finally:
        leaves = _leaves.stop_tally(outer)  # what the arrays, frames and tables inside take once decoded
    header = f"{chosen.name}/{chosen.version}:"
    if isinstance(payload, str):
        size = len(header) + len(payload)
        if size <= threshold and leaves <= inline_ceiling(size):
            return header + payload
        if size <= threshold and store is None:
            raise _expands(what, size, value)
        body: Any = payload.encode("utf-8")
    else:
        nbytes = memoryview(payload).nbytes
        size = len(header) + 4 * ((nbytes + 2) // 3)
        # A frame that `loads` would refuse inline (it expands past the inline bound) is offloaded instead.
        if size <= threshold and not _expands_past(chosen, payload, leaves, inline_ceiling(size)):
            return header + b64encode(payload)
        if size <= threshold and store is None:
            raise _expands(what, size, value)
        body = payload
    del payload
    if store is None:
        raise PayloadTooLarge(size, int(threshold), what)
    if fast is not None and target is not None:  # too large to go inline as Parquet: the IPC form is at hand
        return _offload(*fast, target)
    return _offload(chosen, body, open_store(store) if target is None else target)


def _ipc(value: Any, what: str) -> tuple[Codec, Any] | None:
    """The `pandas-ipc` or `arrow-ipc` payload of a frame or table; None when a user's codec encodes those."""
    if is_pandas(value):
        parquet, name = get_codec("pandas"), "pandas-ipc"
    else:
        parquet, name = get_codec("arrow"), "arrow-ipc"
    if type(parquet) not in (PandasCodec, ArrowCodec):  # a user's own codec for frames: theirs to use
        return None
    chosen = get_codec(name)
    return chosen, chosen.encode(value, what=what)


def _offload(chosen: Codec, body: Any, target: Store) -> str:
    """Write `body` to `target` under its sha256; the reference to it."""
    sha256 = hashlib.sha256(body).hexdigest()
    # Content-addressed: an object already stored under its hash is the same bytes.
    uri = target.uri_for(sha256) if target.exists(sha256) else target.put(sha256, body)
    return str(Reference(chosen.name, str(chosen.version), memoryview(body).nbytes, sha256, uri))


def _fetch(ref: Reference, store: StoreLike | None) -> memoryview:
    """The object `ref` names, read through the root of `store` and checked against `ref`.

    Nothing is opened before the reference is known to lie inside the store: a refusal
    says nothing about what is (or is not) at the URI.
    """
    if store is None:
        raise StoreError(
            f"cannot read the offloaded payload at {ref.uri}: no store configured; pass store=... "
            f"(the store it was written to: --store, --s3-bucket or PIPEFLOW_STORE)"
        )
    # Confined to the root: a run's scope reads what its workflow's other scopes wrote (its input).
    source = open_store(store).root
    key = source.key_for(ref.uri)
    if key is None:
        raise StoreError(f"the reference points to {ref.uri}, outside the store {source.uri}")
    try:
        check_key(key)
    except ValueError as exc:  # a key that would climb out of its store
        raise StoreError(f"the reference points to an invalid location {ref.uri}: {exc}") from None
    limit = decoded_ceiling()
    if ref.size > limit:
        stored = source.size(key)  # a size that is wrong anyway is an integrity error first
        if stored != ref.size:
            raise size_mismatch(ref.uri, stored, ref.size, ref.sha256)
        raise DecodeError(
            f"the offloaded payload at {ref.uri} is {ref.size:,} bytes, over the limit of {limit:,} bytes on decoded "
            f"payloads; if it is trusted, raise {DECODED_BYTES_ENV} (e.g. {DECODED_BYTES_ENV}=4GiB) where it is read",
            codec=ref.codec,
            version=ref.version,
        )
    try:
        return source.fetch(key, ref.size, ref.sha256)
    except MemoryError:
        raise StoreError(f"cannot read {ref.uri}: not enough memory for its {ref.size:,} bytes") from None


def _decode(codec: Codec, box: list[Any], inline: int | None) -> Any:
    """Decode the payload in `box`, held to the ceiling for a reference (`inline` None) or an inline envelope."""
    try:
        # pop() hands the codec the only reference, so it can free the payload early.
        if type(codec).decode_within is _PLAIN_DECODE:
            return codec.decode(box.pop())
        limit = decoded_ceiling() if inline is None else inline_ceiling(inline)
        return codec.decode_within(box.pop(), limit)
    except ConverterError:
        raise
    except _CORRUPT as exc:
        raise DecodeError(
            f"corrupt {codec.name}/{codec.version} payload: {type(exc).__name__}: {exc}",
            codec=codec.name,
            version=str(codec.version),
        ) from exc


def loads(data: str, store: StoreLike | None = None) -> Any:
    """Decode what `dumps` produced, fetching and verifying a reference's object from `store`.

    A reference is honoured only inside the root of `store` (a scoped store's unscoped
    ancestor), the store this process writes to; without one it is refused, whatever
    its URI says.
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
        return _decode(codec, box, None)
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
        except MemoryError:
            raise DecodeError(f"the {name}/{version} payload of {len(data):,} characters does not fit in memory here",
                              codec=name, version=version) from None
    else:
        box = [data[colon + 1 :]]
    return _decode(codec, box, len(data))
