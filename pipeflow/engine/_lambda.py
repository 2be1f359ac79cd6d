"""ScheduleLambdaFunction on the embedded engine: a local stand-in served by an ordinary activity poller.

The engine runs no Lambda functions. A ScheduleLambdaFunction decision records
LambdaFunctionScheduled and queues a stand-in task on the execution's own task list, with the
activity type (function name, LAMBDA_VERSION); whoever polls that list with PollForActivityTask
(pipeflow's worker, which runs the same-named registered function) gets it like any activity
task, token, heartbeats and answers included. The history records what SWF would:
LambdaFunctionStarted when it is polled, LambdaFunctionCompleted / Failed / TimedOut when it is
answered or times out. The engine still knows nothing of pipelines: only SWF's shapes cross.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._execution import Activity, Execution
from ._tasklist import TaskQueue

if TYPE_CHECKING:
    from ._state import State  # which builds on this module

__all__ = ["LAMBDA_VERSION", "is_lambda", "lambda_event", "schedule_lambda"]

# The activity type version of a stand-in: no registered type has it (SWF versions cannot hold ':').
LAMBDA_VERSION = ":lambda"
DEFAULT_TIMEOUT = "900"  # SWF's default startToCloseTimeout of a Lambda function (Lambda's maximum)

_CLOSING = {
    "ActivityTaskCompleted": ("LambdaFunctionCompleted", ("result",)),
    "ActivityTaskFailed": ("LambdaFunctionFailed", ("reason", "details")),
    "ActivityTaskCanceled": ("LambdaFunctionFailed", ("reason", "details")),  # a Lambda cannot be canceled
    "ActivityTaskTimedOut": ("LambdaFunctionTimedOut", ()),
}


def is_lambda(act: Activity) -> bool:
    """True for the stand-in task of a Lambda function."""
    return act.activity_type.get("version") == LAMBDA_VERSION


def lambda_event(event_type: str, attrs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The Lambda event (and its attributes, by SWF's shapes) recorded for a stand-in's activity event."""
    if event_type == "ActivityTaskStarted":
        return "LambdaFunctionStarted", {"scheduledEventId": attrs["scheduledEventId"]}
    name, fields = _CLOSING[event_type]
    out = {"scheduledEventId": attrs["scheduledEventId"], "startedEventId": attrs.get("startedEventId", 0)}
    out.update({k: attrs[k] for k in fields if k in attrs})
    if event_type == "ActivityTaskCanceled":
        out["reason"] = "canceled"
    elif name == "LambdaFunctionTimedOut":
        out["timeoutType"] = "START_TO_CLOSE"  # Lambda's only kind
    return name, out


def schedule_lambda(state: State, ex: Execution, a: dict[str, Any], cid: int, now: float, deferred: list[Any]) -> None:
    """Apply a ScheduleLambdaFunction decision: LambdaFunctionScheduled and a stand-in task, or the refusal."""
    cause = None
    if a["id"] in ex.activities:
        cause = "ID_ALREADY_IN_USE"
    elif len(ex.activities) >= state.limits.max_open_activities:
        cause = "OPEN_LAMBDA_FUNCTIONS_LIMIT_EXCEEDED"
    if cause is not None:
        ex.add("ScheduleLambdaFunctionFailed", {"id": a["id"], "name": a["name"], "cause": cause,
                                                "decisionTaskCompletedEventId": cid}, now)
        return
    recorded: dict[str, Any] = {k: a[k] for k in ("id", "name", "control", "input", "startToCloseTimeout") if k in a}
    recorded["decisionTaskCompletedEventId"] = cid
    sid = ex.add("LambdaFunctionScheduled", recorded, now)
    attrs = {"activityId": a["id"], "activityType": {"name": a["name"], "version": LAMBDA_VERSION},
             "taskList": {"name": ex.task_list}, "scheduleToStartTimeout": "NONE", "scheduleToCloseTimeout": "NONE",
             "startToCloseTimeout": a.get("startToCloseTimeout") or DEFAULT_TIMEOUT, "heartbeatTimeout": "NONE"}
    if "input" in a:
        attrs["input"] = a["input"]
    act = Activity(ex, attrs, sid)
    ex.activities[act.activity_id] = act
    key = (ex.domain, act.task_list)
    queue = state.activity_queues.get(key)
    if queue is None:
        queue = state.activity_queues[key] = TaskQueue()
    queue.push(act, None)  # a Lambda function has no task priority
    state.woken.append(("a", key))
