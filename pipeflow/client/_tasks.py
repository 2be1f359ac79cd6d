"""What a run did, read from its history: task attempts and events as DataFrames, progress, a timeline.

Pure functions over SWF history events in boto3's shape (`eventId`, `eventType`,
`eventTimestamp`, `<eventType>EventAttributes`), from the embedded engine or Amazon SWF alike.
One pass over the events gathers plain columns and pandas does the rest, so a 25,000-event
history takes a few tens of milliseconds. An attempt's id says where it is: activities are
`<step path>#<attempt>` (pipeflow.decider.plan), stages `<step path>#<attempt>` and shards of a
map `<map path>.shard.<n>#<attempt>` (the `control` of their StartChildWorkflowExecution,
pipeflow.decider._stages). What a stage or shard ran inside is in its child execution's history,
which `_children.expand_tasks` reads and joins in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


TASK_COLUMNS = ["step", "task", "attempt", "status", "scheduled", "started", "closed", "duration", "worker",
                "input_size", "result_size", "error", "kind", "child_workflow_id", "child_run_id", "parent", "depth"]
HISTORY_COLUMNS = ["event_id", "timestamp", "type", "details", "attributes"]
# An attempt's status. TERMINATED is a child execution (stage or shard) terminated from outside;
# HANDED_BACK an attempt a worker shutting down returned unrun or unfinished (no retry spent).
STATUSES = ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELED", "TERMINATED", "HANDED_BACK", "RUNNING", "SCHEDULED")
PROGRESS_MARKER = "pipeflow.progress"  # pipeflow.decider.PROGRESS (not imported: this stays light)
CHECKPOINT_MARKER = "pipeflow.checkpoint"  # pipeflow.decider.CHECKPOINT
HANDBACK = "pipeflow.handback"  # pipeflow.wire.HANDBACK
NOTEBOOK_EXTRA = "pip install 'pipeflow[notebook]'"
DETAILS_WIDTH = 120  # characters of a history row's `details`
_CLOSE_TYPES = frozenset({
    "WorkflowExecutionCompleted", "WorkflowExecutionFailed", "WorkflowExecutionCanceled",
    "WorkflowExecutionTerminated", "WorkflowExecutionTimedOut", "WorkflowExecutionContinuedAsNew",
})

_KEYS: dict[str, str] = {}


def _attrs(event: dict[str, Any], kind: str) -> dict[str, Any]:
    """The event's `<eventType>EventAttributes` (`{}` when absent)."""
    key = _KEYS.get(kind)
    if key is None:
        key = _KEYS[kind] = kind[0].lower() + kind[1:] + "EventAttributes"
    found: dict[str, Any] | None = event.get(key)
    return found if found is not None else {}


def _times(values: Sequence[Any]) -> pd.Series:
    """Timestamps (datetimes, ISO strings or epoch seconds; None for none) as a tz-aware UTC Series."""
    import pandas as pd

    first = next((v for v in values if v is not None), None)
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        stamps = pd.to_datetime(list(values), unit="s", utc=True).round("us")  # SWF's epoch seconds
    elif isinstance(first, str):
        stamps = pd.to_datetime(list(values), utc=True, format="ISO8601")
    else:
        stamps = _datetimes(values, first)
    return pd.Series(stamps, dtype="datetime64[us, UTC]")


def _datetimes(values: Sequence[Any], first: Any) -> Any:
    """Aware datetimes as UTC. boto3's carry `tzlocal()`, whose utcoffset costs 5 us a call: when all
    share one zone and span less than a day with the same offset at both ends (no daylight-saving
    change between), one subtraction converts them all."""
    import pandas as pd

    zone = getattr(first, "tzinfo", None)
    if zone is not None and zone is not timezone.utc and all(v is None or v.tzinfo is zone for v in values):
        wall = pd.to_datetime([None if v is None else v.replace(tzinfo=None) for v in values])
        low, high = wall.min(), wall.max()
        if high - low < pd.Timedelta(days=1):
            offset = low.to_pydatetime().replace(tzinfo=zone).utcoffset()
            if offset is not None and offset == high.to_pydatetime().replace(tzinfo=zone).utcoffset():
                return (wall - offset).tz_localize("UTC")
    return pd.to_datetime(list(values), utc=True)


def _handback(reason: Any) -> bool:
    return isinstance(reason, str) and (reason == HANDBACK or reason.startswith(HANDBACK + ":"))


def _one_line(text: Any, width: int = DETAILS_WIDTH) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 3] + "..."


def _chars(text: Any) -> int:
    return len(text) if isinstance(text, str) else 0


# -- tasks ----------------------------------------------------------------------------------------


class _Attempts:
    """The columns of the attempts table, filled by one pass over the events."""

    def __init__(self) -> None:
        self.key: list[str] = []
        self.task: list[str] = []
        self.status: list[str] = []
        self.scheduled: list[Any] = []
        self.started: list[Any] = []
        self.closed: list[Any] = []
        self.worker: list[str | None] = []
        self.input_size: list[int] = []
        self.result_size: list[float] = []
        self.error: list[str | None] = []
        self.kind: list[str] = []
        self.child_workflow_id: list[str | None] = []
        self.child_run_id: list[str | None] = []
        self.rows: dict[tuple[bool, int], int] = {}  # (child?, scheduled or initiated event id) -> row

    def open(self, child: bool, event_id: int, key: str, task: str, when: Any, text: Any, kind: str = "task",
             workflow_id: str | None = None) -> None:
        self.rows[(child, event_id)] = len(self.key)
        self.kind.append(kind)
        self.child_workflow_id.append(workflow_id)
        self.child_run_id.append(None)
        self.key.append(key)
        self.task.append(task)
        self.status.append("SCHEDULED")
        self.scheduled.append(when)
        self.started.append(None)
        self.closed.append(None)
        self.worker.append(None)
        self.input_size.append(_chars(text))
        self.result_size.append(float("nan"))
        self.error.append(None)

    def start(self, row: int | None, when: Any, worker: str | None) -> None:
        if row is not None:
            self.status[row] = "RUNNING"
            self.started[row] = when
            self.worker[row] = worker

    def close(self, row: int | None, status: str, when: Any, error: str | None = None,
              result: Any = None) -> None:
        if row is None:
            return  # its start is not in these events (a history read from the middle)
        self.status[row] = status
        self.closed[row] = when
        self.error[row] = error
        if isinstance(result, str):
            self.result_size[row] = float(len(result))


def _activity(t: _Attempts, event_id: int, a: dict[str, Any], when: Any) -> None:
    """ActivityTaskScheduled opens a row; the attempt's later events find it by their scheduledEventId."""
    t.open(False, event_id, str(a.get("activityId", "")), str((a.get("activityType") or {}).get("name", "")),
           when, a.get("input"))


def _on_activity(handle: Callable[[_Attempts, int | None, dict[str, Any], Any], None]) -> Callable[
        [_Attempts, int, dict[str, Any], Any], None]:
    def handler(t: _Attempts, event_id: int, a: dict[str, Any], when: Any) -> None:
        handle(t, t.rows.get((False, a.get("scheduledEventId", -1))), a, when)
    return handler


def _on_child(handle: Callable[[_Attempts, int | None, dict[str, Any], Any], None]) -> Callable[
        [_Attempts, int, dict[str, Any], Any], None]:
    def handler(t: _Attempts, event_id: int, a: dict[str, Any], when: Any) -> None:
        handle(t, t.rows.get((True, a.get("initiatedEventId", -1))), a, when)
    return handler


def _child(t: _Attempts, event_id: int, a: dict[str, Any], when: Any) -> None:
    key = str(a.get("control") or a.get("workflowId", ""))
    kind = "shard" if ".shard." in key else "stage"
    name = _stage_name(a.get("input")) if kind == "stage" else None
    t.open(True, event_id, key, name or kind, when, a.get("input"), kind, str(a.get("workflowId") or "") or None)


def _stage_name(text: Any) -> str | None:
    """The `pf.stage(name=...)` a child's input document names (pipeflow.decider._stages.child_input), if any."""
    if not isinstance(text, str) or '"name"' not in text:
        return None
    from .. import wire

    try:
        doc = wire.load_json(text, "a child's input")
    except ValueError:
        return None
    stage = doc.get("stage") if isinstance(doc, dict) else None
    name = stage.get("name") if isinstance(stage, dict) else None
    return name if isinstance(name, str) and name else None


def _child_started(t: _Attempts, row: int | None, a: dict[str, Any], when: Any) -> None:
    t.start(row, when, None)
    run_id = (a.get("workflowExecution") or {}).get("runId")
    if row is not None and isinstance(run_id, str):
        t.child_run_id[row] = run_id


def _failed(t: _Attempts, row: int | None, a: dict[str, Any], when: Any) -> None:
    reason = a.get("reason")
    t.close(row, "HANDED_BACK" if _handback(reason) else "FAILED", when, str(reason or "failed"))


def _timed_out(t: _Attempts, row: int | None, a: dict[str, Any], when: Any) -> None:
    t.close(row, "TIMED_OUT", when, f"timed out ({a.get('timeoutType', 'START_TO_CLOSE')})")


_TASK_EVENTS: dict[str, Callable[[_Attempts, int, dict[str, Any], Any], None]] = {
    "ActivityTaskScheduled": _activity,
    "ActivityTaskStarted": _on_activity(lambda t, row, a, when: t.start(row, when, a.get("identity"))),
    "ActivityTaskCompleted": _on_activity(lambda t, row, a, when: t.close(row, "COMPLETED", when,
                                                                          result=a.get("result"))),
    "ActivityTaskFailed": _on_activity(_failed),
    "ActivityTaskTimedOut": _on_activity(_timed_out),
    "ActivityTaskCanceled": _on_activity(lambda t, row, a, when: t.close(row, "CANCELED", when, "canceled")),
    "StartChildWorkflowExecutionInitiated": _child,
    "StartChildWorkflowExecutionFailed": _on_child(
        lambda t, row, a, when: t.close(row, "FAILED", when, f"the child execution did not start: {a.get('cause')}")),
    "ChildWorkflowExecutionStarted": _on_child(_child_started),
    "ChildWorkflowExecutionCompleted": _on_child(lambda t, row, a, when: t.close(row, "COMPLETED", when,
                                                                                 result=a.get("result"))),
    "ChildWorkflowExecutionFailed": _on_child(_failed),
    "ChildWorkflowExecutionTimedOut": _on_child(_timed_out),
    "ChildWorkflowExecutionCanceled": _on_child(lambda t, row, a, when: t.close(row, "CANCELED", when, "canceled")),
    "ChildWorkflowExecutionTerminated": _on_child(
        lambda t, row, a, when: t.close(row, "TERMINATED", when, "terminated")),
    # A Lambda step's attempt: its row is named after the function (an activity's row is the same).
    "LambdaFunctionScheduled": lambda t, event_id, a, when: t.open(
        False, event_id, str(a.get("id", "")), str(a.get("name", "")), when, a.get("input")),
    "LambdaFunctionStarted": _on_activity(lambda t, row, a, when: t.start(row, when, None)),
    "LambdaFunctionCompleted": _on_activity(lambda t, row, a, when: t.close(row, "COMPLETED", when,
                                                                            result=a.get("result"))),
    "LambdaFunctionFailed": _on_activity(_failed),
    "LambdaFunctionTimedOut": _on_activity(_timed_out),
    "StartLambdaFunctionFailed": _on_activity(
        lambda t, row, a, when: t.close(row, "FAILED", when, f"the Lambda function did not start: {a.get('cause')}")),
}


def _end_of(events: Sequence[dict[str, Any]]) -> Any:
    """When the attempts still open stop being drawn: the run's close, else now (they still run)."""
    if events and events[-1].get("eventType") in _CLOSE_TYPES:
        return _times([events[-1].get("eventTimestamp")]).iloc[0]
    import pandas as pd

    now = pd.Timestamp.now(tz="UTC")
    last = _times([events[-1].get("eventTimestamp")]).iloc[0] if events else now
    return max(now, last) if not pd.isna(last) else now


def tasks_frame(events: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per task attempt, in the order they were scheduled (columns: TASK_COLUMNS).

    Activities (`kind` "task"), and the child executions of stages and shards (`kind` "stage" /
    "shard"; `task` is the stage's `pf.stage(name=...)`, else "stage", or "shard"; step
    `<map path>.shard.<n>` for a shard) with their `child_workflow_id` and `child_run_id`
    (None until started). `duration` is seconds from start to close (NaN while open or never
    started); sizes are characters of the encoded input and result (NaN: no result); `error` is
    the failure's reason. `parent` and `depth` place the row among child executions: here None
    and 0, set by `expand_tasks`, which adds the children's own attempts. `frame.attrs["end"]` is
    when the attempts still open stop (the run's close, or now while it runs): `timeline` draws
    them up to it.
    """
    import pandas as pd

    t = _Attempts()
    handlers = _TASK_EVENTS
    for event in events:
        kind = event["eventType"]
        handler = handlers.get(kind)
        if handler is not None:
            handler(t, event["eventId"], _attrs(event, kind), event.get("eventTimestamp"))
    keys = pd.Series(t.key, dtype=object)
    parts = keys.str.rpartition("#") if len(keys) else pd.DataFrame({0: [], 1: [], 2: []})
    plain = parts[1] != "#"  # not one of ours: the whole id is the step, attempt 1
    step = parts[0].where(~plain, keys)
    attempt = pd.to_numeric(parts[2].where(~plain, "1"), errors="coerce").fillna(1).astype("int64")
    scheduled, started, closed = _times(t.scheduled), _times(t.started), _times(t.closed)
    frame = pd.DataFrame({
        "step": step.astype(str),
        "task": pd.Series(t.task, dtype=object).astype(str),
        "attempt": attempt,
        "status": pd.Series(t.status, dtype=object).astype(str),
        "scheduled": scheduled,
        "started": started,
        "closed": closed,
        "duration": (closed - started).dt.total_seconds().astype("float64"),
        "worker": pd.Series(t.worker, dtype=object),
        "input_size": pd.Series(t.input_size, dtype="int64"),
        "result_size": pd.Series(t.result_size, dtype="float64"),
        "error": pd.Series(t.error, dtype=object),
        "kind": pd.Series(t.kind, dtype=object).astype(str),
        "child_workflow_id": pd.Series(t.child_workflow_id, dtype=object),
        "child_run_id": pd.Series(t.child_run_id, dtype=object),
        "parent": pd.Series([None] * len(t.key), dtype=object),
        "depth": pd.Series([0] * len(t.key), dtype="int64"),
    }, columns=TASK_COLUMNS)
    frame.attrs["end"] = _end_of(events)
    return frame


# -- events ---------------------------------------------------------------------------------------
