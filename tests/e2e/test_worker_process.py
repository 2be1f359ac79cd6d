"""`pipeflow worker` and `pipeflow decider` as real processes against `pipeflow server`.

A worker SIGKILLed mid-task (its pool with it) stops heartbeating; the engine
times the task out after its heartbeat timeout, the decider retries it, and a
second worker completes the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pipeflow import _run
from tests._support.files import wait_for_file
from tests.e2e.pipelines import arith

pytestmark = pytest.mark.slow

ARITH = Path(arith.__file__)


@contextmanager
def command(*args: str, log: Any = subprocess.DEVNULL) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m pipeflow ARGS` in its own process group, killed at the end.

    Not SIGTERM: a stopping worker or decider waits for its poll in flight, up to 60 s on this server.
    """
    proc = subprocess.Popen([sys.executable, "-m", "pipeflow", *args], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_killed_worker_is_replaced_after_its_heartbeat_timeout(pipeflow_url: str, tmp_path: Path) -> None:
    from pipeflow._pipeline import as_pipeline

    domain = f"kill-{uuid.uuid4().hex[:8]}"
    swf = _run._swf_client(pipeflow_url, None)
    definition = as_pipeline(arith.killable, attr="killable")  # the name `pipeflow decider` gives it
    _run.register(swf, domain, definition)
    common = ["--domain", domain, "--endpoint-url", pipeflow_url]
    pidfile = tmp_path / "pid"
    with command("decider", str(ARITH), *common):
        workflow_id, run_id = _run.start(
            swf, domain, definition, {"counter": str(tmp_path / "n"), "pidfile": str(pidfile)}, store=None
        )
        with command("worker", str(ARITH), *common, "--processes", "1") as first:
            wait_for_file(pidfile)
            os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool, mid-task
            first.wait()
        with command("worker", str(ARITH), *common, "--processes", "1"):
            assert _run.wait(swf, domain, workflow_id, run_id, None) == 2
