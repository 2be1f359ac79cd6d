"""A stopping worker loses no task: what it will not run goes back to SWF as a hand-back.

Against the embedded engine (in this process, with a short long poll): the activities are
scheduled by hand and their closing events read from the history.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeflow import wire
from pipeflow.engine import Engine
from pipeflow.worker import Registry, Worker
from tests.pipeflow.worker import plain
from tests.pipeflow.worker.test_worker import TASK_LIST, Execution, wait_closed

pytestmark = pytest.mark.slow


def until_file(path: str) -> str:
    """Wait for the file to exist (at most 30 s)."""
    deadline = time.monotonic() + 30
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return "released"


def record(path: str) -> str:
    """Start a file named after the job, then wait for a release file next to it."""
    Path(path).touch()
    return until_file(path + ".go")


TASKS = [*plain.TASKS, plain.PlainTask("record", record), plain.PlainTask("until_file", until_file)]


@pytest.fixture()
def execution() -> Iterator[Execution]:
    engine = Engine(poll_timeout=2.0)
    try:
        yield Execution(engine.client())
    finally:
        engine.close()


class Polls:
    """The engine's client, telling when a PollForActivityTask call is made."""

    def __init__(self, swf: Any) -> None:
        self.swf = swf
        self.made = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.swf, name)

    def poll_for_activity_task(self, **params: Any) -> Any:
        self.made.set()
        return self.swf.poll_for_activity_task(**params)


def run_worker(
    execution: Execution, stop: threading.Event, swf: Any = None, **kw: Any
) -> tuple[Worker, threading.Thread]:
    worker = Worker(swf or execution.swf, execution.domain, TASK_LIST, Registry.from_tasks(TASKS), processes=1,
                    start_method="fork", execute=plain.execute, identity="host:42")
    worker.start()
    worker._pool.wait_ready()  # type: ignore[union-attr]
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs=kw)
    thread.start()
    return worker, thread


def handed_back(closed: dict[str, Any]) -> bool:
    return closed["kind"] == "Failed" and wire.is_handback(closed["reason"]) and "host:42" in closed["reason"]


def test_prefetched_tasks_are_handed_back_and_the_running_one_finishes(execution: Execution, tmp_path: Path) -> None:
    stop = threading.Event()
    running = str(tmp_path / "running")
    worker, thread = run_worker(execution, stop)
    worker._mean_duration = 0.0  # short tasks so far: it prefetches
    execution.schedule(("a", "record", f'"{running}"'))
    until_file(running)  # "a" runs in the only process
    # A signal makes a decision task, in which the test schedules more.
    execution.swf.signal_workflow_execution(domain=execution.domain, workflowId="wf-1", signalName="more",
                                            input="")
    execution.schedule(("b", "inc", "1"), ("c", "inc", "2"), ("d", "inc", "3"))
    deadline = time.monotonic() + 30
    while worker.waiting_for()[0] < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.waiting_for()[0] == 4  # "a" running, three queued behind it
    stop.set()
    closed = wait_closed(execution, "b", "c", "d")
    assert all(handed_back(closed[i]) for i in "bcd"), closed
    assert "a" not in closed  # still running
    Path(running + ".go").touch()
    closed = wait_closed(execution, "a")
    assert (closed["a"]["kind"], closed["a"]["result"]) == ("Completed", '"released"')
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_a_task_that_a_poll_in_flight_brings_after_the_signal_is_handed_back(execution: Execution) -> None:
    stop = threading.Event()
    polls = Polls(execution.swf)
    worker, thread = run_worker(execution, stop, polls, poll_wait=10.0)
    assert polls.made.wait(10)
    stop.set()  # a poll is in flight (the engine holds it up to 2 s)
    execution.schedule(("late", "inc", "1"))
    closed = wait_closed(execution, "late")
    assert handed_back(closed["late"]), closed
    assert "arrived after the signal" in closed["late"]["reason"]
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_a_task_running_past_the_grace_period_is_killed_and_handed_back(execution: Execution, tmp_path: Path) -> None:
    stop = threading.Event()
    running = str(tmp_path / "running")
    worker, thread = run_worker(execution, stop, drain_timeout=0.2)
    execution.schedule(("slow", "record", f'"{running}"'))
    until_file(running)
    pids = worker.pids
    stop.set()
    closed = wait_closed(execution, "slow")
    assert handed_back(closed["slow"]), closed
    assert "after the grace period" in closed["slow"]["reason"]
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert pids and not any(Path(f"/proc/{pid}").exists() for pid in pids)
