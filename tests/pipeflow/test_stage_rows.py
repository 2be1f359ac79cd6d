"""A stage's row (its name, its child run) and `expand_tasks` over hand-written histories of a run and its children."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pipeflow import EngineError, wire
from pipeflow.client import TASK_COLUMNS, expand_tasks, tasks_frame, timeline

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


class History:
    """A boto3-shaped history; events one second apart, from `start` seconds after T0."""

    def __init__(self, start: int = 0) -> None:
        self.events: list[dict[str, Any]] = []
        self.start = start
        self.ids: dict[str, int] = {}
        self.add("WorkflowExecutionStarted", workflowType={"name": "p", "version": "1"}, input='{"v":1}')

    def add(self, kind: str, **attrs: Any) -> int:
        event_id = len(self.events) + 1
        self.events.append({"eventId": event_id, "eventType": kind,
                            "eventTimestamp": T0 + timedelta(seconds=self.start + event_id),
                            kind[0].lower() + kind[1:] + "EventAttributes": attrs})
        return event_id

    def task(self, activity_id: str, *failures: str) -> None:
        """Attempts of one step: one failed attempt per failure, then a completed one."""
        step = activity_id.rpartition("#")[0]
        for attempt, reason in enumerate([*failures, None], start=1):
            scheduled = self.add("ActivityTaskScheduled", activityId=f"{step}#{attempt}", input="json/1:1",
                                 activityType={"name": "t.flaky", "version": "1"})
            self.add("ActivityTaskStarted", scheduledEventId=scheduled, identity="host:1")
            if reason is None:
                self.add("ActivityTaskCompleted", scheduledEventId=scheduled, result="json/1:2")
            else:
                reason_text, details = wire.encode_failure(RuntimeError(reason), activity_id=f"{step}#{attempt}")
                self.add("ActivityTaskFailed", scheduledEventId=scheduled, reason=reason_text, details=details)

    def child(self, key: str, workflow_id: str, name: str | None = None, started: bool = True) -> None:
        stage = {"path": key.split("#")[0], "kind": "shard" if ".shard." in key else "stage", "name": name}
        initiated = self.add("StartChildWorkflowExecutionInitiated", workflowId=workflow_id, control=key,
                             input=json.dumps({"v": 1, "input": "json/1:1", "stage": stage}))
        if started:
            self.add("ChildWorkflowExecutionStarted", initiatedEventId=initiated,
                     workflowExecution={"workflowId": workflow_id, "runId": "run-" + workflow_id})
            self.add("ChildWorkflowExecutionCompleted", initiatedEventId=initiated, result="json/1:3")

    def close(self) -> None:
        self.add("WorkflowExecutionCompleted", result="json/1:4")


def a_run() -> dict[str, list[dict[str, Any]]]:
    """Histories by run id: `top` runs 0, the stage "prep" at 1 (holding a stage at 1.0.1 whose task
    failed twice), a map at 2 in two shards (an item of the second retried once) and a stage not started."""
    top = History()
    top.task("0#1")
    top.child("1#1", "wf.1#1", name="prep")
    top.child("2.shard.0#1", "wf.2.shard.0#1")
    top.child("2.shard.1#1", "wf.2.shard.1#1")
    top.child("3#1", "wf.3#1", started=False)
    top.close()
    prep = History(2)
    prep.task("1.0.0#1")
    prep.child("1.0.1#1", "wf.1#1.1.0.1#1")
    prep.close()
    inner = History(4)
    inner.task("1.0.1.0#1", "no", "not yet")
    inner.close()
    shard0, shard1 = History(10), History(10)
    shard0.task("2.map.0#1")
    shard0.task("2.map.1#1")
    shard1.task("2.map.2#1", "flaky")
    return {"top": top.events, "run-wf.1#1": prep.events, "run-wf.1#1.1.0.1#1": inner.events,
            "run-wf.2.shard.0#1": shard0.events, "run-wf.2.shard.1#1": shard1.events}


def reader(histories: dict[str, list[dict[str, Any]]], read: list[str]) -> Any:
    def events_of(execution: dict[str, str]) -> list[dict[str, Any]]:
        read.append(execution["workflowId"])
        if execution["runId"] not in histories:
            raise EngineError("unknown execution", code="UnknownResourceFault")
        return histories[execution["runId"]]
    return events_of


def test_a_stage_row_carries_its_name_kind_and_child_execution() -> None:
    tasks = tasks_frame(a_run()["top"])
    assert list(tasks.columns) == TASK_COLUMNS
    rows = [tuple(r) for r in tasks[["step", "task", "kind", "child_workflow_id", "child_run_id"]]
            .itertuples(index=False)]
    assert rows == [
        ("0", "t.flaky", "task", None, None),
        ("1", "prep", "stage", "wf.1#1", "run-wf.1#1"),  # pf.stage(name="prep")
        ("2.shard.0", "shard", "shard", "wf.2.shard.0#1", "run-wf.2.shard.0#1"),
        ("2.shard.1", "shard", "shard", "wf.2.shard.1#1", "run-wf.2.shard.1#1"),
        ("3", "stage", "stage", "wf.3#1", None),  # unnamed, and not started yet: no run id
    ]
    assert tasks["parent"].isna().all() and (tasks["depth"] == 0).all()


def test_expand_adds_each_childs_attempts_after_its_row_recursively() -> None:
    histories = a_run()
    read: list[str] = []
    tasks = expand_tasks(tasks_frame(histories["top"]), reader(histories, read))
    assert list(tasks.columns) == TASK_COLUMNS
    rows = [tuple(r) for r in tasks[["step", "task", "attempt", "status", "depth", "parent"]].itertuples(index=False)]
    assert rows == [
        ("0", "t.flaky", 1, "COMPLETED", 0, None),
        ("1", "prep", 1, "COMPLETED", 0, None),
        ("1.0.0", "t.flaky", 1, "COMPLETED", 1, "wf.1#1"),
        ("1.0.1", "stage", 1, "COMPLETED", 1, "wf.1#1"),
        ("1.0.1.0", "t.flaky", 1, "FAILED", 2, "wf.1#1.1.0.1#1"),
        ("1.0.1.0", "t.flaky", 2, "FAILED", 2, "wf.1#1.1.0.1#1"),
        ("1.0.1.0", "t.flaky", 3, "COMPLETED", 2, "wf.1#1.1.0.1#1"),
        ("2.shard.0", "shard", 1, "COMPLETED", 0, None),
        ("2.map.0", "t.flaky", 1, "COMPLETED", 1, "wf.2.shard.0#1"),
        ("2.map.1", "t.flaky", 1, "COMPLETED", 1, "wf.2.shard.0#1"),
        ("2.shard.1", "shard", 1, "COMPLETED", 0, None),
        ("2.map.2", "t.flaky", 1, "FAILED", 1, "wf.2.shard.1#1"),
        ("2.map.2", "t.flaky", 2, "COMPLETED", 1, "wf.2.shard.1#1"),
        ("3", "stage", 1, "SCHEDULED", 0, None),
    ]
    assert read == ["wf.1#1", "wf.1#1.1.0.1#1", "wf.2.shard.0#1", "wf.2.shard.1#1"]  # once each; 3 never started
    assert tasks.attrs["end"] == tasks_frame(histories["top"]).attrs["end"]  # the run's close


def test_a_child_past_retention_keeps_its_one_row_and_other_errors_raise() -> None:
    histories = a_run()
    del histories["run-wf.1#1"]
    tasks = expand_tasks(tasks_frame(histories["top"]), reader(histories, []))
    assert "1.0.0" not in set(tasks["step"]) and "2.map.2" in set(tasks["step"])

    def refused(execution: dict[str, str]) -> list[dict[str, Any]]:
        raise EngineError("throttled", code="ThrottlingException")

    with pytest.raises(EngineError, match="throttled"):
        expand_tasks(tasks_frame(histories["top"]), refused)


def test_the_timelines_title_counts_the_retries_inside_children() -> None:
    histories = a_run()
    tasks = expand_tasks(tasks_frame(histories["top"]), reader(histories, []))
    assert timeline(tasks_frame(histories["top"])).axes[0].get_title() == "5 attempts of 5 steps (0 retries)"
    whole = timeline(tasks)
    assert whole.axes[0].get_title() == "14 attempts of 11 steps (3 retries, 3 inside stages and shards)"
    labels = [t.get_text() for t in whole.axes[0].get_yticklabels()]
    assert labels[:5] == ["0  t.flaky", "1  prep", "› 1.0.0  t.flaky", "› 1.0.1  stage", "› › 1.0.1.0  t.flaky"]
    own = timeline(tasks, expand=False)  # the run's own rows drawn, the children's retries still counted
    assert own.axes[0].get_title() == "5 attempts of 5 steps (3 retries, 3 inside stages and shards)"
    assert [t.get_text() for t in own.axes[0].get_yticklabels()] == \
        ["0  t.flaky", "1  prep", "2.shard.0  shard", "2.shard.1  shard", "3  stage"]
