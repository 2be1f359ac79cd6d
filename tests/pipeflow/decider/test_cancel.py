"""Cancel requests in the decider: what is open gets canceled, the run closes CANCELED, replay agrees."""

from __future__ import annotations

import json
from typing import Any

import converters
import pipeflow as pf
from pipeflow._pipeline import Pipeline
from pipeflow.decider import Decider

from ._history import History, kinds
from .tasks import flaky, inc, total


def cancel_requested(history: History, **attrs: Any) -> None:
    history.add("WorkflowExecutionCancelRequested", **attrs)
    history.add("DecisionTaskScheduled")


def attrs_of(decisions: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    key = kind[0].lower() + kind[1:] + "DecisionAttributes"
    return [d[key] for d in decisions if d["decisionType"] == kind]


def test_a_cancel_request_cancels_open_activities_and_timers_then_closes_canceled() -> None:
    pipeline = Pipeline(pf.chain(pf.group(inc, inc, flaky), total), name="t")
    history = History(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))  # 0.0#1, 0.1#1, 0.2#1 scheduled
    history.completed("0.0#1", 2)
    history.failed("0.2#1", RuntimeError("flaky"))  # a retry timer starts
    history.decided(timer := decider.decide(history.task()))
    assert kinds(timer) == ["StartTimer"]
    cancel_requested(history, cause="CHILD_POLICY_APPLIED")
    decisions = decider.decide(history.task())
    assert kinds(decisions) == ["RequestCancelActivityTask", "CancelTimer", "CancelWorkflowExecution"]
    assert attrs_of(decisions, "RequestCancelActivityTask") == [{"activityId": "0.1#1"}]
    assert attrs_of(decisions, "CancelTimer") == [{"timerId": "retry-0.2#2"}]
    details = json.loads(attrs_of(decisions, "CancelWorkflowExecution")[0]["details"])
    assert details == {"v": 1, "reason": None, "cause": "CHILD_POLICY_APPLIED"}
    # Replayed from scratch, the same decisions.
    assert Decider([pipeline]).decide(history.task()) == decisions


def test_a_refused_close_asks_again_only_for_what_is_still_open() -> None:
    pipeline = Pipeline(pf.group(inc, inc), name="t")
    history = History(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    history.add("WorkflowExecutionSignaled", signalName="pipeflow.cancel", input=converters.dumps("not needed"))
    cancel_requested(history)
    first = decider.decide(history.task())
    assert kinds(first) == ["RequestCancelActivityTask", "RequestCancelActivityTask", "CancelWorkflowExecution"]
    # The close is refused (an event came meanwhile); the cancel requests were applied.
    history.add("DecisionTaskCompleted")
    for attrs in attrs_of(first, "RequestCancelActivityTask"):
        history.add("ActivityTaskCancelRequested", activityId=attrs["activityId"], decisionTaskCompletedEventId=0)
    history.add("CancelWorkflowExecutionFailed", cause="UNHANDLED_DECISION")
    history.completed("0.0#1", 2)
    for decider_now in (decider, Decider([pipeline])):  # cached state and full replay agree
        again = decider_now.decide(history.task())
        assert kinds(again) == ["CancelWorkflowExecution"]
        details = json.loads(again[0]["cancelWorkflowExecutionDecisionAttributes"]["details"])
        assert details["reason"] == "not needed"
        history.events.pop()  # the DecisionTaskStarted task() added


def test_open_child_executions_are_asked_to_cancel_by_workflow_id() -> None:
    from pipeflow.decider import RunState

    wtype = {"name": "t", "version": "1"}
    events = [
        ("StartChildWorkflowExecutionInitiated", {"workflowId": "wf.1#1", "workflowType": wtype}),
        ("StartChildWorkflowExecutionInitiated", {"workflowId": "wf.2#1", "workflowType": wtype}),
        ("StartChildWorkflowExecutionInitiated", {"workflowId": "wf.3#1", "workflowType": wtype}),
        ("ChildWorkflowExecutionStarted", {"workflowExecution": {"workflowId": "wf.1#1", "runId": "r1"}}),
        ("ChildWorkflowExecutionStarted", {"workflowExecution": {"workflowId": "wf.3#1", "runId": "r3"}}),
        ("StartChildWorkflowExecutionFailed", {"workflowId": "wf.2#1", "cause": "WORKFLOW_ALREADY_RUNNING"}),
        ("ChildWorkflowExecutionCompleted", {"workflowExecution": {"workflowId": "wf.3#1", "runId": "r3"}}),
    ]
    # Children as any kind of step starts them: the control tracks them from the events alone.
    control = RunState(Pipeline(inc, name="t"), "run-1", "wf").control
    for n, (kind, attrs) in enumerate(events, 1):
        control.watchers[kind]({"eventId": n, "eventType": kind, kind[0].lower() + kind[1:] + "EventAttributes": attrs})
    decisions = control.cancel_decisions()
    assert kinds(decisions) == ["RequestCancelExternalWorkflowExecution", "CancelWorkflowExecution"]
    assert attrs_of(decisions, "RequestCancelExternalWorkflowExecution") == [{"workflowId": "wf.1#1", "runId": "r1"}]
