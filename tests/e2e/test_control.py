"""Cancel and signals on the embedded engine: a decider thread and a worker pool in this process."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pipeflow as pf
from pipeflow import running
from pipeflow._pipeline import as_pipeline
from pipeflow.running import _embedded
from tests.e2e.pipelines import control

pytestmark = pytest.mark.slow

WAIT = 60.0  # seconds: a condition not met by then is a failure


def until(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return value


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def events(swf: Any, workflow_id: str, run_id: str) -> list[str]:
    page = swf.get_workflow_execution_history(domain=running.DOMAIN, execution={"workflowId": workflow_id, "runId": run_id})
    return [e["eventType"] for e in page["events"]]


@pytest.fixture()
def embedded() -> Iterator[Callable[[Any], Any]]:
    """Opens an embedded engine with a decider and a 1-process worker for a pipeline; closed after the test."""
    opened: list[Any] = []

    def open_for(pipeline: Any) -> Any:
        context = _embedded._embedded(as_pipeline(pipeline, attr="p"), store=None, workers=1, db=None)
        opened.append(context)
        return context.__enter__()

    yield open_for
    for context in opened:
        context.__exit__(None, None, None)


def test_cancel_kills_the_running_task_and_the_worker_serves_on(embedded: Any, tmp_path: Path) -> None:
    site = embedded(control.sleeper)
    definition = as_pipeline(control.sleeper, attr="p")
    spec = {"started": str(tmp_path / "pid"), "end": str(tmp_path / "end"), "seconds": 60}
    workflow_id, run_id = running.start(site.swf, running.DOMAIN, definition, spec, store=None)
    pid = int(until(lambda: Path(spec["started"]).exists() and Path(spec["started"]).read_text(), "the task"))
    running.cancel(site.swf, running.DOMAIN, workflow_id, reason="changed my mind")
    with pytest.raises(pf.RunCanceled, match=re.escape(f"run {run_id} was canceled: changed my mind")):
        running.wait(site.swf, running.DOMAIN, workflow_id, run_id, None, check=site.check)
    history = events(site.swf, workflow_id, run_id)
    assert "ActivityTaskCancelRequested" in history and history[-1] == "WorkflowExecutionCanceled"
    until(lambda: not alive(pid), "the task's process to be killed")
    assert not Path(spec["end"]).exists()
    # The same worker (its pool has a new process) runs the next run.
    quick = {"started": str(tmp_path / "pid2"), "end": str(tmp_path / "end2"), "seconds": 0}
    again = running.start(site.swf, running.DOMAIN, definition, quick, store=None)
    assert running.wait(site.swf, running.DOMAIN, *again, None, check=site.check) == ["woke", 2]
    assert int(Path(quick["started"]).read_text()) != pid


def test_cancel_with_a_retry_timer_open(embedded: Any, tmp_path: Path) -> None:
    site = embedded(control.retrying)
    definition = as_pipeline(control.retrying, attr="p")
    workflow_id, run_id = running.start(site.swf, running.DOMAIN, definition, {"counter": str(tmp_path / "n")}, store=None)
    until(lambda: "TimerStarted" in events(site.swf, workflow_id, run_id), "the retry timer")
    running.cancel(site.swf, running.DOMAIN, run_id)  # by run id this time
    with pytest.raises(pf.RunCanceled, match=re.escape(f"run {run_id} was canceled") + "$"):
        running.wait(site.swf, running.DOMAIN, workflow_id, run_id, None, check=site.check)
    history = events(site.swf, workflow_id, run_id)
    assert "TimerCanceled" in history and "TimerFired" not in history
    assert (tmp_path / "n").read_text() == "1"  # no second attempt


def test_a_signal_gate_and_an_early_signal(embedded: Any, tmp_path: Path) -> None:
    site = embedded(control.late_gate)
    definition = as_pipeline(control.late_gate, attr="p")
    spec = {"started": str(tmp_path / "pid"), "release": str(tmp_path / "release"), "value": 1}
    workflow_id, run_id = running.start(site.swf, running.DOMAIN, definition, spec, store=None)
    until(lambda: Path(spec["started"]).exists(), "the first step")
    running.signal(site.swf, running.DOMAIN, workflow_id, "go", 41)  # before wait_signal starts
    Path(spec["release"]).write_text("")
    assert running.wait(site.swf, running.DOMAIN, workflow_id, run_id, None, check=site.check) == 42


def test_a_signal_to_no_open_run_is_refused(embedded: Any) -> None:
    site = embedded(control.gate)
    running.register(site.swf, running.DOMAIN, as_pipeline(control.gate, attr="p"))
    with pytest.raises(pf.EngineError, match="no open run 'nope'"):
        running.signal(site.swf, running.DOMAIN, "nope", "go", 1)
