"""What a run did, read from its history: task attempts and events as DataFrames, progress, a timeline.

Pure functions over SWF history events in boto3's shape (`eventId`, `eventType`,
`eventTimestamp`, `<eventType>EventAttributes`), from the embedded engine or Amazon SWF alike.
One pass over the events gathers plain columns and pandas does the rest, so a 25,000-event
history takes a few tens of milliseconds. An attempt's id says where it is: activities are
`<step path>#<attempt>` (pipeflow.decider.plan), stages `<step path>#<attempt>` and shards of a
map `<map path>.shard.<n>#<attempt>` (the `control` of their StartChildWorkflowExecution,
pipeflow.decider._stages).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from datetime import timezone
from typing import TYPE_CHECKING, Any

from ._errors import PipelineError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["HISTORY_COLUMNS", "STATUSES", "TASK_COLUMNS", "history_frame", "progress_of", "tasks_frame",
           "timeline"]

TASK_COLUMNS = ["step", "task", "attempt", "status", "scheduled", "started", "closed", "duration", "worker",
                "input_size", "result_size", "error"]
HISTORY_COLUMNS = ["event_id", "timestamp", "type", "details", "attributes"]
# An attempt's status. TERMINATED is a child execution (stage or shard) terminated from outside;
# HANDED_BACK an attempt a worker shutting down returned unrun or unfinished (no retry spent).
STATUSES = ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELED", "TERMINATED", "HANDED_BACK", "RUNNING", "SCHEDULED")
PROGRESS_MARKER = "pipeflow.progress"  # pipeflow.decider._markers.PROGRESS (not imported: this stays light)
CHECKPOINT_MARKER = "pipeflow.checkpoint"  # pipeflow.decider._markers.CHECKPOINT
HANDBACK = "pipeflow.handback"  # pipeflow._wire.HANDBACK
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
        self.rows: dict[tuple[bool, int], int] = {}  # (child?, scheduled or initiated event id) -> row

    def open(self, child: bool, event_id: int, key: str, task: str, when: Any, text: Any) -> None:
        self.rows[(child, event_id)] = len(self.key)
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
    t.open(True, event_id, key, "shard" if ".shard." in key else "stage", when, a.get("input"))


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
    "ChildWorkflowExecutionStarted": _on_child(lambda t, row, a, when: t.start(row, when, None)),
    "ChildWorkflowExecutionCompleted": _on_child(lambda t, row, a, when: t.close(row, "COMPLETED", when,
                                                                                 result=a.get("result"))),
    "ChildWorkflowExecutionFailed": _on_child(_failed),
    "ChildWorkflowExecutionTimedOut": _on_child(_timed_out),
    "ChildWorkflowExecutionCanceled": _on_child(lambda t, row, a, when: t.close(row, "CANCELED", when, "canceled")),
    "ChildWorkflowExecutionTerminated": _on_child(
        lambda t, row, a, when: t.close(row, "TERMINATED", when, "terminated")),
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

    Activities, and the child executions of stages and shards (task "stage" / "shard", step
    `<map path>.shard.<n>` for a shard). `duration` is seconds from start to close (NaN while
    open or never started); sizes are characters of the encoded input and result (NaN: no
    result); `error` is the failure's reason. `frame.attrs["end"]` is when the attempts still
    open stop (the run's close, or now while it runs): `timeline` draws them up to it.
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
    }, columns=TASK_COLUMNS)
    frame.attrs["end"] = _end_of(events)
    return frame


# -- events ---------------------------------------------------------------------------------------


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
        from . import _wire

        try:
            doc = _wire.load_json(details, "a marker")
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
                    from . import _wire

                    doc = _wire.load_json(a.get("details") or "", "a progress marker")
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

COLORS = {
    "COMPLETED": "#2ca02c", "FAILED": "#d62728", "TIMED_OUT": "#ff7f0e", "CANCELED": "#8c8c8c",
    "TERMINATED": "#4d4d4d", "HANDED_BACK": "#9467bd", "RUNNING": "#1f77b4", "SCHEDULED": "#aec7e8",
}
WAITING = "#cfcfcf"  # scheduled, not yet started: a thin line before the bar
MAX_LABELS = 40  # step names on the y axis; more rows get every n-th name


def _pyplot() -> Any:
    """matplotlib.pyplot, on the Agg backend when none was chosen and there is no display."""
    try:
        import matplotlib
    except ImportError as exc:
        raise PipelineError(f"the timeline needs matplotlib, which is not installed: {NOTEBOOK_EXTRA}") from exc
    try:
        chosen: str | None = matplotlib.get_backend(auto_select=False)
    except TypeError:  # matplotlib < 3.9
        chosen = getattr(matplotlib.rcParams, "_get_backend_or_none")()
    headless = sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if chosen is None and headless:
        matplotlib.use("Agg")  # no GUI to open; Jupyter sets its inline backend itself (MPLBACKEND)
    import matplotlib.pyplot as plt

    return plt


def _unit(span: float) -> tuple[str, float]:
    if span <= 120:
        return "seconds", 1.0
    if span <= 2 * 3600:
        return "minutes", 60.0
    return "hours", 3600.0


def timeline(tasks: pd.DataFrame, *, title: str | None = None, max_labels: int = MAX_LABELS) -> Figure:
    """A Gantt chart of task attempts (a `tasks_frame`): a row per step, a bar per attempt, coloured by status.

    The attempts of a step share its row, so retries show as bars side by side; the thin grey
    line before a bar is the time the attempt waited to be picked up. Each status and the
    waits are one collection each, so thousands of attempts draw in well under a second.
    """
    import numpy as np
    import pandas as pd

    plt = _pyplot()
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if len(tasks) == 0:
        fig, ax = plt.subplots(figsize=(8, 1.5))
        ax.text(0.5, 0.5, "no task attempts yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        plt.close(fig)  # returned, not shown: Jupyter displays the return value once
        return fig  # type: ignore[no-any-return]
    end = tasks.attrs.get("end")
    end = pd.Timestamp.now(tz="UTC") if end is None or pd.isna(end) else pd.Timestamp(end)
    scheduled = tasks["scheduled"]
    t0 = scheduled.min()

    def seconds(column: pd.Series, fill: Any) -> Any:
        return (column.fillna(fill) - t0).dt.total_seconds().to_numpy(dtype="float64")

    sched = seconds(scheduled, end)
    start = seconds(tasks["started"], scheduled)  # never started: the bar spans its wait
    stop = seconds(tasks["closed"], end)
    stop = np.maximum(stop, start)
    span = max(float(np.nanmax(stop)) if len(stop) else 0.0, 1e-3)
    name, scale = _unit(span)
    sched, start, stop = sched / scale, start / scale, stop / scale
    width = np.maximum(stop - start, span / scale / 1500)  # the fastest attempts stay visible
    codes, steps = pd.factorize(tasks["step"])  # rows in the order the steps were first scheduled
    rows = len(steps)
    y = codes.astype("float64")
    h = 0.38
    verts = np.empty((len(y), 4, 2))
    verts[:, 0, 0] = verts[:, 1, 0] = start
    verts[:, 2, 0] = verts[:, 3, 0] = start + width
    verts[:, 0, 1] = verts[:, 3, 1] = y - h
    verts[:, 1, 1] = verts[:, 2, 1] = y + h
    status = tasks["status"].to_numpy(dtype=object)
    palette = np.array([COLORS.get(s, "#000000") for s in STATUSES] + ["#000000"], dtype=object)
    index = pd.Categorical(status, categories=list(STATUSES)).codes  # -1: unknown status
    colors = palette[index]

    height = min(max(1.8, 0.22 * rows + 1.3), 14.0)
    fig, ax = plt.subplots(figsize=(10, height))
    row_points = height * 72 * 0.8 / rows  # a row's height on the page, about
    dense = row_points < 6
    waited = sched < start
    if waited.any():
        segments = np.stack([np.column_stack([sched[waited], y[waited]]),
                             np.column_stack([start[waited], y[waited]])], axis=1)
        ax.add_collection(LineCollection(list(segments), colors=WAITING, zorder=1,
                                         linewidths=max(0.2, min(1.0, row_points * 0.25))))
    facecolors = list(colors)
    # Sparse: white edges part adjacent attempts. Dense: edges of the bar's own colour keep rows
    # thinner than a pixel visible.
    ax.add_collection(PolyCollection(list(verts), facecolors=facecolors, zorder=2,
                                     edgecolors=facecolors if dense else "white", linewidths=0.6 if dense else 0.4))
    ax.set_xlim(0, span / scale * 1.02)
    ax.set_ylim(rows - 0.5, -0.5)  # the first step on top
    first_task = tasks.groupby(codes, sort=True)["task"].first().to_numpy()
    every = max(1, -(-rows // max(1, max_labels)))
    ticks = np.arange(0, rows, every)
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{steps[i]}  {first_task[i]}" for i in ticks], fontsize=8)
    ax.set_xlabel(f"{name} since {t0:%Y-%m-%d %H:%M:%S} UTC")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    present = [s for s in STATUSES if (status == s).any()]
    handles: list[Any] = [Patch(color=COLORS[s], label=s.lower().replace("_", " ")) for s in present]
    if waited.any():
        handles.append(Line2D([], [], color=WAITING, linewidth=1.0, label="waiting"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    attempts = len(tasks)
    retried = int((tasks["attempt"] > 1).sum())
    ax.set_title(title or f"{attempts} attempts of {rows} steps ({retried} retries)", fontsize=10)
    fig.tight_layout()
    plt.close(fig)  # returned, not shown: Jupyter displays the return value once
    return fig  # type: ignore[no-any-return]
