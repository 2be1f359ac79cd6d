"""Stages and shards on synthetic histories: the child executions a decider starts and what their events do."""

from __future__ import annotations

import json
from typing import Any

import pytest

import converters
import pipeflow as pf
from pipeflow import wire
from pipeflow._pipeline import Pipeline
from pipeflow.decider import Decider
from pipeflow.decider._stages import (
    EVENTS_PER_LEAF,
    HISTORY_BUDGET,
    MAX_SHARDS,
    auto_shard_size,
    resolve,
    shard_size,
)
from pipeflow.decider._starts import child_id

from ._history import History, kinds, scheduled
from .tasks import boom, inc, total

START = "StartChildWorkflowExecution"


def starts(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d["startChildWorkflowExecutionDecisionAttributes"] for d in decisions if d["decisionType"] == START]


def activity_input(decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """The input document of the one ScheduleActivityTask among the decisions (markers may come first)."""
    [attrs] = [d["scheduleActivityTaskDecisionAttributes"] for d in decisions
               if d["decisionType"] == "ScheduleActivityTask"]
    return dict(json.loads(attrs["input"]))


def initiated(history: History, attrs: dict[str, Any]) -> int:
    """The engine's events for one started child: Initiated, then Started; returns the initiated event id."""
    iid = history.add("StartChildWorkflowExecutionInitiated", **{k: v for k, v in attrs.items() if k != "input"})
    history.add("ChildWorkflowExecutionStarted", initiatedEventId=iid,
                workflowExecution={"workflowId": attrs["workflowId"], "runId": f"run-{iid}"},
                workflowType=attrs["workflowType"])
    return iid


def child_closed(history: History, kind: str, iid: int, **attrs: Any) -> None:
    """A child's close event as SWF records it in the parent (the child's execution included)."""
    started = history.events[iid]["childWorkflowExecutionStartedEventAttributes"]
    history.add(kind, initiatedEventId=iid, startedEventId=iid + 1, workflowExecution=started["workflowExecution"],
                workflowType=started["workflowType"], **attrs)


def child_task(pipeline: Pipeline, attrs: dict[str, Any]) -> dict[str, Any]:
    """The first decision task of the child execution a StartChildWorkflowExecution decision starts."""
    events = [
        {"eventId": 1, "eventType": "WorkflowExecutionStarted",
         "workflowExecutionStartedEventAttributes": {"input": attrs["input"], "taskList": attrs["taskList"]}},
        {"eventId": 2, "eventType": "DecisionTaskScheduled", "decisionTaskScheduledEventAttributes": {}},
        {"eventId": 3, "eventType": "DecisionTaskStarted", "decisionTaskStartedEventAttributes": {}},
    ]
    return {"taskToken": "c", "workflowExecution": {"workflowId": attrs["workflowId"], "runId": "child-run"},
            "workflowType": {"name": pipeline.name, "version": pipeline.version}, "events": events}


def started_history(pipeline: Pipeline, input: Any) -> History:
    history = History(pipeline, input=input)
    attrs = history.events[0]["workflowExecutionStartedEventAttributes"]
    attrs.update(taskList={"name": pipeline.task_list}, executionStartToCloseTimeout="3600",
                 taskStartToCloseTimeout="60")
    return history


def test_stage_and_shard_size_are_checked() -> None:
    with pytest.raises(pf.PipelineError, match="retries"):
        pf.stage(inc, retries=-1)
    with pytest.raises(pf.PipelineError, match="shard_size"):
        pf.map(inc, shard_size=0)
    with pytest.raises(pf.PipelineError, match="a pipeline step"):
        pf.stage("inc")  # type: ignore[arg-type]
    staged = pf.stage(pf.chain(inc, total), name="sum", retries=2)
    assert (staged.name, staged.retries) == ("sum", 2)
    assert [t.name for t in pf.canvas.iter_tasks(pf.chain(staged, pf.map(inc, shard_size=3)))] == \
        ["tasks.inc", "tasks.total"]


def test_a_stage_starts_a_child_that_runs_its_inner_step() -> None:
    pipeline = Pipeline(pf.chain(inc, pf.stage(pf.chain(inc, inc), name="twice")), name="t")
    history = started_history(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    history.completed("0#1", 2)
    decisions = decider.decide(history.task())
    [attrs] = starts(decisions)
    assert [k for k in kinds(decisions) if k != "RecordMarker"] == [START]
    assert (attrs["workflowId"], attrs["control"], attrs["childPolicy"]) == ("wf.1#1", "1#1", "TERMINATE")
    assert attrs["workflowType"] == {"name": "t", "version": "1"}
    assert (attrs["taskList"], attrs["executionStartToCloseTimeout"]) == ({"name": "t"}, "3600")
    doc = json.loads(attrs["input"])
    assert doc["input"] == converters.dumps(2)
    assert {k: doc["stage"][k] for k in ("path", "kind", "parent", "name")} == \
        {"path": "1", "kind": "stage", "parent": "wf", "name": "twice"}
    # The child (same workflow type) starts the stage's inner chain, at the stage's path .0
    child = Decider([pipeline]).decide(child_task(pipeline, attrs))
    assert scheduled(child) == ["1.0.0#1"]
    assert activity_input(child)["piped"] == converters.dumps(2)


def test_the_childs_result_completes_the_stage_and_the_run() -> None:
    pipeline = Pipeline(pf.chain(pf.stage(pf.group(inc, inc)), total), name="t")
    history = started_history(pipeline, 1)
    decider = Decider([pipeline])
    [attrs] = starts(decider.decide(history.task()))
    history.add("DecisionTaskCompleted")
    iid = initiated(history, attrs)
    assert decider.decide(history.task()) == []  # the child runs: nothing to do
    history.add("DecisionTaskCompleted")
    # A list result comes as `tree/1:` + the value tree: it flows on undecoded
    child_closed(history, "ChildWorkflowExecutionCompleted", iid,
                 result=wire.encode_workflow_result([converters.dumps(2), converters.dumps(2)], None))
    history.add("DecisionTaskScheduled")
    decisions = decider.decide(history.task())
    assert scheduled(decisions) == ["1#1"]
    assert activity_input(decisions)["piped"] == [converters.dumps(2), converters.dumps(2)]
    # A decider replaying the whole history decides the same
    assert Decider([pipeline]).decide({**history.task(), "events": history.events[:-1]}) == decisions


def fail_child(history: History, iid: int, exc: BaseException, activity_id: str) -> None:
    """The child failed as a pipeflow child fails: its failing step's reason and failure document."""
    _, details = wire.encode_failure(exc, task=boom, activity_id=activity_id)
    child_closed(history, "ChildWorkflowExecutionFailed", iid,
                 reason=f"step {activity_id.split('#')[0]} task tasks.boom: ValueError: {exc}"[:256], details=details)
    history.add("DecisionTaskScheduled")


def test_a_failed_child_is_retried_then_fails_the_run_with_the_failing_steps_error() -> None:
    pipeline = Pipeline(pf.chain(inc, pf.stage(pf.chain(inc, boom), retries=1)), name="t")
    history = started_history(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    history.completed("0#1", 2)
    [first] = starts(decider.decide(history.task()))
    history.add("DecisionTaskCompleted")
    fail_child(history, initiated(history, first), ValueError("bad input 3"), "1.0.1#1")
    [second] = starts(decider.decide(history.task()))
    assert (second["workflowId"], second["control"]) == ("wf.1#2", "1#2")
    assert json.loads(second["input"])["input"] == converters.dumps(2)  # the same input again
    history.add("DecisionTaskCompleted")
    fail_child(history, initiated(history, second), ValueError("bad input 3"), "1.0.1#1")
    decision = decider.decide(history.task())[-1]  # after any markers
    attrs = decision["failWorkflowExecutionDecisionAttributes"]
    assert attrs["reason"] == "step 1.0.1 task tasks.boom: ValueError: bad input 3"
    doc = json.loads(attrs["details"])
    assert (doc["step"], doc["task"], doc["type"], doc["stage"], doc["stage_attempt"]) == \
        ("1.0.1", "tasks.boom", "ValueError", "1", 2)


def test_a_terminated_child_fails_the_stage() -> None:
    pipeline = Pipeline(pf.stage(inc), name="t")
    history = started_history(pipeline, 1)
    decider = Decider([pipeline])
    [attrs] = starts(decider.decide(history.task()))
    history.add("DecisionTaskCompleted")
    iid = initiated(history, attrs)
    child_closed(history, "ChildWorkflowExecutionTerminated", iid)
    history.add("DecisionTaskScheduled")
    decision = decider.decide(history.task())[-1]  # after any markers
    reason = decision["failWorkflowExecutionDecisionAttributes"]["reason"]
    assert "ChildWorkflowExecutionTerminated" in reason and "wf.0#1" in reason


def test_a_sharded_map_starts_slices_and_joins_their_results_in_input_order() -> None:
    pipeline = Pipeline(pf.chain(pf.map(inc, shard_size=2), total), name="t")
    history = started_history(pipeline, [10, 11, 12, 13, 14])
    decider = Decider([pipeline])
    decisions = decider.decide(history.task())
    found = starts(decisions)
    assert [a["control"] for a in found] == ["0.shard.0#1", "0.shard.1#1", "0.shard.2#1"]
    docs = [json.loads(a["input"]) for a in found]
    assert [d["stage"]["offset"] for d in docs] == [0, 2, 4]
    assert [len(d["input"]) for d in docs] == [2, 2, 1]
    # The last shard's child runs its one item under the item's index in the whole map
    child = Decider([pipeline]).decide(child_task(pipeline, found[2]))
    assert scheduled(child) == ["0.map.4#1"]
    history.add("DecisionTaskCompleted")
    ids = [initiated(history, a) for a in found]
    for shard in (2, 0, 1):  # shards finish in any order
        values = [converters.dumps(v + 1) for v in (10, 11, 12, 13, 14)[shard * 2:shard * 2 + 2]]
        child_closed(history, "ChildWorkflowExecutionCompleted", ids[shard],
                     result=wire.encode_workflow_result(values, None))
    history.add("DecisionTaskScheduled")
    decisions = decider.decide(history.task())
    piped = activity_input(decisions)["piped"]
    assert [converters.loads(v) for v in piped] == [11, 12, 13, 14, 15]


def test_an_automatic_shard_keeps_each_history_within_the_budget() -> None:
    assert auto_shard_size(inc, HISTORY_BUDGET // EVENTS_PER_LEAF) is None  # small enough: not sharded
    size = auto_shard_size(inc, 20_000)
    assert size is not None and size * EVENTS_PER_LEAF <= HISTORY_BUDGET and 20_000 / size <= 13
    two_tasks = pf.chain(inc, inc)
    size2 = auto_shard_size(two_tasks, 20_000)
    assert size2 is not None and size2 * 2 * EVENTS_PER_LEAF <= HISTORY_BUDGET
    # Inside a shard no explicit size applies again; past MAX_SHARDS each shard shards again
    assert shard_size(pf.map(inc, shard_size=500), 500, in_shard=True) == 0
    assert shard_size(pf.map(inc, shard_size=500), 500, in_shard=False) == 500
    big = shard_size(pf.map(inc, shard_size=10), 1_000_000, in_shard=False)
    assert big == 1_000_000 // MAX_SHARDS and shard_size(pf.map(inc, shard_size=10), big, in_shard=True) == 10


def test_a_sharded_map_in_one_decision_task_starts_each_shard() -> None:
    pipeline = Pipeline(pf.map(inc), name="t")
    history = started_history(pipeline, None)
    history.events[0]["workflowExecutionStartedEventAttributes"]["input"] = wire.encode_workflow_input(
        list(range(20_000)), "memory://stages-test")  # an input over SWF's limit is offloaded
    found = starts(Decider([pipeline], store="memory://stages-test").decide(history.task()))
    docs = [json.loads(a["input"]) for a in found]
    assert sum(len(d["input"]) for d in docs) == 20_000 and len(found) > 1
    assert [d["stage"]["offset"] for d in docs] == [sum(len(x["input"]) for x in docs[:i]) for i in range(len(docs))]
    assert all(len(a["input"]) <= wire.LIMIT for a in found)


def test_child_ids_are_valid_swf_workflow_ids() -> None:
    assert child_id("run-1", "2.map.7.0#1") == "run-1.2.map.7.0#1"
    long = child_id("w" * 250, "2.map.7.0#1")
    assert len(long) == 256 and long != child_id("w" * 250, "2.map.7.0#2")
    assert not set(":/|") & set(long)


def test_paths_resolve_to_steps_of_the_canvas() -> None:
    inner = pf.chain(inc, total)
    canvas = Pipeline(pf.chain(inc, pf.map(pf.stage(inner))), name="t").canvas
    assert resolve(canvas, "1.map.17.0") is inner
    assert resolve(canvas, "1.map.17.0.1") is total
    with pytest.raises(LookupError):
        resolve(canvas, "1.2")


def test_max_parallel_bounds_the_items_running_across_shards() -> None:
    pipeline = Pipeline(pf.map(inc, max_parallel=3, shard_size=2), name="t")
    history = started_history(pipeline, list(range(6)))
    found = starts(Decider([pipeline]).decide(history.task()))
    assert [a["control"] for a in found] == ["0.shard.0#1"]  # one shard of 2 at a time: never more than 3
    pipeline = Pipeline(pf.map(inc, max_parallel=5, shard_size=2), name="t")
    history = started_history(pipeline, list(range(6)))
    assert len(starts(Decider([pipeline]).decide(history.task()))) == 2  # 2 shards of 2: 4 items at most


@pytest.mark.parametrize(("cause", "again"), [("OPEN_CHILDREN_LIMIT_EXCEEDED", True),
                                              ("WORKFLOW_TYPE_DEPRECATED", False)])
def test_a_child_refused_for_a_limit_is_started_again_else_the_run_fails(cause: str, again: bool) -> None:
    pipeline = Pipeline(pf.stage(inc), name="t")
    history = started_history(pipeline, 1)
    decider = Decider([pipeline])
    [attrs] = starts(decider.decide(history.task()))
    history.add("DecisionTaskCompleted")
    history.add("StartChildWorkflowExecutionFailed", workflowId=attrs["workflowId"], control=attrs["control"],
                workflowType=attrs["workflowType"], cause=cause, initiatedEventId=0)
    history.add("DecisionTaskScheduled")
    decisions = decider.decide(history.task())
    if again:
        assert [a["workflowId"] for a in starts(decisions)] == ["wf.0#1"]
    else:
        assert cause in decisions[-1]["failWorkflowExecutionDecisionAttributes"]["reason"]
