"""An embedded `pipeflow run` killed or interrupted mid-run leaves a run that `pipeflow resume` adopts.

The pipeline's slow step waits 60 s on its first attempt (far past what the tests allow) and
returns at once on the next: a resume finishes quickly only if the attempt the dead process
had started is failed as lost at adoption, not after its 300 s timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


pytestmark = pytest.mark.slow

PIPELINE = '''
import os
import time
from pathlib import Path
import pipeflow as pf

@pf.task
def slow(x):
    marker = Path("attempts")
    first = not marker.exists() or os.environ.get("PIPE_SLOW") == "1"
    with open(marker, "a") as fh:
        fh.write(f"slow {x}\\n")
    if first:
        time.sleep(60)
    return x * 2

@pf.task
def total(values):
    return sum(values)

pipeline = pf.chain(pf.map(slow), total)
'''


def pipeflow(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeflow", *args], capture_output=True, text=True, timeout=timeout)


def start_run(tmp_path: Path) -> subprocess.Popen[str]:
    (tmp_path / "pipe.py").write_text(PIPELINE)
    return background(tmp_path, "run", "pipe.py", "--input", "[1, 2, 3]", "--no-progress", "--workers", "1")


def background(tmp_path: Path, *args: str, slow: bool = False) -> subprocess.Popen[str]:
    """`pipeflow ARGS` in its own process group, once it has started a first attempt of `slow`."""
    attempts = tmp_path / "attempts"
    seen = len(attempts.read_text().splitlines()) if attempts.exists() else 0
    env = {**os.environ, "PIPE_SLOW": "1" if slow else "0"}
    process = subprocess.Popen([sys.executable, "-m", "pipeflow", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)
    deadline = time.monotonic() + 30
    while not (attempts.exists() and len(attempts.read_text().splitlines()) > seen):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.05)
    return process


def open_run_id() -> str:
    from pipeflow.engine import Engine

    with Engine(db=".pipeflow/state.sqlite") as engine:
        infos = engine.client().list_open_workflow_executions(domain="pipeflow", startTimeFilter={"oldestDate": 0})
    (info,) = infos["executionInfos"]
    return str(info["execution"]["runId"])


def killed_run(tmp_path: Path) -> str:
    process = start_run(tmp_path)
    os.killpg(process.pid, signal.SIGKILL)  # the run and its pool: nothing is left to answer
    process.communicate(timeout=10)
    return open_run_id()


def test_resume_adopts_a_killed_run(tmp_path: Path) -> None:
    run_id = killed_run(tmp_path)
    began = time.monotonic()
    done = pipeflow("resume", "pipe.py", run_id, "--no-progress")
    took = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "12"
    assert took < 30, f"resume took {took:.1f}s"


def test_ctrl_c_says_how_to_resume(tmp_path: Path) -> None:
    process = start_run(tmp_path)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole foreground group
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    run_id = open_run_id()
    assert f"interrupted: continue with  pipeflow resume pipe.py {run_id}" in stderr
    assert "Traceback" not in stderr and "engine is closed" not in stderr, stderr
    done = pipeflow("resume", "pipe.py", run_id, "--no-progress")
    assert (done.returncode, done.stdout.strip()) == (0, "12"), done.stderr


def test_ctrl_c_during_resume_says_how_to_resume(tmp_path: Path) -> None:
    run_id = killed_run(tmp_path)
    process = background(tmp_path, "resume", "pipe.py", run_id, "--no-progress", "--workers", "1", slow=True)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert f"interrupted: continue with  pipeflow resume pipe.py {run_id}" in stderr
    assert "Traceback" not in stderr and "engine is away" not in stderr, stderr
    done = pipeflow("resume", "pipe.py", run_id, "--no-progress")
    assert (done.returncode, done.stdout.strip()) == (0, "12"), done.stderr


def test_a_new_run_leaves_the_orphans_tasks_alone(tmp_path: Path) -> None:
    run_id = killed_run(tmp_path)
    before = (tmp_path / "attempts").read_text().splitlines()
    done = pipeflow("run", "pipe.py", "--input", "[10, 20]", "--no-progress")
    assert (done.returncode, done.stdout.strip()) == (0, "60"), done.stderr
    ran = (tmp_path / "attempts").read_text().splitlines()[len(before):]
    assert sorted(ran) == ["slow 10", "slow 20"]  # none of the orphan's items 1, 2, 3
    assert open_run_id() == run_id


def test_cancel_closes_an_orphan_with_its_attempts(tmp_path: Path) -> None:
    run_id = killed_run(tmp_path)
    done = pipeflow("cancel", run_id)
    assert done.returncode == 0, done.stderr
    import pipeflow as pf

    with pf.Client() as client:
        run = client.run(run_id)
        assert run.status == "CANCELED"
        statuses = set(run.tasks()["status"])
    assert "RUNNING" not in statuses and "SCHEDULED" not in statuses, statuses


SIDE = PIPELINE.replace("@pf.task\ndef slow", "@pf.task(task_list='side')\ndef slow")

NOTEBOOK = '''
import sys, time
import pipeflow as pf

client = pf.Client(workers=1)
run = client.submit("pipe.py", [1, 2, 3])
print(run.run_id, flush=True)
time.sleep(600)
'''


def test_a_new_kernel_leaves_a_dead_kernels_run_alone_until_asked(tmp_path: Path) -> None:
    """Runs a Client submits go on its session's own task lists, those its tasks name included."""
    (tmp_path / "pipe.py").write_text(SIDE)
    (tmp_path / "kernel.py").write_text(NOTEBOOK)
    kernel = subprocess.Popen([sys.executable, "kernel.py"], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    assert kernel.stdout is not None
    orphan = kernel.stdout.readline().strip()
    deadline = time.monotonic() + 30
    while not (tmp_path / "attempts").exists():
        assert time.monotonic() < deadline and kernel.poll() is None
        time.sleep(0.05)
    os.killpg(kernel.pid, signal.SIGKILL)  # the kernel and its pool, mid-run
    kernel.communicate(timeout=10)
    import pipeflow as pf

    with pf.Client(workers=1) as client:
        began = time.monotonic()
        assert client.submit("pipe.py", [10, 20]).wait(timeout=60, progress=False).result() == 60
        assert time.monotonic() - began < 30
        ran = (tmp_path / "attempts").read_text().splitlines()
        assert sorted(ran) == ["slow 1", "slow 10", "slow 20"]  # none of the dead kernel's queued items
        assert client.run(orphan).status == "RUNNING"
        # Asked for by id with its pipeline, the dead kernel's run is taken up and finishes.
        assert client.run(orphan, pipeline="pipe.py").wait(timeout=60, progress=False).result() == 12
    ran = (tmp_path / "attempts").read_text().splitlines()
    assert sorted(ran) == ["slow 1", "slow 1", "slow 10", "slow 2", "slow 20", "slow 3"]
