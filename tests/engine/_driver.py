"""A thread-free driver for the pure state machine: explicit clock, SWF-shaped calls."""

from __future__ import annotations

from typing import Any

from pipeflow.engine._model import Limits
from pipeflow.engine._operations import apply, is_logged
from pipeflow.engine._state import State
from pipeflow.engine._validate import validate

WF = {"name": "wf", "version": "1"}
ACT = {"name": "act", "version": "1"}


class Driver:
    """Calls State like Engine.call does, at a clock the test moves."""

    def __init__(self, limits: Limits = Limits()) -> None:
        self.state = State("test", limits)
        self.now = 1_000_000.0
        self.log: list[tuple[str, dict[str, Any], float]] = []  # what the Engine would persist

    def __call__(self, op: str, **params: Any) -> dict[str, Any]:
        validate(op, params)
        response = apply(self.state, op, params, self.now)
        if is_logged(op, params, response):
            self.log.append((op, params, self.now))
        return response

    def tick(self, seconds: float) -> None:
        self.now += seconds
        if self.state.advance(self.now):
            self.log.append(("_Advance", {}, self.now))

    def setup(self, **activity_defaults: str) -> None:
        self("RegisterDomain", name="d", workflowExecutionRetentionPeriodInDays="1")
        self("RegisterWorkflowType", domain="d", name="wf", version="1", defaultTaskList={"name": "dt"},
             defaultExecutionStartToCloseTimeout="3600", defaultTaskStartToCloseTimeout="30",
             defaultChildPolicy="TERMINATE")
        defaults = {"defaultTaskScheduleToCloseTimeout": "NONE", "defaultTaskScheduleToStartTimeout": "NONE",
                    "defaultTaskStartToCloseTimeout": "NONE", **activity_defaults}
        self("RegisterActivityType", domain="d", name="act", version="1", defaultTaskList={"name": "at"},
             **defaults)

    def start(self, workflow_id: str = "w1", **extra: Any) -> str:
        return str(self("StartWorkflowExecution", domain="d", workflowId=workflow_id, workflowType=WF, **extra)["runId"])

    def decide(self, *decisions: dict[str, Any], task_list: str = "dt") -> dict[str, Any]:
        """Poll a decision task and answer it; return the polled task."""
        task = self("PollForDecisionTask", domain="d", taskList={"name": task_list})
        assert "taskToken" in task, "no decision task"
        self("RespondDecisionTaskCompleted", taskToken=task["taskToken"], decisions=list(decisions))
        return task

    def types(self, workflow_id: str = "w1", run_id: str | None = None) -> list[str]:
        execution = {"workflowId": workflow_id, **({"runId": run_id} if run_id else {})}
        ex = self.state.find_run("d", execution) if run_id else self._latest(workflow_id)
        return [e["eventType"] for e in ex.events]

    def _latest(self, workflow_id: str) -> Any:
        return [ex for ex in self.state.runs.values() if ex.workflow_id == workflow_id][-1]

    def attrs(self, workflow_id: str, event_type: str) -> dict[str, Any]:
        ex = self._latest(workflow_id)
        for e in reversed(ex.events):
            if e["eventType"] == event_type:
                return dict(e[event_type[0].lower() + event_type[1:] + "EventAttributes"])
        raise AssertionError(f"no {event_type} in {workflow_id}")


def schedule(activity_id: str, **extra: Any) -> dict[str, Any]:
    return {"decisionType": "ScheduleActivityTask",
            "scheduleActivityTaskDecisionAttributes": {"activityType": ACT, "activityId": activity_id, **extra}}


def decision(kind: str, **attrs: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"decisionType": kind}
    if attrs:
        d[kind[0].lower() + kind[1:] + "DecisionAttributes"] = attrs
    return d
