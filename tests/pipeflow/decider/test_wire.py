"""The formats shared by the decider and the worker."""

from __future__ import annotations

import json

import pytest

import converters
import pipeflow as pf
from pipeflow import wire

from .tasks import boom


def test_activity_input_round_trip_with_a_group_result_and_arguments() -> None:
    piped = [converters.dumps(1), [converters.dumps("a"), {"error": {"type": "KeyError", "message": "k"}}]]
    text = wire.encode_activity_input(step="1.0", attempt=2, task="t.f", store=None, piped=piped,
                                       args=[converters.dumps(3)], kwargs={"k": converters.dumps({"x": 1})})
    args, kwargs, _ = wire.decode_activity_input(text)
    assert args[0][0] == 1 and args[0][1][0] == "a" and args[1] == 3
    assert isinstance(args[0][1][1], pf.TaskFailed) and args[0][1][1].error_type == "KeyError"
    assert kwargs == {"k": {"x": 1}}


def test_a_long_activity_input_is_offloaded_whole() -> None:
    store = converters.MemoryStore()
    piped = [converters.dumps(i) for i in range(10_000)]
    text = wire.encode_activity_input(step="2", attempt=1, task="t", store=store.uri, piped=piped, args=[], kwargs={})
    assert converters.is_reference(text) and len(text) < 1000
    assert wire.decode_activity_input(text, store=store.uri)[:2] == ([list(range(10_000))], {})
    with pytest.raises(converters.PayloadTooLarge):
        wire.encode_activity_input(step="2", attempt=1, task="t", store=None, piped=piped, args=[], kwargs={})


def test_failure_reason_and_details() -> None:
    try:
        boom("x" * 1000)
    except ValueError as exc:
        reason, details = wire.encode_failure(exc, task=boom, activity_id="3.map.7#2")
    assert len(reason) == 256 and reason.startswith("ValueError: bad input 'xxx")
    doc = json.loads(details)
    assert (doc["type"], doc["task"], doc["step"], doc["attempt"]) == ("ValueError", "tasks.boom", "3.map.7", 2)
    assert "raise ValueError" in doc["traceback"]
    assert wire.decode_failure(details) == doc


def test_failure_details_stay_under_the_field_limit() -> None:
    reason, details = wire.encode_failure(RuntimeError("m" * 100_000), activity_id="0#1", stage="encoding the result")
    assert len(details) <= 32_768 and reason.startswith("RuntimeError: mmm")
    assert json.loads(details)["step"] == "0"


def test_close_events() -> None:
    def event(kind: str, **attrs: object) -> dict[str, object]:
        return {"eventType": kind, kind[0].lower() + kind[1:] + "EventAttributes": attrs}

    assert wire.decode_close_event(event("WorkflowExecutionCompleted", result="json/1:[1,2]")) == [1, 2]
    assert wire.decode_close_event(event("WorkflowExecutionCompleted", result='tree/1:["json/1:1"]')) == [1]
    with pytest.raises(pf.RunCanceled):
        wire.decode_close_event(event("WorkflowExecutionCanceled"), run_id="r")
    with pytest.raises(pf.RunTimedOut):
        wire.decode_close_event(event("WorkflowExecutionTimedOut", timeoutType="START_TO_CLOSE"))
    with pytest.raises(pf.RunFailed, match="NondeterminismError"):
        wire.decode_close_event(event("WorkflowExecutionFailed", reason="NondeterminismError: x", details="{}"))


def test_parse_activity_id() -> None:
    assert wire.parse_activity_id("2.map.17.1#3") == ("2.map.17.1", 3)
