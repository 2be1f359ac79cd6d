"""The progress line reads an execution's history incrementally and counts its steps."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from pipeflow.engine import Engine
from pipeflow.running import ProgressLine, StepCounts, new_events


@pytest.fixture()
def swf() -> Iterator[Any]:
    engine = Engine()
    client = engine.client()
    client.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
    client.register_workflow_type(
        domain="d", name="wf", version="1", defaultTaskList={"name": "decide"}, defaultChildPolicy="TERMINATE",
        defaultExecutionStartToCloseTimeout="300", defaultTaskStartToCloseTimeout="60",
    )
    client.register_activity_type(
        domain="d", name="act", version="1", defaultTaskList={"name": "work"},
        defaultTaskScheduleToStartTimeout="60", defaultTaskScheduleToCloseTimeout="120",
        defaultTaskStartToCloseTimeout="60", defaultTaskHeartbeatTimeout="60",
    )
    yield client
    engine.close()


def three_activities(swf: Any) -> dict[str, str]:
    """Schedule three activities; complete one, fail one, leave one running."""
    run = swf.start_workflow_execution(domain="d", workflowId="w", workflowType={"name": "wf", "version": "1"})
    decision = swf.poll_for_decision_task(domain="d", taskList={"name": "decide"})
    swf.respond_decision_task_completed(taskToken=decision["taskToken"], decisions=[
        {"decisionType": "ScheduleActivityTask", "scheduleActivityTaskDecisionAttributes": {
            "activityType": {"name": "act", "version": "1"}, "activityId": str(i), "input": "x"}}
        for i in range(3)
    ])
    tokens = [swf.poll_for_activity_task(domain="d", taskList={"name": "work"})["taskToken"] for _ in range(3)]
    swf.respond_activity_task_completed(taskToken=tokens[0], result="r")
    swf.respond_activity_task_failed(taskToken=tokens[1], reason="e")
    return {"workflowId": "w", "runId": run["runId"]}


def test_counts_from_a_history(swf: Any) -> None:
    execution = three_activities(swf)
    counts = StepCounts()
    for event in new_events(swf, "d", execution, 0):
        counts.add(event)
    assert (counts.scheduled, counts.done, counts.failed, counts.running) == (3, 1, 1, 1)


def test_only_new_events_are_read(swf: Any) -> None:
    execution = three_activities(swf)
    events = new_events(swf, "d", execution, 0)
    last = events[-1]["eventId"]
    assert new_events(swf, "d", execution, last) == []
    assert [e["eventId"] for e in new_events(swf, "d", execution, last - 2)] == [last - 1, last]


def test_the_line_shows_done_total_running_and_failed(swf: Any) -> None:
    execution = three_activities(swf)
    stream = io.StringIO()
    line = ProgressLine(swf, "d", execution, stream=stream).start()
    line.close()
    text = stream.getvalue()
    assert "1/3" in text and "running 1, failed 1" in text
