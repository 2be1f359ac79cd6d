"""16 pollers against `pipeflow server` over HTTP: every activity task delivered exactly once."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.config import Config

pytestmark = pytest.mark.slow

POLLERS = 16
EXECUTIONS = 2
PER_EXECUTION = 1000  # SWF's open-activity limit per execution
TOTAL = EXECUTIONS * PER_EXECUTION
STOP = "stop-"
ACTIVITY = {"name": "act", "version": "1"}
WORKFLOW = {"name": "wf", "version": "1"}
TASK_LIST = {"name": "work"}


def _schedule(activity_id: str) -> dict[str, Any]:
    attributes = {"activityType": ACTIVITY, "activityId": activity_id, "taskList": TASK_LIST, "input": activity_id}
    return {"decisionType": "ScheduleActivityTask", "scheduleActivityTaskDecisionAttributes": attributes}


def test_sixteen_pollers_no_double_delivery_nothing_lost(pipeflow_url: str) -> None:
    config = Config(retries={"total_max_attempts": 1}, read_timeout=75, max_pool_connections=POLLERS + 4)
    swf: Any = boto3.client("swf", endpoint_url=pipeflow_url, config=config)  # botocore clients are thread-safe
    domain = f"concurrency-{uuid.uuid4().hex[:8]}"
    swf.register_domain(name=domain, workflowExecutionRetentionPeriodInDays="1")
    swf.register_workflow_type(
        domain=domain, **WORKFLOW, defaultTaskList={"name": "decide"}, defaultChildPolicy="TERMINATE",
        defaultExecutionStartToCloseTimeout="600", defaultTaskStartToCloseTimeout="60",
    )
    swf.register_activity_type(
        domain=domain, **ACTIVITY, defaultTaskList=TASK_LIST, defaultTaskScheduleToStartTimeout="600",
        defaultTaskScheduleToCloseTimeout="600", defaultTaskStartToCloseTimeout="600",
        defaultTaskHeartbeatTimeout="600",
    )

    received: list[list[str]] = [[] for _ in range(POLLERS)]
    errors: list[BaseException] = []
    all_received = threading.Event()
    count_lock = threading.Lock()
    count = [0]

    def poller(index: int) -> None:
        try:
            while True:
                task = swf.poll_for_activity_task(domain=domain, taskList=TASK_LIST, identity=f"p{index}")
                if not task.get("taskToken"):
                    continue
                received[index].append(task["activityId"])
                swf.respond_activity_task_completed(taskToken=task["taskToken"], result=task["input"])
                if task["activityId"].startswith(STOP):
                    return
                with count_lock:
                    count[0] += 1
                    if count[0] >= TOTAL:
                        all_received.set()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            all_received.set()

    threads = [threading.Thread(target=poller, args=(i,), daemon=True) for i in range(POLLERS)]
    for thread in threads:
        thread.start()

    executions = []
    for e in range(EXECUTIONS):
        run = swf.start_workflow_execution(domain=domain, workflowId=f"w{e}", workflowType=WORKFLOW)
        executions.append({"workflowId": f"w{e}", "runId": run["runId"]})
    for _ in range(EXECUTIONS):  # the first decision task of each execution, in either order
        decision = swf.poll_for_decision_task(domain=domain, taskList={"name": "decide"})
        e = int(decision["workflowExecution"]["workflowId"][1:])
        assert decision["workflowExecution"] == executions[e]
        swf.respond_decision_task_completed(
            taskToken=decision["taskToken"], decisions=[_schedule(f"{e}-{i}") for i in range(PER_EXECUTION)]
        )

    assert all_received.wait(timeout=180), f"only {count[0]} of {TOTAL} tasks arrived"
    assert not errors, errors
    # one stop task per poller, from a decision of either execution (each has completions waiting)
    decision = swf.poll_for_decision_task(domain=domain, taskList={"name": "decide"})
    swf.respond_decision_task_completed(
        taskToken=decision["taskToken"], decisions=[_schedule(f"{STOP}{i}") for i in range(POLLERS)]
    )
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)

    delivered = Counter(a for got in received for a in got if not a.startswith(STOP))
    assert [a for a, n in delivered.items() if n > 1] == []  # no double delivery
    assert set(delivered) == {f"{e}-{i}" for e in range(EXECUTIONS) for i in range(PER_EXECUTION)}
    assert sum(1 for got in received if got) > 1  # the work really was shared

    completed = 0
    for execution in executions:
        kwargs: dict[str, Any] = {"domain": domain, "execution": execution, "maximumPageSize": 1000}
        while True:
            page = swf.get_workflow_execution_history(**kwargs)
            completed += sum(1 for ev in page["events"] if ev["eventType"] == "ActivityTaskCompleted")
            if not page.get("nextPageToken"):
                break
            kwargs["nextPageToken"] = page["nextPageToken"]
        swf.terminate_workflow_execution(domain=domain, **execution)
    assert completed == TOTAL + POLLERS  # every completion (stop tasks included) is in a history
