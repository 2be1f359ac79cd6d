"""`pipeflow runs/status/tasks/history/result` on runs left by `pipeflow run` processes.

The runs are real `pipeflow run` processes; the inspection commands run in this process
through the command line's entry point (`main`), each reading the embedded state the way a
second terminal would: opened directly when nobody holds it, through the holder's control
inbox while a `pipeflow run` holds it; and over boto3 against the session's `pipeflow server`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeflow import EngineError, running
from pipeflow.cli import main
from pipeflow.client import table
from pipeflow.engine import Engine
from pipeflow.running import _inbox
from pipeflow.running import held as _held

PIPELINES = Path(__file__).resolve().parent / "pipelines" / "inspect.py"
WAIT = 60.0


def pipeflow_process(*args: str, background: bool = False) -> Any:
    command = [sys.executable, "-m", "pipeflow", *args]
    if background:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=WAIT)


def started(*args: str) -> dict[str, Any]:
    """`pipeflow run --json ...` of a run that completes: its JSON line; of one that fails: its run id."""
    done = pipeflow_process("run", *args, "--json", "--no-progress")
    if done.returncode == 0:
        return dict(json.loads(done.stdout))
    assert done.returncode == 1, done.stderr
    return {"failed": done.stderr, "run_id": done.stderr.rsplit("(run ", 1)[1].rstrip(")\n")}


class Cli:
    """`pipeflow ...` in this process: (exit code, stdout, stderr), no traceback ever."""

    def __init__(self, capsys: pytest.CaptureFixture[str], flags: list[str]) -> None:
        self.capsys = capsys
        self.flags = flags

    def __call__(self, *args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main([*args, *self.flags])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in err
        return int(info.value.code or 0), out, err

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)


def columns(text: str) -> list[list[str]]:
    """The cells of an aligned table (cells are separated by two spaces or more)."""
    import re

    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()]


def check_completed_and_failed(cli: Cli, ok: dict[str, Any], failed: dict[str, Any]) -> None:
    """What the commands show of a completed `retried` run (input value 3) and a failed `broken` run."""
    wid = ok["workflow_id"]
    # runs: newest first, both with their status; filters
    code, out, err = cli("runs")
    assert code == 0, err
    cells = columns(out)
    assert cells[0] == ["WORKFLOW ID", "STATUS", "STARTED", "DURATION", "PIPELINE", "RUN ID"]
    by_run = {row[-1]: row for row in cells[1:]}
    assert by_run[ok["run_id"]][:2] == [wid, "COMPLETED"]
    assert by_run[failed["run_id"]][1] == "FAILED" and by_run[failed["run_id"]][4] == "inspect.broken v1"
    lines = out.splitlines()
    assert len({line.index(" COMPLETED") if "COMPLETED" in line else line.index(" FAILED") for line in lines[1:]}) == 1
    rows = cli.json("runs")
    assert [r["run_id"] for r in rows] == [failed["run_id"], ok["run_id"]]  # newest first
    assert rows[1]["status"] == "COMPLETED" and rows[1]["pipeline"] == "inspect.retried" and rows[1]["duration"] > 0
    assert [r["run_id"] for r in cli.json("runs", "--status", "failed")] == [failed["run_id"]]
    assert cli.json("runs", "--status", "running") == []
    assert [r["run_id"] for r in cli.json("runs", "--limit", "1")] == [failed["run_id"]]

    # status, by workflow id and by run id
    doc = cli.json("status", wid)
    assert (doc["run_id"], doc["status"], doc["error"]) == (ok["run_id"], "COMPLETED", None)
    assert doc["progress"]["done"] == doc["progress"]["total"] > 0 and doc["closed"] is not None
    code, out, err = cli("status", ok["run_id"])
    assert code == 0 and dict((c[0], c[-1]) for c in columns(out))["status"] == "COMPLETED"
    doc = cli.json("status", failed["run_id"])
    assert doc["status"] == "FAILED" and "boom on 2" in doc["error"] and "step 1" in doc["error"]
    code, out, err = cli("status", failed["run_id"])
    assert "ValueError: boom on 2" in out

    # tasks: the retried step's two attempts, the group, the total
    tasks = cli.json("tasks", wid)
    flaky = [t for t in tasks if str(t["task"]).endswith("flaky")]
    assert [(t["attempt"], t["status"]) for t in flaky] == [(1, "FAILED"), (2, "COMPLETED")]
    assert "flaky first attempt" in flaky[0]["error"] and flaky[1]["error"] is None
    assert sorted(t["step"] for t in tasks if t["status"] == "COMPLETED") == ["0", "1.0", "1.1", "2"]
    assert all(t["duration"] is not None and t["worker"] for t in tasks)
    code, out, err = cli("tasks", wid)
    cells = columns(out)
    assert cells[0][:4] == ["STEP", "TASK", "ATTEMPT", "STATUS"] and len(cells) == 1 + len(tasks)
    assert any(row[:4] == ["0", flaky[0]["task"], "1", "FAILED"] and "flaky first attempt" in row[-1]
               for row in cells[1:])

    # history: every event, in order, with its attributes in --json
    events = cli.json("history", wid)
    assert [e["event_id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "WorkflowExecutionStarted" and events[-1]["type"] == "WorkflowExecutionCompleted"
    assert sum(e["type"] == "ActivityTaskFailed" for e in events) == 1
    assert isinstance(events[0]["attributes"], dict) and "taskList" in events[0]["attributes"]
    code, out, err = cli("history", wid)
    cells = columns(out)
    assert cells[0][:3] == ["ID", "TIME", "TYPE"] and len(cells) == 1 + len(events)
    assert cells[-1][0] == str(len(events)) and cells[-1][2] == "WorkflowExecutionCompleted"

    # result: printed as `pipeflow run` prints it; a failed run exits 1 with its failure
    assert cli("result", wid)[:2] == (0, "8\n")
    assert cli.json("result", ok["run_id"]) == {"run_id": ok["run_id"], "workflow_id": wid, "status": "COMPLETED",
                                                 "result": 8}
    code, out, err = cli("result", failed["run_id"])
    assert (code, out) == (1, "") and "ValueError: boom on 2" in err and failed["run_id"] in err

    # mistakes
    code, out, err = cli("status", "no-such-run")
    assert (code, out) == (2, "") and "no run 'no-such-run'" in err  # an unknown run: usage
    code, out, err = cli("cancel", wid)
    assert code == 2 and "has already closed (COMPLETED)" in err and ok["run_id"] in err  # no open run of that name: usage


# -- unit: the table and the inbox's read calls ----------------------------------------------------


def test_table_aligns_columns_and_right_aligns_numbers() -> None:
    text = table([["a", "7", "x"], ["longer", "123", "y y"]], ["NAME", "N", "NOTE"], right=frozenset({1}))
    assert text.splitlines() == ["NAME      N  NOTE", "a         7  x", "longer  123  y y"]


def test_on_a_terminal_the_last_column_is_cut_to_its_width(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import os

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", Terminal())
    monkeypatch.setattr("shutil.get_terminal_size", lambda fallback=(80, 24): os.terminal_size((30, 24)))
    lines = table([["1", "x" * 100]], ["ID", "DETAILS"]).splitlines()
    assert lines[1] == "1   " + "x" * 25 + "…" and len(lines[1]) == 30


def test_inbox_read_calls_answered_by_the_holder(tmp_path: Path) -> None:
    """The holder answers list/describe/history requests; timestamps come back as datetimes."""
    with Engine() as engine:
        swf = engine.client()
        swf.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
        swf.register_workflow_type(domain="d", name="w", version="1", defaultTaskList={"name": "l"},
                                   defaultTaskStartToCloseTimeout="60", defaultExecutionStartToCloseTimeout="600",
                                   defaultChildPolicy="TERMINATE")
        run_id = swf.start_workflow_execution(domain="d", workflowId="w-1", workflowType={"name": "w", "version": "1"},
                                              input="hello")["runId"]
        inbox = running.Inbox(tmp_path, swf, "d")
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                inbox.serve()
                time.sleep(0.01)

        server = threading.Thread(target=serve)
        server.start()
        try:
            reader = running.InboxReader(tmp_path, timeout=WAIT)
            infos = reader.list_open_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["executionInfos"]
            assert infos[0]["execution"] == {"workflowId": "w-1", "runId": run_id}
            assert infos[0]["startTimestamp"] == swf.describe_workflow_execution(
                domain="d", execution=infos[0]["execution"])["executionInfo"]["startTimestamp"]
            assert infos[0]["startTimestamp"].tzinfo is not None
            events = reader.get_workflow_execution_history(domain="d", execution=infos[0]["execution"])["events"]
            assert events[0]["workflowExecutionStartedEventAttributes"]["input"] == "hello"
            with pytest.raises(EngineError, match="UnknownResourceFault") as info:
                reader.describe_workflow_execution(domain="d", execution={"workflowId": "nope", "runId": "x"})
            assert info.value.code == "UnknownResourceFault"
            with pytest.raises(EngineError, match="unknown request"):
                _inbox._exchange(tmp_path, {"op": "read", "operation": "TerminateWorkflowExecution"}, WAIT)
        finally:
            stop.set()
            server.join()
        assert list(tmp_path.iterdir()) == []  # requests taken, answers read


def test_a_request_nobody_takes_ends_once_the_state_is_free(tmp_path: Path) -> None:
    reader = running.InboxReader(tmp_path, timeout=WAIT, held=lambda: False)
    with pytest.raises(running.HolderGone):
        reader.describe_workflow_execution(domain="d", execution={"workflowId": "w", "runId": "r"})
    assert list(tmp_path.iterdir()) == []  # the request withdrawn


def test_held_sees_the_engines_lock(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    with Engine(db=str(db)):
        assert _held(db)
    assert not _held(db)


# -- end to end --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_inspect_the_runs_left_in_the_embedded_state(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cli = Cli(capsys, [])
    code, out, err = cli("runs")
    assert code == 2 and "no run was started here" in err  # an unknown run: usage
    ok = started(f"{PIPELINES}:retried", "--input", json.dumps({"counter": str(tmp_path / "n"), "value": 3}))
    failed = started(f"{PIPELINES}:broken", "--input", "1")
    assert ok["result"] == 8 and "boom on 2" in failed["failed"]
    check_completed_and_failed(cli, ok, failed)
    assert not _held(Path(".pipeflow/state.sqlite"))  # each command let the state go


@pytest.fixture()
def gate_run() -> Iterator[subprocess.Popen[str]]:
    proc = pipeflow_process("run", f"{PIPELINES}:gate", "--input", "1", "--no-progress", background=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def until(condition: Callable[[], Any], what: str, proc: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + WAIT
    while not (value := condition()):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise AssertionError(f"no {what}; the run: {proc.poll()} {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    return value


@pytest.mark.slow
def test_inspect_a_run_while_pipeflow_run_holds_the_state(capsys: pytest.CaptureFixture[str],
                                                          gate_run: subprocess.Popen[str]) -> None:
    """A `pipeflow run` waiting on `pf.wait_signal` holds ./.pipeflow/state.sqlite: it answers the reads."""
    cli = Cli(capsys, [])
    db = Path(".pipeflow/state.sqlite")

    def waiting() -> Any:
        if not (db.is_file() and _held(db)):
            return None
        running = cli.json("runs", "--status", "running")
        if not running:
            return None
        doc = cli.json("status", running[0]["workflow_id"])
        return doc if doc["progress"] and doc["progress"]["done"] >= 1 else None  # step 0 done: at the gate

    doc = until(waiting, "run waiting for its signal", gate_run)
    assert _held(db)  # the reads went through the holder
    wid, run_id = doc["workflow_id"], doc["run_id"]
    assert doc["status"] == "RUNNING" and doc["closed"] is None and doc["pipeline"] == "inspect.gate"
    assert doc["open"] == {"tasks": 0, "timers": 0, "child_runs": 0} and doc["error"] is None
    code, out, err = cli("status", run_id)
    assert code == 0 and "RUNNING" in out and "open" in out
    tasks = cli.json("tasks", wid)
    assert [(t["step"], t["status"]) for t in tasks if str(t["task"]).endswith("inc")] == [("0", "COMPLETED")]
    types = [e["type"] for e in cli.json("history", wid)]
    assert types[0] == "WorkflowExecutionStarted" and "WorkflowExecutionCompleted" not in types
    code, out, err = cli("result", wid)
    assert (code, out) == (2, "") and "is still running" in err

    assert cli("signal", wid, "go", "--input", "41")[0] == 0
    out, err = gate_run.communicate(timeout=WAIT)
    assert (gate_run.returncode, out.strip()) == (0, "42"), err
    assert cli("result", wid)[:2] == (0, "42\n")  # the state let go: read here
    assert not list(Path(".pipeflow/control").iterdir())


@pytest.mark.slow
def test_inspect_runs_on_swf(capsys: pytest.CaptureFixture[str], pipeflow_url: str, tmp_path: Path) -> None:
    flags = ["--backend", "swf", "--domain", f"inspect-{uuid.uuid4().hex[:10]}", "--endpoint-url", pipeflow_url]
    ok = started(f"{PIPELINES}:retried", "--input", json.dumps({"counter": str(tmp_path / "n"), "value": 3}), *flags)
    failed = started(f"{PIPELINES}:broken", "--input", "1", *flags)
    check_completed_and_failed(Cli(capsys, flags), ok, failed)
