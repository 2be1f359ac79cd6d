"""Histories carry the fields real SWF always sends, event type by event type.

Two scenarios are played once per backend and their histories kept: a basic one
every backend runs (activities, timers, a marker, a signal), and a full one with
child workflows, activity cancellation, timeouts, continue-as-new, cancel,
terminate and failure, which moto cannot run.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from pipeflow.engine._model import service_model

from tests._support.shapes import check_shape

from .conftest import WORKFLOW, Backend, backends, complete, schedule

# The attributes SWF always sends for each event type (beyond the model's required members).
ALWAYS: dict[str, tuple[str, ...]] = {
    "WorkflowExecutionStarted": ("childPolicy", "taskList", "taskStartToCloseTimeout",
                                 "executionStartToCloseTimeout", "workflowType", "parentInitiatedEventId"),
    "DecisionTaskScheduled": ("taskList", "startToCloseTimeout"),
    "DecisionTaskStarted": ("scheduledEventId", "identity"),
    "DecisionTaskCompleted": ("scheduledEventId", "startedEventId"),
    "ActivityTaskScheduled": ("activityType", "activityId", "taskList", "decisionTaskCompletedEventId",
                              "scheduleToStartTimeout", "scheduleToCloseTimeout", "startToCloseTimeout",
                              "heartbeatTimeout"),
    "ActivityTaskStarted": ("scheduledEventId", "identity"),
    "ActivityTaskCompleted": ("scheduledEventId", "startedEventId"),
    "ActivityTaskFailed": ("scheduledEventId", "startedEventId"),
    "ActivityTaskTimedOut": ("timeoutType", "scheduledEventId", "startedEventId"),
    "ActivityTaskCancelRequested": ("activityId", "decisionTaskCompletedEventId"),
    "ActivityTaskCanceled": ("scheduledEventId", "startedEventId"),
    "TimerStarted": ("timerId", "startToFireTimeout", "decisionTaskCompletedEventId"),
    "TimerFired": ("timerId", "startedEventId"),
    "TimerCanceled": ("timerId", "startedEventId", "decisionTaskCompletedEventId"),
    "MarkerRecorded": ("markerName", "decisionTaskCompletedEventId"),
    "WorkflowExecutionSignaled": ("signalName",),
    "WorkflowExecutionCompleted": ("decisionTaskCompletedEventId",),
    "WorkflowExecutionFailed": ("decisionTaskCompletedEventId",),
    "WorkflowExecutionCanceled": ("decisionTaskCompletedEventId",),
    "WorkflowExecutionCancelRequested": ("externalInitiatedEventId",),
    "WorkflowExecutionTerminated": ("childPolicy", "cause"),
    "WorkflowExecutionTimedOut": ("timeoutType", "childPolicy"),
    "WorkflowExecutionContinuedAsNew": ("decisionTaskCompletedEventId", "newExecutionRunId", "taskList",
                                        "childPolicy", "taskStartToCloseTimeout", "executionStartToCloseTimeout",
                                        "workflowType"),
    "StartChildWorkflowExecutionInitiated": ("workflowId", "workflowType", "childPolicy", "taskList",
                                             "decisionTaskCompletedEventId", "executionStartToCloseTimeout",
                                             "taskStartToCloseTimeout"),
    "ChildWorkflowExecutionStarted": ("workflowExecution", "workflowType", "initiatedEventId"),
    "ChildWorkflowExecutionCompleted": ("workflowExecution", "workflowType", "initiatedEventId",
                                        "startedEventId"),
}
BASIC = ("WorkflowExecutionStarted", "DecisionTaskScheduled", "DecisionTaskStarted", "DecisionTaskCompleted",
         "ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted", "ActivityTaskFailed",
         "TimerStarted", "TimerFired", "TimerCanceled", "MarkerRecorded", "WorkflowExecutionSignaled",
         "WorkflowExecutionCompleted")
FULL = tuple(t for t in ALWAYS if t not in BASIC)
# moto's departures in the basic scenario, by event type
MOTO = {
    "TimerCanceled": "records the event as TimerCancelled",
    "WorkflowExecutionStarted": "omits parentInitiatedEventId (SWF sends 0 for a top-level run)",
    "ActivityTaskScheduled": "leaves the timeouts taken from the activity type's defaults out of the event",
}

_histories: dict[tuple[str, str], list[dict[str, Any]]] = {}


def _decision(kind: str, **attrs: Any) -> dict[str, Any]:
    return {"decisionType": kind, f"{kind[0].lower()}{kind[1:]}DecisionAttributes": attrs}


def _basic(b: Backend) -> list[dict[str, Any]]:
    b.setup()
    run = b.start("w1", tagList=["t"])
    b.decide(b.poll_decision(), schedule("a1"), schedule("a2"), _decision("StartTimer", timerId="t1",
             startToFireTimeout="600"), _decision("RecordMarker", markerName="m", details="d"))
    b.swf.respond_activity_task_completed(taskToken=b.poll_activity()["taskToken"], result="r")
    b.swf.respond_activity_task_failed(taskToken=b.poll_activity()["taskToken"], reason="bad")
    b.swf.signal_workflow_execution(domain=b.domain, workflowId="w1", signalName="go", input="s")
    b.decide(b.poll_decision(), _decision("CancelTimer", timerId="t1"),
             _decision("StartTimer", timerId="t2", startToFireTimeout="0"))
    b.decide(b.poll_decision(), complete())  # after TimerFired
    return b.history(run)


def _full(b: Backend) -> list[dict[str, Any]]:
    b.setup()
    kids, idle, slow = {"name": "kids"}, {"name": "idle"}, {"name": "slow"}
    parent = b.start("parent")
    b.start("late", taskList=slow, executionStartToCloseTimeout="1")
    b.decide(b.poll_decision(),
             _decision("StartChildWorkflowExecution", workflowType=WORKFLOW, workflowId="child", taskList=kids),
             schedule("a1"), schedule("a2", taskList=idle, scheduleToStartTimeout="1"))
    child_task = b.poll_decision(kids)
    b.decide(child_task, complete())
    a1 = b.poll_activity()
    b.decide(b.poll_decision(), _decision("RequestCancelActivityTask", activityId="a1"))
    assert b.swf.record_activity_task_heartbeat(taskToken=a1["taskToken"])["cancelRequested"] is True
    b.swf.respond_activity_task_canceled(taskToken=a1["taskToken"], details="as asked")
    time.sleep(1.2)  # a2's schedule-to-start and "late"'s execution timeouts
    b.decide(b.poll_decision(), _decision("ContinueAsNewWorkflowExecution", input="again"))
    b.swf.request_cancel_workflow_execution(domain=b.domain, workflowId="parent")
    b.decide(b.poll_decision(), _decision("CancelWorkflowExecution"))
    failing = b.start("failing")
    b.decide(b.poll_decision(), _decision("FailWorkflowExecution", reason="r"))
    doomed = b.start("doomed")
    b.swf.terminate_workflow_execution(domain=b.domain, workflowId="doomed", reason="stop")
    events: list[dict[str, Any]] = []
    closed = b.swf.list_closed_workflow_executions(domain=b.domain, startTimeFilter={"oldestDate": 0})
    closed = closed["executionInfos"]
    for info in closed:
        events += b.history(info["execution"])
    assert {failing["runId"], doomed["runId"], parent["runId"]} <= {e["execution"]["runId"] for e in closed}
    return events


def _history(backend: Backend, scenario: str) -> list[dict[str, Any]]:
    key = (backend.name, scenario)
    if key not in _histories:
        _histories[key] = (_basic if scenario == "basic" else _full)(backend)
    return _histories[key]


def _cases() -> list[Any]:
    cases = []
    for event_type in BASIC:
        cases.append(pytest.param("pipeflow", "basic", event_type, id=f"pipeflow-{event_type}"))
        marks = []
        if event_type in MOTO:
            marks.append(pytest.mark.xfail(strict=True, reason=f"moto: {MOTO[event_type]}"))
        cases.append(pytest.param("moto", "basic", event_type, marks=marks, id=f"moto-{event_type}"))
    for event_type in FULL:
        cases.append(pytest.param("pipeflow", "full", event_type, id=f"pipeflow-{event_type}"))
    return cases


@pytest.mark.parametrize("backend, scenario, event_type", _cases(), indirect=["backend"])
def test_event_fields(backend: Backend, scenario: str, event_type: str) -> None:
    events = [e for e in _history(backend, scenario) if e["eventType"] == event_type]
    assert events, f"no {event_type} in the {scenario} history"
    key = f"{event_type[0].lower()}{event_type[1:]}EventAttributes"
    shape = service_model().shape_for("HistoryEvent")
    for event in events:
        check_shape(event, shape, event_type)
        missing = [f for f in ALWAYS[event_type] if f not in event[key]]
        assert not missing, f"{event_type} #{event['eventId']} lacks {missing}: {event[key]}"


@pytest.mark.parametrize("backend", backends(moto_skip="StartChildWorkflowExecution raises (HTTP 500)"),
                         indirect=True)
def test_child_knows_its_parent_after_the_parent_closes(backend: Backend) -> None:
    b = backend
    b.setup()
    parent = b.start("parent", childPolicy="ABANDON")
    b.decide(b.poll_decision(), _decision("StartChildWorkflowExecution", workflowType=WORKFLOW,
                                          workflowId="child", taskList={"name": "kids"}))
    b.decide(b.poll_decision(), complete())  # the parent closes; its child runs on
    child = b.swf.describe_workflow_execution(
        domain=b.domain, execution={"workflowId": "child", "runId": _run_id(b, "child")})
    assert child["executionInfo"]["executionStatus"] == "OPEN"
    assert child["executionInfo"]["parent"] == parent
    initiated = [e["eventId"] for e in b.history(parent) if e["eventType"] == "StartChildWorkflowExecutionInitiated"]
    started = b.history({"workflowId": "child", "runId": _run_id(b, "child")})[0]
    attrs = started["workflowExecutionStartedEventAttributes"]
    assert (attrs["parentWorkflowExecution"], attrs["parentInitiatedEventId"]) == (parent, initiated[0])


def _run_id(b: Backend, workflow_id: str) -> str:
    infos = b.swf.list_open_workflow_executions(domain=b.domain, startTimeFilter={"oldestDate": 0},
                                                executionFilter={"workflowId": workflow_id})["executionInfos"]
    return str(infos[0]["execution"]["runId"])
