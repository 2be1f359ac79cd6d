"""Tags and task priorities: their checks, and what the decider does with them (synthetic histories)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import pipeflow as pf
from pipeflow._pipeline import Pipeline
from pipeflow.decider import Decider
from pipeflow.running import MAX_TAGS, run_options, tag_filter, tag_list, tags_of
from tests.pipeflow.decider._history import History


@pf.task(priority=5)
def urgent(x: int) -> int:
    return x + 1


@pf.task
def plain(x: int) -> int:
    return x * 2


# -- tags: what is accepted, and the one line a mistake gets --------------------------------------


def test_tags_are_key_value_strings_in_the_order_given() -> None:
    assert tag_list({"team": "data", "run": 7}) == ["team=data", "run=7"]
    assert tag_list(["team=data", "note=a=b"]) == ["team=data", "note=a=b"]  # the value may hold '='
    assert tag_list(None) == [] and tag_list({}) == []
    assert tag_list({f"k{i}": "v" for i in range(MAX_TAGS)}) == [f"k{i}=v" for i in range(MAX_TAGS)]
    assert tag_filter("team=data") == "team=data" and tag_filter(None) is None
    assert tags_of({"tagList": ["team=data", "legacy"]}) == {"team": "data", "legacy": ""}
    assert run_options({"team": "data"}, 3) == {"tagList": ["team=data"], "taskPriority": "3"}
    assert run_options() == {}


@pytest.mark.parametrize(("tags", "message"), [
    ({f"k{i}": "v" for i in range(6)}, "6 tags given (k0, k1, k2, k3, k4, k5): SWF keeps at most 5 tags on a run; "
                                       "drop 1"),
    ({"team": "x" * 252}, "tag 'team' is 257 characters as key=value (SWF allows 256): shorten its key or value"),
    (["team"], "tag 'team' is not key=value: give e.g. team=data"),
    ({"": "x"}, "tag '': a tag's key is a non-empty string"),
    ({" team": "x"}, "surrounding spaces"),
    ({"a=b": "x"}, "without '='"),
    ({"pipeflow.run": "x"}, "keys starting with 'pipeflow.' are pipeflow's own"),
    ({"team": None}, "tag 'team': its value must be a string (or a whole number), got NoneType"),
    ({"team": True}, "got bool"),
    ({"team": "a\nb"}, "control character '\\n'"),
    (["team=a", "team=b"], "tag 'team' is given twice ('team=a' and 'team=b')"),
    ("team=data", "give a mapping"),
])
def test_a_bad_tag_is_named_with_the_fix(tags: Any, message: str) -> None:
    with pytest.raises(pf.PipelineError) as caught:
        tag_list(tags)
    assert message in str(caught.value) and "\n" not in str(caught.value).replace("'\\n'", "")


# -- priorities: on a task, on a signature, checked -------------------------------------------------


def test_priorities_on_tasks_and_signatures() -> None:
    assert urgent.priority == 5 and plain.priority is None
    step = plain.s().options(priority=-3)
    assert (step.priority, step.task, plain.s().priority) == (-3, plain, None)
    assert step.options(priority=None).priority is None
    assert pf.task(priority="12")(lambda x: x).priority == 12  # type: ignore[call-overload]  # a flag's text
    assert pf.task(priority=2**31 - 1)(lambda x: x).priority == 2**31 - 1
    for bad in (2**31, -2**31 - 1, 1.5, True, "high"):
        with pytest.raises(pf.PipelineError, match=r"is not a task priority: give a whole number from -2147483648 "):
            pf.task(priority=bad)(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(pf.PipelineError, match=r"plain.s\(...\).options\(priority=...\) 'x' is not a task priority"):
        plain.s().options(priority="x")  # type: ignore[arg-type]
    with pytest.raises(pf.PipelineError, match="the run's priority"):
        run_options(priority=2**40)


# -- the decider: each step's taskPriority, a stage's tags and priority ------------------------------


def _history(pipeline: Pipeline, **started: Any) -> History:
    history = History(pipeline, input=1)
    history.events[0]["workflowExecutionStartedEventAttributes"].update(
        taskList={"name": pipeline.task_list}, executionStartToCloseTimeout="3600", taskStartToCloseTimeout="60",
        **started)
    return history


def _scheduled(decisions: list[dict[str, Any]]) -> dict[str, str | None]:
    return {d["scheduleActivityTaskDecisionAttributes"]["activityId"]:
            d["scheduleActivityTaskDecisionAttributes"].get("taskPriority")
            for d in decisions if d["decisionType"] == "ScheduleActivityTask"}


PIPELINE = Pipeline(pf.chain(pf.group(urgent, plain, plain.s().options(priority=-1)), pf.stage(plain)),
                    name="prio")


def test_each_step_gets_its_own_priority_else_the_runs() -> None:
    history = _history(PIPELINE, taskPriority="7", tagList=["team=data"])
    decisions = Decider([PIPELINE]).decide(history.task())
    assert _scheduled(decisions) == {"0.0#1": "5", "0.1#1": "7", "0.2#1": "-1"}


def test_without_priorities_nothing_is_added() -> None:
    plain_pipeline = Pipeline(pf.group(plain, plain), name="plain")
    decisions = Decider([plain_pipeline]).decide(_history(plain_pipeline).task())
    assert _scheduled(decisions) == {"0.0#1": None, "0.1#1": None}
    assert all("taskPriority" not in d["scheduleActivityTaskDecisionAttributes"] for d in decisions
               if d["decisionType"] == "ScheduleActivityTask")


def test_a_stage_starts_with_the_parents_tags_and_priority_and_its_steps_inherit_it() -> None:
    history = _history(PIPELINE, taskPriority="7", tagList=["team=data", "env=dev"])
    decider = Decider([PIPELINE])
    history.decided(decider.decide(history.task()))
    for activity_id in ("0.0#1", "0.1#1", "0.2#1"):
        history.completed(activity_id, 1)
    [start] = [d["startChildWorkflowExecutionDecisionAttributes"] for d in decider.decide(history.task())
               if d["decisionType"] == "StartChildWorkflowExecution"]
    assert start["tagList"] == ["team=data", "env=dev"] and start["taskPriority"] == "7"
    child = {"taskToken": "c", "workflowExecution": {"workflowId": start["workflowId"], "runId": "child"},
             "workflowType": start["workflowType"], "events": [
                 {"eventId": 1, "eventType": "WorkflowExecutionStarted", "workflowExecutionStartedEventAttributes": {
                     k: start[k] for k in ("input", "taskList", "tagList", "taskPriority")}},
                 {"eventId": 2, "eventType": "DecisionTaskScheduled", "decisionTaskScheduledEventAttributes": {}},
                 {"eventId": 3, "eventType": "DecisionTaskStarted", "decisionTaskStartedEventAttributes": {}}]}
    assert _scheduled(Decider([PIPELINE]).decide(child)) == {"1.0#1": "7"}


# -- the command line: one line, exit 2, no traceback ------------------------------------------------


def _pipeflow(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeflow", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_bad_tags_and_priorities_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "pipe.py").write_text("import pipeflow as pf\n\n@pf.task\ndef one(x):\n    return 1\n\n"
                                      "pipeline = pf.chain(one)\n")
    too_many = [arg for i in range(6) for arg in ("--tag", f"k{i}=v")]
    for args, message in [
        (("run", "pipe.py", "--tag", "team"), "Invalid value for --tag: tag 'team' is not key=value: give e.g. "
                                              "team=data"),
        (("run", "pipe.py", *too_many), "6 tags given (k0, k1, k2, k3, k4, k5): SWF keeps at most 5 tags on a run"),
        (("run", "pipe.py", "--priority", "high"), "Invalid value for '--priority': 'high' is not a valid integer"),
        (("run", "pipe.py", "--priority", str(2**31)), "Invalid value for '--priority': 2147483648 is not in the "
                                                        "range"),
        (("runs", "--tag", "=x"), "Invalid value for --tag: tag '': a tag's key is a non-empty string"),
    ]:
        done = _pipeflow(tmp_path, *args)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / ".pipeflow").exists()  # refused before anything started


def test_runs_filters_by_tag_in_json(tmp_path: Path) -> None:
    (tmp_path / "pipe.py").write_text("import pipeflow as pf\n\n@pf.task\ndef one(x):\n    return 1\n\n"
                                      "pipeline = pf.chain(one)\n")
    assert _pipeflow(tmp_path, "run", "pipe.py", "--no-progress", "--workers", "1", "--tag", "team=data",
                     "--tag", "env=dev", "--priority", "3").returncode == 0
    assert _pipeflow(tmp_path, "run", "pipe.py", "--no-progress", "--workers", "1", "--tag", "team=web").returncode == 0
    rows = json.loads(_pipeflow(tmp_path, "runs", "--tag", "team=data", "--json").stdout)
    assert [row["tags"] for row in rows] == [{"team": "data", "env": "dev"}]
    assert "tags         team=data, env=dev\n" in _pipeflow(tmp_path, "status", rows[0]["run_id"]).stdout
    assert json.loads(_pipeflow(tmp_path, "runs", "--tag", "team=data", "--status", "FAILED", "--json").stdout) == []
