"""`endpoint.fast_parse`: decision tasks and history pages parse to botocore's very dicts, or botocore parses them.

The property: for any answer body, the fast parse returns a result equal to botocore's parse
of the same body (ResponseMetadata included, through a real client), or declines it
(`Unexpected`) and botocore's parser runs as if the hook were not there.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeflow.endpoint import _fast, fast_parse
from tests._support.pages import (
    decision_task,
    recorded_events,
    swf_model,
    synthetic_events,
)

MODEL = swf_model()
POLL = MODEL.operation_model("PollForDecisionTask")
HISTORY = MODEL.operation_model("GetWorkflowExecutionHistory")
JSON = "application/x-amz-json-1.0"


def answer(body: bytes, status: int = 200, content_type: str | None = JSON) -> dict[str, Any]:
    headers = HeadersDict({"x-amzn-requestid": "req-1", **({"Content-Type": content_type} if content_type else {})})
    return {"status_code": status, "headers": headers, "body": body}


def botocore_parse(operation: Any, body: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = create_parser("json").parse(answer(body), operation.output_shape)
    parsed.pop("ResponseMetadata")
    return parsed


def fast(operation: Any, body: bytes, **kwargs: Any) -> dict[str, Any]:
    return _fast.parse_body(answer(body, **kwargs), _fast.compile_output(operation))


def assert_same(operation: Any, value: Any, *, equal: bool = True) -> dict[str, Any]:
    """`equal`: compare with ==, which an ambiguous local time never passes (PEP 495: two tzlocal
    instances are two zones; botocore's parse is not == to itself there): then the canonical forms only."""
    body = json.dumps(value).encode()
    parsed = fast(operation, body)
    expected = botocore_parse(operation, body)
    if equal:
        assert parsed == expected
    assert _canonical(parsed) == _canonical(expected)  # the same types; datetimes with tzinfo class, fold, offset
    return parsed


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, datetime):
        return (type(value.tzinfo).__name__, value.fold, value.isoformat(), value.timestamp())
    return (type(value).__name__, value)


@pytest.mark.parametrize("name", sorted(recorded_events()))
def test_recorded_histories_parse_as_botocore_parses_them(name: str) -> None:
    events = recorded_events()[name]
    parsed = assert_same(POLL, decision_task(events))
    assert len(parsed["events"]) == len(events) and isinstance(parsed["events"][0]["eventTimestamp"], datetime)
    assert_same(HISTORY, {"events": events, "nextPageToken": "next"})


def test_a_page_of_1000_events_of_every_type_parses_as_botocore_parses_it() -> None:
    events = synthetic_events(1000)
    assert len({e["eventType"] for e in events}) == len([m for m in MODEL.shape_for("HistoryEvent").members
                                                        if m.endswith("EventAttributes")])
    assert_same(POLL, decision_task(events))
    assert_same(HISTORY, {"events": events})


def test_unknown_members_and_nulls_are_dropped_as_botocore_drops_them() -> None:
    events = synthetic_events(60, seed=1)
    events[0]["futureMember"] = {"x": 1}
    events[1]["eventId"] = None
    attributes = next(k for k in events[2] if k.endswith("Attributes"))
    events[2][attributes]["newField"] = [1, 2]
    body = {**decision_task(events), "unknownTopLevel": "x", "nextPageToken": None}
    parsed = assert_same(POLL, body)
    assert "futureMember" not in parsed["events"][0] and "eventId" not in parsed["events"][1]


@pytest.mark.parametrize("body, kwargs", [
    (b'{"__type": "com.amazonaws.swf.base.model#UnknownResourceFault", "message": "gone"}', {"status": 400}),
    (b'{"events": []}', {"status": 500}),
    (b'{"events": []}', {"content_type": "application/xml"}),
    (b'{"events": []}', {"content_type": None}),
    (b"<html>busy</html>", {}),
    (b"", {}),
    (b"\xff\xfe{}", {}),
    (b"[]", {}),
    (b'{"events": {"eventId": 1}}', {}),  # an object where the model has a list
    (b'{"events": [null]}', {}),  # a sparse list
    (b'{"events": [{"eventTimestamp": "2025-12-06T10:00:00Z"}]}', {}),  # an ISO timestamp
    (b'{"events": [{"eventTimestamp": true}]}', {}),
    (b'{"events": [{"eventTimestamp": 1e300}]}', {}),  # out of datetime's range
    (b'{"workflowType": "shape"}', {}),  # a string where the model has a structure
])
def test_anything_unexpected_is_left_to_botocore(body: bytes, kwargs: dict[str, Any]) -> None:
    with pytest.raises(_fast.Unexpected):
        fast(POLL, body, **kwargs)


# --- the property, over generated bodies ---------------------------------------------------


def _well_formed(shape: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON values of `shape` as the model types them, members present or not, unknown members and nulls among them."""
    kind = shape.type_name
    if kind == "string":
        return st.sampled_from(shape.enum) if shape.enum else st.text(max_size=20)
    if kind in ("integer", "long"):
        return st.integers(-(2**63), 2**63 - 1)
    if kind == "timestamp":
        return st.one_of(st.floats(-1e10, 1e10, allow_nan=False), st.integers(-10**10, 10**10))
    if kind == "list":
        return st.lists(_well_formed(shape.member, depth + 1), max_size=3)
    assert kind == "structure", kind
    members = {name: st.one_of(st.none(), _well_formed(member, depth + 1)) for name, member in shape.members.items()}
    return st.fixed_dictionaries({}, optional={**members, "unknownMember": st.integers()})  # type: ignore[arg-type]


def _events() -> st.SearchStrategy[list[dict[str, Any]]]:
    event = MODEL.shape_for("HistoryEvent")
    kinds = [name for name in event.members if name.endswith("EventAttributes")]

    def one(kind: str) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({
            "eventId": st.integers(1, 25_000), "eventType": st.just(kind[:1].upper() + kind[1:-15]),
            "eventTimestamp": _well_formed(event.members["eventTimestamp"]),
            kind: _well_formed(event.members[kind]),
        })

    return st.lists(st.sampled_from(kinds).flatmap(one), max_size=8)


def _mutated(value: Any, data: st.DataObject) -> Any:
    """`value` with some nodes replaced by JSON values of any type."""
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                                         st.integers(), max_size=2)))
    if isinstance(value, dict):
        return {k: _mutated(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutated(v, data) for v in value]
    return value


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(events=_events(), token=st.one_of(st.none(), st.text(max_size=5)))
def test_well_formed_pages_are_parsed_fast_and_equal_botocore(events: list[dict[str, Any]], token: Any) -> None:
    value = {**decision_task(events), "nextPageToken": token}
    try:
        assert_same(POLL, value)
    except _fast.Unexpected:  # only a timestamp past datetime's range may be declined
        stamps = [e["eventTimestamp"] for e in events if e.get("eventTimestamp") is not None]
        assert any(abs(s) > 2.5e11 or not isinstance(s, (int, float)) for s in stamps) or _out_of_range(stamps)


def _out_of_range(stamps: list[Any]) -> bool:
    try:
        for stamp in stamps:
            datetime.fromtimestamp(stamp)
    except (OverflowError, OSError, ValueError):
        return True
    return False


@SETTINGS
@given(events=_events(), data=st.data())
def test_any_page_is_parsed_equal_to_botocore_or_left_to_it(events: list[dict[str, Any]], data: st.DataObject) -> None:
    value = _mutated({"events": events, "nextPageToken": "t"}, data)
    body = json.dumps(value).encode()
    try:
        parsed = fast(HISTORY, body)
    except _fast.Unexpected:
        return
    assert parsed == botocore_parse(HISTORY, body)


# --- through a botocore client: the hook, ResponseMetadata, errors -------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def client(canned: tuple[int, bytes, str], fast_path: bool) -> Any:
    """A real botocore SWF client whose HTTP answers are `canned` (status, body, content type)."""
    swf = botocore.session.get_session().create_client(
        "swf", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", aws_access_key_id="a",
        aws_secret_access_key="b")

    def send(request: Any, **_: Any) -> AWSResponse:
        assert request.headers["Authorization"].startswith(b"AWS4-HMAC-SHA256")  # still signed by botocore
        status, body, content_type = canned
        return AWSResponse(request.url, status, HeadersDict({"x-amzn-RequestId": "r1", "Content-Type": content_type,
                                                             "Content-Length": str(len(body))}), _Raw(body))

    swf.meta.events.register("before-send.swf", send)
    if fast_path:
        assert fast_parse(swf) and fast_parse(swf)  # idempotent
    return swf


def call(swf: Any, operation: str) -> Any:
    if operation == "PollForDecisionTask":
        return swf.poll_for_decision_task(domain="d", taskList={"name": "t"})
    return swf.get_workflow_execution_history(domain="d", execution={"workflowId": "w", "runId": "r"})


@pytest.mark.parametrize("operation", _fast.FAST_OPERATIONS)
@pytest.mark.parametrize("canned", [
    (200, json.dumps(decision_task(synthetic_events(120, seed=2))).encode(), JSON),
    (200, json.dumps(decision_task(synthetic_events(5))).encode(), "text/html; charset=utf-8"),  # moto
    (200, b'{"previousStartedEventId": 0, "startedEventId": 0}', JSON),  # an empty poll
    (200, b'{"events": "x"}', JSON),
])
def test_a_client_answers_the_same_with_the_fast_path(operation: str, canned: tuple[int, bytes, str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    parse = _fast.parse_body

    def counted(response_dict: dict[str, Any], convert: Any) -> dict[str, Any]:
        calls.append(True)
        return parse(response_dict, convert)

    monkeypatch.setattr(_fast, "parse_body", counted)
    try:
        expected = call(client(canned, fast_path=False), operation)
    except Exception as exc:  # botocore's parser fails on this body: so does the client with the fast path
        with pytest.raises(type(exc), match=str(exc)):
            call(client(canned, fast_path=True), operation)
    else:
        assert call(client(canned, fast_path=True), operation) == expected  # ResponseMetadata included
    assert len(calls) == 1


@pytest.mark.parametrize("operation", _fast.FAST_OPERATIONS)
def test_errors_are_botocore_errors(operation: str) -> None:
    canned = (400, b'{"__type": "com.amazonaws.swf.base.model#UnknownResourceFault", "message": "Unknown execution"}',
              JSON)
    with pytest.raises(ClientError) as plain:
        call(client(canned, fast_path=False), operation)
    with pytest.raises(ClientError) as quick:
        call(client(canned, fast_path=True), operation)
    assert quick.value.response == plain.value.response and str(quick.value) == str(plain.value)


def test_only_botocore_json_clients_are_hooked() -> None:
    assert not fast_parse(object())
    s3 = botocore.session.get_session().create_client("s3", region_name="us-east-1", aws_access_key_id="a",
                                                       aws_secret_access_key="b")
    assert not fast_parse(s3)


# --- time zones: botocore gives datetimes in the local zone (dateutil's tzlocal) -----------


@pytest.fixture(params=["UTC0", "IST-5:30", "CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT,M3.2.0,M11.1.0"])
def local_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def test_timestamps_are_botocore_datetimes_in_any_zone(local_zone: str) -> None:
    # Around both daylight-saving changes of 2025 in Europe and the US, the ambiguous hours included.
    stamps = [1743296400 + d for d in range(-7200, 7201, 900)] + [1761440400 + d for d in range(-7200, 7201, 900)]
    stamps += [1741503600.5, 1762063200.25, 0, -86400.5, 4102444800]
    events = copy.deepcopy(synthetic_events(len(stamps), seed=3))
    for event, stamp in zip(events, stamps):
        event["eventTimestamp"] = stamp
    assert_same(HISTORY, {"events": events}, equal=local_zone.startswith(("UTC", "IST")))
