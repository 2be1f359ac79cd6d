"""Hostile task inputs, history events and signals: nothing steers or wedges a worker or a decider.

Issue 12, cases 6 and 7. A task input cannot choose where a worker writes (its store is its own
configuration, or the run's when that lies under it); the decider neither writes into a store a
run names outside its own, nor loops on an event it cannot decode: the run fails once, naming the
event, or (a cancel's reason) the value is dropped with a note in the close details.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import msgpack
import pytest

import converters
import pipeflow as pf
from pipeflow import wire
from pipeflow._pipeline import Pipeline
from pipeflow.decider import Decider
from pipeflow.worker._execute import execute
from tests.pipeflow.decider._history import History, kinds
from tests.pipeflow.decider.tasks import const, inc

DEEP_JSON = "[" * 100_000 + "]" * 100_000  # past any recursion limit


def deep_msgpack(levels: int = 700) -> str:
    """A msgpack envelope of a tuple nested `levels` deep, built by hand (no encoder recursion)."""
    data = msgpack.packb([], use_bin_type=True)
    for _ in range(levels):
        data = msgpack.packb([msgpack.ExtType(1, data)], use_bin_type=True)  # ext 1: a tuple
    return "msgpack/1:" + base64.b64encode(data).decode()


def attrs_of(decision: dict[str, Any]) -> dict[str, Any]:
    kind = decision["decisionType"]
    return dict(decision[kind[0].lower() + kind[1:] + "DecisionAttributes"])


def closing(decisions: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The closing decision's type and attributes."""
    last = decisions[-1]
    return last["decisionType"], attrs_of(last)


def decide_twice(pipeline: Pipeline, history: History, store: str | None = None) -> list[dict[str, Any]]:
    """The decisions for the history, from a fresh decider; a second fresh one decides the same (no loop)."""
    first = Decider([pipeline], store=store).decide(history.task())
    history.events.pop()  # the DecisionTaskStarted task() added
    assert Decider([pipeline], store=store).decide(history.task()) == first
    return first


def waiting_history(pipeline: Pipeline) -> History:
    history = History(pipeline, 1)
    history.decided(Decider([pipeline]).decide(history.task()))
    return history


# -- case 6: the task input names the store -----------------------------------------------------------


@pf.task
def big(x: Any) -> str:
    return "b" * 50_000  # over SWF's field: offloaded to the store


def planted_input(planted: Path) -> str:
    return wire.encode_activity_input(step="0", attempt=1, task=big.name, store=f"{planted.as_uri()}#planted/here",
                                       piped=converters.dumps(1), args=[], kwargs={})


@pytest.mark.parametrize("own", ["none", "another"])
def test_a_task_input_cannot_choose_where_the_worker_writes(tmp_path: Path, own: str) -> None:
    planted = tmp_path / "planted"
    worker_store = None if own == "none" else wire.run_scope(str(tmp_path / "mine"), "wf", "run")
    outcome = execute(big, "0#1", planted_input(planted), worker_store)
    assert outcome[0] == "fail"
    reason, details = outcome[1], json.loads(outcome[2])
    assert reason.startswith("StoreError: the run's store ") and "decoding the input" in details["message"]
    assert planted.as_uri() in details["message"] and "--store" in details["message"]
    assert not planted.exists()  # nothing read or written there


def test_the_run_store_is_used_when_it_lies_under_the_workers(tmp_path: Path) -> None:
    root = converters.open_store(str(tmp_path / "payloads")).uri
    text = wire.encode_activity_input(step="0", attempt=1, task=big.name, store=wire.run_scope(root, "wf", "r1"),
                                       piped=converters.dumps(1), args=[], kwargs={})
    outcome = execute(big, "0#1", text, wire.run_scope(root, "wf", "r1"))
    assert outcome[0] == "ok" and converters.is_reference(outcome[1])
    assert converters.loads(outcome[1], store=root) == "b" * 50_000
    assert list((tmp_path / "payloads" / "wf" / "r1").iterdir())  # in the run's folder under the worker's store


def test_the_decider_refuses_a_run_stored_outside_its_store(tmp_path: Path) -> None:
    pipeline = Pipeline(pf.chain(inc, inc), name="t")
    history = History(pipeline)
    planted = tmp_path / "planted"
    history.events[0]["workflowExecutionStartedEventAttributes"]["input"] = wire.encode_workflow_input(
        1, f"{planted.as_uri()}#planted")
    for store in (None, converters.open_store(str(tmp_path / "mine")).uri):
        kind, attrs = closing(decide_twice(pipeline, history, store))
        assert kind == "FailWorkflowExecution"
        details = attrs["details"]
        assert "is not this decider's store" in details and "start the decider with --store" in details
        history.events.pop()
    assert not planted.exists()


def test_a_stage_scope_outside_the_deciders_store_is_refused(tmp_path: Path) -> None:
    pipeline = Pipeline(pf.stage(pf.chain(inc)), name="t")
    mine = converters.open_store(str(tmp_path / "mine")).uri
    history = History(pipeline)
    doc = {"v": 1, "input": converters.dumps(1), "store": mine,
           "stage": {"path": "", "kind": "stage", "parent": "p", "scope": f"{(tmp_path / 'x').as_uri()}#p/r",
                     "part": "0@1"}}
    history.events[0]["workflowExecutionStartedEventAttributes"]["input"] = json.dumps(doc)
    kind, attrs = closing(decide_twice(pipeline, history, mine))
    assert kind == "FailWorkflowExecution" and "is not this decider's store" in attrs["details"]


def test_the_client_reads_a_run_only_through_its_own_store(tmp_path: Path) -> None:
    mine = converters.open_store(str(tmp_path / "mine")).uri
    assert wire.run_store(f"{mine}#wf/run", mine, "client") == f"{mine}#wf/run"
    with pytest.raises(converters.StoreError, match="is not this client's store"):
        wire.run_store("file:///etc", mine, "client")
    with pytest.raises(converters.StoreError, match=r"store \(none\)"):
        wire.run_store(mine, None, "client")


# -- case 7: poison that cannot wedge the decider ---------------------------------------------------


def test_a_cancel_reason_nested_700_levels_is_dropped_and_the_run_cancels() -> None:
    pipeline = Pipeline(pf.chain(pf.wait_signal("go"), inc), name="t")
    history = waiting_history(pipeline)
    signal_id = history.add("WorkflowExecutionSignaled", signalName="pipeflow.cancel", input=deep_msgpack(700))
    history.add("WorkflowExecutionCancelRequested")
    history.add("DecisionTaskScheduled")
    kind, attrs = closing(decide_twice(pipeline, history))
    assert kind == "CancelWorkflowExecution"
    reason = json.loads(attrs["details"])["reason"]
    assert f"event {signal_id}" in reason and "dropped" in reason and "msgpack" in reason


@pytest.mark.parametrize("text", [DEEP_JSON, "json/1:" + DEEP_JSON])
def test_a_cancel_reason_of_deep_json_is_dropped(text: str) -> None:
    pipeline = Pipeline(pf.chain(pf.wait_signal("go"), inc), name="t")
    history = waiting_history(pipeline)
    history.add("WorkflowExecutionSignaled", signalName="pipeflow.cancel", input=text)
    history.add("WorkflowExecutionCancelRequested")
    history.add("DecisionTaskScheduled")
    kind, attrs = closing(decide_twice(pipeline, history))
    reason = json.loads(attrs["details"])["reason"]
    assert kind == "CancelWorkflowExecution" and len(reason) <= 1_000
    if text.startswith("json/"):
        assert "dropped" in reason and "nests deeper than" in reason


def test_a_signal_nested_too_deep_fails_the_run_naming_the_event() -> None:
    pipeline = Pipeline(pf.chain(pf.wait_signal("go"), inc), name="t")
    history = waiting_history(pipeline)
    signal_id = history.add("WorkflowExecutionSignaled", signalName="go", input=DEEP_JSON)
    history.add("DecisionTaskScheduled")
    kind, attrs = closing(decide_twice(pipeline, history))
    assert kind == "FailWorkflowExecution"
    assert attrs["reason"].startswith(f"event {signal_id} (WorkflowExecutionSignaled, signal 'go') cannot be decoded")
    assert json.loads(attrs["details"])["event"] == signal_id


def test_a_signal_too_long_to_pass_on_without_a_store_fails_the_run() -> None:
    pipeline = Pipeline(pf.chain(pf.wait_signal("go"), inc), name="t")
    history = waiting_history(pipeline)
    history.add("WorkflowExecutionSignaled", signalName="go", input="not json " + '"' * 32_000)
    history.add("DecisionTaskScheduled")
    kind, attrs = closing(decide_twice(pipeline, history))
    assert kind == "FailWorkflowExecution" and "PayloadTooLarge" in attrs["reason"] and "signal 'go'" in attrs["reason"]


@pytest.mark.parametrize("details", [DEEP_JSON, "not json", '{"step": ["0"], "result": "json/1:1"}',
                                     '{"step": "0", "result": ' + "[" * 150 + "]" * 150 + "}"])
def test_a_checkpoint_marker_that_cannot_be_read_fails_the_run(details: str) -> None:
    pipeline = Pipeline(pf.chain(inc, inc), name="t")
    history = History(pipeline, 1)
    history.decided(Decider([pipeline]).decide(history.task()))
    marker_id = history.add("MarkerRecorded", markerName="pipeflow.checkpoint", details=details)
    history.add("DecisionTaskScheduled")
    kind, attrs = closing(decide_twice(pipeline, history))
    assert kind == "FailWorkflowExecution"
    assert attrs["reason"].startswith(f"event {marker_id} (MarkerRecorded, marker 'pipeflow.checkpoint')")


def test_a_progress_marker_that_cannot_be_read_fails_the_run() -> None:
    pipeline = Pipeline(pf.chain(inc, inc), name="t")
    history = History(pipeline, 1)
    history.decided(Decider([pipeline]).decide(history.task()))
    history.add("MarkerRecorded", markerName="pipeflow.progress", details=DEEP_JSON)
    history.add("DecisionTaskScheduled")
    kind, attrs = closing(decide_twice(pipeline, history))
    assert kind == "FailWorkflowExecution" and "marker 'pipeflow.progress'" in attrs["reason"]


def test_markers_of_others_are_not_read() -> None:
    pipeline = Pipeline(pf.chain(inc, inc), name="t")
    history = History(pipeline, 1)
    history.decided(Decider([pipeline]).decide(history.task()))
    history.add("MarkerRecorded", markerName="mine", details=DEEP_JSON)
    history.completed("0#1", 2)
    assert kinds(decide_twice(pipeline, history)) == ["ScheduleActivityTask"]


@pytest.mark.parametrize("details", [DEEP_JSON, '{"type": ' + "[" * 90 + "]" * 90 + ', "message": {"a": 1}}'])
def test_failure_details_that_cannot_be_read_become_the_message(details: str) -> None:
    pipeline = Pipeline(pf.chain(inc, inc), name="t")
    history = History(pipeline, 1)
    history.decided(Decider([pipeline]).decide(history.task()))
    history.add("ActivityTaskFailed", scheduledEventId=history.ids["0#1"], reason="ValueError: bad", details=details)
    history.add("DecisionTaskScheduled")
    kind, attrs = closing(decide_twice(pipeline, history))
    assert kind == "FailWorkflowExecution" and attrs["reason"].startswith("step 0 task ")
    doc = json.loads(attrs["details"])
    assert all(isinstance(value, (str, int)) or value is None for value in doc.values())  # flat: nothing nested


@pytest.mark.parametrize("result", ["tree/1:" + DEEP_JSON, "tree/1:{not json", 'tree/1:[{"x": 1}]'])
def test_a_child_result_that_is_no_value_tree_fails_the_run_naming_the_child(result: str) -> None:
    pipeline = Pipeline(pf.chain(pf.stage(pf.chain(inc)), inc), name="t")
    history = History(pipeline, 1)
    decisions = Decider([pipeline]).decide(history.task())
    [start] = [attrs_of(d) for d in decisions if d["decisionType"] == "StartChildWorkflowExecution"]
    history.add("DecisionTaskCompleted")
    initiated = history.add("StartChildWorkflowExecutionInitiated", **{k: start[k] for k in ("workflowId", "control")},
                            workflowType=start["workflowType"])
    child = {"workflowId": start["workflowId"], "runId": "c1"}
    history.add("ChildWorkflowExecutionStarted", initiatedEventId=initiated, workflowExecution=child,
                workflowType=start["workflowType"])
    event_id = history.add("ChildWorkflowExecutionCompleted", initiatedEventId=initiated, workflowExecution=child,
                           workflowType=start["workflowType"], result=result)
    history.add("DecisionTaskScheduled")
    kind, attrs = closing(decide_twice(pipeline, history))
    assert kind == "FailWorkflowExecution"
    assert attrs["reason"].startswith(f"event {event_id} (ChildWorkflowExecutionCompleted, child execution "
                                      f"{start['workflowId']}) cannot be decoded")


@pytest.mark.parametrize("text", [DEEP_JSON, '{"v": 1, "input": ' + "[" * 150 + "]" * 150 + "}",
                                  '{"v": 1, "input": {"x": 1}}', '{"v": 1, "input": "json/1:1", "store": [1]}'])
def test_a_workflow_input_that_cannot_be_read_fails_the_run(text: str) -> None:
    pipeline = Pipeline(pf.chain(inc), name="t")
    history = History(pipeline)
    history.events[0]["workflowExecutionStartedEventAttributes"]["input"] = text
    kind, attrs = closing(decide_twice(pipeline, history))
    assert kind == "FailWorkflowExecution" and "not a pipeflow input document" in attrs["reason"]


def test_a_map_over_a_signal_nested_too_deep_fails_the_run() -> None:
    pipeline = Pipeline(pf.chain(pf.wait_signal("go"), pf.map(const)), name="t")
    history = waiting_history(pipeline)
    history.add("WorkflowExecutionSignaled", signalName="go", input="json/1:" + "[" * 150 + "]" * 150)
    history.add("DecisionTaskScheduled")
    kind, attrs = closing(decide_twice(pipeline, history))
    assert kind == "FailWorkflowExecution"


def test_a_deep_run_result_is_a_decode_error_for_the_client() -> None:
    event = {"eventType": "WorkflowExecutionCompleted",
             "workflowExecutionCompletedEventAttributes": {"result": "tree/1:" + DEEP_JSON}}
    with pytest.raises(converters.DecodeError, match="nests deeper than"):
        wire.decode_close_event(event)


def test_deep_close_details_do_not_crash_the_client() -> None:
    from pipeflow.wire import canceled_error

    event = {"eventType": "WorkflowExecutionCanceled",
             "workflowExecutionCanceledEventAttributes": {"details": DEEP_JSON}}
    assert "was canceled" in str(canceled_error(event, "r"))


def test_a_client_does_not_read_a_result_from_a_store_the_run_names(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeflow import running
    from pipeflow.engine import Engine

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PIPEFLOW_STORE", raising=False)
    elsewhere = converters.open_store(str(tmp_path / "elsewhere")).uri
    secret = converters.dumps("s" * 40_000, store=elsewhere)  # a reference into a store that is not the client's
    (tmp_path / ".pipeflow").mkdir()
    with Engine(db=str(tmp_path / ".pipeflow" / "state.sqlite")) as engine:
        swf = engine.client()
        swf.register_domain(name=running.DOMAIN, workflowExecutionRetentionPeriodInDays="1")
        swf.register_workflow_type(domain=running.DOMAIN, name="t", version="1", defaultTaskList={"name": "t"},
                                   defaultExecutionStartToCloseTimeout="60", defaultTaskStartToCloseTimeout="10",
                                   defaultChildPolicy="TERMINATE")
        run_id = swf.start_workflow_execution(domain=running.DOMAIN, workflowId="w",
                                              workflowType={"name": "t", "version": "1"},
                                              input=wire.encode_workflow_input(1, elsewhere))["runId"]
        token = swf.poll_for_decision_task(domain=running.DOMAIN, taskList={"name": "t"})["taskToken"]
        swf.respond_decision_task_completed(taskToken=token, decisions=[{
            "decisionType": "CompleteWorkflowExecution",
            "completeWorkflowExecutionDecisionAttributes": {"result": secret}}])
    with pf.Client(workers=1) as client:
        with pytest.raises(converters.StoreError, match="make the Client with store="):
            client.run(run_id).result()
    with pf.Client(workers=1, store=elsewhere) as trusting:  # named by the user: read
        assert trusting.run(run_id).result() == "s" * 40_000
