"""Fewer round trips to the embedded engine: several tasks per poll, several answers per call, own events each."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pipeflow.engine import Batch, Engine
from pipeflow.worker import Job, Pool, Registry, Worker
from tests.pipeflow.worker import plain
from tests.pipeflow.worker.test_worker import TASK_LIST, Execution, wait_closed

COMPLETED = "RespondActivityTaskCompleted"


def events(execution: Execution, kind: str) -> list[dict[str, Any]]:
    history = execution.swf.get_workflow_execution_history(domain=execution.domain, execution=execution.execution)
    return [e for e in history["events"] if e["eventType"] == kind]


def test_a_poll_takes_several_ready_tasks_each_with_its_own_started_event(tmp_path: Path) -> None:
    engine = Engine(db=tmp_path / "state.sqlite", poll_timeout=0.2)
    execution = Execution(engine.client())
    execution.schedule(*[(f"a{n}", "inc", str(n)) for n in range(10)])
    batch = Batch(engine)
    params = {"domain": execution.domain, "taskList": {"name": TASK_LIST}, "identity": "me"}

    tasks = batch.poll_activity_tasks(maximum=4, **params)

    assert [t["activityId"] for t in tasks] == ["a0", "a1", "a2", "a3"]
    assert len({t["taskToken"] for t in tasks}) == 4
    started = events(execution, "ActivityTaskStarted")
    assert [e["eventId"] for e in started] == [t["startedEventId"] for t in tasks]
    assert all(e["activityTaskStartedEventAttributes"]["identity"] == "me" for e in started)
    assert len(batch.poll_activity_tasks(maximum=100, **params)) == 6  # the rest, no more
    assert batch.poll_activity_tasks(maximum=100, **params) == []  # none ready: empty after the long poll

    # Three answers and one for a token the engine never issued: that one alone is refused.
    answers = [(COMPLETED, {"taskToken": t["taskToken"], "result": str(n)}) for n, t in enumerate(tasks[:3])]
    errors = batch.respond([*answers, (COMPLETED, {"taskToken": "nope", "result": "0"})])
    assert errors[:3] == [None, None, None]
    assert errors[3] is not None and errors[3].response["Error"]["Code"] == "UnknownResourceFault"  # type: ignore[attr-defined]
    engine.close()

    # Committed: a new engine on the same file has every event.
    engine = Engine(db=tmp_path / "state.sqlite")
    execution.swf = engine.client()
    assert len(events(execution, "ActivityTaskStarted")) == 10
    done = events(execution, "ActivityTaskCompleted")
    assert [e["activityTaskCompletedEventAttributes"]["result"] for e in done] == ["0", "1", "2"]
    engine.close()


def test_a_failed_commit_undoes_the_whole_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    engine = Engine(db=tmp_path / "state.sqlite", poll_timeout=0.2)
    execution = Execution(engine.client())
    execution.schedule(("a", "inc", "1"), ("b", "inc", "2"))
    batch = Batch(engine)
    tasks = batch.poll_activity_tasks(maximum=2, domain=execution.domain, taskList={"name": TASK_LIST})
    store = engine._store
    assert store is not None

    def full_disk(rows: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "write", full_disk)  # the one fault this machine cannot make on demand
    errors = batch.respond([(COMPLETED, {"taskToken": t["taskToken"], "result": "1"}) for t in tasks])
    assert [e.response["Error"]["Code"] for e in errors if e is not None] == ["ServiceUnavailable"] * 2  # type: ignore[attr-defined]
    assert events(execution, "ActivityTaskCompleted") == []  # neither happened, in memory either
    monkeypatch.undo()
    time.sleep(0.6)  # changes are refused for a moment after a failed commit
    assert batch.respond([(COMPLETED, {"taskToken": t["taskToken"], "result": "1"}) for t in tasks]) == [None, None]
    assert len(events(execution, "ActivityTaskCompleted")) == 2
    engine.close()


class CountingBatch(Batch):
    """The engine's Batch, counting the tasks each poll brought."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.polls: list[int] = []

    def poll_activity_tasks(self, *, maximum: int, **params: Any) -> list[dict[str, Any]]:
        tasks = super().poll_activity_tasks(maximum=maximum, **params)
        if tasks:
            self.polls.append(len(tasks))
        return tasks


@pytest.mark.slow
def test_a_batched_worker_runs_every_task_with_fewer_polls_than_tasks() -> None:
    engine = Engine()
    execution = Execution(engine.client())
    ids = [f"a{n}" for n in range(60)]
    execution.schedule(*[(aid, "inc", str(n)) for n, aid in enumerate(ids)])  # all ready before it starts
    worker = Worker(execution.swf, execution.domain, TASK_LIST, Registry.from_tasks(plain.TASKS), processes=2,
                    start_method="fork", execute=plain.execute)
    worker.batch = batch = CountingBatch(engine)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        closed = wait_closed(execution, *ids)
        started = events(execution, "ActivityTaskStarted")
    finally:
        stop.set()
        thread.join(timeout=60)
        engine.close()
    assert {aid: (c["kind"], c["result"]) for aid, c in closed.items()} == {
        aid: ("Completed", str(n + 1)) for n, aid in enumerate(ids)}
    assert len(started) == 60  # one each: batching shares only round trips
    assert sum(batch.polls) == 60
    assert batch.polls[0] == 2  # room for one per process at first (tasks assumed long): both taken at once
    assert len(batch.polls) < 60
    assert worker._outbox.answers == 60


@pytest.mark.slow
def test_results_waiting_together_are_reported_in_one_round() -> None:
    rounds: list[int] = []
    done: list[int] = []
    first = threading.Event()

    def on_done(job: int, outcome: list[Any]) -> None:
        done.append(job)
        if not first.is_set():
            first.set()
            time.sleep(0.5)  # meanwhile the child finishes the other jobs: their results wait in the pipe

    def on_round() -> None:
        if done:
            rounds.append(len(done))
            done.clear()

    pool = Pool(Registry.from_tasks(plain.TASKS), 1, on_done=on_done, on_beat=lambda job, details: None,
                on_round=on_round, start_method="fork", execute=plain.execute)
    for n in range(10):  # queued before the child is ready: it gets all ten in one batch
        pool.submit(Job(n, "inc", "1", f"a{n}", json.dumps(n)))
    pool.start()
    pool.wait_ready()
    try:
        deadline = time.monotonic() + 30
        while sum(rounds) + len(done) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        pool.stop()
    assert sum(rounds) == 10
    assert max(rounds) >= 5  # several results, one on_round: the worker answers them in one call
