"""SIGKILL `pipeflow server --db F` while activities are being completed; restart on F; nothing is lost.

A decider thread drives one execution of ACTIVITIES logical tasks from its
history alone (so it needs no memory across the crash): a task whose attempt
timed out is scheduled again as `tK#n`. Worker threads record each completion
the server acknowledged; a completion whose answer was lost in the crash is
sent again after the restart, and may then be refused as already closed.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests._support.servers import pipeflow_server_process

pytestmark = pytest.mark.slow

ACTIVITIES = 300
KILL_AFTER = 100  # acknowledged completions before the SIGKILL
WORKERS = 4
WORKFLOW = {"name": "wf", "version": "1"}
ACTIVITY = {"name": "act", "version": "1"}
DECIDE = {"name": "decide"}
WORK = {"name": "work"}


class Endpoint:
    """The current server URL; threads make a new client when it changes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.generation = 0
        self.stop = threading.Event()

    def move(self, url: str) -> None:
        self.url = url
        self.generation += 1


def make_client(url: str) -> Any:
    # read timeout above the 60 s long poll; a SIGKILL resets the sockets, so no thread waits on a dead one
    return boto3.client("swf", endpoint_url=url, config=Config(retries={"total_max_attempts": 1}, read_timeout=75))


class Connected:
    """A client for the endpoint's current URL, remade after a restart."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.generation = -1
        self.swf: Any = None

    def get(self) -> Any:
        if self.generation != self.endpoint.generation:
            self.generation = self.endpoint.generation
            self.swf = make_client(self.endpoint.url)
        return self.swf


def full_history(swf: Any, domain: str, execution: dict[str, str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"domain": domain, "execution": execution, "maximumPageSize": 1000}
    while True:
        page = swf.get_workflow_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextPageToken"):
            return events
        kwargs["nextPageToken"] = page["nextPageToken"]


def decisions_for(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What to decide from the whole history: schedule what is neither done nor open; complete when all done."""
    ids: dict[int, str] = {}
    open_ids: set[str] = set()
    attempts: Counter[str] = Counter()
    done: set[str] = set()
    for event in events:
        kind = event["eventType"]
        if kind == "ActivityTaskScheduled":
            activity_id = event["activityTaskScheduledEventAttributes"]["activityId"]
            ids[event["eventId"]] = activity_id
            open_ids.add(activity_id)
            attempts[activity_id.split("#")[0]] += 1
        elif kind in ("ActivityTaskCompleted", "ActivityTaskTimedOut", "ActivityTaskFailed"):
            attributes = event[kind[0].lower() + kind[1:] + "EventAttributes"]
            activity_id = ids[attributes["scheduledEventId"]]
            open_ids.discard(activity_id)
            if kind == "ActivityTaskCompleted":
                done.add(activity_id.split("#")[0])
    if len(done) == ACTIVITIES:
        return [{"decisionType": "CompleteWorkflowExecution"}]
    busy = {activity_id.split("#")[0] for activity_id in open_ids}
    decisions = []
    for k in range(ACTIVITIES):
        base = f"t{k}"
        if base in done or base in busy:
            continue
        activity_id = base if attempts[base] == 0 else f"{base}#{attempts[base]}"
        attributes = {"activityType": ACTIVITY, "activityId": activity_id, "taskList": WORK}
        decisions.append({"decisionType": "ScheduleActivityTask", "scheduleActivityTaskDecisionAttributes": attributes})
    return decisions


def decider(endpoint: Endpoint, domain: str, execution: dict[str, str], errors: list[BaseException]) -> None:
    conn = Connected(endpoint)
    while not endpoint.stop.is_set():
        try:
            swf = conn.get()
            task = swf.poll_for_decision_task(domain=domain, taskList=DECIDE, identity="decider")
            if not task.get("taskToken"):
                continue
            decisions = decisions_for(full_history(swf, domain, execution))
            swf.respond_decision_task_completed(taskToken=task["taskToken"], decisions=decisions)
        except (BotoCoreError, ClientError) as exc:
            # the server is down (or the token died with it): its decision task times out and comes back
            if isinstance(exc, ClientError) and exc.response["Error"]["Code"] != "UnknownResourceFault":
                errors.append(exc)
            time.sleep(0.05)


def worker(endpoint: Endpoint, domain: str, acked: list[str], errors: list[BaseException]) -> None:
    conn = Connected(endpoint)
    held: list[tuple[str, str]] = []  # (token, activityId) whose completion got no answer
    while not endpoint.stop.is_set():
        try:
            swf = conn.get()
            while held:
                token, activity_id = held[0]
                try:
                    swf.respond_activity_task_completed(taskToken=token, result=activity_id)
                    acked.append(activity_id)
                except ClientError as exc:
                    # recorded before the crash, or timed out since: either way it is closed
                    if exc.response["Error"]["Code"] != "UnknownResourceFault":
                        errors.append(exc)
                held.pop(0)
            task = swf.poll_for_activity_task(domain=domain, taskList=WORK, identity="worker")
            if not task.get("taskToken"):
                continue
            held.append((task["taskToken"], task["activityId"]))
            swf.respond_activity_task_completed(taskToken=task["taskToken"], result=task["activityId"])
            held.pop()
            acked.append(task["activityId"])
        except BotoCoreError:
            time.sleep(0.05)  # the server is down; try again (held completions first)
        except ClientError as exc:
            errors.append(exc)
            return


def completed_ids(events: list[dict[str, Any]]) -> Counter[str]:
    ids = {
        e["eventId"]: e["activityTaskScheduledEventAttributes"]["activityId"]
        for e in events
        if e["eventType"] == "ActivityTaskScheduled"
    }
    return Counter(
        ids[e["activityTaskCompletedEventAttributes"]["scheduledEventId"]]
        for e in events
        if e["eventType"] == "ActivityTaskCompleted"
    )


def test_sigkill_mid_run_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    domain = f"crash-{uuid.uuid4().hex[:8]}"
    errors: list[BaseException] = []
    acked: list[str] = []
    with pipeflow_server_process(db) as (url, proc):
        swf = make_client(url)
        swf.register_domain(name=domain, workflowExecutionRetentionPeriodInDays="1")
        swf.register_workflow_type(
            domain=domain, **WORKFLOW, defaultTaskList=DECIDE, defaultChildPolicy="TERMINATE",
            defaultExecutionStartToCloseTimeout="600", defaultTaskStartToCloseTimeout="5",
        )
        # start-to-close of 3 s: a task handed out just before the kill comes back soon after the restart
        swf.register_activity_type(
            domain=domain, **ACTIVITY, defaultTaskList=WORK, defaultTaskScheduleToStartTimeout="600",
            defaultTaskScheduleToCloseTimeout="600", defaultTaskStartToCloseTimeout="3",
            defaultTaskHeartbeatTimeout="NONE",
        )
        run = swf.start_workflow_execution(domain=domain, workflowId="crash", workflowType=WORKFLOW)
        execution = {"workflowId": "crash", "runId": run["runId"]}
        endpoint = Endpoint(url)
        threads = [threading.Thread(target=decider, args=(endpoint, domain, execution, errors), daemon=True)]
        threads += [
            threading.Thread(target=worker, args=(endpoint, domain, acked, errors), daemon=True) for _ in range(WORKERS)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acked) < KILL_AFTER and time.monotonic() < deadline and not errors:
            time.sleep(0.005)
        assert not errors, errors
        assert len(acked) >= KILL_AFTER
        # a task handed out and never answered, as if its worker died with the server:
        # its start-to-close timer must survive the restart and fire
        lost = swf.poll_for_activity_task(domain=domain, taskList=WORK, identity="lost")["activityId"]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        acked_before = list(acked)  # taken once the server is dead: no answer can follow
    assert len(acked_before) < ACTIVITIES  # it really died mid-run

    with pipeflow_server_process(db) as (url, proc):
        swf = make_client(url)
        survived = completed_ids(full_history(swf, domain, execution))
        assert [a for a in acked_before if a not in survived] == []  # nothing acknowledged is lost
        endpoint.move(url)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not errors:
            info = swf.describe_workflow_execution(domain=domain, execution=execution)["executionInfo"]
            if info["executionStatus"] == "CLOSED":
                break
            time.sleep(0.1)
        endpoint.stop.set()
        assert not errors, errors
        assert (info["executionStatus"], info.get("closeStatus")) == ("CLOSED", "COMPLETED")
        events = full_history(swf, domain, execution)
        done = completed_ids(events)
        assert [a for a in acked if a not in done] == []
        assert [a for a, n in done.items() if n > 1] == []  # each attempt completed at most once
        assert {a.split("#")[0] for a in done} == {f"t{k}" for k in range(ACTIVITIES)}
        base = lost.split("#")[0]
        assert lost not in done and any(a.startswith(f"{base}#") for a in done)  # timed out, then done again
        assert any(e["eventType"] == "ActivityTaskTimedOut" for e in events)
        assert [e["eventId"] for e in events] == list(range(1, len(events) + 1))
