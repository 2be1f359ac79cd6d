"""A run's metrology: per task, how many attempts, failures and retries, waits and run times, bytes; the critical path.

Built on the tasks frame with its stages and shards expanded (`expand_tasks`), the same rows
`pipeflow tasks --expand` prints, plus what the frame leaves out: each attempt's bytes in and
out (the encoded value as it crossed SWF, plus the size of every object in the store it
references) and a checksum of its input and result that two runs can compare (`_diff`): a
reference counts by its content's sha256, not by where it is stored, so the same value
offloaded by two runs checksums the same.

The critical path is the chain of attempts that set the run's duration: from the run's close
back, the attempt that closed last, then the one that closed last before that attempt was
scheduled, and so on; a stage or shard on the path is replaced by the same walk inside it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

EventsOf = Callable[[dict[str, str]], Sequence[dict[str, Any]]]

STATS_COLUMNS = ["task", "kind", "steps", "attempts", "failures", "retries", "wait_p50", "wait_p95", "wait_max",
                 "run_p50", "run_p95", "run_max", "bytes_in", "bytes_out"]
PATH_COLUMNS = ["step", "task", "attempt", "status", "scheduled", "started", "closed", "wait", "duration", "depth"]
FAILED = ("FAILED", "TIMED_OUT")
# A reference (converters.Reference): `ref/1:<codec>/<version>:<size>:<sha256>:<uri>`; the uri ends a JSON string.
_REF = re.compile(r'ref/1:([^/:"\\\s]+/[^:"\\\s]+):(\d+):([0-9a-f]{64}):[^"\\\s]*')
# Members of an activity's input (wire.encode_activity_input) or a child's (a stage's) that name its place or
# its run, not its value
_PLACE = ("store", "attempt", "step", "task", "v", "stage", "resume")


def _attrs(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventAttributes")), {})


def _values(events: Sequence[dict[str, Any]]) -> dict[str, tuple[str | None, str | None]]:
    """`{activity id or child control: (input, result)}` of one history's attempts."""
    opened: dict[tuple[bool, int], str] = {}
    found: dict[str, tuple[str | None, str | None]] = {}
    for event in events:
        kind = event["eventType"]
        if kind == "ActivityTaskScheduled" or kind == "StartChildWorkflowExecutionInitiated":
            attrs = _attrs(event)
            child = kind != "ActivityTaskScheduled"
            key = str(attrs.get("control") or attrs.get("workflowId", "")) if child else str(attrs.get("activityId", ""))
            opened[(child, event["eventId"])] = key
            found[key] = (attrs.get("input"), None)
        elif kind in ("ActivityTaskCompleted", "ChildWorkflowExecutionCompleted"):
            attrs = _attrs(event)
            child = kind != "ActivityTaskCompleted"
            closing = opened.get((child, attrs.get("initiatedEventId" if child else "scheduledEventId", -1)))
            if closing is not None:
                found[closing] = (found[closing][0], attrs.get("result"))
    return found


def size_of(text: str | None) -> float:
    """Bytes of an encoded value and of the objects it references in the store (NaN for none)."""
    if not isinstance(text, str):
        return float("nan")
    return float(len(text.encode("utf-8")) + sum(int(m.group(2)) for m in _REF.finditer(text)))


def checksum(text: str | None, activity_input: bool = False) -> str | None:
    """A sha256 of what an encoded value holds: references by their content, an input without its place."""
    if not isinstance(text, str):
        return None
    if activity_input and text.startswith("{"):  # an input document, not an envelope
        from .. import wire

        try:
            doc = wire.load_json(text, "an activity input")
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            text = wire.dump_json({k: v for k, v in sorted(doc.items()) if k not in _PLACE})
    plain = _REF.sub(lambda m: f"ref/1:{m.group(1)}:{m.group(2)}:{m.group(3)}", text)
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def attempts_frame(events: Sequence[dict[str, Any]], events_of: EventsOf) -> pd.DataFrame:
    """The run's tasks frame, stages expanded, with `bytes_in`, `bytes_out`, `input_sum` and `result_sum` per row."""
    from ._children import expand_tasks
    from ._tasks import tasks_frame

    histories: dict[str | None, Sequence[dict[str, Any]]] = {None: events}

    def reading(execution: dict[str, str]) -> Sequence[dict[str, Any]]:
        found = events_of(execution)
        histories[execution["workflowId"]] = found
        return found

    frame = expand_tasks(tasks_frame(events), reading)
    values = {parent: _values(history) for parent, history in histories.items()}
    keys = zip(frame["parent"].tolist(), frame["step"].tolist(), frame["attempt"].tolist())
    pairs = [values.get(parent, {}).get(f"{step}#{attempt}", (None, None)) for parent, step, attempt in keys]
    frame["bytes_in"] = [size_of(i) for i, _ in pairs]
    frame["bytes_out"] = [size_of(r) for _, r in pairs]
    frame["input_sum"] = [checksum(i, activity_input=True) for i, _ in pairs]
    frame["result_sum"] = [checksum(r) for _, r in pairs]
    return frame


@dataclass(frozen=True)
class Stats:
    """A run's metrology: `tasks` (one row per task name: STATS_COLUMNS, times in seconds) and
    `critical_path` (the attempts that set its duration, in order: PATH_COLUMNS)."""

    tasks: pd.DataFrame
    critical_path: pd.DataFrame
    duration: float | None  # seconds from the run's start to its close (to now while it runs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: `duration`, `tasks` and `critical_path` as lists of rows (times ISO in UTC)."""
        from ._reader import _records

        return {"duration": self.duration, "tasks": _records(self.tasks),
                "critical_path": _records(self.critical_path)}

    def _repr_html_(self) -> str:
        path = self.critical_path["duration"].sum()
        return (f"<p>{len(self.critical_path)} attempts on the critical path, {path:.1f}s of the run's "
                f"{self.duration or 0:.1f}s</p>{self.tasks.to_html(index=False)}"
                f"{self.critical_path.to_html(index=False)}")


def run_stats(frame: pd.DataFrame, start: Any) -> Stats:
    """The Stats of a run from its `attempts_frame` and its start time (as `iso_utc` takes it: boto3's datetime)."""
    import pandas as pd

    from ._reader import iso_utc

    end, began = frame.attrs.get("end"), iso_utc(start)
    duration = None
    if began is not None and end is not None and not pd.isna(end):
        duration = round(float((pd.Timestamp(end) - pd.Timestamp(began)).total_seconds()), 3)
    return Stats(task_stats(frame), critical_path(frame), duration)


def task_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per task name, in the order the tasks first ran (STATS_COLUMNS)."""
    import pandas as pd

    if len(frame) == 0:
        return pd.DataFrame({c: [] for c in STATS_COLUMNS}, columns=STATS_COLUMNS)
    work = frame.assign(
        wait=(frame["started"] - frame["scheduled"]).dt.total_seconds(),
        failed=frame["status"].isin(FAILED), retried=frame["attempt"] > 1,
        place=frame["parent"].fillna("") + "/" + frame["step"])
    rows = []
    for task, group in work.groupby("task", sort=False):
        row: dict[str, Any] = {"task": task, "kind": group["kind"].iloc[0], "steps": group["place"].nunique(),
                               "attempts": len(group), "failures": int(group["failed"].sum()),
                               "retries": int(group["retried"].sum())}
        for name, column in (("wait", "wait"), ("run", "duration")):
            values = group[column].dropna()
            row[f"{name}_p50"] = float(values.quantile(0.5)) if len(values) else float("nan")
            row[f"{name}_p95"] = float(values.quantile(0.95)) if len(values) else float("nan")
            row[f"{name}_max"] = float(values.max()) if len(values) else float("nan")
        row["bytes_in"] = int(group["bytes_in"].fillna(0).sum())
        row["bytes_out"] = int(group["bytes_out"].fillna(0).sum())
        rows.append(row)
    return pd.DataFrame(rows, columns=STATS_COLUMNS)


def critical_path(frame: pd.DataFrame) -> pd.DataFrame:
    """The chain of attempts that set the run's duration, earliest first (PATH_COLUMNS)."""
    import pandas as pd

    end = frame.attrs.get("end")
    if len(frame) == 0 or end is None:
        return pd.DataFrame({c: [] for c in PATH_COLUMNS}, columns=PATH_COLUMNS)
    closed = frame["closed"].fillna(pd.Timestamp(end))  # still open: up to now
    rows = _chain(frame, closed, None, pd.Timestamp(end), 0)
    path = frame.loc[rows].assign(closed=closed.loc[rows])
    path["wait"] = (path["started"] - path["scheduled"]).dt.total_seconds()
    path["duration"] = (path["closed"] - path["started"]).dt.total_seconds()
    return path[PATH_COLUMNS].reset_index(drop=True)


def _chain(frame: pd.DataFrame, closed: pd.Series, parent: str | None, until: Any, depth: int) -> list[int]:
    """Row labels of the critical chain among the rows of one execution (`parent`) closed by `until`.

    `until` only moves back (an attempt is scheduled before it closes), so one pass down the rows
    sorted by close time finds each link: O(n log n) for a chain of any length.
    """
    import pandas as pd

    mine = frame["parent"].isna() if parent is None else frame["parent"] == parent
    order = closed[mine & frame["scheduled"].notna()].sort_values(kind="stable")
    labels, times = order.index.tolist(), order.tolist()
    chosen: list[int] = []  # latest first
    i = len(times) - 1
    while True:
        while i >= 0 and times[i] > until:
            i -= 1
        if i < 0:
            break
        label = int(labels[i])  # the last to close by then: the one the next link waited for
        i -= 1
        child = frame.at[label, "child_workflow_id"]
        inner = _chain(frame, closed, child, closed.at[label], depth + 1) if (
            frame.at[label, "kind"] != "task" and isinstance(child, str) and depth < 32) else []
        chosen.extend(reversed(inner or [label]))
        until = frame.at[label, "scheduled"]
        if pd.isna(until):
            break
    return chosen[::-1]


def stats_doc(reader: Any, run: str) -> dict[str, Any]:
    """`pipeflow stats --json`: `{"run": run row, "duration", "tasks": [...], "critical_path": [...]}`."""
    from ._reader import _history_events, _run_row

    info = reader.find(run)
    events = _history_events(reader, info)
    stats = run_stats(attempts_frame(events, reader.events), info.get("startTimestamp"))
    return {"run": _run_row(info), **stats.to_dict()}


def render_stats(doc: dict[str, Any]) -> str:
    """`pipeflow stats` for a terminal: the table per task, then the critical path."""
    from ._tables import _size, format_duration, table

    if not doc["tasks"]:
        return "no tasks yet"
    times = ("wait_p50", "wait_p95", "wait_max", "run_p50", "run_p95", "run_max")
    lines = [table(
        [[str(t["task"]), str(t["steps"]), str(t["attempts"]), str(t["failures"]), str(t["retries"]),
          *(format_duration(t[k]) for k in times), _size(t["bytes_in"]), _size(t["bytes_out"])] for t in doc["tasks"]],
        ["TASK", "STEPS", "ATTEMPTS", "FAILED", "RETRIES", "WAIT P50", "P95", "MAX", "RUN P50", "P95", "MAX",
         "IN", "OUT"], right=frozenset(range(1, 13)))]
    path = doc["critical_path"]
    spent = sum(p["duration"] or 0 for p in path)
    lines += ["", (f"critical path: {len(path)} attempts, {format_duration(spent)} running of the run's "
                   f"{format_duration(doc['duration'])}")]
    lines.append(table(
        [["  " * int(p["depth"]) + str(p["step"]), str(p["task"]), str(p["attempt"]), str(p["status"]),
          format_duration(p["wait"]), format_duration(p["duration"])] for p in path],
        ["STEP", "TASK", "ATTEMPT", "STATUS", "WAIT", "DURATION"], right=frozenset({2, 4, 5})))
    return "\n".join(lines)
