"""The worker's polling loop against the embedded engine and a moto server on loopback."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pipeflow.worker import Registry, Worker
from tests.pipeflow.worker import plain

pytestmark = pytest.mark.slow

TASK_LIST = "work"


class Execution:
    """One workflow execution whose decisions the test makes by hand."""

    def __init__(self, swf: Any) -> None:
        self.swf = swf
        self.domain = f"worker-{uuid.uuid4().hex[:8]}"
        self.swf.register_domain(name=self.domain, workflowExecutionRetentionPeriodInDays="1")
        self.swf.register_workflow_type(
            domain=self.domain, name="wf", version="1", defaultTaskList={"name": "decide"},
            defaultChildPolicy="TERMINATE", defaultExecutionStartToCloseTimeout="300",
            defaultTaskStartToCloseTimeout="60",
        )
        started = self.swf.start_workflow_execution(
            domain=self.domain, workflowId="wf-1", workflowType={"name": "wf", "version": "1"}
        )
        self.execution = {"workflowId": "wf-1", "runId": started["runId"]}

    def schedule(self, *activities: tuple[str, str, str], heartbeat: int = 30) -> None:
        """Schedule (activity id, type name, input) activities."""
        for _, name, _ in activities:
            try:
                self.swf.register_activity_type(
                    domain=self.domain, name=name, version="1", defaultTaskList={"name": TASK_LIST},
                    defaultTaskScheduleToStartTimeout="60", defaultTaskScheduleToCloseTimeout="120",
                    defaultTaskStartToCloseTimeout="60", defaultTaskHeartbeatTimeout=str(heartbeat),
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TypeAlreadyExistsFault":
                    raise
        task = self.swf.poll_for_decision_task(domain=self.domain, taskList={"name": "decide"})
        decisions = [
            {
                "decisionType": "ScheduleActivityTask",
                "scheduleActivityTaskDecisionAttributes": {
                    "activityType": {"name": name, "version": "1"}, "activityId": aid, "input": data,
                },
            }
            for aid, name, data in activities
        ]
        self.swf.respond_decision_task_completed(taskToken=task["taskToken"], decisions=decisions)

    def closed_activities(self) -> dict[str, dict[str, Any]]:
        """Activity id -> the attributes of its closing event (completed, failed, timed out)."""
        events = self.swf.get_workflow_execution_history(domain=self.domain, execution=self.execution)["events"]
        ids = {e["eventId"]: e["activityTaskScheduledEventAttributes"]["activityId"]
               for e in events if e["eventType"] == "ActivityTaskScheduled"}
        closed = {}
        for event in events:
            for kind in ("Completed", "Failed", "TimedOut"):
                attributes = event.get(f"activityTask{kind}EventAttributes")
                if attributes:
                    closed[ids[attributes["scheduledEventId"]]] = {"kind": kind, **attributes}
        return closed


@pytest.fixture(params=["embedded", "moto"])
def execution(request: pytest.FixtureRequest) -> Iterator[Execution]:
    if request.param == "moto":
        url = request.getfixturevalue("moto_url")
        yield Execution(boto3.client("swf", endpoint_url=url, config=Config(retries={"total_max_attempts": 1})))
        return
    from pipeflow.engine import Engine

    engine = Engine()
    try:
        yield Execution(engine.client())
    finally:
        engine.close()


@pytest.fixture()
def worker(execution: Execution) -> Iterator[Worker]:
    worker = Worker(execution.swf, execution.domain, TASK_LIST, Registry.from_tasks(plain.TASKS), processes=2,
                    start_method="fork", execute=plain.execute)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    yield worker
    stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive()


def wait_closed(execution: Execution, *ids: str) -> dict[str, dict[str, Any]]:
    for _ in range(200):
        closed = execution.closed_activities()
        if all(i in closed for i in ids):
            return closed
        threading.Event().wait(0.05)
    raise AssertionError(f"activities {ids} never closed")


def test_activities_run_and_are_answered(execution: Execution, worker: Worker) -> None:
    execution.schedule(("a", "inc", "41"), ("b", "crash", '"k"'))
    closed = wait_closed(execution, "a", "b")
    assert (closed["a"]["kind"], closed["a"]["result"]) == ("Completed", "42")
    assert (closed["b"]["kind"], closed["b"]["reason"], closed["b"]["details"]) == ("Failed", "KeyError", "'k'")


def test_an_unknown_activity_type_is_refused(execution: Execution, worker: Worker) -> None:
    execution.schedule(("x", "os.system", '"echo pwned"'))
    closed = wait_closed(execution, "x")
    assert closed["x"]["kind"] == "Failed"
    assert "unknown activity type 'os.system'" in closed["x"]["details"]


def test_heartbeats_outlast_the_heartbeat_timeout(execution: Execution, worker: Worker) -> None:
    # 3 s of sleep against a 2 s heartbeat timeout (moto counts it from scheduling, not start)
    execution.schedule(("n", "nap", "3"), heartbeat=2)
    closed = wait_closed(execution, "n")
    assert (closed["n"]["kind"], closed["n"]["result"]) == ("Completed", '"rested"')


def test_idle_beats_stay_under_a_rate_however_many_tasks_are_held() -> None:
    from pipeflow.worker._worker import IDLE_BEAT, IDLE_RATE, idle_interval

    assert idle_interval(1) == idle_interval(int(IDLE_BEAT * IDLE_RATE)) == IDLE_BEAT  # few tasks: every 3 s
    for held in (100, 1_000, 10_000):
        assert held / idle_interval(held) <= IDLE_RATE  # calls a second, all held tasks together
