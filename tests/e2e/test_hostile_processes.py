"""Hostile values against real processes: none crashes, steers or wedges a `pipeflow` process (issue 12).

- A task returning a tuple nested 250 levels deep used to kill `pipeflow run` and a worker's
  child with SIGSEGV: now the step fails with a message about the nesting limit, and the worker
  process serves on.
- A task input naming a store of its own choosing used to make `pipeflow worker` write there.
- A `pipeflow.cancel` signal carrying a 700-level msgpack value used to make the decider fail
  every decision task: the run never moved again. A signal for a step nested too deep likewise.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgpack
import pytest

from pipeflow import running, wire
from pipeflow._loader import load_pipeline
from pipeflow.endpoint import swf_client
from pipeflow.running import _embedded
from tests._support.processes import pipeflow_process

pytestmark = pytest.mark.slow

PIPELINES = Path(__file__).resolve().parent / "pipelines" / "hostile.py"
WAIT = 30.0  # seconds: each of these ends within a few; a wedged run never does
EXIT_FAILED, EXIT_DATA, EXIT_CANCELED = 1, 3, 5


def pipeflow(*args: str, timeout: float = WAIT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeflow", *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


@contextmanager
def background(*args: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m pipeflow ARGS` in its own process group (stderr to `log`), killed at the end."""
    with log.open("wb") as err, pipeflow_process(*args, log=err) as proc:
        yield proc


def until(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f}s")
        time.sleep(0.05)
    return value


def deep_msgpack(levels: int) -> str:
    data = msgpack.packb([], use_bin_type=True)
    for _ in range(levels):
        data = msgpack.packb([msgpack.ExtType(1, data)], use_bin_type=True)  # ext 1: a tuple
    return "msgpack/1:" + base64.b64encode(data).decode()


def domain() -> str:
    return f"hostile-{uuid.uuid4().hex[:10]}"


def test_pipeflow_run_of_a_result_nested_too_deep_fails_the_step(tmp_path: Path) -> None:
    done = pipeflow("run", f"{PIPELINES}:deep", "--input", "250", "--no-progress", "--workers", "1")
    assert (done.returncode, done.stdout) == (EXIT_DATA, ""), done.stderr  # a value that cannot cross: data
    assert "step 0" in done.stderr and "hostile.nested" in done.stderr and "nest" in done.stderr
    assert "Traceback" not in done.stderr and "remote traceback" not in done.stderr  # pipeflow's frames: not shown


def test_a_worker_survives_a_result_nested_too_deep(pipeflow_url: str, tmp_path: Path) -> None:
    name = domain()
    swf = ["--backend", "swf", "--domain", name, "--endpoint-url", pipeflow_url, "--no-local-workers", "--no-progress"]
    worker_args = ["worker", str(PIPELINES), "--domain", name, "--endpoint-url", pipeflow_url, "--processes", "1"]
    running.register(swf_client(endpoint_url=pipeflow_url), name, _embedded._definition(load_pipeline(f"{PIPELINES}:deep")))
    with background(*worker_args, log=tmp_path / "worker.log") as worker:
        done = pipeflow("run", f"{PIPELINES}:deep", "--input", "250", *swf)
        assert done.returncode == EXIT_DATA, done.stderr + (tmp_path / "worker.log").read_text()
        assert "hostile.nested" in done.stderr and "nest" in done.stderr
        again = pipeflow("run", f"{PIPELINES}:plain", "--input", "1", *swf)  # the same worker serves on
        assert (again.returncode, json.loads(again.stdout or "null")) == (0, 2), again.stderr
        assert worker.poll() is None
    assert "Segmentation" not in (tmp_path / "worker.log").read_text()


def test_a_task_input_cannot_make_a_worker_write_elsewhere(pipeflow_url: str, tmp_path: Path) -> None:
    name = domain()
    client = swf_client(endpoint_url=pipeflow_url)
    definition = _embedded._definition(load_pipeline(f"{PIPELINES}:large"))
    running.register(client, name, definition)
    planted = tmp_path / "planted"
    worker_args = ["worker", str(PIPELINES), "--domain", name, "--endpoint-url", pipeflow_url, "--processes", "1"]
    with background(*worker_args, log=tmp_path / "worker.log"):  # no --store: ./.pipeflow/payloads is its own
        execution = {"workflowId": "planted", "runId": client.start_workflow_execution(
            domain=name, workflowId="planted", workflowType={"name": definition.name, "version": "1"},
            taskList={"name": definition.task_list}, input=wire.encode_workflow_input(1))["runId"]}
        # A decider of the attacker's own schedules the task with an input naming a store of theirs.
        task = until(lambda: client.poll_for_decision_task(domain=name, taskList={"name": definition.task_list},
                                                           identity="attacker").get("taskToken"), "decision task")
        text = wire.encode_activity_input(step="0", attempt=1, task="hostile.grow",
                                           store=f"{planted.as_uri()}#planted/here", piped="json/1:1", args=[],
                                           kwargs={})
        client.respond_decision_task_completed(taskToken=task, decisions=[{
            "decisionType": "ScheduleActivityTask", "scheduleActivityTaskDecisionAttributes": {
                "activityType": {"name": "hostile.grow", "version": "1"}, "activityId": "0#1", "input": text,
                "taskList": {"name": definition.task_list}, "startToCloseTimeout": "60", "heartbeatTimeout": "NONE",
                "scheduleToStartTimeout": "NONE", "scheduleToCloseTimeout": "NONE"}}])

        def failure() -> dict[str, Any] | None:
            events = client.get_workflow_execution_history(domain=name, execution=execution)["events"]
            return next((e["activityTaskFailedEventAttributes"] for e in events
                         if e["eventType"] == "ActivityTaskFailed"), None)

        attrs = until(failure, "ActivityTaskFailed")
    assert attrs["reason"].startswith("StoreError: the run's store ")
    assert planted.as_uri() in attrs["details"] and "start the worker with --store" in attrs["details"]
    assert not planted.exists()


@contextmanager
def gated_run(pipeflow_url: str, tmp_path: Path) -> Iterator[tuple[Any, str, dict[str, str], subprocess.Popen[bytes]]]:
    """`pipeflow run FILE:gate --backend swf` waiting for its signal: (boto3 client, domain, execution, process)."""
    name = domain()
    client = swf_client(endpoint_url=pipeflow_url)
    args = ["run", f"{PIPELINES}:gate", "--input", "1", "--backend", "swf", "--domain", name,
            "--endpoint-url", pipeflow_url, "--workers", "1", "--no-progress"]
    with background(*args, log=tmp_path / "run.log") as proc:
        def waiting() -> dict[str, str] | None:
            try:
                infos = client.list_open_workflow_executions(domain=name, startTimeFilter={"oldestDate": 0})
            except client.exceptions.UnknownResourceFault:
                return None  # not registered yet
            for info in infos.get("executionInfos", []):
                events = client.get_workflow_execution_history(domain=name, execution=info["execution"])["events"]
                if any(e["eventType"] == "DecisionTaskCompleted" for e in events):
                    return dict(info["execution"])
            return None

        execution = until(waiting, "run waiting for its signal")
        yield client, name, execution, proc


def ended(proc: subprocess.Popen[bytes], log: Path) -> tuple[int, str]:
    try:
        code = proc.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the run is wedged: still open after {WAIT:.0f}s\n{log.read_text()}") from None
    return code, log.read_text()


def test_a_cancel_reason_nested_700_levels_deep_cannot_wedge_the_run(pipeflow_url: str, tmp_path: Path) -> None:
    with gated_run(pipeflow_url, tmp_path) as (client, name, execution, proc):
        client.signal_workflow_execution(domain=name, workflowId=execution["workflowId"], runId=execution["runId"],
                                         signalName="pipeflow.cancel", input=deep_msgpack(700))
        client.request_cancel_workflow_execution(domain=name, workflowId=execution["workflowId"],
                                                 runId=execution["runId"])
        code, err = ended(proc, tmp_path / "run.log")
    assert code == EXIT_CANCELED, err
    assert "was canceled: (the reason sent with the cancel in event" in err and "was dropped" in err


def test_a_signal_nested_too_deep_fails_the_run_naming_it(pipeflow_url: str, tmp_path: Path) -> None:
    with gated_run(pipeflow_url, tmp_path) as (client, name, execution, proc):
        client.signal_workflow_execution(domain=name, workflowId=execution["workflowId"], runId=execution["runId"],
                                         signalName="go", input="[" * 16_000 + "]" * 16_000)
        code, err = ended(proc, tmp_path / "run.log")
    assert code == EXIT_FAILED, err
    assert "(WorkflowExecutionSignaled, signal 'go') cannot be decoded" in err and "nested deeper than" in err
