"""SWF's JSON 1.0 protocol: routing by botocore's SWF model, request decoding, SWF-shaped error bodies."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Protocol

from converters._limits import MAX_DEPTH, json_depth_exceeds

from ._faults import SWFFault

__all__ = ["CONTENT_TYPE", "Params", "SWFProtocol", "SupportsCall", "error_body", "status_of"]

logger = logging.getLogger("pipeflow.engine.http")

CONTENT_TYPE = "application/x-amz-json-1.0"
_SWF_NAMESPACE = "com.amazonaws.swf.base.model#"
# Faults raised by AWS's request layer rather than by SWF itself carry coral
# namespaces; botocore only reads what follows '#', other clients may not.
_CORAL_NAMESPACES = {
    "ValidationException": "com.amazon.coral.validate#",
    "ThrottlingException": "com.amazon.coral.availability#",
    "UnknownOperationException": "com.amazon.coral.service#",
    "SerializationException": "com.amazon.coral.service#",
    "InternalFailure": "com.amazon.coral.service#",
    "AccessDeniedException": "com.amazon.coral.service#",
    "ServiceUnavailable": "com.amazon.coral.availability#",
    "MissingAuthenticationTokenException": "com.amazon.coral.service#",
    "IncompleteSignatureException": "com.amazon.coral.service#",
    "UnrecognizedClientException": "com.amazon.coral.service#",
    "InvalidSignatureException": "com.amazon.coral.service#",
}
# Every SWF fault is a 400; these are the server's own troubles (botocore retries them).
_STATUS = {"ServiceUnavailable": 503, "InternalFailure": 500}

Params = dict[str, Any]
_Convert = Callable[[Any], Any]


class SupportsCall(Protocol):
    """What the HTTP front needs of an engine."""

    def call(self, operation: str, params: Params, *, region: str | None = None) -> Params: ...


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SWFFault("SerializationException", f"expected a timestamp, got {type(value).__name__}")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise SWFFault("SerializationException", f"unparsable timestamp {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise SWFFault("SerializationException", f"timestamp out of range: {value!r}") from None


def _converter(shape: Any, seen: frozenset[str] = frozenset()) -> _Convert | None:
    """A function turning the wire form of `shape` into engine params, or None if nothing to turn."""
    kind = shape.type_name
    if kind == "timestamp":
        return _to_datetime
    if shape.name in seen:
        return None
    seen = seen | {shape.name}
    if kind == "structure":
        members = {name: c for name, member in shape.members.items() if (c := _converter(member, seen))}
        if not members:
            return None

        def structure(value: Any) -> Any:
            if not isinstance(value, dict):
                return value
            return {k: (members[k](v) if k in members and v is not None else v) for k, v in value.items()}

        return structure
    if kind == "list":
        item = _converter(shape.member, seen)
        if item is None:
            return None
        return lambda value: [item(v) for v in value] if isinstance(value, list) else value
    if kind == "map":
        val = _converter(shape.value, seen)
        if val is None:
            return None
        return lambda value: {k: val(v) for k, v in value.items()} if isinstance(value, dict) else value
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def error_body(code: str, message: str) -> bytes:
    """An SWF error answer's body: `__type` (namespace#code) and `message`."""
    namespace = _CORAL_NAMESPACES.get(code, _SWF_NAMESPACE)
    return json.dumps({"__type": namespace + code, "message": message}).encode()


class SWFProtocol:
    """SWF's JSON 1.0 protocol, routed by botocore's SWF service model."""

    def __init__(self, engine: SupportsCall) -> None:
        import botocore.session

        model = botocore.session.get_session().get_service_model("swf")
        self._engine = engine
        self._prefix = model.metadata["targetPrefix"] + "."
        self._operations: dict[str, _Convert | None] = {}
        for name in model.operation_names:
            shape = model.operation_model(name).input_shape
            self._operations[name] = _converter(shape) if shape is not None else None

    def operation(self, target: str) -> str | None:
        """The operation named by an X-Amz-Target header, or None."""
        if target.startswith(self._prefix):
            name = target[len(self._prefix) :]
            if name in self._operations:
                return name
        return None

    def handle(self, operation: str | None, target: str, body: bytes,
               region: str | None = None) -> tuple[int, bytes]:
        """Answer one request (`region`: of its signature, if known): (HTTP status, JSON body)."""
        try:
            if operation is None:
                raise SWFFault("UnknownOperationException", f"unknown operation {target!r}")
            params = self._decode(operation, body)
            result = self._engine.call(operation, params, region=region)
        except SWFFault as fault:
            return status_of(fault.code), error_body(fault.code, fault.message)
        except Exception:
            logger.exception("%s failed inside the engine", operation)
            return 500, error_body("InternalFailure", "the engine failed; see the server's log")
        try:
            return 200, json.dumps(result, default=_json_default, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            logger.exception("%s returned a value that is not JSON", operation)
            return 500, error_body("InternalFailure", "the engine returned a value that is not JSON")

    def _decode(self, operation: str, body: bytes) -> Params:
        # Scanned before parsing: json.loads and the converters recurse once per level.
        if json_depth_exceeds(body, MAX_DEPTH):
            raise SWFFault("SerializationException", f"request body nests deeper than {MAX_DEPTH} levels")
        try:
            params = json.loads(body) if body.strip() else {}
            if not isinstance(params, dict):
                raise SWFFault("SerializationException", "request body must be a JSON object")
            convert = self._operations[operation]
            return convert(params) if convert is not None else params
        except RecursionError:  # the scan should have caught it; a 400 all the same, never a 500
            raise SWFFault("SerializationException", f"request body nests deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:  # UnicodeDecodeError included
            raise SWFFault("SerializationException", f"request body is not JSON: {exc}") from None


def status_of(code: str) -> int:
    """The HTTP status of an error answer: 400 for every refusal, 5xx for the server's own troubles."""
    return _STATUS.get(code, 400)


