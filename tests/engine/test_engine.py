"""The runtime around the state machine: client shape, long polling, timers, persistence."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from pipeflow import EngineError
from pipeflow.engine import Engine, EngineClient
from pipeflow.engine._model import service_model

from ._driver import WF, decision, schedule


def _setup(c: EngineClient) -> None:
    c.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
    c.register_workflow_type(domain="d", name="wf", version="1", defaultTaskList={"name": "dt"},
                             defaultExecutionStartToCloseTimeout="3600", defaultTaskStartToCloseTimeout="60",
                             defaultChildPolicy="TERMINATE")
    c.register_activity_type(domain="d", name="act", version="1", defaultTaskList={"name": "at"},
                             defaultTaskScheduleToCloseTimeout="NONE", defaultTaskScheduleToStartTimeout="NONE",
                             defaultTaskStartToCloseTimeout="NONE")


@pytest.fixture()
def engine() -> Iterator[Engine]:
    with Engine(poll_timeout=10) as eng:
        _setup(eng.client())
        yield eng


def _decide(c: EngineClient, *decisions: dict[str, Any]) -> dict[str, Any]:
    task = c.poll_for_decision_task(domain="d", taskList={"name": "dt"})
    c.respond_decision_task_completed(taskToken=task["taskToken"], decisions=list(decisions))
    return task


def test_client_has_every_operation_and_raises_client_errors(engine: Engine) -> None:
    c = engine.client()
    for op in service_model().operation_names:
        assert callable(getattr(c, xform_name(op)))
    with pytest.raises(ClientError) as info:
        c.describe_domain(name="missing")
    assert info.value.response["Error"]["Code"] == "UnknownResourceFault"
    with pytest.raises(c.exceptions.TypeAlreadyExistsFault):
        c.register_activity_type(domain="d", name="act", version="1")
    with pytest.raises(ClientError, match="ValidationException"):
        c.start_workflow_execution(domain="d", workflowId="w", workflowType=WF, bogus=1)


def test_responses_carry_aware_datetimes_and_paginate(engine: Engine) -> None:
    c = engine.client()
    run = c.start_workflow_execution(domain="d", workflowId="w", workflowType=WF)["runId"]
    for i in range(5):
        c.signal_workflow_execution(domain="d", workflowId="w", signalName=f"s{i}")
    pages = c.get_paginator("get_workflow_execution_history").paginate(
        domain="d", execution={"workflowId": "w", "runId": run}, PaginationConfig={"PageSize": 2})
    events = [e for page in pages for e in page["events"]]
    assert [e["eventId"] for e in events] == list(range(1, 8))
    assert all(e["eventTimestamp"].tzinfo is not None for e in events)


def test_empty_poll_answers_without_token() -> None:
    with Engine(poll_timeout=0.05) as eng:
        c = eng.client()
        _setup(c)
        assert "taskToken" not in c.poll_for_activity_task(domain="d", taskList={"name": "at"})
        assert "taskToken" not in c.poll_for_decision_task(domain="d", taskList={"name": "dt"})


def test_waiting_poll_receives_a_new_task(engine: Engine) -> None:
    c = engine.client()
    got: list[dict[str, Any]] = []
    poller = threading.Thread(target=lambda: got.append(c.poll_for_activity_task(domain="d", taskList={"name": "at"})))
    poller.start()
    c.start_workflow_execution(domain="d", workflowId="w", workflowType=WF)
    _decide(c, schedule("a1", input="hello"))
    poller.join(timeout=10)
    assert got and got[0]["input"] == "hello"


def test_close_wakes_pollers() -> None:
    eng = Engine(poll_timeout=60)
    _setup(eng.client())
    got: list[dict[str, Any]] = []
    poller = threading.Thread(target=lambda: got.append(eng.client().poll_for_decision_task(
        domain="d", taskList={"name": "dt"})))
    poller.start()
    while not eng._conds:  # the poller is waiting
        threading.Event().wait(0.01)
    eng.close()
    poller.join(timeout=10)
    assert not poller.is_alive() and "taskToken" not in got[0]


def test_timer_fires_without_any_call(engine: Engine) -> None:
    c = engine.client()
    c.start_workflow_execution(domain="d", workflowId="w", workflowType=WF)
    _decide(c, decision("StartTimer", timerId="t", startToFireTimeout="0"))
    task = c.poll_for_decision_task(domain="d", taskList={"name": "dt"})  # long poll: only the timer can wake it
    assert "TimerFired" in [e["eventType"] for e in task["events"]]


def test_each_task_goes_to_one_poller(engine: Engine) -> None:
    c = engine.client()
    c.start_workflow_execution(domain="d", workflowId="w", workflowType=WF)
    _decide(c, *[schedule(f"a{i}") for i in range(300)])
    seen: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        client = engine.client()
        while True:
            task = client.poll_for_activity_task(domain="d", taskList={"name": "at"})
            if "taskToken" not in task:
                return
            with lock:
                seen.append(task["activityId"])
            client.respond_activity_task_completed(taskToken=task["taskToken"])

    engine.poll_timeout = 0.2
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == sorted(f"a{i}" for i in range(300))


def test_restart_resumes_from_the_database(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    with Engine(db=db, poll_timeout=0.05) as eng:
        c = eng.client()
        _setup(c)
        run = c.start_workflow_execution(domain="d", workflowId="w", workflowType=WF)["runId"]
        _decide(c, schedule("a1"), schedule("a2"), decision("StartTimer", timerId="t", startToFireTimeout="1"))
        token = c.poll_for_activity_task(domain="d", taskList={"name": "at"})["taskToken"]
        before = c.get_workflow_execution_history(domain="d", execution={"workflowId": "w", "runId": run})
    with Engine(db=db, poll_timeout=10) as eng:
        c = eng.client()
        after = c.get_workflow_execution_history(domain="d", execution={"workflowId": "w", "runId": run})
        assert after["events"][: len(before["events"])] == before["events"]
        c.respond_activity_task_completed(taskToken=token, result="late")  # a token from before the restart
        assert c.poll_for_activity_task(domain="d", taskList={"name": "at"})["activityId"] == "a2"
        task = c.poll_for_decision_task(domain="d", taskList={"name": "dt"})
        types = [e["eventType"] for e in task["events"]]
        assert "ActivityTaskCompleted" in types
        if "TimerFired" not in types:  # the timer may fire after this decision task started
            c.respond_decision_task_completed(taskToken=task["taskToken"], decisions=[])
            task = c.poll_for_decision_task(domain="d", taskList={"name": "dt"})
            types = [e["eventType"] for e in task["events"]]
        assert "TimerFired" in types


def test_each_accepted_call_is_committed_before_it_returns(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    copy = tmp_path / "copy.sqlite"
    with Engine(db=db, poll_timeout=0.05) as eng:
        c = eng.client()
        _setup(c)
        c.start_workflow_execution(domain="d", workflowId="w", workflowType=WF)
        c.poll_for_activity_task(domain="d", taskList={"name": "at"})  # empty: not a change
        for suffix in ("", "-wal"):  # the files as they are now hold every accepted change
            Path(f"{copy}{suffix}").write_bytes(Path(f"{db}{suffix}").read_bytes())
        with pytest.raises(EngineError, match="another engine"):
            Engine(db=db)
    other = sqlite3.connect(copy)
    ops = [row[0] for row in other.execute("SELECT op FROM log ORDER BY seq")]
    other.close()
    assert ops == ["RegisterDomain", "RegisterWorkflowType", "RegisterActivityType", "StartWorkflowExecution"]
    other = sqlite3.connect(db)  # a clean close folds the log into a snapshot
    assert other.execute("SELECT COUNT(*) FROM log").fetchone() == (0,)
    assert other.execute("SELECT COUNT(*) FROM snapshot").fetchone() == (1,)
    other.close()


def test_a_crashed_engine_is_rebuilt_from_its_log(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    crashed = tmp_path / "crashed.sqlite"
    with Engine(db=db, poll_timeout=0.05) as eng:
        c = eng.client()
        _setup(c)
        run = c.start_workflow_execution(domain="d", workflowId="w", workflowType=WF)["runId"]
        _decide(c, schedule("a1"), schedule("a2"))
        token = c.poll_for_activity_task(domain="d", taskList={"name": "at"})["taskToken"]
        execution = {"workflowId": "w", "runId": run}
        seen = c.get_workflow_execution_history(domain="d", execution=execution)["events"]
        # the files as a SIGKILL would leave them: database plus write-ahead log, no snapshot
        for suffix in ("", "-wal"):
            Path(f"{crashed}{suffix}").write_bytes(Path(f"{db}{suffix}").read_bytes())
    with Engine(db=crashed, poll_timeout=0.05) as eng:
        c = eng.client()
        assert c.get_workflow_execution_history(domain="d", execution=execution)["events"] == seen
        c.respond_activity_task_completed(taskToken=token)
        assert c.poll_for_activity_task(domain="d", taskList={"name": "at"})["activityId"] == "a2"
