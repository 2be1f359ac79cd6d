"""Upgrading a pipeline while its runs are open: version 1's run finishes on version 1's code.

The guide's path (docs/deploy/upgrades.md) on a `pipeflow server`: a decider and a worker serve
report_v1.py; a v1 run waits for a signal; they are stopped with SIGTERM and replaced by a
decider and a worker serving report_v1.py and report_v2.py; a v2 run completes with v2's steps
beside the open v1 run, which then completes with v1's. Workflow types are (name, version), so
one decider tells the runs apart by their type; the tasks differ by name (each file's stem).
"""

from __future__ import annotations

import json
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
from tests._support.servers import pipeflow_server_process

pytestmark = pytest.mark.slow

V1 = """
import pipeflow as pf

@pf.task
def extract(n):
    return list(range(n))

@pf.task
def total(values):
    return {"version": 1, "total": sum(values[0])}

pipeline = pf.Pipeline(pf.chain(extract, pf.group(pf.wait_signal("approve")), total), name="report", version="1")
"""

V2 = """
import pipeflow as pf

@pf.task
def extract(n):
    return list(range(n))

@pf.task
def squares(values):
    return [v * v for v in values]

@pf.task
def total(values):
    return {"version": 2, "total": sum(values)}

pipeline = pf.Pipeline(pf.chain(extract, squares, total), name="report", version="2")
"""


@pytest.fixture(scope="module")
def quick_url() -> Iterator[str]:
    """A `pipeflow server` whose long polls last 2 s, so a stopping process's last poll returns soon."""
    with pipeflow_server_process(extra=("--poll-timeout", "2")) as (url, _proc):
        yield url


def serve(kind: str, files: list[str], domain: str, url: str, cwd: Path) -> subprocess.Popen[bytes]:
    with (cwd / f"{kind}-{len(files)}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeflow", kind, *files, "--domain", domain, "--endpoint-url", url],
            cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
        )


def events(swf: Any, domain: str, execution: dict[str, str]) -> list[str]:
    return [e["eventType"] for e in swf.get_workflow_execution_history(domain=domain, execution=execution)["events"]]


def until(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f}s"
        time.sleep(0.1)


def test_an_open_v1_run_finishes_on_v1_after_v2_is_deployed(quick_url: str, tmp_path: Path) -> None:
    (tmp_path / "report_v1.py").write_text(V1)
    (tmp_path / "report_v2.py").write_text(V2)
    swf = swf_client(endpoint_url=quick_url, max_attempts=1)
    domain = f"upgrade-{uuid.uuid4().hex[:10]}"
    v1, v2 = (load_pipeline(str(tmp_path / f"report_v{n}.py")).target for n in (1, 2))
    assert (v1.name, v1.task_list) == (v2.name, v2.task_list)  # one decision task list serves both versions
    running.register(swf, domain, v1)
    old = [serve("decider", ["report_v1.py"], domain, quick_url, tmp_path),
           serve("worker", ["report_v1.py"], domain, quick_url, tmp_path)]
    workflow_id, run_id = running.start(swf, domain, v1, 4, store=None)
    execution = {"workflowId": workflow_id, "runId": run_id}
    until(lambda: "ActivityTaskCompleted" in events(swf, domain, execution), "v1's first step")

    # the deployment: v1's processes drain and exit 0 on SIGTERM; the new ones serve both files
    for proc in old:
        os.killpg(proc.pid, signal.SIGTERM)
    assert [proc.wait(timeout=60) for proc in old] == [0, 0]
    new = [serve("decider", ["report_v1.py", "report_v2.py"], domain, quick_url, tmp_path),
           serve("worker", ["report_v1.py", "report_v2.py"], domain, quick_url, tmp_path)]
    try:
        running.register(swf, domain, v2)
        v2_id, v2_run = running.start(swf, domain, v2, 4, store=None)
        assert running.wait(swf, domain, v2_id, v2_run, None) == {"version": 2, "total": 0 + 1 + 4 + 9}
        assert "WorkflowExecutionCompleted" not in events(swf, domain, execution)  # v1's run is still open
        swf.signal_workflow_execution(domain=domain, workflowId=workflow_id, runId=run_id, signalName="approve",
                                      input=json.dumps([0, 1, 2, 3]))
        assert running.wait(swf, domain, workflow_id, run_id, None) == {"version": 1, "total": 6}
        types = {e["workflowType"]["version"] for e in swf.list_closed_workflow_executions(
            domain=domain, startTimeFilter={"oldestDate": 0})["executionInfos"]}
        assert types == {"1", "2"}
    finally:
        for proc in new:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
