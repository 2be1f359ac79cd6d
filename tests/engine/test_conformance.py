"""The same SWF scenarios through boto3 against a moto server and against `pipeflow server`.

Each scenario plays decider and worker itself, step by step, and yields the
execution's event types, which must equal the sequence SWF's documentation
gives. A poll is only made when a task is due, so a long-polling server never
holds a scenario for its full minute.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

pytestmark = pytest.mark.slow

TASK_LIST = {"name": "main"}
WORKFLOW = {"name": "wf", "version": "1"}
ACTIVITY = {"name": "act", "version": "1"}
POLL_ATTEMPTS = 20  # an empty poll against moto returns after 1 s: never loop forever

# Where moto departs from SWF's documentation, the documentation wins and the
# moto spelling is mapped here: moto records "TimerCancelled"; the SWF API
# reference's EventType enum (and botocore's model) spell it "TimerCanceled".
MOTO_SPELLING = {"TimerCancelled": "TimerCanceled"}


class Driver:
    """A boto3 SWF client bound to a fresh domain, with the steps scenarios are made of."""

    def __init__(self, url: str) -> None:
        config = Config(retries={"total_max_attempts": 1}, read_timeout=75, connect_timeout=5)
        self.swf: Any = boto3.client("swf", endpoint_url=url, config=config)
        self.domain = f"conformance-{uuid.uuid4().hex[:8]}"
        self.swf.register_domain(name=self.domain, workflowExecutionRetentionPeriodInDays="1")
        self.swf.register_workflow_type(
            domain=self.domain,
            **WORKFLOW,
            defaultTaskList=TASK_LIST,
            defaultChildPolicy="TERMINATE",
            defaultExecutionStartToCloseTimeout="300",
            # a number, not "NONE": "NONE" breaks moto's whole backend
            defaultTaskStartToCloseTimeout="60",
        )
        self.swf.register_activity_type(
            domain=self.domain,
            **ACTIVITY,
            defaultTaskList=TASK_LIST,
            defaultTaskScheduleToStartTimeout="60",
            defaultTaskScheduleToCloseTimeout="120",
            defaultTaskStartToCloseTimeout="60",
            defaultTaskHeartbeatTimeout="60",
        )

    def start(self, workflow_id: str | None = None) -> dict[str, str]:
        workflow_id = workflow_id or f"wf-{uuid.uuid4().hex[:12]}"
        run = self.swf.start_workflow_execution(
            domain=self.domain, workflowId=workflow_id, workflowType=WORKFLOW, input="in"
        )
        return {"workflowId": workflow_id, "runId": run["runId"]}

    def poll_decision(self) -> dict[str, Any]:
        for _ in range(POLL_ATTEMPTS):
            task = self.swf.poll_for_decision_task(domain=self.domain, taskList=TASK_LIST, identity="decider")
            if task.get("taskToken"):
                return dict(task)
        raise AssertionError("no decision task arrived")

    def poll_activity(self) -> dict[str, Any]:
        for _ in range(POLL_ATTEMPTS):
            task = self.swf.poll_for_activity_task(domain=self.domain, taskList=TASK_LIST, identity="worker")
            if task.get("taskToken"):
                return dict(task)
        raise AssertionError("no activity task arrived")

    def decide(self, task: dict[str, Any], *decisions: dict[str, Any]) -> None:
        self.swf.respond_decision_task_completed(taskToken=task["taskToken"], decisions=list(decisions))

    def describe(self, execution: dict[str, str]) -> dict[str, Any]:
        info: dict[str, Any] = self.swf.describe_workflow_execution(domain=self.domain, execution=execution)
        return info["executionInfo"]  # type: ignore[no-any-return]

    def history(self, execution: dict[str, str]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"domain": self.domain, "execution": execution}
        while True:
            page = self.swf.get_workflow_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextPageToken"):
                return events
            kwargs["nextPageToken"] = page["nextPageToken"]


def schedule(activity_id: str, input: str = "x", activity_type: dict[str, str] = ACTIVITY) -> dict[str, Any]:
    return {
        "decisionType": "ScheduleActivityTask",
        "scheduleActivityTaskDecisionAttributes": {
            "activityType": activity_type,
            "activityId": activity_id,
            "input": input,
        },
    }


def complete(result: str = "done") -> dict[str, Any]:
    attributes = {"result": result}
    return {"decisionType": "CompleteWorkflowExecution", "completeWorkflowExecutionDecisionAttributes": attributes}


def start_timer(timer_id: str, seconds: str) -> dict[str, Any]:
    attributes = {"timerId": timer_id, "startToFireTimeout": seconds}
    return {"decisionType": "StartTimer", "startTimerDecisionAttributes": attributes}


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e for e in events if e["eventType"] == event_type]


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["eventType"] for e in events]


# --- scenarios: each returns the events of its execution ---------------------------------------


def activity_completed(d: Driver) -> list[dict[str, Any]]:
    execution = d.start()
    d.decide(d.poll_decision(), schedule("a1", input="42"))
    task = d.poll_activity()
    assert (task["activityId"], task["input"], task["activityType"]) == ("a1", "42", ACTIVITY)
    assert task["workflowExecution"] == execution
    d.swf.respond_activity_task_completed(taskToken=task["taskToken"], result="84")
    decision = d.poll_decision()
    assert decision["workflowExecution"] == execution
    completed = of_type(decision["events"], "ActivityTaskCompleted")
    assert completed[0]["activityTaskCompletedEventAttributes"]["result"] == "84"
    d.decide(decision, complete("84"))
    info = d.describe(execution)
    assert (info["executionStatus"], info["closeStatus"]) == ("CLOSED", "COMPLETED")
    events = d.history(execution)
    closed = of_type(events, "WorkflowExecutionCompleted")[0]
    assert closed["workflowExecutionCompletedEventAttributes"]["result"] == "84"
    return events


def activity_failed(d: Driver) -> list[dict[str, Any]]:
    execution = d.start()
    d.decide(d.poll_decision(), schedule("a1"))
    task = d.poll_activity()
    d.swf.respond_activity_task_failed(taskToken=task["taskToken"], reason="boom", details="trace")
    decision = d.poll_decision()
    attrs = of_type(decision["events"], "ActivityTaskFailed")[0]["activityTaskFailedEventAttributes"]
    assert (attrs["reason"], attrs["details"]) == ("boom", "trace")
    d.decide(
        decision,
        {"decisionType": "FailWorkflowExecution", "failWorkflowExecutionDecisionAttributes": {"reason": "boom"}},
    )
    assert d.describe(execution)["closeStatus"] == "FAILED"
    return d.history(execution)


def marker(d: Driver) -> list[dict[str, Any]]:
    execution = d.start()
    record = {"decisionType": "RecordMarker", "recordMarkerDecisionAttributes": {"markerName": "m", "details": "d"}}
    d.decide(d.poll_decision(), record, complete())
    events = d.history(execution)
    attrs = of_type(events, "MarkerRecorded")[0]["markerRecordedEventAttributes"]
    assert (attrs["markerName"], attrs["details"]) == ("m", "d")
    return events


def timer(d: Driver) -> list[dict[str, Any]]:
    """A short timer fires; the decider then cancels a long one and completes."""
    execution = d.start()
    d.decide(d.poll_decision(), start_timer("long", "120"), start_timer("short", "1"))
    time.sleep(1.1)  # moto fires timers when asked after their time; the engine fires them itself
    decision = d.poll_decision()
    fired = of_type(decision["events"], "TimerFired")
    assert [e["timerFiredEventAttributes"]["timerId"] for e in fired] == ["short"]
    cancel = {"decisionType": "CancelTimer", "cancelTimerDecisionAttributes": {"timerId": "long"}}
    d.decide(decision, cancel, complete())
    return d.history(execution)


def signal(d: Driver) -> list[dict[str, Any]]:
    execution = d.start()
    d.decide(d.poll_decision())
    # moto crashes on a signal without input: always give one
    d.swf.signal_workflow_execution(domain=d.domain, **execution, signalName="go", input="payload")
    decision = d.poll_decision()
    attrs = of_type(decision["events"], "WorkflowExecutionSignaled")[0]["workflowExecutionSignaledEventAttributes"]
    assert (attrs["signalName"], attrs["input"]) == ("go", "payload")
    d.decide(decision, complete(attrs["input"]))
    return d.history(execution)


def terminate(d: Driver) -> list[dict[str, Any]]:
    execution = d.start()
    d.swf.terminate_workflow_execution(domain=d.domain, **execution, reason="stop", childPolicy="TERMINATE")
    info = d.describe(execution)
    assert (info["executionStatus"], info["closeStatus"]) == ("CLOSED", "TERMINATED")
    return d.history(execution)


def duplicate_workflow_id(d: Driver) -> list[dict[str, Any]]:
    execution = d.start("same-id")
    with pytest.raises(ClientError) as raised:
        d.start("same-id")
    assert raised.value.response["Error"]["Code"] == "WorkflowExecutionAlreadyStartedFault"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return d.history(execution)


def invalid_decision(d: Driver) -> list[dict[str, Any]]:
    """Scheduling an activity type that was never registered records ScheduleActivityTaskFailed."""
    execution = d.start()
    d.decide(d.poll_decision(), schedule("a1", activity_type={"name": "nope", "version": "1"}))
    events = d.history(execution)
    attrs = of_type(events, "ScheduleActivityTaskFailed")[0]["scheduleActivityTaskFailedEventAttributes"]
    assert (attrs["cause"], attrs["activityId"]) == ("ACTIVITY_TYPE_DOES_NOT_EXIST", "a1")
    assert attrs["activityType"] == {"name": "nope", "version": "1"}
    return events


def unknown_domain(d: Driver) -> list[dict[str, Any]]:
    with pytest.raises(ClientError) as raised:
        d.swf.describe_domain(name=f"{d.domain}-missing")
    assert raised.value.response["Error"]["Code"] == "UnknownResourceFault"
    return []


DECISION = ["DecisionTaskScheduled", "DecisionTaskStarted", "DecisionTaskCompleted"]

# (scenario, the event types SWF's documentation gives: API reference HistoryEvent, developer guide)
SCENARIOS: dict[str, tuple[Callable[[Driver], list[dict[str, Any]]], list[str]]] = {
    "activity_completed": (
        activity_completed,
        ["WorkflowExecutionStarted", *DECISION, "ActivityTaskScheduled", "ActivityTaskStarted",
         "ActivityTaskCompleted", *DECISION, "WorkflowExecutionCompleted"],
    ),
    "activity_failed": (
        activity_failed,
        ["WorkflowExecutionStarted", *DECISION, "ActivityTaskScheduled", "ActivityTaskStarted",
         "ActivityTaskFailed", *DECISION, "WorkflowExecutionFailed"],
    ),
    "marker": (marker, ["WorkflowExecutionStarted", *DECISION, "MarkerRecorded", "WorkflowExecutionCompleted"]),
    "timer": (
        timer,
        ["WorkflowExecutionStarted", *DECISION, "TimerStarted", "TimerStarted", "TimerFired", *DECISION,
         "TimerCanceled", "WorkflowExecutionCompleted"],
    ),
    "signal": (
        signal,
        ["WorkflowExecutionStarted", *DECISION, "WorkflowExecutionSignaled", *DECISION, "WorkflowExecutionCompleted"],
    ),
    "terminate": (terminate, ["WorkflowExecutionStarted", "DecisionTaskScheduled", "WorkflowExecutionTerminated"]),
    "duplicate_workflow_id": (duplicate_workflow_id, ["WorkflowExecutionStarted", "DecisionTaskScheduled"]),
    # SWF schedules a new decision task after a failed decision, so the decider can react
    "invalid_decision": (
        invalid_decision,
        ["WorkflowExecutionStarted", *DECISION, "ScheduleActivityTaskFailed", "DecisionTaskScheduled"],
    ),
    "unknown_domain": (unknown_domain, []),
}


@pytest.fixture(params=["moto", "pipeflow"])
def backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(backend name, URL): a reset moto server, or the session's `pipeflow server`."""
    name: str = request.param
    fixture = "moto_url" if name == "moto" else "pipeflow_url"
    return name, request.getfixturevalue(fixture)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_scenario_event_types(backend: tuple[str, str], scenario: str) -> None:
    name, url = backend
    play, expected = SCENARIOS[scenario]
    events = play(Driver(url))
    got = types(events)
    if name == "moto":
        got = [MOTO_SPELLING.get(t, t) for t in got]
    assert got == expected
    assert [e["eventId"] for e in events] == list(range(1, len(events) + 1))
