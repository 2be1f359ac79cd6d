"""A tiny in-memory SWF stand-in that turns decisions into events: for tests and bench/decider.py.

It runs activities synchronously through the worker's wire format, so a canvas can be checked
end to end without an engine. Not an engine: no timeouts, no concurrency, timers fire when asked.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import wire
from .._pipeline import Pipeline
from ..task import Task

__all__ = ["Simulation"]


def _attrs_key(kind: str) -> str:
    return kind[0].lower() + kind[1:] + "EventAttributes"


@dataclass
class Simulation:
    """One execution: `step(decider)` runs one decision task; `deliver()` settles pending work."""

    pipeline: Pipeline
    input: Any = None
    store: str | None = None
    run_id: str = "run-1"
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    batch: int = 1_000_000  # how many pending activities settle between decision tasks
    run: Callable[[Task, str, str, str | None], tuple[str, str, str | None]] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    pending: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    timers: list[tuple[int, str]] = field(default_factory=list)
    closed: dict[str, Any] | None = None
    started_event_id: int = 0
    workflow_id: str = "wf"
    start_input: str | None = None  # the workflow input document as is (a child's), instead of `input`
    children: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (initiatedEventId, decision)

    def __post_init__(self) -> None:
        self.tasks = {(t.name, t.version): t for t in _iter(self.pipeline)}
        text = self.start_input if self.start_input is not None else \
            wire.encode_workflow_input(self.input, self.store)
        self.add("WorkflowExecutionStarted", input=text,
                 workflowType={"name": self.pipeline.name, "version": self.pipeline.version})
        self._decide: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None
        self.add("DecisionTaskScheduled")

    def add(self, kind: str, **attrs: Any) -> dict[str, Any]:
        event = {"eventId": len(self.events) + 1, "eventType": kind, _attrs_key(kind): attrs}
        self.events.append(event)
        return event

    def poll(self, since: int = 0) -> dict[str, Any]:
        """The decision task as PollForDecisionTask returns it (the events after event `since`)."""
        started = self.add("DecisionTaskStarted")
        previous, self.started_event_id = self.started_event_id, started["eventId"]
        return {"taskToken": "t", "startedEventId": started["eventId"], "previousStartedEventId": previous,
                "workflowExecution": {"workflowId": self.workflow_id, "runId": self.run_id},
                "workflowType": {"name": self.pipeline.name, "version": self.pipeline.version},
                "events": self.events[since:]}

    def respond(self, decisions: list[dict[str, Any]]) -> None:
        """Apply decisions as SWF would."""
        completed = self.add("DecisionTaskCompleted", startedEventId=self.started_event_id)["eventId"]
        for d in decisions:
            kind = d["decisionType"]
            a = d[kind[0].lower() + kind[1:] + "DecisionAttributes"]
            if kind == "ScheduleActivityTask":
                ev = self.add("ActivityTaskScheduled", decisionTaskCompletedEventId=completed, **a)
                self.pending.append((ev["eventId"], a))
            elif kind == "StartTimer":
                ev = self.add("TimerStarted", decisionTaskCompletedEventId=completed, **a)
                self.timers.append((ev["eventId"], a["timerId"]))
            elif kind == "CompleteWorkflowExecution":
                self.closed = self.add("WorkflowExecutionCompleted", **a)
            elif kind == "FailWorkflowExecution":
                self.closed = self.add("WorkflowExecutionFailed", **a)
            elif kind == "CancelWorkflowExecution":
                self.closed = self.add("WorkflowExecutionCanceled", **a)
            elif kind == "RecordMarker":
                self.add("MarkerRecorded", decisionTaskCompletedEventId=completed, **a)
            elif kind == "StartChildWorkflowExecution":
                ev = self.add("StartChildWorkflowExecutionInitiated", decisionTaskCompletedEventId=completed, **a)
                self.add("ChildWorkflowExecutionStarted", initiatedEventId=ev["eventId"], workflowType=a["workflowType"],
                         workflowExecution={"workflowId": a["workflowId"], "runId": f"{self.run_id}.{ev['eventId']}"})
                self.children.append((ev["eventId"], a))
            else:
                raise AssertionError(f"unexpected decision {kind}")

    def deliver(self) -> bool:
        """Settle up to `batch` pending activities (in a shuffled order) or fire the timers; False if idle."""
        if not self.pending and not self.timers and not self.children:
            return False
        if self.children:  # each child runs to its end, decided by the same decider
            self._settle_children()
            self.add("DecisionTaskScheduled")
            return True
        self.rng.shuffle(self.pending)
        take, self.pending = self.pending[: self.batch], self.pending[self.batch:]
        for scheduled, a in take:
            started = self.add("ActivityTaskStarted", scheduledEventId=scheduled)["eventId"]
            task = self.tasks[(a["activityType"]["name"], a["activityType"]["version"])]
            outcome, payload, details = (self.run or execute)(task, a["activityId"], a["input"], self.store)
            if outcome == "ok":
                self.add("ActivityTaskCompleted", scheduledEventId=scheduled, startedEventId=started, result=payload)
            else:
                self.add("ActivityTaskFailed", scheduledEventId=scheduled, startedEventId=started,
                         reason=payload, details=details)
        if not take:
            for started, timer_id in self.timers:
                self.add("TimerFired", timerId=timer_id, startedEventId=started)
            self.timers = []
        self.add("DecisionTaskScheduled")
        return True

    def run_to_end(self, decide: Callable[[dict[str, Any]], list[dict[str, Any]]], limit: int = 100_000) -> None:
        """Alternate decision tasks and deliveries until the execution closes."""
        self._decide = decide
        given = 0  # one decider decides every task here, so it needs only the events it has not seen
        for _ in range(limit):
            task = self.poll(given)
            given = len(self.events)
            self.respond(decide(task))
            if self.closed is not None or not self.deliver():
                return
        raise AssertionError("the simulated execution did not close")


    def _settle_children(self) -> None:
        assert self._decide is not None
        children, self.children = self.children, []
        for initiated, a in children:
            child = Simulation(self.pipeline, store=self.store, run_id=f"{self.run_id}.{initiated}", rng=self.rng,
                               batch=self.batch, run=self.run, workflow_id=a["workflowId"], start_input=a["input"])
            child.run_to_end(self._decide)
            assert child.closed is not None
            kind = child.closed["eventType"].replace("WorkflowExecution", "ChildWorkflowExecution")
            attrs = {k: v for k, v in child.closed[_attrs_key(child.closed["eventType"])].items()
                     if k in ("result", "reason", "details")}
            self.add(kind, initiatedEventId=initiated, startedEventId=initiated + 1, workflowType=a["workflowType"],
                     workflowExecution={"workflowId": a["workflowId"], "runId": child.run_id}, **attrs)


def execute(task: Task, activity_id: str, data: str, store: str | None) -> tuple[str, str, str | None]:
    """Run an activity in-process with the worker's wire format."""
    args, kwargs, store = wire.decode_activity_input(data, store=store)
    try:
        value = task(*args, **kwargs)
    except Exception as exc:
        reason, details = wire.encode_failure(exc, task=task, activity_id=activity_id, store=store)
        return "fail", reason, details
    return "ok", wire.encode_result(value, task=task, store=store), None


def _iter(pipeline: Pipeline) -> list[Task]:
    from ..canvas import iter_tasks

    return list(iter_tasks(pipeline.canvas))
