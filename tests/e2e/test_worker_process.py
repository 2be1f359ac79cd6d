"""`pipeflow worker` and `pipeflow decider` as real processes against `pipeflow server`.

A worker SIGKILLed mid-task (its pool with it) stops heartbeating; the engine
times the task out after its heartbeat timeout, the decider retries it, and a
second worker completes the run.
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

from pipeflow import running
from pipeflow.running import _serve
from tests._support.files import wait_for_file
from tests._support.processes import pipeflow_process
from tests.e2e.pipelines import arith

pytestmark = pytest.mark.slow

ARITH = Path(arith.__file__)


command = pipeflow_process


def test_a_killed_worker_is_replaced_after_its_heartbeat_timeout(pipeflow_url: str, tmp_path: Path) -> None:
    from pipeflow._pipeline import as_pipeline

    domain = f"kill-{uuid.uuid4().hex[:8]}"
    swf = _serve._swf_client(pipeflow_url, None)
    definition = as_pipeline(arith.killable, attr="killable")  # the name `pipeflow decider` gives it
    running.register(swf, domain, definition)
    common = ["--domain", domain, "--endpoint-url", pipeflow_url]
    pidfile = tmp_path / "pid"
    with command("decider", str(ARITH), *common):
        workflow_id, run_id = running.start(
            swf, domain, definition, {"counter": str(tmp_path / "n"), "pidfile": str(pidfile)}, store=None
        )
        with command("worker", str(ARITH), *common, "--processes", "1") as first:
            wait_for_file(pidfile)
            os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool, mid-task
            first.wait()
        with command("worker", str(ARITH), *common, "--processes", "1"):
            assert running.wait(swf, domain, workflow_id, run_id, None) == 2
