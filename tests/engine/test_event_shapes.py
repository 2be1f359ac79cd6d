"""Every event the engine emits matches botocore's HistoryEvent shape (names and types)."""

from __future__ import annotations

from typing import Any

from pipeflow.engine._model import service_model
from tests._support.shapes import check_shape

from ._driver import WF, Driver, decision, schedule


def _answer(d: Driver, workflow_id: str, decisions: list[dict[str, Any]], **extra: Any) -> None:
    """Answer decision tasks (others with no decisions) until one of ``workflow_id`` is answered."""
    while True:
        task = d("PollForDecisionTask", domain="d", taskList={"name": "dt"})
        assert "taskToken" in task, f"no decision task for {workflow_id}"
        mine = task["workflowExecution"]["workflowId"] == workflow_id
        d("RespondDecisionTaskCompleted", taskToken=task["taskToken"], decisions=decisions if mine else [],
          **(extra if mine else {}))
        if mine:
            return


def _scenario() -> Driver:
    """Drive one of nearly everything, so most event types appear."""
    d = Driver()
    d.setup(defaultTaskStartToCloseTimeout="100")
    d.start("p", input="i", tagList=["t"])
    d.start("other")
    d.decide(
        schedule("a1", heartbeatTimeout="5"), schedule("a2"), schedule("a3"), schedule("a4"), schedule("a1"),
        schedule("x", activityType={"name": "zz", "version": "1"}),
        decision("RecordMarker", markerName="m", details="dd"),
        decision("StartTimer", timerId="t1", startToFireTimeout="1"),
        decision("StartTimer", timerId="t2", startToFireTimeout="100"),
        decision("CancelTimer", timerId="nope"),
        decision("RequestCancelActivityTask", activityId="nope"),
        decision("StartChildWorkflowExecution", workflowId="c", workflowType=WF),
        decision("StartChildWorkflowExecution", workflowId="other", workflowType=WF),
        decision("StartChildWorkflowExecution", workflowId="c2", workflowType={"name": "no", "version": "1"}),
        decision("SignalExternalWorkflowExecution", workflowId="other", signalName="s", input="x"),
        decision("SignalExternalWorkflowExecution", workflowId="ghost", signalName="s"),
        decision("RequestCancelExternalWorkflowExecution", workflowId="other"),
        decision("RequestCancelExternalWorkflowExecution", workflowId="ghost"),
        decision("ScheduleLambdaFunction", id="l", name="fn", input="{}"),
        decision("ScheduleLambdaFunction", id="a2", name="fn"),  # an id in use: ScheduleLambdaFunctionFailed
    )
    tokens = [d("PollForActivityTask", domain="d", taskList={"name": "at"}, identity="w")["taskToken"] for _ in range(3)]
    d("RecordActivityTaskHeartbeat", taskToken=tokens[0], details="hb")
    d("RespondActivityTaskCompleted", taskToken=tokens[1], result="r")
    d("RespondActivityTaskFailed", taskToken=tokens[2], reason="bad", details="tb")
    d("SignalWorkflowExecution", domain="d", workflowId="p", signalName="sig", input="v")
    d("RequestCancelWorkflowExecution", domain="d", workflowId="p")
    d.tick(6)  # heartbeat timeout of a1, timer t1 fires
    _answer(d, "p", [decision("CancelTimer", timerId="t2"), decision("RequestCancelActivityTask", activityId="a4")],
            executionContext="ctx")
    d("TerminateWorkflowExecution", domain="d", workflowId="other", reason="r", details="x")
    d("SignalWorkflowExecution", domain="d", workflowId="c", signalName="poke")
    assert "taskToken" in d("PollForDecisionTask", domain="d", taskList={"name": "dt"})  # unanswered: times out
    d.tick(200)
    for wid in ("c", "p"):  # make sure both have a decision task to answer
        d("SignalWorkflowExecution", domain="d", workflowId=wid, signalName="poke")
    _answer(d, "c", [decision("CompleteWorkflowExecution", result="ok")])
    _answer(d, "p", [decision("CancelWorkflowExecution", details="bye")])
    d.start("can")
    d.decide(decision("ContinueAsNewWorkflowExecution", input="n"))
    d.decide(decision("FailWorkflowExecution", reason="r", details="d"))
    d.start("to", executionStartToCloseTimeout="1")
    d.tick(2)
    return d


def test_every_event_matches_the_model() -> None:
    shape = service_model().shape_for("HistoryEvent")
    d = _scenario()
    seen: set[str] = set()
    for ex in d.state.runs.values():
        for i, event in enumerate(ex.events, start=1):
            check_shape(event, shape, f"{ex.workflow_id}#{i} {event['eventType']}")
            assert event["eventId"] == i
            seen.add(event["eventType"])
    must = {
        "WorkflowExecutionStarted", "WorkflowExecutionCompleted", "WorkflowExecutionFailed",
        "WorkflowExecutionTimedOut", "WorkflowExecutionCanceled", "WorkflowExecutionContinuedAsNew",
        "WorkflowExecutionTerminated", "WorkflowExecutionCancelRequested", "WorkflowExecutionSignaled",
        "DecisionTaskScheduled", "DecisionTaskStarted", "DecisionTaskCompleted", "DecisionTaskTimedOut",
        "ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted", "ActivityTaskFailed",
        "ActivityTaskTimedOut", "ActivityTaskCanceled", "ActivityTaskCancelRequested", "MarkerRecorded",
        "TimerStarted", "TimerFired", "TimerCanceled", "StartChildWorkflowExecutionInitiated",
        "ChildWorkflowExecutionStarted", "ChildWorkflowExecutionCompleted", "StartChildWorkflowExecutionFailed",
        "SignalExternalWorkflowExecutionInitiated", "ExternalWorkflowExecutionSignaled",
        "SignalExternalWorkflowExecutionFailed", "RequestCancelExternalWorkflowExecutionInitiated",
        "ExternalWorkflowExecutionCancelRequested", "RequestCancelExternalWorkflowExecutionFailed",
        "ScheduleActivityTaskFailed", "CancelTimerFailed", "RequestCancelActivityTaskFailed",
        "ScheduleLambdaFunctionFailed", "LambdaFunctionScheduled",
    }
    assert must <= seen, must - seen
