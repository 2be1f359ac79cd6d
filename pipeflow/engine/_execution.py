"""Execution and Activity: the mutable records the state machine keeps per workflow run."""

from __future__ import annotations

from typing import Any

from ._model import to_datetime

__all__ = ["TRIGGERS", "Activity", "Child", "ClosedRef", "Execution", "attr_key", "info_of"]

# Events after which SWF schedules a decision task (the decider must react to them).
TRIGGERS = frozenset(
    {
        "WorkflowExecutionStarted", "WorkflowExecutionSignaled", "WorkflowExecutionCancelRequested",
        "ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut", "ActivityTaskCanceled",
        "ScheduleActivityTaskFailed", "RequestCancelActivityTaskFailed", "TimerFired",
        "StartTimerFailed", "CancelTimerFailed", "RecordMarkerFailed", "DecisionTaskTimedOut",
        "CompleteWorkflowExecutionFailed", "FailWorkflowExecutionFailed",
        "CancelWorkflowExecutionFailed", "ContinueAsNewWorkflowExecutionFailed",
        "StartChildWorkflowExecutionFailed", "ChildWorkflowExecutionStarted",
        "ChildWorkflowExecutionCompleted", "ChildWorkflowExecutionFailed",
        "ChildWorkflowExecutionTimedOut", "ChildWorkflowExecutionCanceled",
        "ChildWorkflowExecutionTerminated", "SignalExternalWorkflowExecutionFailed",
        "ExternalWorkflowExecutionSignaled", "RequestCancelExternalWorkflowExecutionFailed",
        "ExternalWorkflowExecutionCancelRequested", "ScheduleLambdaFunctionFailed",
        "LambdaFunctionCompleted", "LambdaFunctionFailed", "LambdaFunctionTimedOut", "StartLambdaFunctionFailed",
    }
)

_ATTR_KEYS: dict[str, str] = {}


def attr_key(event_type: str) -> str:
    """The HistoryEvent member holding an event type's attributes."""
    key = _ATTR_KEYS.get(event_type)
    if key is None:
        key = _ATTR_KEYS[event_type] = event_type[0].lower() + event_type[1:] + "EventAttributes"
    return key


class Activity:
    """An open activity task of one execution."""

    __slots__ = (
        "activity_id", "activity_type", "closed", "details", "ex", "heartbeat", "input",
        "last_beat", "cancel_requested", "schedule_to_close", "schedule_to_start", "scheduled_id",
        "start_to_close", "started_id", "task_list", "token",
    )

    def __init__(self, ex: Execution, attrs: dict[str, Any], scheduled_id: int) -> None:
        self.ex = ex
        self.activity_id: str = attrs["activityId"]
        self.activity_type: dict[str, str] = attrs["activityType"]
        self.input: str | None = attrs.get("input")
        self.task_list: str = attrs["taskList"]["name"]
        self.schedule_to_start: str = attrs["scheduleToStartTimeout"]
        self.schedule_to_close: str = attrs["scheduleToCloseTimeout"]
        self.start_to_close: str = attrs["startToCloseTimeout"]
        self.heartbeat: str = attrs["heartbeatTimeout"]
        self.scheduled_id = scheduled_id
        self.started_id = 0
        self.token: str | None = None
        self.last_beat = 0.0
        self.details: str | None = None
        self.cancel_requested = False
        self.closed = False


class Child:
    """A child execution started by a StartChildWorkflowExecution decision."""

    __slots__ = ("initiated_id", "run_id", "started_id", "workflow_id", "workflow_type")

    def __init__(self, workflow_id: str, workflow_type: dict[str, str], initiated_id: int) -> None:
        self.workflow_id = workflow_id
        self.workflow_type = workflow_type
        self.initiated_id = initiated_id
        self.started_id = 0
        self.run_id = ""


class ClosedRef:
    """A closed run not held in memory (its record is in the store), as an open child's parent link.

    It answers what a link to a closed parent is asked: its ids, that it is closed, and no children.
    """

    __slots__ = ("children", "domain", "run_id", "workflow_id")
    open = False

    def __init__(self, domain: str, workflow_id: str, run_id: str) -> None:
        self.domain = domain
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.children: dict[str, Child] = {}  # a closed run has none open

    @property
    def ref(self) -> dict[str, str]:
        return {"workflowId": self.workflow_id, "runId": self.run_id}


def info_of(ref: dict[str, str], workflow_type: dict[str, str], start_ts: float, is_open: bool,
            cancel_requested: bool, close_ts: float | None, close_status: str | None,
            parent: dict[str, str] | None, tags: list[str]) -> dict[str, Any]:
    """The WorkflowExecutionInfo shape."""
    out: dict[str, Any] = {
        "execution": dict(ref),
        "workflowType": dict(workflow_type),
        "startTimestamp": to_datetime(start_ts),
        "executionStatus": "OPEN" if is_open else "CLOSED",
        # As answered by real SWF for runs it closed CANCELED: cancelRequested reads false again.
        "cancelRequested": cancel_requested and close_status != "CANCELED",
    }
    if close_ts is not None:
        out["closeTimestamp"] = to_datetime(close_ts)
        out["closeStatus"] = close_status
    if parent is not None:
        out["parent"] = dict(parent)
    if tags:
        out["tagList"] = list(tags)
    return out


class Execution:
    """One workflow run: its configuration, history and open work."""

    def __init__(self, domain: str, workflow_id: str, run_id: str, cfg: dict[str, Any], now: float) -> None:
        self.domain = domain
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.workflow_type: dict[str, str] = cfg["workflowType"]
        self.task_list: str = cfg["taskList"]["name"]
        self.priority: str | None = cfg.get("taskPriority")
        self.child_policy: str = cfg["childPolicy"]
        self.exec_timeout: str = cfg["executionStartToCloseTimeout"]
        self.task_timeout: str = cfg["taskStartToCloseTimeout"]
        self.tags: list[str] = cfg.get("tagList") or []
        self.lambda_role: str | None = cfg.get("lambdaRole")
        self.start_ts = now
        self.close_ts: float | None = None
        self.open = True
        self.close_status: str | None = None
        self.cancel_requested = False
        self.parent: Execution | ClosedRef | None = None
        self.parent_initiated_id = 0
        self.events: list[dict[str, Any]] = []
        self.activities: dict[str, Activity] = {}
        self.timers: dict[str, int] = {}
        self.children: dict[str, Child] = {}  # by workflowId
        self.decision: str | None = None  # None | "scheduled" | "started"
        self.decision_task_list = self.task_list
        self.d_scheduled_id = 0
        self.d_started_id = 0
        self.d_token: str | None = None
        self.prev_started_id = 0
        self.unhandled = False  # events that need a decision arrived since the last one started
        self.latest_context: str | None = None
        self.latest_activity_ts: float | None = None

    @property
    def ref(self) -> dict[str, str]:
        return {"workflowId": self.workflow_id, "runId": self.run_id}

    def add(self, event_type: str, attrs: dict[str, Any], now: float) -> int:
        """Append an event; return its id."""
        eid = len(self.events) + 1
        self.events.append(
            {"eventTimestamp": to_datetime(now), "eventType": event_type, "eventId": eid,
             attr_key(event_type): attrs}
        )
        if event_type in TRIGGERS:
            self.unhandled = True
        return eid

    def info(self) -> dict[str, Any]:
        """The WorkflowExecutionInfo shape."""
        return info_of(self.ref, self.workflow_type, self.start_ts, self.open, self.cancel_requested, self.close_ts,
                       self.close_status, self.parent.ref if self.parent is not None else None, self.tags)
