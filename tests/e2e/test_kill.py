"""A pool process SIGKILLed mid-task: the worker fails that task at once, it is retried, the run completes.

(A whole worker killed, pool and all, is found by its heartbeat timeout instead:
see test_worker_process.py.)
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

import pipeflow as pf
from tests.e2e.pipelines import arith

pytestmark = pytest.mark.slow


def kill_when_written(pidfile: Path, killed: list[int]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if pidfile.exists() and pidfile.read_text():
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.02)


def test_the_task_of_a_killed_worker_process_is_retried(tmp_path: Path) -> None:
    pidfile, killed = tmp_path / "pid", []
    killer = threading.Thread(target=kill_when_written, args=(pidfile, killed))
    killer.start()
    try:
        attempts = pf.run(arith.killable, input={"counter": str(tmp_path / "n"), "pidfile": str(pidfile)}, workers=1)
    finally:
        killer.join()
    assert killed, "the first attempt never started"
    assert attempts == 2
