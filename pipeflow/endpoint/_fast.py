"""Decision tasks read without botocore's response parser: `json.loads` and the timestamps, nothing else.

botocore parses an SWF answer by walking the service model member by member in Python:
about 25 ms of CPU for a 1,000-event history page, on every decision task (here: 5 ms;
bench/decider_parse.py). For SWF's JSON 1.0 protocol that walk does only three things to
what `json.loads` gives: it keeps the members the model names (dropping unknown keys and
nulls), turns timestamp members into datetimes (`botocore.utils.parse_timestamp`: the local
zone, dateutil's `tzlocal`), and base64-decodes blobs (none in these answers).
`fast_parse(client)` compiles those steps once per operation from the client's own service
model and hooks `before-parse.swf.<operation>` on the client's event system: the request is
still built, signed, sent and retried by botocore; only the body's parse is ours. The handler
leaves botocore an empty body, whose parse costs nothing and still gives the same
`ResponseMetadata` (request id, status, headers, retries), and hands the parsed members back
through `customized_response_dict`, which botocore merges into its result.

Anything this module does not vouch for is left to botocore, unchanged: a status other
than 200, a content type not listed in `BODY_TYPES`, a body that is not UTF-8 JSON holding
an object, a value whose JSON type is not the model's (a list where a structure belongs...),
a null inside a list, a timestamp that is not a number (or past datetime's range), a model
with blobs, unions, documents, maps, renamed members or members outside the body, or a
client whose timestamp parser is not botocore's default. For every body botocore parses,
the result is equal to botocore's (tested over recorded, synthetic and generated pages).
Differences: the order of keys inside a structure (the body's, not the model's); datetimes
share one `tzlocal` instance instead of one each (== between them and botocore's holds
except for a wall time repeated by a daylight-saving change, where PEP 495 makes even
botocore's parse unequal to itself); with botocore's debug logging on, its "Response body"
line shows the empty body.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

__all__ = ["BODY_TYPES", "FAST_OPERATIONS", "Unexpected", "compile_output", "fast_parse", "parse_body"]

FAST_OPERATIONS = ("PollForDecisionTask", "GetWorkflowExecutionHistory")
# Media types of bodies parsed here. moto's server answers JSON labelled text/html.
BODY_TYPES = frozenset({"application/x-amz-json-1.0", "application/x-amz-json-1.1", "application/json", "text/html"})
_HANDLER_ID = "pipeflow-fast-parse"

Convert = Callable[[Any], Any]


class Unexpected(Exception):
    """A body or model this module does not vouch for: botocore's parser takes it."""


def fast_parse(client: Any) -> bool:
    """Parse `FAST_OPERATIONS` of this botocore SWF client here; True when installed (idempotent).

    Clients that are not botocore's (the embedded engine's, a test's fake) are left alone.
    """
    meta = getattr(client, "meta", None)
    events = getattr(meta, "events", None)
    model = getattr(meta, "service_model", None)
    if events is None or model is None or getattr(model, "protocol", None) != "json":
        return False
    factory = getattr(getattr(client, "_endpoint", None), "_response_parser_factory", None)
    defaults = getattr(factory, "_defaults", None)
    if not isinstance(defaults, dict) or defaults.get("timestamp_parser") is not None:
        return False  # a custom timestamp parser (awscli sets one): botocore's own parse stays exact
    service = model.service_id.hyphenize()
    installed = False
    for name in FAST_OPERATIONS:
        try:
            convert = compile_output(model.operation_model(name))
        except Unexpected:
            continue
        events.register(f"before-parse.{service}.{name}", _handler(convert), unique_id=f"{_HANDLER_ID}-{name}")
        installed = True
    return installed


def _handler(convert: Convert) -> Callable[..., None]:
    def before_parse(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
        try:
            parsed = parse_body(response_dict, convert)
        except Unexpected:
            return  # botocore parses it, or raises what it raises
        customized_response_dict.update(parsed)
        response_dict["body"] = b""  # botocore's parse of an empty JSON body: {} and the ResponseMetadata

    return before_parse


def parse_body(response_dict: dict[str, Any], convert: Convert) -> dict[str, Any]:
    """The members of a 200 answer's JSON body, as botocore's parser gives them; Unexpected otherwise."""
    if response_dict.get("status_code") != 200:
        raise Unexpected("status")
    headers = response_dict.get("headers") or {}
    content_type = headers.get("content-type") or headers.get("Content-Type")  # botocore's headers ignore case
    if not isinstance(content_type, str) or content_type.split(";", 1)[0].strip().lower() not in BODY_TYPES:
        raise Unexpected("content type")
    body = response_dict.get("body")
    if not isinstance(body, bytes) or not body:
        raise Unexpected("body")
    try:
        value = json.loads(body.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError included
        raise Unexpected("not JSON") from exc
    _refresh_zone()
    parsed: dict[str, Any] = convert(value)
    return parsed


def compile_output(operation_model: Any) -> Convert:
    """What turns the `json.loads` of the operation's answer into botocore's parse; Unexpected if unsupported."""
    shape = operation_model.output_shape
    if shape is None or operation_model.has_event_stream_output or getattr(shape, "event_stream_name", None):
        raise Unexpected("no plain output")
    convert = _compile(shape, {})
    if convert is None:
        raise Unexpected("scalar output")
    return convert


def _compile(shape: Any, memo: dict[str, Convert | None]) -> Convert | None:
    """The converter of one shape; None when botocore returns the value as it is (strings, numbers, booleans)."""
    kind = shape.type_name
    if kind in ("string", "integer", "long", "boolean", "double", "float"):
        return None  # botocore's JSON parser returns these as they are, whatever their JSON type
    if kind == "timestamp":
        return _timestamp
    if shape.name in memo:
        if memo[shape.name] is None:  # still being compiled: a recursive shape, not in SWF's model
            raise Unexpected(f"recursive shape {shape.name}")
        return memo[shape.name]
    memo[shape.name] = None
    convert: Convert
    if kind == "list":
        convert = _list(_compile(shape.member, memo))
    elif kind == "structure" and not (shape.is_tagged_union or shape.is_document_type
                                      or shape.serialization.get("eventstream")):
        members: dict[str, Convert | None] = {}
        for name, member in shape.members.items():
            if member.serialization.get("name", name) != name or member.serialization.get("location"):
                raise Unexpected(f"member {shape.name}.{name} is renamed or outside the body")
            members[name] = _compile(member, memo)
        convert = _structure(members)
    else:
        raise Unexpected(f"{kind} shape {shape.name}")
    memo[shape.name] = convert
    return convert


def _structure(members: dict[str, Convert | None]) -> Convert:
    """In place: the dict is the one `json.loads` just built, ours to change."""
    known = frozenset(members)
    subs = {name: sub for name, sub in members.items() if sub is not None}
    get = subs.get

    def convert(value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise Unexpected("not an object")
        out: dict[str, Any] = value
        if not value.keys() <= known or None in value.values():
            # botocore keeps the model's members only, and drops nulls
            out = {key: item for key, item in value.items() if key in known and item is not None}
        if subs:
            for key, item in out.items():
                sub = get(key)
                if sub is not None:
                    out[key] = sub(item)  # a new value for a present key: the dict keeps its size
        return out

    return convert


def _list(sub: Convert | None) -> Convert:
    def convert(value: Any) -> list[Any]:
        if type(value) is not list:
            raise Unexpected("not an array")
        if sub is None:
            return value
        if None in value:
            raise Unexpected("null in a list")  # botocore keeps it as None (a "sparse" list); SWF sends none
        return [sub(item) for item in value]

    return convert


# botocore: datetime.fromtimestamp(value, tzlocal()) with a new tzlocal per value, the costliest
# step of its parse (dateutil's tzlocal works out each offset in Python). Where the local zone has
# no daylight saving time, the offset is the standard one: the same datetime from the C clock.
_zone: tuple[tuple[Any, ...], tzinfo, timedelta | None] | None = None


def _refresh_zone() -> None:
    """Follow the process's time zone (TZ and time.tzset() may change it between pages)."""
    global _zone
    key = (time.timezone, time.altzone, time.daylight, time.tzname)
    if _zone is None or _zone[0] != key:
        from dateutil.tz import tzlocal  # type: ignore[import-untyped]  # botocore depends on it

        local = tzlocal()
        offset = local.utcoffset(None) if not time.daylight else None
        _zone = (key, local, offset)


def _timestamp(value: Any) -> datetime:
    zone = _zone
    if zone is None or (type(value) is not float and type(value) is not int):
        raise Unexpected("timestamp")  # ISO strings, booleans: botocore's own parser
    _, local, offset = zone
    try:
        if offset is None:
            return datetime.fromtimestamp(value, local)
        return (datetime.fromtimestamp(value, timezone.utc) + offset).replace(tzinfo=local)
    except (OverflowError, OSError, ValueError) as exc:
        raise Unexpected("timestamp out of range") from exc
