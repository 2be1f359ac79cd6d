"""The worker's process pool: results, real parallelism, a killed child, heartbeat details."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeflow import WorkerError
from pipeflow.worker import Job, Pool, Registry
from tests.pipeflow.worker import plain

pytestmark = pytest.mark.slow


class Collector:
    """Outcomes and heartbeat details as the pool reports them."""

    def __init__(self) -> None:
        self.outcomes: dict[int, list[Any]] = {}
        self.beats: list[tuple[int, str | None]] = []
        self._cond = threading.Condition()

    def done(self, job: int, outcome: list[Any]) -> None:
        with self._cond:
            self.outcomes[job] = outcome
            self._cond.notify_all()

    def beat(self, job: int, details: str | None) -> None:
        self.beats.append((job, details))

    def wait_for(self, *jobs: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: all(j in self.outcomes for j in jobs), timeout=60)


@pytest.fixture()
def collector() -> Collector:
    return Collector()


@pytest.fixture()
def pool(collector: Collector) -> Iterator[Pool]:
    # fork: the plain test tasks are not pipeflow tasks a spawned child could look up
    pool = Pool(Registry.from_tasks(plain.TASKS), 2, on_done=collector.done, on_beat=collector.beat,
                start_method="fork", execute=plain.execute)
    pool.start()
    pool.wait_ready()
    yield pool
    pool.stop()


def job(n: int, name: str, value: Any) -> Job:
    return Job(n, name, "1", f"activity-{n}", json.dumps(value))


def test_every_job_gets_its_own_result(pool: Pool, collector: Collector) -> None:
    for n in range(500):
        pool.submit(job(n, "inc", n))
    collector.wait_for(*range(500))
    assert all(collector.outcomes[n] == ["ok", str(n + 1)] for n in range(500))


def test_two_jobs_run_at_the_same_time_in_two_processes(pool: Pool, collector: Collector, tmp_path: Path) -> None:
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    pool.submit(job(1, "meet", [a, b]))
    pool.submit(job(2, "meet", [b, a]))
    collector.wait_for(1, 2)
    first, second = collector.outcomes[1], collector.outcomes[2]
    assert first[0] == second[0] == "ok"
    assert first[1] != second[1]  # two process ids


def test_a_failure_is_reported(pool: Pool, collector: Collector) -> None:
    pool.submit(job(1, "crash", "x"))
    collector.wait_for(1)
    assert collector.outcomes[1] == ["fail", "KeyError", "'x'"]


def test_a_killed_child_fails_only_its_job_and_is_replaced(pool: Pool, collector: Collector, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    pool.submit(job(1, "wait_for_kill", str(pidfile)))
    while not (pidfile.exists() and pidfile.read_text()):
        time.sleep(0.01)
    victim = int(pidfile.read_text())
    os.kill(victim, signal.SIGKILL)
    collector.wait_for(1)
    assert collector.outcomes[1] == ["died", "killed by signal SIGKILL"]
    assert (1, "about to wait") in collector.beats
    for n in range(2, 12):
        pool.submit(job(n, "inc", n))
    collector.wait_for(*range(2, 12))
    assert collector.outcomes[11] == ["ok", "12"]
    assert victim not in pool.pids and len(pool.pids) == 2


def test_children_that_cannot_load_the_tasks_stop_the_pool(collector: Collector) -> None:
    lost = plain.PlainTask("lost", plain.inc)
    object.__setattr__(lost, "fn", _renamed(plain.inc, "no_such_module_xyz"))
    pool = Pool(Registry.from_tasks([lost]), 1, on_done=collector.done, on_beat=collector.beat,
                start_method="spawn", execute=plain.execute)
    pool.start()
    try:
        with pytest.raises(WorkerError, match="could not load"):
            pool.wait_ready()
    finally:
        pool.stop()


def _renamed(fn: Any, module: str) -> Any:
    def moved(x: Any) -> Any:
        return fn(x)

    moved.__module__ = module
    moved.__qualname__ = "moved"
    return moved
