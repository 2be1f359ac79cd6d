"""A tiny builder of synthetic histories for the decider tests."""

from __future__ import annotations

from typing import Any

from pipeflow import wire
from pipeflow._pipeline import Pipeline
from pipeflow.decider._simulate import execute


class History:
    """Events appended by hand; `task()` is the decision task a poll would return."""

    def __init__(self, pipeline: Pipeline, input: Any = None, run_id: str = "run-1") -> None:
        self.pipeline = pipeline
        self.run_id = run_id
        self.events: list[dict[str, Any]] = []
        self.ids: dict[str, int] = {}  # activityId -> scheduledEventId
        self.add("WorkflowExecutionStarted", input=wire.encode_workflow_input(input, None))
        self.add("DecisionTaskScheduled")

    def add(self, kind: str, **attrs: Any) -> int:
        event_id = len(self.events) + 1
        self.events.append({"eventId": event_id, "eventType": kind, kind[0].lower() + kind[1:] + "EventAttributes": attrs})
        return event_id

    def task(self) -> dict[str, Any]:
        self.add("DecisionTaskStarted")
        return {"taskToken": "t", "workflowExecution": {"workflowId": "wf", "runId": self.run_id},
                "workflowType": {"name": self.pipeline.name, "version": self.pipeline.version},
                "events": list(self.events)}

    def decided(self, decisions: list[dict[str, Any]]) -> None:
        self.add("DecisionTaskCompleted")
        for d in decisions:
            if d["decisionType"] == "ScheduleActivityTask":
                a = d["scheduleActivityTaskDecisionAttributes"]
                self.ids[a["activityId"]] = self.add("ActivityTaskScheduled", **a)
            elif d["decisionType"] == "StartTimer":
                self.add("TimerStarted", **d["startTimerDecisionAttributes"])
            elif d["decisionType"] == "RecordMarker":
                self.add("MarkerRecorded", **d["recordMarkerDecisionAttributes"])

    def completed(self, activity_id: str, value: Any) -> None:
        import converters

        self.add("ActivityTaskCompleted", scheduledEventId=self.ids[activity_id], result=converters.dumps(value))
        self.add("DecisionTaskScheduled")

    def failed(self, activity_id: str, exc: BaseException) -> None:
        reason, details = wire.encode_failure(exc, activity_id=activity_id)
        self.add("ActivityTaskFailed", scheduledEventId=self.ids[activity_id], reason=reason, details=details)
        self.add("DecisionTaskScheduled")

    def timed_out(self, activity_id: str, kind: str = "START_TO_CLOSE") -> None:
        self.add("ActivityTaskTimedOut", scheduledEventId=self.ids[activity_id], timeoutType=kind)
        self.add("DecisionTaskScheduled")

    def fired(self, timer_id: str) -> None:
        self.add("TimerFired", timerId=timer_id)
        self.add("DecisionTaskScheduled")


def scheduled(decisions: list[dict[str, Any]]) -> list[str]:
    return [d["scheduleActivityTaskDecisionAttributes"]["activityId"] for d in decisions
            if d["decisionType"] == "ScheduleActivityTask"]


def kinds(decisions: list[dict[str, Any]]) -> list[str]:
    """The decision types, markers left out (tests/pipeflow/decider/test_markers.py checks those)."""
    return [d["decisionType"] for d in unmarked(decisions)]


def unmarked(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The decisions without RecordMarker ones."""
    return [d for d in decisions if d["decisionType"] != "RecordMarker"]


def work_one(swf: Any, task_list: str, tasks: dict[str, Any]) -> bool:
    """Run one activity task of `task_list` in this process (the simulator's execute); False when none came."""
    task = swf.poll_for_activity_task(domain="d", taskList={"name": task_list})
    if not task.get("taskToken"):
        return False
    outcome, payload, details = execute(tasks[task["activityType"]["name"]], task["activityId"], task["input"], None)
    if outcome == "ok":
        swf.respond_activity_task_completed(taskToken=task["taskToken"], result=payload)
    else:
        swf.respond_activity_task_failed(taskToken=task["taskToken"], reason=payload, details=details)
    return True
