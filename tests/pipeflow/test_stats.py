"""`Run.stats()` and `pipeflow stats`: per task counts, waits, run times and bytes; the critical path.

Over hand-written histories with known times (a group whose long branch sets the pace, a retry
after a delay, a stage whose inner chain is the path), then over real runs on the embedded engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import pipeflow as pf
from pipeflow.cli import main
from pipeflow.client import STATS_COLUMNS
from pipeflow.client._stats import attempts_frame, checksum, run_stats, size_of
from tests.e2e.pipelines import tools

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
SHA = "ab" * 32


def ref(size: int, sha: str = SHA, where: str = "file:///s/wf/r/x") -> str:
    return f"ref/1:json/1:{size}:{sha}:{where}"


class History:
    """A boto3-shaped history whose events happen at the seconds (after T0) given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.add("WorkflowExecutionStarted", 0, workflowType={"name": "p", "version": "1"}, input='{"v":1}')

    def add(self, kind: str, at: float, **attrs: Any) -> int:
        event_id = len(self.events) + 1
        self.events.append({"eventId": event_id, "eventType": kind, "eventTimestamp": T0 + timedelta(seconds=at),
                            kind[0].lower() + kind[1:] + "EventAttributes": attrs})
        return event_id

    def task(self, key: str, name: str, times: tuple[float, float, float], ok: bool = True,
             input: str = '{"v":1,"args":["json/1:1"],"kwargs":{}}', result: str = "json/1:2") -> None:
        scheduled = self.add("ActivityTaskScheduled", times[0], activityId=key, input=input,
                             activityType={"name": name, "version": "1"})
        self.add("ActivityTaskStarted", times[1], scheduledEventId=scheduled, identity="host:1")
        if ok:
            self.add("ActivityTaskCompleted", times[2], scheduledEventId=scheduled, result=result)
        else:
            self.add("ActivityTaskFailed", times[2], scheduledEventId=scheduled, reason="ValueError: no")

    def stage(self, key: str, workflow_id: str, times: tuple[float, float, float]) -> None:
        initiated = self.add("StartChildWorkflowExecutionInitiated", times[0], workflowId=workflow_id, control=key,
                             input='{"v":1,"input":"json/1:1"}')
        self.add("ChildWorkflowExecutionStarted", times[1], initiatedEventId=initiated,
                 workflowExecution={"workflowId": workflow_id, "runId": "run-" + workflow_id})
        self.add("ChildWorkflowExecutionCompleted", times[2], initiatedEventId=initiated, result="json/1:3")

    def close(self, at: float) -> None:
        self.add("WorkflowExecutionCompleted", at, result="json/1:4")


def a_run() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """0, then a group (1.0 long, 1.1 short), then 2 failing once and retried 2 s later, then a stage at 3."""
    top = History()
    top.task("0#1", "t.a", (0, 1, 3), input=f'{{"v":1,"args":["{ref(1000)}"],"kwargs":{{}}}}', result=ref(500))
    top.task("1.0#1", "t.b", (3, 3, 10))
    top.task("1.1#1", "t.b", (3, 4, 6))
    top.task("2#1", "t.c", (10, 10, 11), ok=False)
    top.task("2#2", "t.c", (13, 13, 15))
    top.stage("3#1", "wf.3#1", (15, 15, 20))
    top.close(21)
    inner = History()
    inner.task("3.0#1", "t.a", (15, 16, 17))
    inner.task("3.1#1", "t.d", (17, 17, 19))
    inner.close(20)
    return top.events, {"run-wf.3#1": inner.events}


def frame_of(events: list[dict[str, Any]], children: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    return attempts_frame(events, lambda execution: children[execution["runId"]])


def test_per_task_counts_waits_run_times_and_bytes() -> None:
    stats = run_stats(frame_of(*a_run()), T0)
    assert stats.duration == 21.0
    table = stats.tasks.set_index("task")
    assert list(stats.tasks.columns) == STATS_COLUMNS
    assert list(table.index) == ["t.a", "t.b", "t.c", "stage", "t.d"]  # in the order they first ran
    assert table.loc["t.b", ["steps", "attempts", "failures", "retries"]].tolist() == [2, 2, 0, 0]
    assert table.loc["t.c", ["steps", "attempts", "failures", "retries"]].tolist() == [1, 2, 1, 1]
    assert table.loc["t.b", ["run_p50", "run_max", "wait_max"]].tolist() == [4.5, 7.0, 1.0]  # runs of 7 and 2 s
    assert table.loc["t.b", "run_p95"] == pytest.approx(6.75)
    assert table.loc["t.a", "steps"] == 2  # one in the run, one in its stage
    # bytes: the encoded value plus the object it references in the store
    first_input = len(f'{{"v":1,"args":["{ref(1000)}"],"kwargs":{{}}}}')
    assert table.loc["t.a", "bytes_in"] == first_input + 1000 + len('{"v":1,"args":["json/1:1"],"kwargs":{}}')
    assert table.loc["t.a", "bytes_out"] == len(ref(500)) + 500 + len("json/1:2")


def test_the_critical_path_follows_the_long_branch_the_retry_and_into_the_stage() -> None:
    path = run_stats(frame_of(*a_run()), T0).critical_path
    assert [(r.step, r.attempt, r.status, r.depth) for r in path.itertuples()] == [
        ("0", 1, "COMPLETED", 0), ("1.0", 1, "COMPLETED", 0), ("2", 1, "FAILED", 0), ("2", 2, "COMPLETED", 0),
        ("3.0", 1, "COMPLETED", 1), ("3.1", 1, "COMPLETED", 1)]
    assert path["duration"].tolist() == [2.0, 7.0, 1.0, 2.0, 1.0, 2.0]
    assert path["wait"].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def test_an_open_attempt_runs_up_to_now_on_the_path() -> None:
    top = History()
    top.task("0#1", "t.a", (0, 0, 1))
    top.add("ActivityTaskScheduled", 1, activityId="1#1", input="{}", activityType={"name": "t.b", "version": "1"})
    path = run_stats(frame_of(top.events, {}), T0).critical_path
    assert path["step"].tolist() == ["0", "1"] and path["status"].tolist() == ["COMPLETED", "SCHEDULED"]


def test_checksums_see_values_not_places() -> None:
    assert checksum(ref(10, where="file:///s/wf-a/r1/x")) == checksum(ref(10, where="s3://b/wf-b/r2/y"))
    assert checksum(ref(10)) != checksum(ref(10, sha="cd" * 32))
    a = '{"v":1,"step":"2","attempt":1,"task":"t","store":"file:///s#wf-a/r1","piped":null,"args":["json/1:1"],"kwargs":{}}'
    b = '{"v":1,"step":"2","attempt":3,"task":"t","store":"file:///s#wf-b/r9","piped":null,"args":["json/1:1"],"kwargs":{}}'
    assert checksum(a, activity_input=True) == checksum(b, activity_input=True)
    assert checksum(a, activity_input=True) != checksum(a.replace("json/1:1", "json/1:2"), activity_input=True)
    assert checksum(None) is None and size_of(None) != size_of(None)  # NaN: no value


@pytest.fixture()
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pf.Client]:
    monkeypatch.chdir(tmp_path)
    with pf.Client(workers=1) as client:
        yield client


def test_stats_of_a_real_run_and_the_command(client: pf.Client, capsys: pytest.CaptureFixture[str]) -> None:
    run = client.submit(tools.squares, input=8)  # fails in its stage: 140 > 100
    with pytest.raises(pf.TaskFailed):
        run.result()
    stats = run.stats()
    table = stats.tasks.set_index("task")
    assert table.loc["tools.square", ["steps", "attempts", "failures"]].tolist() == [8, 8, 0]
    assert table.loc["tools.check", "failures"] == 1 and table.loc["sum", "failures"] == 1
    assert (table["run_max"] >= table["run_p50"]).all() and (table["bytes_in"] > 0).all()
    assert stats.critical_path["step"].tolist()[-2:] == ["2.0.0", "2.0.1"]  # inside the stage, to the failure
    assert stats.duration is not None and stats.critical_path["duration"].sum() <= stats.duration
    assert "critical path" in stats._repr_html_()
    with pytest.raises(SystemExit) as done:
        main(["stats", run.run_id, "--json"])
    out, err = capsys.readouterr()
    assert done.value.code == 0, err
    doc = json.loads(out)
    assert doc["run"]["run_id"] == run.run_id and doc["run"]["status"] == "FAILED"
    assert [t["task"] for t in doc["tasks"]] == stats.tasks["task"].tolist()
    assert [p["step"] for p in doc["critical_path"]] == stats.critical_path["step"].tolist()
    with pytest.raises(SystemExit) as done:
        main(["stats", run.workflow_id])
    out, _ = capsys.readouterr()
    assert done.value.code == 0 and "tools.square" in out and "critical path:" in out
    with pytest.raises(SystemExit) as done:
        main(["stats", "nope"])
    assert done.value.code == 2 and "no run 'nope'" in capsys.readouterr().err
