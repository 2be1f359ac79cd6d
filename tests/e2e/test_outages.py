"""Lost workers and engine outages, on real processes: `pipeflow server --db`, `pipeflow decider`, `pipeflow worker`.

A worker SIGKILLed mid-task costs its task the heartbeat timeout, not the task's timeout, and
no retry; a server killed mid-run and restarted on the same port and database is waited for by
the decider and the worker, which never exit, and the run ends with the exact result.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pipeflow import running
from pipeflow._loader import load_pipeline
from pipeflow.endpoint import swf_client
from pipeflow.running import _embedded
from pipeflow.task import DEFAULT_HEARTBEAT
from tests._support.files import wait_for_file
from tests._support.histories import closed_executions, history
from tests._support.servers import TEST_CREDENTIALS, free_port, pipeflow_server_process

pytestmark = pytest.mark.slow

PIPELINES = textwrap.dedent('''
    import os, time
    import pipeflow as pf

    @pf.task
    def slow(x):
        # default options: no retries, 300 s timeout, the default heartbeat timeout
        path = os.environ["OUTAGE_MARK"]
        with open(path, "a") as fh:
            fh.write(f"{x} {os.getpid()}\\n")
        time.sleep(2.0 if x == "first" else 0.0)
        return f"done {x}"

    @pf.task
    def double(x):
        with open(os.environ["OUTAGE_MARK"], "a") as fh:
            fh.write(f"{x} {os.getpid()}\\n")
        time.sleep(0.1)
        return 2 * x

    lonely = pf.Pipeline(slow, name="outages-lonely")
    mapped = pf.Pipeline(pf.map(double), name="outages-map")
''')


class Site:
    """A domain on a `pipeflow server`, pipeline files in a folder, and the processes started against them."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url = url
        self.tmp = tmp
        self.domain = f"outages-{uuid.uuid4().hex[:8]}"
        self.file = tmp / "outage_tasks.py"
        self.file.write_text(PIPELINES)
        self.mark = tmp / "calls.log"
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    @property
    def swf(self) -> Any:
        return swf_client(endpoint_url=self.url, max_attempts=1)

    def process(self, kind: str, attr: str, *args: str) -> subprocess.Popen[bytes]:
        """`python -m pipeflow KIND FILE:ATTR ARGS`, in a process group of its own."""
        log = self.tmp / f"{kind}-{len(self.procs)}.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pipeflow", kind, f"{self.file}:{attr}", *args, "--domain", self.domain,
                 "--endpoint-url", self.url],
                cwd=self.tmp, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, env={**os.environ, **TEST_CREDENTIALS, "OUTAGE_MARK": str(self.mark)},
            )
        self.procs.append((proc, log))
        return proc

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        return next(path for p, path in self.procs if p is proc).read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(f"--- {path.name} (exit {p.poll()}):\n{path.read_text(errors='replace')[-3000:]}"
                         for p, path in self.procs)

    def start(self, attr: str, value: Any) -> tuple[str, str]:
        definition = _embedded._definition(load_pipeline(f"{self.file}:{attr}"))
        running.register(self.swf, self.domain, definition)
        return running.start(self.swf, self.domain, definition, value, store=None)

    def result(self, workflow_id: str, run_id: str, timeout: float) -> Any:
        execution = {"workflowId": workflow_id, "runId": run_id}
        deadline = time.monotonic() + timeout
        while self.swf.describe_workflow_execution(domain=self.domain, execution=execution)[
                "executionInfo"]["executionStatus"] != "CLOSED":
            if time.monotonic() > deadline:
                raise AssertionError(f"the run did not close within {timeout:.0f}s\n{self.logs()}")
            time.sleep(0.1)
        return running.wait(self.swf, self.domain, workflow_id, run_id, None)

    def calls(self) -> list[str]:
        return self.mark.read_text().split()[::2] if self.mark.exists() else []

    def kill_all(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextmanager
def server(db: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    # Long polls of 2 s: a stopping process's last poll comes back soon.
    with pipeflow_server_process(db, extra=("--port", str(port), "--poll-timeout", "2")) as (_url, proc):
        yield proc


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Site, Path, int]]:
    port = free_port()
    opened = Site(f"http://127.0.0.1:{port}", tmp_path)
    try:
        yield opened, tmp_path / "engine.sqlite", port
    finally:
        opened.kill_all()


def test_a_worker_killed_mid_task_costs_the_heartbeat_timeout_and_no_retry(site: tuple[Site, Path, int]) -> None:
    here, db, port = site
    with server(db, port):
        here.process("decider", "lonely")
        doomed = here.process("worker", "lonely", "--processes", "1")
        workflow_id, run_id = here.start("lonely", "first")
        wait_for_file(here.mark, timeout=30)
        os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its pool: nobody hands the task back
        killed = time.monotonic()
        here.process("worker", "lonely", "--processes", "1")
        assert here.result(workflow_id, run_id, timeout=DEFAULT_HEARTBEAT + 30) == "done first"
        cost = time.monotonic() - killed
        assert cost <= DEFAULT_HEARTBEAT + 5 + 2.0, f"{cost:.1f}s\n{here.logs()}"  # + the 2 s the task takes
        events = history(here.swf, here.domain, {"workflowId": workflow_id, "runId": run_id})
        kinds = [e["eventType"] for e in events]
        timed_out = [e["activityTaskTimedOutEventAttributes"]["timeoutType"] for e in events
                     if e["eventType"] == "ActivityTaskTimedOut"]
        assert timed_out == ["HEARTBEAT"]
        assert "TimerStarted" not in kinds  # no retry backoff: the task has no retries and none was spent
        assert kinds.count("ActivityTaskCompleted") == 1


def test_decider_and_worker_ride_out_a_server_outage(site: tuple[Site, Path, int]) -> None:
    here, db, port = site
    first = server(db, port)
    proc = first.__enter__()
    try:
        decider = here.process("decider", "mapped")
        worker = here.process("worker", "mapped", "--processes", "2")
        workflow_id, run_id = here.start("mapped", list(range(50)))
        deadline = time.monotonic() + 30
        while len(here.calls()) < 10:
            assert time.monotonic() < deadline, here.logs()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        first.__exit__(None, None, None)
    time.sleep(15)  # the bench keeps it down 60 s and more; the same code paths run here
    assert (decider.poll(), worker.poll()) == (None, None), here.logs()
    with server(db, port):
        assert here.result(workflow_id, run_id, timeout=60) == [2 * i for i in range(50)]
        completed: collections.Counter[tuple[str, str]] = collections.Counter()
        for execution in closed_executions(here.swf, here.domain):
            paths: dict[int, str] = {}  # scheduledEventId -> step path (the activity id without its attempt)
            for event in history(here.swf, here.domain, execution):
                if event["eventType"] == "ActivityTaskScheduled":
                    paths[event["eventId"]] = event["activityTaskScheduledEventAttributes"]["activityId"].split("#")[0]
                elif event["eventType"] == "ActivityTaskCompleted":
                    step = paths[event["activityTaskCompletedEventAttributes"]["scheduledEventId"]]
                    completed[(execution["workflowId"], step)] += 1
        assert [key for key, count in completed.items() if count != 1] == []
        assert (decider.poll(), worker.poll()) == (None, None), here.logs()
    for proc_ in (decider, worker):
        text = here.log(proc_)
        assert "engine unreachable" in text and "engine reachable again" in text, here.logs()
        assert text.count("engine unreachable") <= 3, text  # once per outage, not once per attempt
        assert "RespondActivityTaskCompleted" not in text or "no longer knows" in text, text


def test_a_decider_and_worker_started_before_the_domain_exists_wait_then_serve(
        site: tuple[Site, Path, int]) -> None:
    here, db, port = site
    with server(db, port):
        decider = here.process("decider", "lonely")
        worker = here.process("worker", "lonely", "--processes", "1")
        time.sleep(3)
        assert (decider.poll(), worker.poll()) == (None, None), here.logs()
        workflow_id, run_id = here.start("lonely", "late")
        assert here.result(workflow_id, run_id, timeout=30) == "done late"
        assert "Unknown domain" in here.log(decider), here.logs()


def test_a_signal_stops_a_decider_and_a_worker_promptly_during_an_outage(site: tuple[Site, Path, int]) -> None:
    here, _db, _port = site  # nothing listens on the port: the engine is away from the start
    decider = here.process("decider", "lonely")
    worker = here.process("worker", "lonely", "--processes", "1")
    time.sleep(4)
    assert (decider.poll(), worker.poll()) == (None, None), here.logs()
    for proc in (decider, worker):
        proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    for proc in (decider, worker):
        try:
            assert proc.wait(timeout=10) == 0, here.logs()
        except subprocess.TimeoutExpired:
            raise AssertionError(f"no exit 10 s after SIGTERM\n{here.logs()}") from None
    assert time.monotonic() - stopped < 10
    for proc in (decider, worker):
        assert here.log(proc).count("engine unreachable") == 1, here.logs()
