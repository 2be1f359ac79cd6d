"""Stages and sharded maps through boto3 against `pipeflow server` (moto has no child workflows)."""

from __future__ import annotations

import collections
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pipeflow as pf
from pipeflow import running
from pipeflow._pipeline import Pipeline
from pipeflow.endpoint import swf_client
from pipeflow.running import _swf
from tests._support.histories import closed_executions, history, history_sizes
from tests.e2e.pipelines import stages

pytestmark = pytest.mark.slow


class Site:
    """A fresh domain on the session's `pipeflow server`, reached through boto3."""

    def __init__(self, url: str) -> None:
        self.domain = f"stages-{uuid.uuid4().hex[:10]}"
        self.swf = swf_client(endpoint_url=url, max_attempts=1)

    def run(self, pipeline: Pipeline, value: Any, store: str | None = None) -> tuple[dict[str, str], Any]:
        """Register, start, decide and work one run from this process: (its execution, its result)."""
        with _swf._local(self.swf, self.domain, pipeline, lambda: running.register(self.swf, self.domain, pipeline),
                             store=store, workers=2) as check:
            workflow_id, run_id = running.start(self.swf, self.domain, pipeline, value, store=store)
            result = running.wait(self.swf, self.domain, workflow_id, run_id, store, check=check, max_delay=0.2)
        return {"workflowId": workflow_id, "runId": run_id}, result


@pytest.fixture()
def site(pipeflow_url: str) -> Iterator[Site]:
    yield Site(pipeflow_url)


def test_a_stage_is_a_child_whose_events_alone_reach_the_parent(site: Site) -> None:
    execution, result = site.run(stages.stage_in_chain, 0)
    assert result == 4
    parent = history(site.swf, site.domain, execution)
    kinds = collections.Counter(e["eventType"] for e in parent)
    assert kinds["StartChildWorkflowExecutionInitiated"] == kinds["ChildWorkflowExecutionStarted"] == 1
    assert kinds["ChildWorkflowExecutionCompleted"] == 1
    assert [e["activityTaskScheduledEventAttributes"]["activityId"] for e in parent
            if e["eventType"] == "ActivityTaskScheduled"] == ["0#1", "2#1"]
    [child] = [e for e in closed_executions(site.swf, site.domain) if e != execution]
    assert child["workflowId"] == f"{execution['workflowId']}.1#1"
    assert [e["activityTaskScheduledEventAttributes"]["activityId"] for e in history(site.swf, site.domain, child)
            if e["eventType"] == "ActivityTaskScheduled"] == ["1.0.0#1", "1.0.1#1"]


def test_a_failing_stage_fails_the_run_with_the_failing_steps_error(site: Site) -> None:
    with pytest.raises(pf.TaskFailed) as caught:
        site.run(stages.stage_fails, 1)
    assert (caught.value.task, caught.value.step, caught.value.error_type) == ("arith.boom", "1.0.1", "ValueError")


def test_a_retried_stage_runs_again_and_succeeds(site: Site, tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    execution, result = site.run(stages.stage_retried, {"counter": str(counter), "fail_times": 1})
    assert result == 2 and counter.read_text() == "2"
    wid = execution["workflowId"]
    assert sorted(e["workflowId"] for e in closed_executions(site.swf, site.domain)) == \
        sorted([wid, f"{wid}.0#1", f"{wid}.0#2"])


def test_nested_stages_give_exact_results(site: Site, tmp_path: Path) -> None:
    _, result = site.run(stages.nested, [1, 2, 3], store=str(tmp_path / "store"))
    assert result == [[2, 3, 4], 9, 9]


def test_a_1000_item_map_in_shards_of_250(site: Site, tmp_path: Path) -> None:
    # 1,000 items: over HTTP an activity costs ~5 ms here; the 20,000-item map runs on the embedded engine
    execution, result = site.run(stages.sharded_250, list(range(1000)), store=str(tmp_path / "store"))
    assert result == list(range(1, 1001))  # every item once, in input order
    sizes = history_sizes(site.swf, site.domain)
    wid = execution["workflowId"]
    assert sorted(sizes) == sorted([wid] + [f"{wid}.0.shard.{k}#1" for k in range(4)])
    assert max(sizes.values()) <= 10_000
