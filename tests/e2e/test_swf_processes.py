"""`pipeflow decider` and `pipeflow worker` as separate OS processes, against moto and `pipeflow server`.

The test registers the pipeline, starts the execution and waits for it through pipeflow's
API, over HTTP, as a starter elsewhere would; the decider and the workers are real processes
it starts, signals and kills. The `pipeflow server` here long-polls for 2 s (SWF: 60) so a
stopping process's last poll comes back soon; moto answers an empty poll after 1 s.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeflow import running
from pipeflow._loader import load_pipeline
from pipeflow.endpoint import swf_client
from pipeflow.running import _embedded
from tests._support.files import wait_for_file
from tests._support.servers import moto_server, pipeflow_server_process
from tests.e2e.pipelines import procs

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "pipelines"
ARITH = ROOT / "tests" / "e2e" / "pipelines" / "arith.py"
PROCS = ROOT / "tests" / "e2e" / "pipelines" / "procs.py"
RUN_TIMEOUT = 120.0  # seconds: a run that does not close by then has lost a task


@pytest.fixture(scope="module")
def quick_pipeflow_url() -> Iterator[str]:
    """A `pipeflow server` of this module's own whose long polls last 2 s."""
    with pipeflow_server_process(extra=("--poll-timeout", "2")) as (url, _proc):
        yield url


@pytest.fixture(scope="module")
def quick_moto_url() -> Iterator[str]:
    """A moto server of this module's own whose empty polls wait 0.1 s instead of 1 s.

    With moto's 1 s, each of the 100 chained steps waits for an empty poll to come back,
    about a second a step.
    """
    with moto_server(empty_poll_delay=0.1) as url:
        yield url


@pytest.fixture(params=["moto", "pipeflow-server"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    url = request.getfixturevalue("moto_url" if request.param == "moto" else "quick_pipeflow_url")
    with Site(url, tmp_path) as opened:
        yield opened


@pytest.fixture(params=["quick-moto", "pipeflow-server"])
def quick_site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    url = request.getfixturevalue("quick_moto_url" if request.param == "quick-moto" else "quick_pipeflow_url")
    with Site(url, tmp_path) as opened:
        yield opened


class Site:
    """A fresh domain on one endpoint, the processes started on it, and the calls log of its tasks."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url = url
        self.tmp = tmp_path
        self.domain = f"procs-{uuid.uuid4().hex[:10]}"
        self.swf = swf_client(endpoint_url=url, max_attempts=1)
        self.calls = tmp_path / "calls.log"
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc, _ in self.procs:  # nothing is checked after the test: no need to be gentle
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def process(self, kind: str, *args: str) -> subprocess.Popen[bytes]:
        """`python -m pipeflow KIND ARGS --domain D --endpoint-url URL`, in a process group of its own."""
        stderr = self.tmp / f"{kind}-{len(self.procs)}.log"
        with stderr.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pipeflow", kind, *args, "--domain", self.domain, "--endpoint-url", self.url],
                start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                env={**os.environ, procs.LOG: str(self.calls)},
            )
        self.procs.append((proc, stderr))
        return proc

    def stderr(self, proc: subprocess.Popen[bytes]) -> str:
        return next(path for p, path in self.procs if p is proc).read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(f"--- {path.name} (exit {p.poll()}):\n{path.read_text(errors='replace')}"
                         for p, path in self.procs)

    def start(self, target: str, input: Any) -> tuple[Any, str, str]:
        """Register FILE:ATTR as the decider names it and start a run: (loaded, workflow id, run id)."""
        loaded = load_pipeline(target)
        definition = _embedded._definition(loaded)
        running.register(self.swf, self.domain, definition)
        workflow_id, run_id = running.start(self.swf, self.domain, definition, input, store=None)
        return loaded, workflow_id, run_id

    def result(self, workflow_id: str, run_id: str, timeout: float = RUN_TIMEOUT) -> Any:
        """Wait for the run to close and return its result (or raise its failure)."""
        execution = {"workflowId": workflow_id, "runId": run_id}
        deadline = time.monotonic() + timeout
        while self.swf.describe_workflow_execution(domain=self.domain, execution=execution)[
                "executionInfo"]["executionStatus"] != "CLOSED":
            if time.monotonic() > deadline:
                raise AssertionError(f"the run did not close within {timeout:.0f}s\n{self.logs()}")
            time.sleep(0.1)
        return running.wait(self.swf, self.domain, workflow_id, run_id, None)

    def steps(self) -> collections.Counter[str]:
        """How many times each step was called (from the calls log)."""
        lines = self.calls.read_text().split("\n") if self.calls.exists() else []
        return collections.Counter(line.split()[0] for line in lines if line)

    def exit_code(self, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"process {proc.args} did not exit within {timeout:.0f}s\n{self.logs()}") from None


def test_the_examples_give_exact_results(site: Site) -> None:
    targets = [f"{EXAMPLES / name}.py:pipeline" for name in ("wordcount", "etl", "fanout")]
    site.process("decider", *targets)
    site.process("worker", *targets, "--processes", "1")
    spec = {"rows": 300, "seed": 7}
    _, *words = site.start(targets[0], "The cat and the hat. The END, the end!")
    etl, *frames = site.start(targets[1], spec)
    _, *primes = site.start(targets[2], {"limit": 2000, "chunks": 3})
    assert site.result(*words) == [["the", 4], ["end", 2], ["and", 1], ["cat", 1], ["hat", 1]]
    raw = etl.module.extract.fn(spec)
    assert site.result(*frames) == etl.module.report.fn([etl.module.clean.fn(raw), etl.module.stats.fn(raw)])
    counted = site.result(*primes)
    assert (counted["primes"], len(counted["per_chunk"])) == (303, 3)  # primes below 2,000


def test_chain100_and_group100_sum_to_100_and_5050(quick_site: Site) -> None:
    # Activity ids come from the canvas, not from the order of submission: exact sums.
    target = f"{ARITH}:both"
    quick_site.process("decider", target)
    quick_site.process("worker", target, "--processes", "1")
    _, *run = quick_site.start(target, 0)
    assert quick_site.result(*run) == [100, 5050]


def test_two_deciders_and_two_workers_share_a_domain_and_run_each_step_once(site: Site) -> None:
    target = f"{PROCS}:shared"
    for _ in range(2):  # each with 3 polls open at once: 6 concurrent pollers of each kind
        site.process("decider", target, "--pollers", "3")
        site.process("worker", target, "--processes", "1", "--pollers", "3")
    _, *run = site.start(target, 0)
    assert site.result(*run) == [10, 190]
    expected = {f"inc{i}" for i in range(10)} | {f"g{i}" for i in range(20)} | {"total"}
    steps = site.steps()
    assert set(steps) == expected
    assert [step for step, count in steps.items() if count != 1] == []


def test_a_worker_killed_mid_task_is_retried_elsewhere(site: Site) -> None:
    target = f"{ARITH}:killable"  # heartbeat=3, retries=1: moto enforces heartbeat timeouts only
    site.process("decider", target)
    first = site.process("worker", target, "--processes", "1")
    pidfile = site.tmp / "pid"
    _, *run = site.start(target, {"counter": str(site.tmp / "n"), "pidfile": str(pidfile)})
    wait_for_file(pidfile)
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool, mid-task
    first.wait()
    site.process("worker", target, "--processes", "1")
    assert site.result(*run) == 2


def test_sigterm_lets_the_task_in_hand_finish_and_the_processes_exit_0(site: Site) -> None:
    target = f"{PROCS}:held"  # hold (retries=0) sleeps 2 s, then step_inc
    decider = site.process("decider", target)
    worker = site.process("worker", target, "--processes", "1")
    started = site.tmp / "started"
    _, *run = site.start(target, {"counter": str(site.tmp / "n"), "started": str(started), "seconds": 2})
    wait_for_file(started)
    # The whole process groups, as systemd signals a service's cgroup: the pool's child too.
    os.killpg(worker.pid, signal.SIGTERM)
    os.killpg(decider.pid, signal.SIGTERM)
    assert site.exit_code(worker) == 0, site.logs()
    assert site.exit_code(decider) == 0, site.logs()
    assert "waiting for 1 task(s) in hand" in site.stderr(worker)
    assert "answering the decision task in hand" in site.stderr(decider)
    assert site.steps() == {"hold#1": 1}  # it finished in the stopping worker: no second attempt
    site.process("decider", target)
    site.process("worker", target, "--processes", "1")
    assert site.result(*run) == 2  # attempt 1, plus one
    assert site.steps() == {"hold#1": 1, "inc1": 1}


def test_a_task_still_running_after_the_grace_period_is_handed_back_without_spending_a_retry(site: Site) -> None:
    target = f"{PROCS}:held"
    site.process("decider", target)
    worker = site.process("worker", target, "--processes", "1", "--grace", "0.5")
    started = site.tmp / "started"
    _, *run = site.start(target, {"counter": str(site.tmp / "n"), "started": str(started), "seconds": 60})
    wait_for_file(started)
    os.kill(worker.pid, signal.SIGTERM)
    assert site.exit_code(worker) == 0, site.logs()
    assert "grace period over" in site.stderr(worker)
    site.process("worker", target, "--processes", "1")
    assert site.result(*run) == 3  # hold's second attempt (retries=0: a hand-back is no failure), plus one
    assert site.steps() == {"hold#1": 1, "hold#2": 1, "inc2": 1}


def test_a_second_signal_exits_at_once_with_130(site: Site) -> None:
    target = f"{PROCS}:held"
    site.process("decider", target)
    worker = site.process("worker", target, "--processes", "1")
    started = site.tmp / "started"
    site.start(target, {"counter": str(site.tmp / "n"), "started": str(started), "seconds": 60})
    child = int(wait_for_file(started))
    os.killpg(worker.pid, signal.SIGTERM)
    time.sleep(0.3)
    os.kill(worker.pid, signal.SIGINT)
    assert site.exit_code(worker, timeout=10) == 130, site.logs()
    assert "interrupted" in site.stderr(worker)
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)  # the pool's child went with it


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for whoever adopted it counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
