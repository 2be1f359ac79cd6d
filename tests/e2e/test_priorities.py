"""Tags and task priorities end to end: the embedded engine, `pipeflow server` and moto, through boto3.

A single worker process runs one step at a time: a high-priority step scheduled after low-priority
ones were queued runs before (most of) them. Tags go on the run and on its stages' child runs, and
`Client.runs(tag=)` finds the run by one.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import pipeflow as pf
from pipeflow.endpoint import swf_client
from pipeflow.engine import Engine
from tests._support.histories import EPOCH, history
from tests.e2e.pipelines import priorities
from tests.e2e.pipelines.priorities import LOWS, overtaken

pytestmark = pytest.mark.slow

TAGS = {"team": "data", "env": "test"}


def _priorities(events: list[dict[str, Any]]) -> dict[str, str | None]:
    """activityId -> the taskPriority its ActivityTaskScheduled event recorded."""
    return {e["activityTaskScheduledEventAttributes"]["activityId"]:
            e["activityTaskScheduledEventAttributes"].get("taskPriority")
            for e in events if e["eventType"] == "ActivityTaskScheduled"}


def _tagged(swf: Any, domain: str, tag: str) -> list[dict[str, Any]]:
    """Every closed execution with that tag (children included), by SWF's tagFilter."""
    page = swf.list_closed_workflow_executions(domain=domain, startTimeFilter={"oldestDate": EPOCH},
                                               tagFilter={"tag": tag})
    return list(page["executionInfos"])


def test_embedded_a_late_high_priority_step_overtakes_queued_ones() -> None:
    assert overtaken(pf.run(priorities.in_order, 0, workers=1)) == 0  # the control: FIFO, it comes last
    assert overtaken(pf.run(priorities.overtaking, 0, workers=1)) == LOWS
    assert overtaken(pf.run(priorities.overtaking_task, 0, workers=1, priority=-5)) == LOWS


def test_embedded_tags_and_priority_reach_the_run_and_its_stage(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with pf.Client(state_dir=state, workers=1) as client:
        run = client.submit(priorities.staged, 0, tags=TAGS, priority=3).wait(progress=False)
        other = client.submit(priorities.flat, 0, tags={"team": "web"}).wait(progress=False)
        assert run.tags == TAGS and other.tags == {"team": "web"}
        assert list(client.runs(tag="team=data")["run_id"]) == [run.run_id]
        assert list(client.runs(tag="team=web", status="COMPLETED")["run_id"]) == [other.run_id]
        assert client.runs(tag="team=web", status="FAILED").empty  # the tag to SWF, the status checked here
        assert _priorities(run.events()) == {"1#1": "3"}
        assert _priorities(other.events()) == {"0#1": "10", "1#1": None}
        with pytest.raises(pf.PipelineError, match="6 tags given"):
            client.submit(priorities.flat, 0, tags={f"k{i}": "v" for i in range(6)})
        failed = client.submit(priorities.resumable, str(tmp_path / "marker"), tags={"team": "ops"}, priority=2)
        with pytest.raises(pf.TaskFailed):
            failed.wait(progress=False).result()
        resumed = client.resume(failed.run_id).wait(progress=False)  # keeps the tags and the priority
        assert resumed.status == "COMPLETED" and resumed.tags == {"team": "ops"}
        assert _priorities(resumed.events()) == {"0#1": "2"}
    with Engine(db=str(state / "state.sqlite")) as engine:
        swf = engine.client()
        [child] = [i for i in _tagged(swf, "pipeflow", "team=data") if i["execution"]["runId"] != run.run_id]
        assert child["execution"]["workflowId"] == f"{run.workflow_id}.0#1" and child["tagList"] == ["team=data",
                                                                                                       "env=test"]
        assert _priorities(history(swf, "pipeflow", child["execution"])) == {"0.0.0#1": "3", "0.0.1#1": "3"}


def test_server_priorities_tags_and_stages(pipeflow_url: str) -> None:
    domain = f"prio-{uuid.uuid4().hex[:10]}"
    with pf.Client.swf(domain, endpoint_url=pipeflow_url, workers=1) as client:
        fast = client.submit(priorities.overtaking, 0, tags=TAGS).wait(progress=False)
        assert overtaken(fast.result()) == LOWS
        staged = client.submit(priorities.staged, 0, tags=TAGS, priority=-2).wait(progress=False)
        assert set(client.runs(tag="env=test")["run_id"]) == {fast.run_id, staged.run_id}
        assert client.runs(tag="env=prod").empty
    swf = swf_client(endpoint_url=pipeflow_url, max_attempts=1)
    child = f"{staged.workflow_id}.0#1"
    assert {i["execution"]["workflowId"] for i in _tagged(swf, domain, "team=data")} == \
        {fast.workflow_id, staged.workflow_id, child}
    [info] = [i for i in _tagged(swf, domain, "team=data") if i["execution"]["workflowId"] == child]
    assert _priorities(history(swf, domain, info["execution"])) == {"0.0.0#1": "-2", "0.0.1#1": "-2"}


def test_moto_keeps_tags_and_each_steps_priority(moto_url: str) -> None:
    domain = f"prio-{uuid.uuid4().hex[:10]}"
    with pf.Client.swf(domain, endpoint_url=moto_url, workers=1) as client:
        run = client.submit(priorities.flat, 0, tags=TAGS, priority=4).wait(progress=False)
        client.submit(priorities.flat, 0, tags={"team": "web"})  # left open: moto's tag filter lets some through
        assert run.tags == TAGS
        assert list(client.runs(tag="team=data")["run_id"]) == [run.run_id]
        # moto records a ScheduleActivityTask's taskPriority, but drops StartWorkflowExecution's (the run's
        # default): a step without a priority of its own has none there. moto hands tasks out in FIFO order.
        assert _priorities(run.events()) == {"0#1": "10", "1#1": None}
