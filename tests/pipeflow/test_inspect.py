"""`tasks_frame`, `history_frame`, `progress_of` and `timeline` over synthetic histories and a real one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib
import pandas as pd
import pytest

from pipeflow import PipelineError, wire
from pipeflow.client import (
    HISTORY_COLUMNS,
    TASK_COLUMNS,
    history_frame,
    progress_of,
    tasks_frame,
    timeline,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


class Events:
    """A boto3-shaped history written by hand; each event one second after the previous one."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.ids: dict[str, int] = {}  # activity id or child key -> scheduled / initiated event id
        self.add("WorkflowExecutionStarted", workflowType={"name": "p", "version": "1"}, input='{"v":1}')

    def add(self, kind: str, **attrs: Any) -> int:
        event_id = len(self.events) + 1
        self.events.append({"eventId": event_id, "eventType": kind, "eventTimestamp": T0 + timedelta(seconds=event_id),
                            kind[0].lower() + kind[1:] + "EventAttributes": attrs})
        return event_id

    def scheduled(self, activity_id: str, task: str = "t.inc", input: str = "json/1:1") -> None:
        self.ids[activity_id] = self.add("ActivityTaskScheduled", activityId=activity_id, input=input,
                                         activityType={"name": task, "version": "1"})

    def started(self, activity_id: str, worker: str = "host:1") -> None:
        self.add("ActivityTaskStarted", scheduledEventId=self.ids[activity_id], identity=worker)

    def completed(self, activity_id: str, result: str = "json/1:2") -> None:
        self.add("ActivityTaskCompleted", scheduledEventId=self.ids[activity_id], result=result)

    def failed(self, activity_id: str, exc: BaseException) -> None:
        reason, details = wire.encode_failure(exc, activity_id=activity_id)
        self.add("ActivityTaskFailed", scheduledEventId=self.ids[activity_id], reason=reason, details=details)

    def ran(self, activity_id: str, task: str = "t.inc") -> None:
        self.scheduled(activity_id, task)
        self.started(activity_id)
        self.completed(activity_id)

    def child(self, key: str, *, end: str | None = "ChildWorkflowExecutionCompleted", **attrs: Any) -> None:
        initiated = self.add("StartChildWorkflowExecutionInitiated", workflowId=f"wf.{key}", control=key,
                             input='{"v":1,"input":"json/1:1"}')
        self.add("ChildWorkflowExecutionStarted", initiatedEventId=initiated,
                 workflowExecution={"workflowId": f"wf.{key}", "runId": "r" + key})
        if end is not None:
            self.add(end, initiatedEventId=initiated, **attrs)

    def progress(self, done: int, total: int) -> None:
        self.add("MarkerRecorded", markerName="pipeflow.progress", details=json.dumps({"v": 1, "done": done,
                                                                                       "total": total}))


def every_case() -> Events:
    """Retries, a step failed for good, a timeout, a hand-back, a stage, shards, markers, open attempts."""
    h = Events()
    h.scheduled("0#1")
    h.started("0#1", "host:7")
    h.failed("0#1", RuntimeError("flaky"))  # retried after a timer ...
    h.add("TimerStarted", timerId="retry-0#2", startToFireTimeout="1")
    h.add("TimerFired", timerId="retry-0#2")
    h.ran("0#2")  # ... and completed
    h.add("MarkerRecorded", markerName="pipeflow.checkpoint", details='{"v":1,"step":"0","result":"json/1:2"}')
    h.progress(1, 3)
    h.scheduled("1.0#1")
    h.started("1.0#1")
    h.add("ActivityTaskTimedOut", scheduledEventId=h.ids["1.0#1"], timeoutType="HEARTBEAT")
    h.scheduled("1.0#2")
    h.started("1.0#2")
    reason, details = wire.encode_handback("host:9", "the task was still running")
    h.add("ActivityTaskFailed", scheduledEventId=h.ids["1.0#2"], reason=reason, details=details)
    h.scheduled("1.0#3")
    h.started("1.0#3")
    h.failed("1.0#3", ValueError("bad row 7"))  # no retries left: the step failed for good
    h.child("2#1")  # a stage
    h.child("3.shard.0#1")
    h.child("3.shard.1#1", end="ChildWorkflowExecutionFailed", reason="step 3.map.5 task t.inc: ValueError: no")
    h.scheduled("4#1", task="t.total")
    h.started("4#1")  # still running
    h.scheduled("5#1")  # not picked up yet
    return h


def test_tasks_frame_has_a_row_per_attempt_with_its_status_times_and_error() -> None:
    h = every_case()
    tasks = tasks_frame(h.events)
    assert list(tasks.columns) == TASK_COLUMNS
    rows = [tuple(r) for r in tasks[["step", "task", "attempt", "status"]].itertuples(index=False)]
    assert rows == [
        ("0", "t.inc", 1, "FAILED"), ("0", "t.inc", 2, "COMPLETED"),
        ("1.0", "t.inc", 1, "TIMED_OUT"), ("1.0", "t.inc", 2, "HANDED_BACK"), ("1.0", "t.inc", 3, "FAILED"),
        ("2", "stage", 1, "COMPLETED"), ("3.shard.0", "shard", 1, "COMPLETED"), ("3.shard.1", "shard", 1, "FAILED"),
        ("4", "t.total", 1, "RUNNING"), ("5", "t.inc", 1, "SCHEDULED"),
    ]
    by = {(r.step, r.attempt): r for r in tasks.itertuples(index=False)}
    assert by[("0", 1)].error == "RuntimeError: flaky" and by[("0", 1)].worker == "host:7"
    assert by[("1.0", 1)].error == "timed out (HEARTBEAT)"
    assert by[("1.0", 2)].error.startswith("pipeflow.handback: worker host:9 shut down")
    assert by[("1.0", 3)].error == "ValueError: bad row 7"
    assert by[("3.shard.1", 1)].error == "step 3.map.5 task t.inc: ValueError: no"
    assert by[("0", 2)].error is None
    # times: one second an event; duration from start to close
    first = by[("0", 1)]
    assert (first.scheduled, first.started, first.closed) == tuple(T0 + timedelta(seconds=s) for s in (2, 3, 4))
    assert first.duration == 1.0 and by[("2", 1)].duration == 1.0
    assert pd.isna(by[("4", 1)].duration) and pd.isna(by[("4", 1)].closed) and not pd.isna(by[("4", 1)].started)
    assert pd.isna(by[("5", 1)].started) and by[("5", 1)].worker is None
    assert str(tasks["scheduled"].dtype).endswith("UTC]")
    # sizes: characters of the encoded input and result; no result, NaN
    assert by[("0", 2)].input_size == len("json/1:1") and by[("0", 2)].result_size == len("json/1:2")
    assert pd.isna(by[("0", 1)].result_size)
    assert by[("2", 1)].input_size == len('{"v":1,"input":"json/1:1"}')
    assert tasks.attrs["end"] > pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=1)  # an open run: now


def test_tasks_frame_of_a_closed_run_ends_its_open_attempts_at_the_close() -> None:
    h = every_case()
    h.add("WorkflowExecutionFailed", reason="step 1.0 task t.inc: ValueError: bad row 7")
    assert tasks_frame(h.events).attrs["end"] == h.events[-1]["eventTimestamp"]


def test_tasks_frame_of_no_tasks_is_empty_with_the_columns() -> None:
    tasks = tasks_frame(Events().events)
    assert tasks.empty and list(tasks.columns) == TASK_COLUMNS


def test_timestamps_may_be_iso_strings_or_epoch_seconds() -> None:
    """Histories read as JSON (the raw SWF API, files) carry strings or numbers, not datetimes."""
    h = every_case()
    as_iso = [{**e, "eventTimestamp": e["eventTimestamp"].isoformat()} for e in h.events]
    as_epoch = [{**e, "eventTimestamp": e["eventTimestamp"].timestamp()} for e in h.events]
    expected = tasks_frame(h.events)
    for events in (as_iso, as_epoch):
        got = tasks_frame(events)
        assert got["started"].equals(expected["started"]) and got["duration"].equals(expected["duration"])
        assert history_frame(events)["timestamp"].iloc[-1] == h.events[-1]["eventTimestamp"]


def test_aware_timestamps_of_any_zone_become_utc() -> None:
    """boto3 gives datetimes in `tzlocal()`; any zone converts, across a daylight-saving change too."""
    from dateutil.tz import tzlocal

    h = every_case()
    expected = tasks_frame(h.events)
    for zone in (tzlocal(), ZoneInfo("Europe/Paris")):
        local = [{**e, "eventTimestamp": e["eventTimestamp"].astimezone(zone)} for e in h.events]
        assert tasks_frame(local)["closed"].equals(expected["closed"])
    change = datetime(2026, 10, 24, 22, tzinfo=timezone.utc)  # Paris leaves summer time at 01:00 UTC on the 25th
    halves = [{**e, "eventTimestamp": (change + timedelta(minutes=30 * i)).astimezone(ZoneInfo("Europe/Paris"))}
              for i, e in enumerate(h.events)]
    stamps = history_frame(halves)["timestamp"]  # under a day, the offset changing on the way
    assert list(stamps) == [change + timedelta(minutes=30 * i) for i in range(len(h.events))]


def test_history_frame_has_a_row_per_event_with_a_short_description() -> None:
    h = every_case()
    events = history_frame(h.events)
    assert list(events.columns) == HISTORY_COLUMNS
    assert list(events["event_id"]) == list(range(1, len(h.events) + 1))
    assert list(events["type"]) == [e["eventType"] for e in h.events]
    assert events["timestamp"].iloc[0] == T0 + timedelta(seconds=1)
    details = dict(zip(events["event_id"], events["details"]))
    assert details[h.ids["0#1"]] == "0#1 t.inc, input 8 chars"
    assert details[h.ids["0#1"] + 1] == "0#1 on host:7"
    assert details[h.ids["0#1"] + 2] == "0#1 RuntimeError: flaky"
    assert details[h.ids["1.0#1"] + 2] == "1.0#1 HEARTBEAT"
    text = list(events["details"])
    assert "pipeflow.progress 1/3" in text and "pipeflow.checkpoint step 0, 38 chars" in text
    assert "retry-0#2 1s" in text
    assert any(d.startswith("3.shard.1#1 step 3.map.5") for d in text)  # a child's events name its key
    assert events["attributes"].iloc[0] is h.events[0]["workflowExecutionStartedEventAttributes"]


def test_history_details_stay_on_one_short_line() -> None:
    h = Events()
    h.scheduled("0#1")
    h.add("ActivityTaskFailed", scheduledEventId=h.ids["0#1"], reason="ValueError: " + "long\nline " * 50)
    h.add("SomethingNew", color="blue", size=3, blob="x" * 500)  # an event type this module does not know
    details = list(history_frame(h.events)["details"])
    assert "\n" not in details[2] and len(details[2]) <= 120 and details[2].endswith("...")
    assert details[3] == "color=blue size=3"


def test_progress_counts_steps_and_takes_the_marker_when_it_knows_more() -> None:
    assert progress_of(Events().events) is None  # no step yet
    h = Events()
    h.ran("0#1")
    h.scheduled("1.0#1")
    h.scheduled("1.1#1")
    assert progress_of(h.events) == (1, 3)
    h.progress(1, 1000)  # a map past the open-activity limit: the decider knows of 1,000 steps
    assert progress_of(h.events) == (1, 1000)
    h.completed("1.0#1")
    h.completed("1.1#1")
    assert progress_of(h.events) == (3, 1000)


def test_progress_counts_a_retried_step_once_and_a_completed_run_as_done() -> None:
    h = every_case()
    assert progress_of(h.events) == (3, 7)  # 0, 2, 3.shard.0 done of 0, 1.0, 2, 3.shard.0/1, 4, 5
    h.add("WorkflowExecutionCompleted", result="json/1:9")
    assert progress_of(h.events) == (7, 7)


def test_timeline_draws_a_bar_per_attempt_on_a_row_per_step() -> None:
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import to_hex

    tasks = tasks_frame(every_case().events)
    figure = timeline(tasks)
    ax = figure.axes[0]
    bars = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bars) == 1 and len(bars[0].get_paths()) == len(tasks)
    rows = [(path.vertices[:, 1].min() + path.vertices[:, 1].max()) / 2 for path in bars[0].get_paths()]
    assert rows[:2] == [0.0, 0.0] and rows[2:5] == [1.0, 1.0, 1.0]  # retries share their step's row
    assert len(set(rows)) == tasks["step"].nunique()
    colors = [to_hex(c) for c in bars[0].get_facecolors()]
    assert colors[0] == "#d62728" and colors[1] == "#2ca02c"  # failed, then completed
    left = [path.vertices[:, 0].min() for path in bars[0].get_paths()]
    assert left[0] < left[1]  # the retry starts later, beside the first attempt
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["completed", "failed", "timed out", "handed back", "running", "scheduled", "waiting"]
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["0  t.inc", "1.0  t.inc"]


def test_timeline_names_a_few_rows_when_there_are_many_and_says_when_empty() -> None:
    h = Events()
    for i in range(500):
        h.ran(f"0.map.{i}#1")
    figure = timeline(tasks_frame(h.events), max_labels=40)
    assert 20 <= len(figure.axes[0].get_yticklabels()) <= 40
    empty = timeline(tasks_frame(Events().events))
    assert [t.get_text() for t in empty.axes[0].texts] == ["no task attempts yet"]


def test_timeline_without_matplotlib_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    with pytest.raises(PipelineError, match=r"pip install 'pipeflow\[notebook\]'"):
        timeline(tasks_frame(every_case().events))


def test_timeline_picks_agg_only_when_no_backend_was_chosen(tmp_path: Path) -> None:
    """Headless with no backend chosen: Agg. A backend the user (or Jupyter, via MPLBACKEND) chose stays."""
    code = ("import json, matplotlib; from pipeflow.client import timeline, tasks_frame; "
            "from tests.pipeflow.test_inspect import every_case; "
            "timeline(tasks_frame(every_case().events)).savefig('out.png'); print(matplotlib.get_backend())")
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    for chosen, expected in ((None, "agg"), ("svg", "svg")):
        run_env = env if chosen is None else {**env, "MPLBACKEND": chosen}
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=run_env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().lower() == expected
        assert (tmp_path / "out.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_a_real_run_s_history_parses(tmp_path: Path) -> None:
    """The ids the decider really uses, on the embedded engine: retries, a stage, a group, shards."""
    import pipeflow as pf
    from pipeflow.engine import Engine
    from pipeflow.running import run_embedded
    from tests.e2e.pipelines import arith

    canvas = pf.chain(arith.flaky_retries1, pf.stage(pf.chain(arith.inc, arith.inc)),
                      pf.group(arith.inc, arith.inc), pf.map(arith.inc, shard_size=1), arith.total)
    db = tmp_path / "state.sqlite"
    outcome = run_embedded(pf.Pipeline(canvas, name="inspect.real"), {"counter": str(tmp_path / "n"), "fail_times": 1},
                           store=None, workers=1, db=str(db))
    assert outcome.result == 12  # 2 (flaky returns its attempt) + 2 (the stage) + 1 (group) + 1 (map), twice
    with Engine(db=db) as engine:
        execution = {"workflowId": outcome.workflow_id, "runId": outcome.run_id}
        events = engine.client().get_workflow_execution_history(domain="pipeflow", execution=execution,
                                                                maximumPageSize=1000)["events"]
    tasks = tasks_frame(events)
    rows = [tuple(r) for r in tasks[["step", "task", "attempt", "status"]].itertuples(index=False)]
    assert rows == [
        ("0", "flaky_retries1", 1, "FAILED"), ("0", "flaky_retries1", 2, "COMPLETED"), ("1", "stage", 1, "COMPLETED"),
        ("2.0", arith.inc.name, 1, "COMPLETED"), ("2.1", arith.inc.name, 1, "COMPLETED"),
        ("3.shard.0", "shard", 1, "COMPLETED"), ("3.shard.1", "shard", 1, "COMPLETED"),
        ("4", arith.total.name, 1, "COMPLETED"),
    ]
    assert tasks.loc[0, "error"] == "RuntimeError: flaky failure 1"
    activities = tasks[~tasks["task"].isin(["stage", "shard"])]
    assert activities["worker"].notna().all() and (activities["duration"] >= 0).all()
    assert (tasks["input_size"] > 0).all() and tasks["result_size"].iloc[1:].notna().all()
    assert progress_of(events) == (7, 7)
    history = history_frame(events)
    assert len(history) == len(events) and history["type"].iloc[-1] == "WorkflowExecutionCompleted"
    assert "1#1 " in " ".join(history["details"])  # the stage's key, as its `control`
    assert matplotlib.get_backend()  # and it draws
    assert len(timeline(tasks).axes[0].collections[-1].get_paths()) == len(tasks)
