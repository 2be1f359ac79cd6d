"""Decision and activity tasks: poll, respond, heartbeat, count pending."""

from __future__ import annotations

import pytest

from .conftest import ACTIVITY, TASK_LIST, WORKFLOW, Backend, backends, check_output, complete, schedule

NO_CANCELED = "RespondActivityTaskCanceled is not implemented"


@pytest.mark.parametrize("backend", backends(
    moto="omits previousStartedEventId (SWF sends 0) from the first decision task"), indirect=True)
def test_poll_for_decision_task(backend: Backend) -> None:
    backend.setup()
    run = backend.start("w1")
    task = backend.poll_decision()
    check_output("PollForDecisionTask", task)
    assert (task["workflowExecution"], task["workflowType"], task["startedEventId"]) == (run, WORKFLOW, 3)
    assert task["previousStartedEventId"] == 0
    assert [e["eventType"] for e in task["events"]] == [
        "WorkflowExecutionStarted", "DecisionTaskScheduled", "DecisionTaskStarted"]


def test_poll_for_decision_task_unknown_domain(backend: Backend) -> None:
    backend.fault("UnknownResourceFault", "poll_for_decision_task", domain=backend.domain, taskList=TASK_LIST)


def test_respond_decision_task_completed(backend: Backend) -> None:
    backend.setup()
    run = backend.start("w1")
    task = backend.poll_decision()
    check_output("RespondDecisionTaskCompleted", backend.swf.respond_decision_task_completed(
        taskToken=task["taskToken"], decisions=[complete()], executionContext="ctx"))
    info = backend.swf.describe_workflow_execution(domain=backend.domain, execution=run)
    assert info["executionInfo"]["closeStatus"] == "COMPLETED"
    assert info["latestExecutionContext"] == "ctx"


def test_respond_decision_task_twice(backend: Backend) -> None:
    backend.setup()
    backend.start("w1")
    task = backend.poll_decision()
    backend.decide(task)
    backend.fault("UnknownResourceFault", "respond_decision_task_completed", taskToken=task["taskToken"],
                  decisions=[])


def test_poll_for_activity_task(backend: Backend) -> None:
    backend.setup()
    run = backend.start("w1")
    backend.decide(backend.poll_decision(), schedule("a1"))
    task = backend.poll_activity()
    check_output("PollForActivityTask", task)
    assert (task["activityId"], task["activityType"], task["workflowExecution"]) == ("a1", ACTIVITY, run)
    assert task["input"] == "x"
    assert backend.history(run)[task["startedEventId"] - 1]["eventType"] == "ActivityTaskStarted"


def test_poll_for_activity_task_unknown_domain(backend: Backend) -> None:
    backend.fault("UnknownResourceFault", "poll_for_activity_task", domain=backend.domain, taskList=TASK_LIST)


def test_respond_activity_task_completed(backend: Backend) -> None:
    backend.setup()
    run, task = backend.activity_task()
    check_output("RespondActivityTaskCompleted",
                 backend.swf.respond_activity_task_completed(taskToken=task["taskToken"], result="r"))
    last = [e for e in backend.history(run) if e["eventType"] == "ActivityTaskCompleted"][0]
    assert last["activityTaskCompletedEventAttributes"]["result"] == "r"


def test_respond_activity_task_failed(backend: Backend) -> None:
    backend.setup()
    run, task = backend.activity_task()
    check_output("RespondActivityTaskFailed", backend.swf.respond_activity_task_failed(
        taskToken=task["taskToken"], reason="bad", details="trace"))
    failed = [e for e in backend.history(run) if e["eventType"] == "ActivityTaskFailed"][0]
    attrs = failed["activityTaskFailedEventAttributes"]
    assert (attrs["reason"], attrs["details"]) == ("bad", "trace")


@pytest.mark.parametrize("backend", backends(moto=NO_CANCELED), indirect=True)
def test_respond_activity_task_canceled(backend: Backend) -> None:
    backend.setup()
    run, task = backend.activity_task()
    check_output("RespondActivityTaskCanceled",
                 backend.swf.respond_activity_task_canceled(taskToken=task["taskToken"], details="d"))
    assert "ActivityTaskCanceled" in [e["eventType"] for e in backend.history(run)]


@pytest.mark.parametrize("call", ["respond_activity_task_completed", "respond_activity_task_failed"])
def test_respond_activity_task_twice(backend: Backend, call: str) -> None:
    backend.setup()
    _, task = backend.activity_task()
    backend.swf.respond_activity_task_completed(taskToken=task["taskToken"])
    backend.fault("UnknownResourceFault", call, taskToken=task["taskToken"])


@pytest.mark.parametrize("backend", backends(moto=NO_CANCELED), indirect=True)
def test_respond_activity_task_canceled_twice(backend: Backend) -> None:
    backend.setup()
    _, task = backend.activity_task()
    backend.swf.respond_activity_task_completed(taskToken=task["taskToken"])
    backend.fault("UnknownResourceFault", "respond_activity_task_canceled", taskToken=task["taskToken"])


def test_record_activity_task_heartbeat(backend: Backend) -> None:
    backend.setup()
    _, task = backend.activity_task()
    out = backend.swf.record_activity_task_heartbeat(taskToken=task["taskToken"], details="50%")
    check_output("RecordActivityTaskHeartbeat", out)
    assert out["cancelRequested"] is False


def test_heartbeat_closed_task(backend: Backend) -> None:
    backend.setup()
    _, task = backend.activity_task()
    backend.swf.respond_activity_task_completed(taskToken=task["taskToken"])
    backend.fault("UnknownResourceFault", "record_activity_task_heartbeat", taskToken=task["taskToken"])


def test_count_pending_decision_tasks(backend: Backend) -> None:
    backend.setup()
    backend.start("w1")
    backend.start("w2")
    out = backend.swf.count_pending_decision_tasks(domain=backend.domain, taskList=TASK_LIST)
    check_output("CountPendingDecisionTasks", out)
    assert out["count"] == 2


def test_count_pending_activity_tasks(backend: Backend) -> None:
    backend.setup()
    backend.start("w1")
    backend.decide(backend.poll_decision(), schedule("a1"), schedule("a2"))
    out = backend.swf.count_pending_activity_tasks(domain=backend.domain, taskList=TASK_LIST)
    check_output("CountPendingActivityTasks", out)
    assert out["count"] == 2


@pytest.mark.parametrize("call", ["count_pending_decision_tasks", "count_pending_activity_tasks"])
def test_count_pending_unknown_domain(backend: Backend, call: str) -> None:
    backend.fault("UnknownResourceFault", call, domain=backend.domain, taskList=TASK_LIST)
