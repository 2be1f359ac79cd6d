"""Stages and sharded maps as child executions on the embedded engine, with exact results."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import pipeflow as pf
from pipeflow import running
from pipeflow._pipeline import Pipeline
from pipeflow.running import _embedded
from tests._support.histories import closed_executions, history, history_sizes
from tests.e2e.pipelines import stages

pytestmark = pytest.mark.slow

DOMAIN = running.DOMAIN


@contextmanager
def engine(pipeline: Pipeline, store: str | None) -> Iterator[Any]:
    """The embedded engine with a decider and 2 worker processes for one pipeline; yields its client."""
    with _embedded._embedded(pipeline, store=store, workers=2, db=None) as embedded:
        yield embedded


def run(embedded: Any, pipeline: Pipeline, value: Any, store: str | None) -> tuple[dict[str, str], Any]:
    """Start one run and wait for it: (its execution, its result); raises its failure."""
    workflow_id, run_id = running.start(embedded.swf, DOMAIN, pipeline, value, store=store)
    result = running.wait(embedded.swf, DOMAIN, workflow_id, run_id, store, check=embedded.check)
    return {"workflowId": workflow_id, "runId": run_id}, result


def test_a_stage_runs_in_a_child_whose_events_alone_reach_the_parent(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    with engine(stages.stage_in_chain, store) as embedded:
        execution, result = run(embedded, stages.stage_in_chain, 0, store)
        parent = history(embedded.swf, DOMAIN, execution)
        children = [e for e in closed_executions(embedded.swf, DOMAIN) if e["workflowId"] != execution["workflowId"]]
        child = history(embedded.swf, DOMAIN, children[0])
    assert result == 4
    kinds = collections.Counter(e["eventType"] for e in parent)
    assert kinds["StartChildWorkflowExecutionInitiated"] == kinds["ChildWorkflowExecutionStarted"] == 1
    assert kinds["ChildWorkflowExecutionCompleted"] == 1
    activities = [e["activityTaskScheduledEventAttributes"]["activityId"] for e in parent
                  if e["eventType"] == "ActivityTaskScheduled"]
    assert activities == ["0#1", "2#1"]  # the stage's own tasks are not in the parent's history
    assert [c["workflowId"] for c in children] == [f"{execution['workflowId']}.1#1"]
    assert [e["activityTaskScheduledEventAttributes"]["activityId"] for e in child
            if e["eventType"] == "ActivityTaskScheduled"] == ["1.0.0#1", "1.0.1#1"]
    assert child[0]["workflowExecutionStartedEventAttributes"]["childPolicy"] == "TERMINATE"


def test_a_failing_stage_fails_the_run_with_the_failing_steps_error() -> None:
    with engine(stages.stage_fails, None) as embedded, pytest.raises(pf.TaskFailed) as caught:
        run(embedded, stages.stage_fails, 1, None)
    error = caught.value
    assert (error.task, error.step, error.error_type) == ("arith.boom", "1.0.1", "ValueError")
    assert "boom on 3" in str(error)
    assert (error.stage, error.stage_attempt) == ("1", 1)  # the stage the step failed in, named in the message
    assert "in stage" in str(error) and "at step 1 (attempt 1)" in str(error)


def test_a_retried_stage_runs_again_and_succeeds(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    with engine(stages.stage_retried, None) as embedded:
        execution, result = run(embedded, stages.stage_retried, {"counter": str(counter), "fail_times": 1}, None)
        ids = sorted(e["workflowId"] for e in closed_executions(embedded.swf, DOMAIN))
    assert result == 2 and counter.read_text() == "2"
    wid = execution["workflowId"]
    assert ids == sorted([wid, f"{wid}.0#1", f"{wid}.0#2"])


def test_nested_stages_and_sharded_maps_give_exact_results(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    with engine(stages.nested, store) as embedded:
        _, result = run(embedded, stages.nested, [1, 2, 3], store)
    assert result == [[2, 3, 4], 9, 9]


def test_a_20000_item_map_shards_and_no_history_passes_10000_events(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    count = 20_000
    with engine(stages.auto_sharded, store) as embedded:
        execution, result = run(embedded, stages.auto_sharded, list(range(count)), store)
        sizes = history_sizes(embedded.swf, DOMAIN)
    assert result == list(range(1, count + 1))
    assert len(sizes) > 2 and execution["workflowId"] in sizes  # the run and its shards
    assert max(sizes.values()) <= 10_000, sorted(sizes.values())[-3:]


def test_a_childs_payloads_live_in_its_parent_runs_folder(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with engine(stages.big_stage, str(store)) as embedded:
        execution, result = run(embedded, stages.big_stage, 50_000, str(store))
    assert result == 50_000
    # One folder per top-level run (pipeflow gc removes it whole); the child's offloads are inside it
    assert sorted(p.name for p in store.iterdir()) == [execution["workflowId"]]
    [blob] = [p for p in store.rglob("*") if p.is_file() and p.stat().st_size >= 50_000]
    assert blob.relative_to(store).parts[2] == "0@1"  # <workflowId>/<runKey>/<child key>/<child runKey>/...
