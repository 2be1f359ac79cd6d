"""`pipeflow cancel` and `pipeflow signal` as processes, against a running `pipeflow run`.

Through boto3 against the session's `pipeflow server` (--backend swf), and on the embedded
engine, where the `pipeflow run` holding ./.pipeflow/state.sqlite carries out the requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeflow.endpoint import swf_client

pytestmark = pytest.mark.slow

PIPELINES = Path(__file__).resolve().parent / "pipelines" / "control.py"
WAIT = 60.0
EXIT_CANCELED = 5


def until(condition: Callable[[], Any], what: str, proc: subprocess.Popen[str] | None = None) -> Any:
    deadline = time.monotonic() + WAIT
    while not (value := condition()):
        if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
            detail = "" if proc is None else f"; the run: {proc.poll()} {proc.stderr.read() if proc.stderr else ''}"
            raise AssertionError(f"no {what}{detail}")
        time.sleep(0.05)
    return value


def pipeflow(*args: str, background: bool = False) -> Any:
    command = [sys.executable, "-m", "pipeflow", *args]
    if background:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=WAIT)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the run did not end: {err}") from None
    return proc.returncode, out, err


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Backend:
    """The flags of one backend, and how to find the workflow id of the one run in progress."""

    def __init__(self, flags: list[str], find: Callable[[], str | None]) -> None:
        self.flags = flags
        self.find = find


@pytest.fixture(params=["pipeflow-server", "embedded"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "embedded":
        payloads = tmp_path / ".pipeflow" / "payloads"

        def from_manifest() -> str | None:  # written before the run starts, named after its workflow id
            found = list(payloads.glob("*/pipeflow-run.json")) if payloads.is_dir() else []
            return found[0].parent.name if found else None

        return Backend([], from_manifest)
    url = request.getfixturevalue("pipeflow_url")
    domain = f"control-{uuid.uuid4().hex[:10]}"
    swf = swf_client(endpoint_url=url, max_attempts=1)

    def open_run() -> str | None:
        try:
            infos = swf.list_open_workflow_executions(domain=domain, startTimeFilter={"oldestDate": 0})["executionInfos"]
        except swf.exceptions.UnknownResourceFault:
            return None  # not registered yet
        return str(infos[0]["execution"]["workflowId"]) if infos else None

    return Backend(["--backend", "swf", "--domain", domain, "--endpoint-url", url], open_run)


def test_cancel_a_running_pipeline_from_the_command_line(backend: Backend, tmp_path: Path) -> None:
    spec = {"started": str(tmp_path / "pid"), "end": str(tmp_path / "end"), "seconds": 60}
    run = pipeflow("run", f"{PIPELINES}:sleeper", "--input", json.dumps(spec), "--no-progress", *backend.flags,
                   background=True)
    try:
        pid = int(until(lambda: Path(spec["started"]).exists() and Path(spec["started"]).read_text(), "task", run))
        workflow_id = until(backend.find, "open run", run)
        canceled = pipeflow("cancel", workflow_id, "--reason", "not today", *backend.flags)
        assert canceled.returncode == 0, canceled.stderr
        assert "cancel requested for run" in canceled.stderr
        code, out, err = finish(run)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert code == EXIT_CANCELED, err
    assert "was canceled: not today" in err and out == ""
    until(lambda: not alive(pid), "kill of the task's process")
    assert not Path(spec["end"]).exists()


@pytest.mark.parametrize("early", [False, True], ids=["waiting", "sent-before-the-step"])
def test_a_signal_gate_from_the_command_line(backend: Backend, tmp_path: Path, early: bool) -> None:
    spec = {"started": str(tmp_path / "pid"), "release": str(tmp_path / "release"), "value": 1}
    target, args = (f"{PIPELINES}:late_gate", ["--input", json.dumps(spec)]) if early else (f"{PIPELINES}:gate", [])
    run = pipeflow("run", target, *args, "--no-progress", *backend.flags, background=True)
    try:
        workflow_id = until(backend.find, "open run", run)
        if early:
            until(lambda: Path(spec["started"]).exists(), "first step", run)
        sent = pipeflow("signal", workflow_id, "go", "--input", "41", *backend.flags)
        assert sent.returncode == 0, sent.stderr
        Path(spec["release"]).write_text("")  # the first step of late_gate ends now
        code, out, err = finish(run)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert (code, out.strip()) == (0, "42"), err


def test_control_commands_say_what_is_wrong(backend: Backend) -> None:
    flags = backend.flags if backend.flags else []
    missing = pipeflow("signal", "no-such-run", "go", *flags)
    assert missing.returncode == 2  # an unknown run (or domain): usage
    if flags:
        assert "Unknown domain" in missing.stderr  # a fresh domain: nothing ran there
    else:
        assert "no run was started here" in missing.stderr  # no ./.pipeflow/state.sqlite
    reserved = pipeflow("signal", "x", "pipeflow.cancel", *flags)
    assert reserved.returncode == 2 and "pipeflow's own" in reserved.stderr
    usage = pipeflow("cancel", "x", "--domain", "d")
    assert usage.returncode == 2 and "go with --backend swf" in usage.stderr
