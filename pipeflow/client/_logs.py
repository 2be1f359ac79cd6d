"""A run's per-attempt logs read back: `pipeflow logs` and `Run.logs()`.

The history says which attempts ran (ActivityTaskScheduled: step, attempt, task) and how they
ended; each attempt's log is read from the run's folder of the store (`wire.read_logs`), or, for a
failed attempt whose log was not stored (a run without a store), taken from the `log_tail` of its
failure details. See `pipeflow.wire._logs` for what a worker keeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._errors import PipelineError

__all__ = ["AttemptLog", "attempt_logs", "follow_logs", "render_logs"]

FOLLOW_DELAY = 1.0  # seconds between looks at an open run for new attempts' logs

_CLOSE = {
    "ActivityTaskCompleted": "completed",
    "ActivityTaskFailed": "failed",
    "ActivityTaskTimedOut": "timed out",
    "ActivityTaskCanceled": "canceled",
}


@dataclass(frozen=True)
class AttemptLog:
    """One attempt of a step and what it wrote (None: nothing kept, or it is still running)."""

    step: str
    task: str
    attempt: int
    status: str  # "running", "completed", "failed", "timed out", "canceled"
    text: str | None

    @property
    def heading(self) -> str:
        return f"== {self.step} ({self.task}) attempt {self.attempt} =="


def attempt_logs(events: list[dict[str, Any]], store: str | None, workflow_id: str, run_id: str,
                 step: str | None = None, attempt: int | None = None) -> list[AttemptLog]:
    """The attempts of the run's history, oldest first, with their logs; `step` is a step path or a task name.

    `store` is the root of the run's store this process trusts (None: none: only failures' tails).
    Raises PipelineError when `step` or `attempt` names no attempt of the run.
    """
    from .. import wire

    scheduled: dict[int, tuple[str, str, int]] = {}
    closes: dict[int, tuple[str, dict[str, Any]]] = {}
    for event in events:
        kind = event["eventType"]
        if kind == "ActivityTaskScheduled":
            attrs = event["activityTaskScheduledEventAttributes"]
            try:
                path, number = wire.parse_activity_id(attrs["activityId"])
            except ValueError:
                path, number = attrs["activityId"], 1
            scheduled[event["eventId"]] = (path, attrs["activityType"]["name"], number)
        elif kind in _CLOSE:
            closing: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventAttributes")), {})
            closes[int(closing.get("scheduledEventId", -1))] = (_CLOSE[kind], closing)
    chosen = [(event_id, path, task, number) for event_id, (path, task, number) in scheduled.items()
              if (step is None or step in (path, task) or task.endswith(f".{step}")) and (attempt is None or attempt == number)]
    if not chosen and (step is not None or attempt is not None):
        what = f"step {step!r}" if step is not None else "any step"
        raise PipelineError(f"run {run_id} has no attempt of {what}" + (f" numbered {attempt}" if attempt else "")
                            + " (`pipeflow tasks RUN` lists its steps and attempts)")
    scope = wire.run_scope(store, workflow_id, run_id) if store is not None else None
    wanted = {(path, number) for _, path, _, number in chosen}
    kept = wire.read_logs(scope, wanted) if scope is not None else {}
    found: list[AttemptLog] = []
    for event_id, path, task, number in chosen:
        status, attrs = closes.get(event_id, ("running", {}))
        text = None
        if scope is not None and status != "running":
            if kept is not None:
                text = kept.get((path, number))
            else:  # a store that cannot list: the attempt's own object, if any
                text = wire.read_log(scope, wire.log_key(f"{path}#{number}"))
        if text is None and status == "failed" and attrs.get("details"):
            tail = wire.decode_failure(attrs["details"], scope).get("log_tail")
            text = tail if isinstance(tail, str) and tail else None
        found.append(AttemptLog(path, task, number, status, text))
    return found


def render_logs(logs: list[AttemptLog], headed: bool = True) -> str:
    """The logs as text: each headed by `== <step> (<task>) attempt N ==` (none when `headed` is False)."""
    parts = []
    for entry in logs:
        body = entry.text if entry.text is not None else _nothing(entry)
        if body and not body.endswith("\n"):
            body += "\n"
        parts.append(f"{entry.heading}\n{body}" if headed else body)
    return "".join(parts)


def _nothing(entry: AttemptLog) -> str:
    if entry.status == "running":
        return "(running)\n"
    return f"(no output kept; {entry.status})\n"


def follow_logs(read: Callable[[], tuple[list[dict[str, Any]], bool]], logs_of: Callable[[list[dict[str, Any]]],
                list[AttemptLog]], write: Callable[[str], None], delay: float = FOLLOW_DELAY) -> None:
    """Write each attempt's log once it has ended, until the run closes.

    `read()` gives the history so far and whether the run has closed; `logs_of(events)` its attempts.
    """
    shown: set[tuple[str, int]] = set()
    while True:
        events, closed = read()
        try:
            logs = logs_of(events)
        except PipelineError:
            if closed:
                raise
            logs = []  # the step has not been scheduled yet
        for entry in logs:
            if entry.status != "running" and (entry.step, entry.attempt) not in shown:
                shown.add((entry.step, entry.attempt))
                write(render_logs([entry]))
        if closed:
            return
        time.sleep(delay)


def trusted_root(events: list[dict[str, Any]], own: str | None) -> str | None:
    """The store root to read a run's logs from: the one it names, when under `own`; `own` when it names none.

    Raises StoreError when the run names a store not under `own` (anyone who starts a run writes its input).
    """
    from .. import wire

    named = None
    for event in events[:1]:
        attrs = event.get("workflowExecutionStartedEventAttributes") or {}
        try:
            named = wire.decode_workflow_input(attrs.get("input"))[1]
        except (ValueError, KeyError, TypeError):  # not started by pipeflow
            named = None
    if named is None:
        return own  # a worker with a store keeps the logs of runs naming none in its own
    return wire.run_store(named, own, "command", fix=f"give --store {wire.shown_uri(named)} to read its logs")


def print_logs(reader: Any, run: str, step: str | None, attempt: int | None, *, store: str | None,
               follow: bool, write: Callable[[str], None]) -> None:
    """`pipeflow logs`: the logs of RUN's attempts (of one step, one attempt), or follow them until it closes.

    `store` is this process's store (None: PIPEFLOW_STORE, else ./.pipeflow/payloads).
    """
    import os

    from ..running import default_store

    info = reader.find(run)
    execution = {"workflowId": info["execution"]["workflowId"], "runId": info["execution"]["runId"]}
    own = default_store(store or os.environ.get("PIPEFLOW_STORE") or None)
    roots: list[str | None] = []

    def read() -> tuple[list[dict[str, Any]], bool]:
        events = reader.events(execution)
        closed = bool(events) and events[-1]["eventType"] in _CLOSING
        return events, closed

    def logs_of(events: list[dict[str, Any]]) -> list[AttemptLog]:
        if not roots:
            roots.append(trusted_root(events, own))
        return attempt_logs(events, roots[0], execution["workflowId"], execution["runId"], step, attempt)

    if follow:
        follow_logs(read, logs_of, write)
        return
    write(render_logs(logs_of(read()[0])))


_CLOSING = frozenset({"WorkflowExecutionCompleted", "WorkflowExecutionFailed", "WorkflowExecutionCanceled",
                      "WorkflowExecutionTerminated", "WorkflowExecutionTimedOut", "WorkflowExecutionContinuedAsNew"})
