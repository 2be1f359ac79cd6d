"""`pf.repeat`: iterations, `times`, `until`, `every`, ContinueAsNew chains, cancel and resume, on the embedded engine."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import pipeflow as pf
from pipeflow.canvas import parse_every
from pipeflow.cli import main
from pipeflow.decider import Decider
from pipeflow.engine import Engine

PIPELINE = """
import pathlib
import pipeflow as pf

HERE = pathlib.Path(__file__).parent


def _count(name):
    with open(HERE / "calls.txt", "a") as fh:
        fh.write(name + "\\n")


@pf.task
def inc(x):
    return x + 1


@pf.task
def double(x):
    return x * 2


@pf.task
def enough(x):
    return x >= 20


@pf.task
def fragile(x):
    _count(f"fragile{x}")
    if x == 3 and not (HERE / "fixed").exists():
        raise RuntimeError("not fixed yet")
    return x + 1


counted = pf.repeat(pf.chain(inc, inc), times=7, continue_every=3)
until = pf.repeat(double, until=enough, continue_every=2)
paused = pf.repeat(inc, every="1s", times=2)
forever = pf.repeat(inc, every="1h", continue_every=1)
broken = pf.repeat(fragile, times=6, continue_every=10)
short = pf.repeat(pf.chain(inc, inc), times=12, max_events=100)
"""


@pytest.fixture()
def pipeline_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"repeat_{request.node.name.replace('[', '_').replace(']', '').replace('-', '_')}.py"
    path.write_text(textwrap.dedent(PIPELINE))
    return path


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, out + err
    return int(info.value.code or 0), out, err


def chain_of_runs(tmp_path: Path, workflow_id: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(executionInfo, events) of every run of a workflow id, oldest first."""
    with Engine(db=str(tmp_path / ".pipeflow" / "state.sqlite")) as engine:
        swf = engine.client()
        infos = [info for closed in (False, True) for info in (
            swf.list_closed_workflow_executions if closed else swf.list_open_workflow_executions)(
                domain="pipeflow", startTimeFilter={"oldestDate": 0}, executionFilter={"workflowId": workflow_id},
            )["executionInfos"]]
        runs = []
        for info in infos:
            events = swf.get_workflow_execution_history(domain="pipeflow", execution=info["execution"],
                                                        maximumPageSize=1000)["events"]
            runs.append((info, events))
    runs.sort(key=lambda run: run[1][0]["eventTimestamp"])
    return runs


def activity_ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["activityTaskScheduledEventAttributes"]["activityId"] for e in events
            if e["eventType"] == "ActivityTaskScheduled"]


def start_doc(events: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(json.loads(events[0]["workflowExecutionStartedEventAttributes"]["input"]))


# -- the canvas ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("every", "seconds"), [
    (None, 0), (0, 0), ("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86_400), (5, 5), (0.2, 1), ("90", 90),
    (" 1.5M ", 90),
])
def test_every_takes_durations_and_seconds(every: Any, seconds: int) -> None:
    assert parse_every(every) == seconds


@pytest.mark.parametrize("every", ["soon", "10x", "", -1, True, "400d", float("nan")])
def test_a_bad_pause_is_refused_naming_the_forms(every: Any) -> None:
    with pytest.raises(pf.PipelineError, match=r"repeat\(every=\.\.\.\) takes a pause like '30s'"):
        _repeat(every=every)


def _repeat(**options: Any) -> Any:
    @pf.task(name="test_repeat.step")
    def step(x: Any) -> Any:
        return x

    return pf.repeat(step, **options)


@pytest.mark.parametrize(("options", "message"), [
    ({"times": 0}, r"repeat\(times=\.\.\.\) must be a whole number >= 1, got 0"),
    ({"times": 2.5}, r"times=\.\.\.\) must be a whole number >= 1, got 2.5"),
    ({"continue_every": 0}, r"continue_every=\.\.\.\) must be a whole number >= 1"),
    ({"max_events": 10}, r"max_events=\.\.\.\) must be a whole number >= 100"),
    ({"until": "x >= 3"}, r"repeat\(until=\.\.\.\) must be a task"),
])
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(pf.PipelineError, match=message):
        _repeat(**options)


def test_a_repeat_is_the_whole_pipeline() -> None:
    loop = _repeat(times=2)
    assert pf.Pipeline(loop, name="ok").canvas.steps == (loop,)
    step = loop.step
    for canvas in (pf.chain(step, loop), pf.group(loop, step), pf.map(loop), pf.stage(loop), pf.repeat(loop)):
        with pytest.raises(pf.PipelineError, match=r"repeat\(\) must be the whole pipeline"):
            pf.Pipeline(canvas, name="nested")


# -- runs ----------------------------------------------------------------------------------------


def test_times_continues_as_new_every_k_iterations(capsys: pytest.CaptureFixture[str], pipeline_file: Path,
                                                   tmp_path: Path) -> None:
    code, out, err = invoke(capsys, "run", f"{pipeline_file}:counted", "--input", "0", "--no-progress", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["result"] == 14  # 7 iterations of +2
    runs = chain_of_runs(tmp_path, report["workflow_id"])
    assert [info.get("closeStatus") for info, _ in runs] == ["CONTINUED_AS_NEW", "CONTINUED_AS_NEW", "COMPLETED"]
    assert report["run_id"] == runs[-1][0]["execution"]["runId"]  # the run that closed with the result
    # Iterations are numbered across the chain: ids stay unique and come from paths.
    assert [sorted({a.split(".")[2] for a in activity_ids(events)}, key=int) for _, events in runs] == [
        ["1", "2", "3"], ["4", "5", "6"], ["7"]]
    assert activity_ids(runs[1][1])[:2] == ["0.iter.4.0#1", "0.iter.4.1#1"]
    for (info, events), (following, _) in zip(runs, runs[1:]):
        closing = events[-1]
        assert closing["eventType"] == "WorkflowExecutionContinuedAsNew"
        attrs = closing["workflowExecutionContinuedAsNewEventAttributes"]
        assert attrs["newExecutionRunId"] == following["execution"]["runId"]
        started = events[0]["workflowExecutionStartedEventAttributes"]
        assert attrs["taskList"] == started["taskList"]  # the run's own list, passed on, not the type's default
        assert attrs["executionStartToCloseTimeout"] == started["executionStartToCloseTimeout"]
    assert [start_doc(events).get("repeat", {}).get("iteration") for _, events in runs] == [None, 3, 6]
    assert start_doc(runs[1][1])["repeat"]["previous"] == runs[0][0]["execution"]["runId"]
    assert start_doc(runs[1][1])["source"] == str(pipeline_file)  # so a later run can be resumed from its file
    assert max(len(events) for _, events in runs) < 80
    # `pipeflow runs`: the chain, each run's iterations and the run it continued as.
    code, out, _ = invoke(capsys, "runs", "--json")
    rows = {row["run_id"]: row for row in json.loads(out)}
    ids = [info["execution"]["runId"] for info, _ in runs]
    assert [rows[i]["iterations"] for i in ids] == ["1-3", "4-6", "7-"]
    assert [rows[i].get("next_run_id") for i in ids] == [ids[1], ids[2], None]
    code, out, _ = invoke(capsys, "runs")
    assert "ITERATIONS" in out.splitlines()[0] and f"CONTINUED -> {ids[2][:12]}..." in out


def test_a_long_history_continues_as_new(capsys: pytest.CaptureFixture[str], pipeline_file: Path,
                                         tmp_path: Path) -> None:
    code, out, err = invoke(capsys, "run", f"{pipeline_file}:short", "--input", "0", "--no-progress", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["result"] == 24
    runs = chain_of_runs(tmp_path, report["workflow_id"])
    sizes = [len(events) for _, events in runs]
    assert len(runs) >= 2 and max(sizes) < 100 + 20, sizes  # past 100 events, only the iteration under way ends
    # A decider replaying a whole history at once decides what the live one did (the event count included).
    stem = pipeline_file.stem
    inc = pf.task(name=f"{stem}.inc")(lambda x: x + 1)
    again = pf.Pipeline(pf.repeat(pf.chain(inc, inc), times=12, max_events=100), name=f"{stem}.short")
    for info, events in runs[:-1]:
        last_started = max(i for i, e in enumerate(events) if e["eventType"] == "DecisionTaskStarted")
        decisions = Decider([again], store=str(tmp_path / ".pipeflow" / "payloads")).decide({"workflowExecution": info["execution"], "events": events[:last_started + 1],
                                                                                       "workflowType": info["workflowType"]})
        closing = events[-1]["workflowExecutionContinuedAsNewEventAttributes"]
        assert decisions[-1]["decisionType"] == "ContinueAsNewWorkflowExecution"
        assert decisions[-1]["continueAsNewWorkflowExecutionDecisionAttributes"]["input"] == closing["input"]


def test_until_is_a_task_run_on_each_result(capsys: pytest.CaptureFixture[str], pipeline_file: Path,
                                             tmp_path: Path) -> None:
    code, out, err = invoke(capsys, "run", f"{pipeline_file}:until", "--input", "1", "--no-progress", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["result"] == 32  # 2, 4, 8, 16, 32: the first >= 20
    runs = chain_of_runs(tmp_path, report["workflow_id"])
    assert len(runs) == 3
    assert activity_ids(runs[2][1]) == ["0.iter.5#1", "0.until.5#1"]


def test_every_pauses_on_a_timer(capsys: pytest.CaptureFixture[str], pipeline_file: Path, tmp_path: Path) -> None:
    began = time.monotonic()
    code, out, err = invoke(capsys, "run", f"{pipeline_file}:paused", "--input", "0", "--no-progress", "--json")
    assert code == 0, err
    assert time.monotonic() - began >= 1.0
    report = json.loads(out)
    assert report["result"] == 2
    [(_, events)] = chain_of_runs(tmp_path, report["workflow_id"])
    timers = [e["timerStartedEventAttributes"] for e in events if e["eventType"] == "TimerStarted"]
    assert [(t["timerId"], t["startToFireTimeout"]) for t in timers] == [("every-0.iter.2", "1")]


def test_pf_run_and_client_follow_the_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    @pf.task(name="test_repeat.add")
    def add(x: int, k: int = 1) -> int:
        return x + k

    pipeline = pf.Pipeline(pf.repeat(add.s(k=10), times=5, continue_every=2), name="test_repeat.adds")
    assert pf.run(pipeline, 1, store=None) == 51
    with pf.Client() as client:
        run = client.submit(pipeline, 0)
        first = run.run_id
        assert run.result() == 50
        assert run.status == "COMPLETED" and run.run_id != first  # the Run followed to the last run
        assert client.run(first).status == "COMPLETED"


def test_cancel_stops_the_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    @pf.task(name="test_repeat.tick")
    def tick(x: int) -> int:
        return x + 1

    forever = pf.Pipeline(pf.repeat(tick, every="1h", continue_every=1), name="test_repeat.forever")
    with pf.Client() as client:
        run = client.submit(forever, 0)
        first = run.run_id
        deadline = time.monotonic() + 20
        while run.status == "RUNNING" and run.run_id == first:  # the second run, in its hour-long pause
            assert time.monotonic() < deadline
            time.sleep(0.05)
        run.cancel()
        with pytest.raises(pf.RunCanceled):
            run.result()
        workflow_id = run.workflow_id
    runs = chain_of_runs(tmp_path, workflow_id)
    assert [info.get("closeStatus") for info, _ in runs] == ["CONTINUED_AS_NEW", "CANCELED"]
    kinds = [e["eventType"] for e in runs[1][1]]
    assert "TimerCanceled" in kinds and "ActivityTaskScheduled" not in kinds  # canceled in its pause, none after


def test_resume_starts_after_the_last_completed_iteration(capsys: pytest.CaptureFixture[str], pipeline_file: Path,
                                                          tmp_path: Path) -> None:
    code, out, err = invoke(capsys, "run", f"{pipeline_file}:broken", "--input", "0", "--no-progress")
    assert (code, out) == (1, "") and "step 0.iter.4" in err and "not fixed yet" in err
    calls = tmp_path / "calls.txt"
    assert calls.read_text().split() == ["fragile0", "fragile1", "fragile2", "fragile3"]
    run_id = err.rsplit("(run ", 1)[1].split(")")[0]
    (tmp_path / "fixed").touch()
    calls.unlink()
    code, out, err = invoke(capsys, "resume", f"{pipeline_file}:broken", run_id, "--no-progress", "--json")
    assert code == 0, err
    assert json.loads(out)["result"] == 6
    assert calls.read_text().split() == ["fragile3", "fragile4", "fragile5"]  # iterations 4 to 6 only


def test_signals_no_step_took_go_on_to_the_next_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three `go` signals reach the first run; its one iteration takes one; the next runs take the others."""
    monkeypatch.chdir(tmp_path)

    @pf.task(name="test_repeat.keep")
    def keep(value: Any) -> Any:
        return value

    gated = pf.Pipeline(pf.repeat(pf.chain(pf.wait_signal("gate"), pf.wait_signal("go"), keep), times=3,
                                  continue_every=1), name="test_repeat.gated")

    def next_run(run: Any, previous: str) -> str:
        deadline = time.monotonic() + 20
        while run.run_id == previous:  # reading the status follows the chain to its newest run
            assert run.status in ("RUNNING", "COMPLETED") and time.monotonic() < deadline, run.status
            time.sleep(0.02)
        return str(run.run_id)

    with pf.Client() as client:
        run = client.submit(gated, 0)
        first = run.run_id
        for value in (1, 2, 3):
            run.signal("go", value)  # all three wait in the first run's mailbox: its step waits on `gate`
        run.signal("gate")
        second = next_run(run, first)
        run.signal("gate")  # the second run's step takes a `go` carried from the first run
        third = next_run(run, second)
        run.signal("gate")
        assert run.wait(20, progress=False).result() == 3
        workflow_id = run.workflow_id
    runs = chain_of_runs(tmp_path, workflow_id)
    assert [info["execution"]["runId"] for info, _ in runs] == [first, second, third]
    assert [info.get("closeStatus") for info, _ in runs] == ["CONTINUED_AS_NEW", "CONTINUED_AS_NEW", "COMPLETED"]
    carried = [json.loads(events[0]["workflowExecutionStartedEventAttributes"]["input"])["repeat"].get("signals")
               for _, events in runs[1:]]
    assert [len(c) for c in carried] == [2, 1]  # [go 2, go 3], then [go 3]


@pytest.mark.parametrize("signals", [
    [123],  # not a pair
    [["json:\"go\"", 1]],  # a value that is no tree
    [["not an envelope", "json:1"]],  # a name that is no envelope
    {"offloaded": "ref/1:json/1:10:" + "0" * 64 + ":file:///elsewhere/x"},  # an object outside the store
], ids=["not-pair", "not-tree", "bad-name", "outside"])
def test_carried_signals_that_cannot_be_read_fail_the_run_once_naming_them(signals: Any) -> None:
    """A start input (a history field from elsewhere) whose carried signals are unreadable: one clear failure."""
    from pipeflow import wire
    from tests.pipeflow.decider._history import History

    @pf.task(name="test_repeat.same")
    def same(value: Any) -> Any:
        return value

    pipeline = pf.Pipeline(pf.repeat(pf.chain(pf.wait_signal("go"), same), times=2, continue_every=1),
                           name="test_repeat.carried")
    history = History(pipeline, 0)
    started = history.events[0]["workflowExecutionStartedEventAttributes"]
    doc = json.loads(started["input"])
    doc["repeat"] = {"iteration": 1, "previous": "run-0", "signals": signals}
    started["input"] = wire.dump_json(doc)
    (decision,) = Decider([pipeline]).decide(history.task())
    assert decision["decisionType"] == "FailWorkflowExecution", decision
    reason = decision["failWorkflowExecutionDecisionAttributes"]["reason"]
    assert "signals carried from the previous run cannot be read" in reason, reason


def test_the_progress_line_follows_the_chain_of_runs(pipeline_file: Path) -> None:
    """`counted` runs 7 iterations of 2 steps in 3 runs: the line ends at 14 steps, on the third run."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "pipeflow", "run", f"{pipeline_file}:counted", "--input", "0"],
                          capture_output=True, text=True, timeout=120, cwd=pipeline_file.parent)
    assert done.returncode == 0 and done.stdout.strip() == "14", done.stderr
    last = done.stderr.replace("\r", "\n").strip().splitlines()[-1]
    assert "14/14" in last and "run 3 of the chain" in last, last
