"""`Pool.cancel`: a queued job is dropped, a running one's process is killed and replaced."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeflow.worker import Pool, Registry
from tests.pipeflow.worker import plain
from tests.pipeflow.worker.test_pool import Collector, job

pytestmark = pytest.mark.slow


@pytest.fixture()
def collector() -> Collector:
    return Collector()


@pytest.fixture()
def pool(collector: Collector) -> Iterator[Pool]:
    pool = Pool(Registry.from_tasks(plain.TASKS), 2, on_done=collector.done, on_beat=collector.beat,
                start_method="fork", execute=plain.execute)
    pool.start()
    pool.wait_ready()
    yield pool
    pool.stop(timeout=0.0)


def started(pidfile: Path) -> int:
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text()):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.01)
    return int(pidfile.read_text())


def test_cancel_drops_a_queued_job_and_kills_a_running_one(pool: Pool, collector: Collector, tmp_path: Path) -> None:
    pool.submit(job(1, "wait_for_kill", str(tmp_path / "a")))
    pool.submit(job(2, "wait_for_kill", str(tmp_path / "b")))
    victim, other = started(tmp_path / "a"), started(tmp_path / "b")
    pool.submit(job(3, "inc", 3))  # both processes busy: it waits in the queue
    pool.cancel(3)
    pool.cancel(1)
    collector.wait_for(1, 3)
    assert collector.outcomes[3] == ["canceled"] and collector.outcomes[1] == ["canceled"]
    deadline = time.monotonic() + 60
    while victim in pool.pids or len(pool.pids) < 2:
        assert time.monotonic() < deadline, "the killed process was not replaced"
        time.sleep(0.01)
    with pytest.raises(ProcessLookupError):
        os.kill(victim, 0)
    pool.submit(job(4, "inc", 4))  # the new process serves on
    collector.wait_for(4)
    assert collector.outcomes[4] == ["ok", "5"] and 2 not in collector.outcomes
    pool.cancel(99)  # unknown (finished long ago): ignored
    pool.cancel(2)
    collector.wait_for(2)
    assert collector.outcomes[2] == ["canceled"] and other not in pool.pids
