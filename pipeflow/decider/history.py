"""One execution's history, applied event by event (one linear pass) to its plan."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import converters

from .. import wire
from .._errors import PipelineError
from .._pipeline import Pipeline
from ._markers import Markers, resumed_checkpoints
from .plan import Leaf, Plan, Tree

__all__ = ["NondeterminismError", "RunState"]


class NondeterminismError(PipelineError):
    """The history does not match the pipeline's canvas (the code changed under a running execution)."""


# What an event may carry that the decider cannot take: a value it cannot decode or pass on, or a
# structure so deep that parsing it recursed too far (the last guard: the parsers bound the depth).
# Not StoreError: a store that cannot be reached now may be reached by the next decision task.
_POISON = (converters.DecodeError, converters.IntegrityError, converters.PayloadTooLarge, RecursionError)


class RunState:
    """The replayed state of one execution; `apply()` each new event once, in order.

    `root` is the decider's own store: the store a run names is used only when it lies under it.
    An event whose content cannot be decoded (a signal, a marker, a child's result, the input)
    fails the run once, with a message naming the event, instead of failing every decision task.
    """

    def __init__(self, pipeline: Pipeline, run_id: str, workflow_id: str | None = None,
                 root: str | None = None) -> None:
        self.pipeline = pipeline
        self.run_id = run_id
        self.workflow_id = workflow_id
        self.root = root
        self.last_event_id = 0
        self.store: str | None = None  # the run's store: its root scoped to <workflowId>/<runKey>
        self.markers = Markers()  # checkpoints and progress (pipeflow.decider._markers)
        self.plan = Plan(expand_items=self._expand, backoff=self._backoff, observer=self.markers, owner=self)
        self.started: dict[str, Any] = {}  # the WorkflowExecutionStarted event's attributes
        self.open: dict[int, Leaf] = {}  # scheduledEventId -> leaf
        self.open_timers: dict[str, Leaf] = {}
        self.cancel_requested = False
        self.fatal: tuple[str, dict[str, Any]] | None = None  # (reason, failure) that fail the run at once
        self.closed = False
        self._handlers = {
            "WorkflowExecutionStarted": self._started,
            "ActivityTaskScheduled": self._scheduled,
            "ActivityTaskCompleted": self._completed,
            "ActivityTaskFailed": self._failed,
            "ActivityTaskTimedOut": self._timed_out,
            "ActivityTaskCanceled": self._canceled,
            "ScheduleActivityTaskFailed": self._schedule_failed,
            "TimerStarted": self._timer_started,
            "TimerFired": self._timer_fired,
            "StartTimerFailed": self._timer_failed,
            "WorkflowExecutionCancelRequested": self._cancel_requested,
            "MarkerRecorded": self.markers.recorded,
        }
        for kind in ("WorkflowExecutionCompleted", "WorkflowExecutionFailed", "WorkflowExecutionCanceled",
                     "WorkflowExecutionTerminated", "WorkflowExecutionTimedOut", "WorkflowExecutionContinuedAsNew"):
            self._handlers[kind] = self._closed
        from ._stages import Children  # stages build on this module

        self.children = Children(self)  # child executions: stages and shards
        self._handlers.update(self.children.handlers())
        from ._lambda import lambda_handlers  # Lambda steps build on this module

        self._handlers.update(lambda_handlers(self))
        from ._control import Control  # control builds on this module

        self.control = Control(self)  # cancel requests and signals; watches events beside the handlers
        from ._repeat import continue_failed  # repeats build on this module

        self._handlers["ContinueAsNewWorkflowExecutionFailed"] = lambda event: continue_failed(self, event)

    def apply(self, events: list[dict[str, Any]]) -> None:
        """Apply the events newer than the last one applied."""
        handlers = self._handlers
        watchers = self.control.watchers
        plan = self.plan
        last = self.last_event_id
        for event in events:
            event_id = event["eventId"]
            if event_id <= last:
                continue
            if event_id != last + 1:
                raise ValueError(f"history gap: event {event_id} after {last}")
            last = plan.event_id = event_id
            kind = event["eventType"]
            handler = handlers.get(kind)
            watcher = watchers.get(kind)
            try:
                if handler is not None:
                    handler(event)
                if watcher is not None:
                    watcher(event)
            except _POISON as exc:
                self.poisoned(event, exc)
        self.last_event_id = last

    def poisoned(self, event: dict[str, Any], exc: BaseException) -> None:
        """The run fails for an event whose content cannot be decoded (the first such event is the one reported)."""
        if self.fatal is not None:
            return
        kind = event.get("eventType")
        attrs = event.get(f"{str(kind)[:1].lower()}{str(kind)[1:]}EventAttributes") or {}
        what = ""
        if kind == "WorkflowExecutionSignaled":
            what = f", signal {str(attrs.get('signalName'))[:256]!r}"
        elif kind == "MarkerRecorded":
            what = f", marker {str(attrs.get('markerName'))[:256]!r}"
        elif isinstance(attrs.get("workflowExecution"), dict):
            what = f", child execution {str(attrs['workflowExecution'].get('workflowId'))[:256]}"
        error = str(exc) if not isinstance(exc, RecursionError) else "it nests too deep to decode"
        message = f"event {event.get('eventId')} ({kind}{what}) cannot be decoded: {type(exc).__name__}: {error}"
        self.fatal = (message[:256], {"type": type(exc).__name__, "message": message, "event": event.get("eventId")})

    # -- hooks for the plan ---------------------------------------------------------------

    def _expand(self, value: Tree, path: str) -> list[Tree]:
        try:
            return wire.expand_tree(value, self.store)
        except Exception as exc:  # the previous step's result is not iterable: that step's user error
            self.fatal = (
                f"step {path}: map input is not a list: {type(exc).__name__}: {exc}"[:256],
                {"type": type(exc).__name__, "message": f"map input is not a list: {exc}", "step": path},
            )
            return []

    def _backoff(self, leaf: Leaf) -> int:
        """Whole seconds before the next attempt: exponential from retry_delay, jitter seeded by the run id."""
        base = float(leaf.task.retry_delay)
        if base <= 0:
            return 0
        seed = hashlib.sha256(f"{self.run_id}/{leaf.path}/{leaf.attempt}".encode()).digest()
        jitter = 1 + 0.25 * int.from_bytes(seed[:8], "big") / 2**64
        return max(1, int(math.ceil(base * 2 ** (leaf.failures - 1) * jitter)))

    # -- event handlers -------------------------------------------------------------------

    def _started(self, event: dict[str, Any]) -> None:
        self.started = event["workflowExecutionStartedEventAttributes"]
        text = self.started.get("input")
        try:
            envelope, root = wire.decode_workflow_input(text)
        except (ValueError, KeyError, TypeError) as exc:  # started by hand with an input not made by pipeflow
            message = f"the workflow input is not a pipeflow input document ({type(exc).__name__}: {exc})"
            self.fatal = (message[:256], {"type": "InputError", "message": message, "event": event["eventId"]})
            return
        try:
            if root is not None:  # the input names it: used only under this decider's own store
                root = wire.run_store(root, self.root, "decider")
            self.store = root if root is None or self.workflow_id is None else \
                wire.run_scope(root, self.workflow_id, self.run_id)
        except converters.ConverterError as exc:  # another store than the decider's, or one it cannot open
            message = f"the run's store cannot be used: {exc}"
            self.fatal = (message[:256], {"type": type(exc).__name__, "message": message})
            return
        try:
            self.plan.resumed = resumed_checkpoints(text, root)  # a resumed run: the old run's checkpoints
        except (converters.ConverterError, ValueError, TypeError) as exc:
            message = f"the checkpoints of the run this one resumes cannot be read: {exc}"
            self.fatal = (message[:256], {"type": type(exc).__name__, "message": message})
            return
        from ._repeat import carried_signals  # repeats build on this module

        try:  # signals the run before this one (pf.repeat) received and no step took: first in the mailbox
            for name, tree in carried_signals(self.started, self.store):
                self.control.mailbox.deliver(name, tree)
        except (converters.ConverterError, ValueError, TypeError) as exc:
            message = f"the signals carried from the previous run cannot be read: {exc}"
            self.fatal = (message[:256], {"type": type(exc).__name__, "message": message})
            return
        self.children.begin(event, envelope, root)  # the root canvas, or a stage's or shard's part of it

    def _scheduled(self, event: dict[str, Any]) -> None:
        attrs = event["activityTaskScheduledEventAttributes"]
        activity_id = attrs["activityId"]
        leaf = self.plan.ready.pop(activity_id, None)
        if leaf is None:
            raise NondeterminismError(
                f"the history schedules activity {activity_id} ({attrs['activityType']['name']}) which the "
                f"pipeline {self.pipeline.name} does not run at that point"
            )
        if attrs["activityType"]["name"] != leaf.task.name:
            raise NondeterminismError(
                f"activity {activity_id} is {attrs['activityType']['name']} in the history but "
                f"{leaf.task.name} in the pipeline {self.pipeline.name}"
            )
        self.open[event["eventId"]] = leaf

    def _completed(self, event: dict[str, Any]) -> None:
        attrs = event["activityTaskCompletedEventAttributes"]
        self.open.pop(attrs["scheduledEventId"]).done(attrs.get("result") or _NONE)

    def _failed(self, event: dict[str, Any]) -> None:
        attrs = event["activityTaskFailedEventAttributes"]
        leaf = self.open.pop(attrs["scheduledEventId"])
        failure = _failure_doc(attrs.get("reason"), attrs.get("details"))
        if wire.is_handback(attrs.get("reason")):
            leaf.lost(_context(failure, leaf))  # a worker shutting down: again at once, no retry spent
        else:
            leaf.attempt_failed(_context(failure, leaf))

    def _timed_out(self, event: dict[str, Any]) -> None:
        attrs = event["activityTaskTimedOutEventAttributes"]
        leaf = self.open.pop(attrs["scheduledEventId"])
        kind = attrs.get("timeoutType", "START_TO_CLOSE")
        if kind == "HEARTBEAT":
            # The worker beats on its own while it holds the task (queued or running), whatever the
            # task does: silence means the worker died or was cut off, not that the task failed.
            failure = {"type": "WorkerLost", "traceback": None,
                       "message": "the worker holding the task stopped heartbeating (HEARTBEAT timeout)"}
            leaf.lost(_context(failure, leaf))
            return
        failure = {"type": "ActivityTaskTimedOut", "message": f"the task timed out ({kind})", "traceback": None}
        leaf.attempt_failed(_context(failure, leaf))

    def _canceled(self, event: dict[str, Any]) -> None:
        leaf = self.open.pop(event["activityTaskCanceledEventAttributes"]["scheduledEventId"])
        leaf.failed(_context({"type": "ActivityTaskCanceled", "message": "the task was canceled"}, leaf))

    def _schedule_failed(self, event: dict[str, Any]) -> None:
        attrs = event["scheduleActivityTaskFailedEventAttributes"]
        if attrs.get("cause") in ("OPEN_ACTIVITIES_LIMIT_EXCEEDED", "ACTIVITY_CREATION_RATE_EXCEEDED"):
            return  # still ready: scheduled again by the next decision
        message = f"SWF refused to schedule activity {attrs['activityId']}: {attrs.get('cause')}"
        self.fatal = (message[:256], {"type": "ScheduleActivityTaskFailed", "message": message})

    def _timer_started(self, event: dict[str, Any]) -> None:
        timer_id = event["timerStartedEventAttributes"]["timerId"]
        entry = self.plan.timers.pop(timer_id, None)
        if entry is None:
            raise NondeterminismError(f"the history starts timer {timer_id} which the pipeline does not start")
        self.open_timers[timer_id] = entry[0]

    def _timer_fired(self, event: dict[str, Any]) -> None:
        self.open_timers.pop(event["timerFiredEventAttributes"]["timerId"]).next_attempt()

    def _timer_failed(self, event: dict[str, Any]) -> None:
        attrs = event["startTimerFailedEventAttributes"]
        message = f"SWF refused to start timer {attrs['timerId']}: {attrs.get('cause')}"
        self.fatal = (message[:256], {"type": "StartTimerFailed", "message": message})

    def _cancel_requested(self, event: dict[str, Any]) -> None:
        self.cancel_requested = True

    def _closed(self, event: dict[str, Any]) -> None:
        self.closed = True


_NONE = "json/1:null"


# The members of a failure document and their types: anything else in a worker's details is dropped,
# so what the decider passes on (close details, a group's error slot) stays flat and small.
_FAILURE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "type": str, "message": str, "traceback": str, "task": str, "step": str, "attempt": int, "worker": str,
    "stage": str, "stage_attempt": int, "stage_name": str, "details_ref": str, "event": int, "data": bool,
    "log_tail": str, "log": str,  # the attempt's captured output: its last lines, and where all of it is
}


def _failure_doc(reason: str | None, details: str | None) -> dict[str, Any]:
    """The failure document of a failed attempt from its reason and details; never raises.

    Details that are not a JSON object (too deep, malformed, written by hand) become the message.
    """
    reason = reason if isinstance(reason, str) else None
    details = details if isinstance(details, str) else None
    if details and converters.is_reference(details):
        # Offloaded by the worker: passed through unread (no I/O while replaying); the
        # client reads it when it reports the failure.
        kind, _, message = (reason or "Error: the task failed").partition(": ")
        return {"type": kind, "message": message, "traceback": None, "details_ref": details}
    try:
        doc = wire.load_json(details, "the failure details") if details else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        kind, _, message = (reason or "Error: the task failed").partition(": ")
        return {"type": kind, "message": message or details or "", "traceback": details}
    return {key: value for key, value in doc.items()
            if key in _FAILURE_FIELDS and (value is None or isinstance(value, _FAILURE_FIELDS[key]))}


def _context(failure: dict[str, Any], leaf: Leaf) -> dict[str, Any]:
    """The failure with the step, task and attempt the decider knows for sure."""
    return {**failure, "step": leaf.path, "task": leaf.task.name, "attempt": leaf.attempt}
