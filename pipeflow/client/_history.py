"""A run's history as a DataFrame of events with one-line details, and its progress from the markers."""


from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from ._tasks import (
    CHECKPOINT_MARKER,
    DETAILS_WIDTH,
    HISTORY_COLUMNS,
    PROGRESS_MARKER,
    _attrs,
    _chars,
    _one_line,
    _times,
)


class _Ids:
    """Activity ids and child keys by the event that opened them, for the details of later events."""

    def __init__(self) -> None:
        self.activities: dict[int, str] = {}
        self.children: dict[int, str] = {}

    def activity(self, a: dict[str, Any]) -> str:
        return self.activities.get(a.get("scheduledEventId", -1), "?")

    def child(self, a: dict[str, Any]) -> str:
        return self.children.get(a.get("initiatedEventId", -1), "?")


def _d_activity(ids: _Ids, event_id: int, a: dict[str, Any]) -> str:
    aid = str(a.get("activityId", ""))
    ids.activities[event_id] = aid
    return f"{aid} {(a.get('activityType') or {}).get('name', '')}, input {_chars(a.get('input'))} chars"


def _d_child(ids: _Ids, event_id: int, a: dict[str, Any]) -> str:
    key = str(a.get("control") or a.get("workflowId", ""))
    ids.children[event_id] = key
    return f"{key} {a.get('workflowId', '')}, input {_chars(a.get('input'))} chars"


def _d_marker(ids: _Ids, event_id: int, a: dict[str, Any]) -> str:
    name = a.get("markerName", "")
    details = a.get("details") or ""
    if name in (PROGRESS_MARKER, CHECKPOINT_MARKER):
        from .. import wire

        try:
            doc = wire.load_json(details, "a marker")
        except ValueError:
            doc = None
        if isinstance(doc, dict) and name == PROGRESS_MARKER:
            return f"{name} {doc.get('done')}/{doc.get('total')}"
        if isinstance(doc, dict):
            return f"{name} step {doc.get('step')}, {len(details)} chars"
    return f"{name} {details}"


def _d_run_start(ids: _Ids, event_id: int, a: dict[str, Any]) -> str:
    wtype = a.get("workflowType") or {}
    text = f"{wtype.get('name', '')} v{wtype.get('version', '')}, input {_chars(a.get('input'))} chars"
    parent = (a.get("parentWorkflowExecution") or {}).get("workflowId")
    return f"{text}, parent {parent}" if parent else text


_Details = Callable[[_Ids, int, dict[str, Any]], str]


def _act(what: Callable[[dict[str, Any]], str]) -> _Details:
    return lambda ids, event_id, a: f"{ids.activity(a)} {what(a)}".rstrip()


def _kid(what: Callable[[dict[str, Any]], str]) -> _Details:
    return lambda ids, event_id, a: f"{ids.child(a)} {what(a)}".rstrip()


def _field(name: str, default: str = "") -> _Details:
    return lambda ids, event_id, a: str(a.get(name) or default)


def _result(a: dict[str, Any]) -> str:
    return f"result {_chars(a.get('result'))} chars"


_DETAILS: dict[str, _Details] = {
    "WorkflowExecutionStarted": _d_run_start,
    "WorkflowExecutionCompleted": lambda ids, event_id, a: _result(a),
    "WorkflowExecutionFailed": _field("reason", "failed"),
    "WorkflowExecutionCanceled": _field("details"),
    "WorkflowExecutionTerminated": lambda ids, event_id, a: str(a.get("reason") or a.get("cause") or ""),
    "WorkflowExecutionTimedOut": _field("timeoutType"),
    "WorkflowExecutionCancelRequested": _field("cause"),
    "WorkflowExecutionSignaled": lambda ids, event_id, a: f"{a.get('signalName', '')}, input "
                                                          f"{_chars(a.get('input'))} chars",
    "DecisionTaskStarted": _field("identity"),
    "DecisionTaskTimedOut": _field("timeoutType"),
    "ActivityTaskScheduled": _d_activity,
    "ActivityTaskStarted": _act(lambda a: f"on {a.get('identity', '')}"),
    "ActivityTaskCompleted": _act(_result),
    "ActivityTaskFailed": _act(lambda a: str(a.get("reason") or "")),
    "ActivityTaskTimedOut": _act(lambda a: str(a.get("timeoutType") or "")),
    "ActivityTaskCanceled": _act(lambda a: ""),
    "ActivityTaskCancelRequested": _field("activityId"),
    "ScheduleActivityTaskFailed": lambda ids, event_id, a: f"{a.get('activityId', '')} {a.get('cause', '')}",
    "RequestCancelActivityTaskFailed": lambda ids, event_id, a: f"{a.get('activityId', '')} {a.get('cause', '')}",
    "MarkerRecorded": _d_marker,
    "RecordMarkerFailed": lambda ids, event_id, a: f"{a.get('markerName', '')} {a.get('cause', '')}",
    "TimerStarted": lambda ids, event_id, a: f"{a.get('timerId', '')} {a.get('startToFireTimeout', '')}s",
    "TimerFired": _field("timerId"),
    "TimerCanceled": _field("timerId"),
    "StartTimerFailed": lambda ids, event_id, a: f"{a.get('timerId', '')} {a.get('cause', '')}",
    "CancelTimerFailed": lambda ids, event_id, a: f"{a.get('timerId', '')} {a.get('cause', '')}",
    "StartChildWorkflowExecutionInitiated": _d_child,
    "StartChildWorkflowExecutionFailed": lambda ids, event_id, a: f"{a.get('control') or a.get('workflowId', '')} "
                                                                  f"{a.get('cause', '')}",
    "ChildWorkflowExecutionStarted": _kid(lambda a: f"run {(a.get('workflowExecution') or {}).get('runId', '')}"),
    "ChildWorkflowExecutionCompleted": _kid(_result),
    "ChildWorkflowExecutionFailed": _kid(lambda a: str(a.get("reason") or "")),
    "ChildWorkflowExecutionTimedOut": _kid(lambda a: str(a.get("timeoutType") or "")),
    "ChildWorkflowExecutionCanceled": _kid(lambda a: ""),
    "ChildWorkflowExecutionTerminated": _kid(lambda a: ""),
}
_QUIET = frozenset({"DecisionTaskScheduled", "DecisionTaskCompleted"})  # nothing worth a word


def _d_other(a: dict[str, Any]) -> str:
    """Any other event: its short scalar attributes, `name=value`."""
    return " ".join(f"{k}={v}" for k, v in a.items()
                    if isinstance(v, (str, int, float)) and not k.endswith("EventId") and len(str(v)) <= 60)


def history_frame(events: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per event (columns: HISTORY_COLUMNS): a one-line `details` and the raw attributes dict."""
    import pandas as pd

    ids = _Ids()
    event_ids: list[int] = []
    stamps: list[Any] = []
    kinds: list[str] = []
    details: list[str] = []
    attributes: list[dict[str, Any]] = []
    table = _DETAILS
    for event in events:
        kind = event["eventType"]
        a = _attrs(event, kind)
        event_id = event["eventId"]
        event_ids.append(event_id)
        stamps.append(event.get("eventTimestamp"))
        kinds.append(kind)
        attributes.append(a)
        if kind in _QUIET:
            details.append("")
            continue
        describe = table.get(kind)
        text = describe(ids, event_id, a) if describe is not None else _d_other(a)
        details.append(text if len(text) <= DETAILS_WIDTH and "\n" not in text else _one_line(text))
    return pd.DataFrame({
        "event_id": pd.Series(event_ids, dtype="int64"),
        "timestamp": _times(stamps),
        "type": pd.Series(kinds, dtype=object).astype(str),
        "details": pd.Series(details, dtype=object).astype(str),
        "attributes": pd.Series(attributes, dtype=object),
    }, columns=HISTORY_COLUMNS)


# -- progress -------------------------------------------------------------------------------------


def progress_of(events: Sequence[dict[str, Any]]) -> tuple[int, int] | None:
    """`(done, total)` steps of a run (tasks, stages and shards; their attempts counted once).

    From the history's own counts (steps completed, steps scheduled so far) and the last
    `pipeflow.progress` marker, which also knows the steps ready but not yet scheduled (a map
    past the open-activity limit) and those that failed for good; each figure is the larger of
    the two. A completed run is done with every step it ran. None before the first step.
    """
    steps: set[str] = set()
    done: set[str] = set()
    opened: dict[tuple[bool, int], str] = {}
    marker: tuple[int, int] | None = None
    completed = False
    for event in events:
        kind = event["eventType"]
        if kind == "ActivityTaskScheduled" or kind == "StartChildWorkflowExecutionInitiated":
            a = _attrs(event, kind)
            key = str(a.get("activityId") or a.get("control") or a.get("workflowId", ""))
            step = key.rpartition("#")[0] or key
            steps.add(step)
            opened[(kind != "ActivityTaskScheduled", event["eventId"])] = step
        elif kind == "ActivityTaskCompleted":
            step_done = opened.get((False, _attrs(event, kind).get("scheduledEventId", -1)))
            if step_done is not None:
                done.add(step_done)
        elif kind == "ChildWorkflowExecutionCompleted":
            step_done = opened.get((True, _attrs(event, kind).get("initiatedEventId", -1)))
            if step_done is not None:
                done.add(step_done)
        elif kind == "MarkerRecorded":
            a = _attrs(event, kind)
            if a.get("markerName") == PROGRESS_MARKER:
                try:
                    from .. import wire

                    doc = wire.load_json(a.get("details") or "", "a progress marker")
                    marker = (int(doc["done"]), int(doc["total"]))
                except (ValueError, KeyError, TypeError):
                    pass  # not ours: the counts stand
        elif kind == "WorkflowExecutionCompleted":
            completed = True
    if completed:
        return len(steps), len(steps)
    if marker is None:
        return (len(done), len(steps)) if steps else None
    finished = max(len(done), marker[0])
    return finished, max(len(steps), marker[1], finished)


# -- timeline -------------------------------------------------------------------------------------
