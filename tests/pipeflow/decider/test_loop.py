"""DeciderLoop against the embedded engine, with an activity worker driven by hand."""

from __future__ import annotations

import pipeflow as pf
from pipeflow import wire
from pipeflow._pipeline import Pipeline
from pipeflow.decider import Decider, DeciderLoop
from pipeflow.engine import Engine
from pipeflow.running import register_types as register
from pipeflow.running import start_execution

from ._history import work_one
from .tasks import inc, total, upto


def test_loop_runs_a_pipeline_on_the_engine_with_paged_histories() -> None:
    pipeline = Pipeline(pf.chain(upto, pf.map(inc), total, pf.group(inc, inc)), name="loop")
    tasks = {t.name: t for t in (inc, total, upto)}
    with Engine(poll_timeout=0.2) as engine:
        swf = engine.client()
        register(swf, "d", pipeline)
        run_id = start_execution(swf, "d", pipeline, "wf-1", 30)
        decider = Decider([pipeline])
        seen: list[tuple[int, int]] = []  # (first event id given, last event id) per decision task
        decide = decider.decide
        decider.decide = lambda t: (seen.append((t["events"][0]["eventId"], t["events"][-1]["eventId"])),  # type: ignore[method-assign]
                                    decide(t))[1]
        loop = DeciderLoop(swf, "d", pipeline.task_list, decider, page_size=7)
        for _ in range(200):
            answered = loop.run_once()
            while work_one(swf, pipeline.task_list, tasks):
                pass
            info = swf.describe_workflow_execution(domain="d", execution={"workflowId": "wf-1", "runId": run_id})
            if info["executionInfo"]["executionStatus"] == "CLOSED":
                break
        assert answered
        # The first decision task replays from event 1; later ones get only the events after the cached ones.
        assert seen[0][0] == 1 and all(first > 1 for first, _ in seen[1:])
        assert all(first == prev_last + 1 for (first, _), (_, prev_last) in zip(seen[1:], seen))
        assert seen[-1][1] > 7 * 3  # several pages of history
        page = swf.get_workflow_execution_history(
            domain="d", execution={"workflowId": "wf-1", "runId": run_id}, reverseOrder=True, maximumPageSize=1)
        assert wire.decode_close_event(page["events"][0]) == [sum(range(1, 31)) + 1] * 2
        assert decider.last_event_id(run_id) == 0  # closed: evicted


def test_a_decider_bug_fails_the_decision_task_not_the_run() -> None:
    pipeline = Pipeline(inc, name="known")
    with Engine(poll_timeout=0.2) as engine:
        swf = engine.client()
        register(swf, "d", pipeline)
        run_id = start_execution(swf, "d", pipeline, "wf-2", 1)
        # A decider that does not know the workflow type raises inside decide().
        loop = DeciderLoop(swf, "d", pipeline.task_list, [Pipeline(inc, name="other")])
        assert loop.run_once() is False
        info = swf.describe_workflow_execution(domain="d", execution={"workflowId": "wf-2", "runId": run_id})
        assert info["executionInfo"]["executionStatus"] == "OPEN"
        assert info["openCounts"]["openDecisionTasks"] == 1  # still started, left to time out and be retried
