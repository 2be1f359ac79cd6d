"""`pf.Client` and `pf.Run` on the embedded engine (deciders and workers in the background) and on a server."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import converters
import pipeflow as pf
from tests.pipeflow import client_pipelines as pipelines

PIPELINES = Path(pipelines.__file__)
REPO = Path(__file__).resolve().parent.parent.parent


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture()
def client(here: Path) -> Iterator[pf.Client]:
    with pf.Client(workers=1) as client:
        yield client


def test_submit_returns_at_once_and_the_result_comes_later(
    client: pf.Client, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release = here / "release"
    run = client.submit(pipelines.held, input={"started": str(here / "pid"), "release": str(release), "value": 41})
    assert run.status == "RUNNING"  # its first step cannot end before the file exists
    with pytest.raises(TimeoutError, match=re.escape(run.run_id)):
        run.wait(timeout=0.1, progress=False)
    release.write_text("go")
    assert run.wait() is run
    assert "2/2" in capsys.readouterr().err  # the progress bar's last state
    assert run.status == "COMPLETED"
    assert run.result() == 42
    page = run._repr_html_()
    assert "COMPLETED" in page and run.workflow_id in page and "2/2 steps" in page
    assert repr(run) == f"<pipeflow.Run {run.workflow_id} run {run.run_id} COMPLETED>"


def test_a_failed_run_raises_with_step_task_and_remote_traceback(client: pf.Client) -> None:
    run = client.submit(pipelines.broken, input=1)
    with pytest.raises(pf.TaskFailed) as caught:
        run.result()
    error = caught.value
    assert (error.step, error.task, error.error_type, error.run_id) == ("1", pipelines.boom.name, "ValueError", run.run_id)
    assert error.remote_traceback is not None and "boom on 2" in error.remote_traceback
    assert run.status == "FAILED"
    assert "boom on 2" in run.summary()["failure"]
    assert "boom on 2" in run._repr_html_()


def test_preview_reads_the_first_row_groups_only(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small row groups, set before the worker processes fork: the frame is 20 of them.
    monkeypatch.setattr("converters._pandas.ROW_GROUP", 1000)
    with pf.Client(workers=1) as client:
        run = client.submit(pipelines.frame, input=20_000)
        whole = run.result()
        assert len(whole) == 20_000
        text = run.events()[-1]["workflowExecutionCompletedEventAttributes"]["result"]
        ref = converters.Reference.parse(text)
        assert ref.codec == "pandas" and ref.uri.startswith(str(here.as_uri()))
        # Spoil the middle of the object (the later row groups): only a whole read notices.
        path = Path(urllib.parse.unquote(urllib.parse.urlparse(ref.uri).path))
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        data[middle:middle + 64] = bytes(64)
        path.write_bytes(bytes(data))
        with pytest.raises(converters.IntegrityError):
            run.result()
        head = run.result(preview=5)
        assert head.equals(whole.head(5))
        assert len(run.result(preview=1500)) == 1500  # across two row groups


def test_a_frame_kept_as_arrow_ipc_previews_too(here: Path) -> None:
    with pf.Client(workers=1) as client:
        run = client.submit(pipelines.local_frame, input=20_000)
        whole = run.result()
        ref = converters.Reference.parse(run.events()[-1]["workflowExecutionCompletedEventAttributes"]["result"])
        assert ref.codec == "pandas-ipc"
        assert run.result(preview=5).equals(whole.head(5))


def test_runs_filters_and_cancel(client: pf.Client) -> None:
    done = client.submit(pipelines.plus_one, input=1).wait(progress=False)
    failed = client.submit(pipelines.broken, input=1).wait(progress=False)
    open_ = client.submit(pipelines.gate)
    runs = client.runs()
    assert list(runs.columns) == ["workflow_id", "run_id", "pipeline", "version", "status", "started", "closed",
                                  "duration"]
    assert set(runs["run_id"]) == {done.run_id, failed.run_id, open_.run_id}
    assert list(client.runs(status="FAILED")["run_id"]) == [failed.run_id]
    assert list(client.runs(status="RUNNING")["run_id"]) == [open_.run_id]
    assert list(client.runs(status="COMPLETED")["run_id"]) == [done.run_id]
    assert list(client.runs(limit=1)["run_id"]) == [open_.run_id]  # the newest
    with pytest.raises(pf.PipelineError, match="--status"):
        client.runs(status="NOPE")

    open_.cancel(reason="not needed")
    assert open_.wait(progress=False).status == "CANCELED"
    with pytest.raises(pf.RunCanceled, match="not needed"):
        open_.result()
    with pytest.raises(pf.PipelineError, match="already closed"):
        open_.cancel()
    assert client.run(open_.workflow_id).status == "CANCELED"  # reattached by workflow id


def test_resubmitting_changed_task_code_uses_the_new_code(client: pf.Client) -> None:
    assert client.submit(pipelines.plus_one, input=1).result() == 2

    @pf.task(name=pipelines.inc.name)  # the same activity type, new code (a cell run again)
    def inc(x: int) -> int:
        return x + 100

    assert client.submit(pf.chain(inc), input=1).result() == 101


def test_close_lets_the_state_go(here: Path) -> None:
    from pipeflow.engine import Engine

    client = pf.Client(workers=1)
    run = client.submit(pipelines.plus_one, input=1)
    assert run.result() == 2
    other = pf.Client()  # shares this process's engine
    assert other.run(run.run_id).result() == 2
    other.close()
    pids = client._holder.service.pids if client._holder else []
    assert pids
    client.close()
    with Engine(db=here / ".pipeflow" / "state.sqlite") as engine:  # free: it opens here
        assert engine.client().describe_workflow_execution(
            domain="pipeflow", execution=run.execution)["executionInfo"]["closeStatus"] == "COMPLETED"
    assert not [pid for pid in pids if _alive(pid)]
    with pytest.raises(pf.PipelineError, match="closed"):
        client.runs()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child is gone but for its exit status
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_reattach_from_a_new_process_and_commands_reach_the_holder(here: Path) -> None:
    first = _python(f"""
        import json, pipeflow as pf
        client = pf.Client(workers=1)
        done = client.submit("{PIPELINES}:plus_one", input=1).wait(progress=False)
        gate = client.submit("{PIPELINES}:gate")
        print(json.dumps([done.run_id, gate.workflow_id]))
    """, here)  # exits with the gate open: nothing decides it until a Client picks it up
    assert first.returncode == 0, first.stderr
    done_id, gate_id = json.loads(first.stdout)
    db = sqlite3.connect(here / ".pipeflow" / "state.sqlite")
    try:  # the engine was closed at exit: its log went into a snapshot
        assert db.execute("SELECT COUNT(*) FROM snapshot").fetchone() == (1,)
        assert db.execute("SELECT COUNT(*) FROM log").fetchone() == (0,)
    finally:
        db.close()
    with pf.Client(workers=1) as client:
        assert client.run(done_id).result() == 2
        gate = client.run(gate_id, pipeline=f"{PIPELINES}:gate")  # open: served again with the pipeline named
        assert gate.status == "RUNNING"
        assert set(client.runs()["workflow_id"]) >= {gate_id}
        # A terminal's command reaches the run through the client's control inbox.
        env = dict(os.environ, PYTHONPATH=str(REPO))
        sent = subprocess.run([sys.executable, "-m", "pipeflow", "signal", gate_id, "go", "--input", "5"], cwd=here,
                              env=env, capture_output=True, text=True, timeout=60)
        assert sent.returncode == 0, sent.stderr
        assert gate.result() == 6
        # Another process's Client reads (and cancels) through the holder too.
        third = _python(f"""
            import pipeflow as pf
            client = pf.Client()
            print(client.run("{gate_id}").status, len(client.runs()))
            client.submit("{PIPELINES}:plus_one", input=1)
        """, here)
        assert third.stdout.split() == ["COMPLETED", "2"], third.stderr
        assert "held by another process" in third.stderr


@pytest.mark.slow
def test_server_client_and_swf_client(here: Path, pipeflow_url: str) -> None:
    domain = f"client-{uuid.uuid4().hex[:8]}"
    with pf.Client(endpoint_url=pipeflow_url, domain=domain, workers=1) as client:
        run = client.submit(pipelines.held, input={"started": str(here / "pid"), "release": str(here / "go"),
                                                   "value": 1})
        assert run.status == "RUNNING"
        (here / "go").write_text("")
        assert run.result() == 2
    with pf.Client.swf(domain=domain, endpoint_url=pipeflow_url) as reader:  # no workers: reads only
        again = reader.run(run.workflow_id)
        assert (again.run_id, again.status, again.result()) == (run.run_id, "COMPLETED", 2)
        assert list(reader.runs()["run_id"]) == [run.run_id]
        started = reader.submit(pipelines.plus_one, input=1)  # nobody works here: it waits for workers
        assert started.status == "RUNNING"
        started.cancel()  # recorded; a decider would close it
        assert started._describe().get("cancelRequested") is True


def test_resume_runs_only_the_steps_after_the_checkpoints(client: pf.Client) -> None:
    first = client.submit(pipelines.twice, input=1)
    assert first.result() == 3
    with pytest.raises(pf.PipelineError, match="completed"):
        client.resume(first.run_id, pipeline=pipelines.twice)
    again = client.resume(first.workflow_id, from_step="1", pipeline=pipelines.twice)
    assert again.run_id != first.run_id and again.result() == 3
    scheduled = [e for e in again.events() if e["eventType"] == "ActivityTaskScheduled"]
    assert [e["activityTaskScheduledEventAttributes"]["activityId"] for e in scheduled] == ["1#1"]


def test_progress_follows_the_progress_markers() -> None:
    from pipeflow.running import StepCounts

    counts = StepCounts()
    counts.add({"eventType": "ActivityTaskScheduled", "eventId": 5})
    assert counts.steps() == (0, 1)
    counts.add({"eventType": "MarkerRecorded", "eventId": 6, "markerRecordedEventAttributes": {
        "markerName": "pipeflow.progress", "details": '{"v":1,"done":3,"total":10}'}})
    assert counts.steps() == (3, 10)  # stages' tasks are not in this history: the marker knows them
