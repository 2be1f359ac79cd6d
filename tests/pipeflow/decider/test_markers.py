"""Markers: `pipeflow.checkpoint` per top-level step and stage, rate-limited `pipeflow.progress`, exactly once."""

from __future__ import annotations

import json
import random
from typing import Any

import converters
import pipeflow as pf
from pipeflow import wire
from pipeflow._pipeline import Pipeline
from pipeflow.decider import Decider, DeciderLoop
from pipeflow.decider._markers import CHECKPOINT, PROGRESS, resumed_checkpoints
from pipeflow.decider._simulate import Simulation
from pipeflow.engine import Engine
from pipeflow.running import register_types as register
from pipeflow.running import start_execution

from ._history import work_one
from .tasks import inc, total, upto


@pf.task
def wide(i: int) -> str:
    return f"{i:04d}" + "w" * 400


@pf.task
def count(items: list[str]) -> int:
    return len(items)


def markers(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [json.loads(e["markerRecordedEventAttributes"]["details"]) for e in events
            if e["eventType"] == "MarkerRecorded" and e["markerRecordedEventAttributes"]["markerName"] == name]


def drive(pipeline: Pipeline, input: Any, *, store: str | None = None, batch: int = 1_000_000,
          seed: int = 0) -> Simulation:
    """Run to the end with a cached decider, checking each decision list against a cold full replay."""
    sim = Simulation(pipeline, input=input, store=store, rng=random.Random(seed), batch=batch)
    cached = Decider([pipeline], store=store)
    for _ in range(10_000):
        task = sim.poll()
        decisions = cached.decide({**task, "events": task["events"][cached.last_event_id(sim.run_id):]})
        assert decisions == Decider([pipeline], store=store).decide(task)  # replay from scratch decides the same
        sim.respond(decisions)
        if sim.closed is not None or not sim.deliver():
            break
    assert sim.closed is not None
    return sim


def test_each_top_level_step_is_checkpointed_once_with_its_result() -> None:
    pipeline = Pipeline(pf.chain(upto, pf.map(inc), total, inc), name="m")
    sim = drive(pipeline, 4, batch=1)
    assert wire.decode_close_event(sim.closed) == 11
    docs = markers(sim.events, CHECKPOINT)
    # The last step completes the run: its result is the run's, no checkpoint.
    assert [(d["step"], d["result"]) for d in docs] == [
        ("0", "json/1:[0,1,2,3]"), ("1", ["json/1:1", "json/1:2", "json/1:3", "json/1:4"]), ("2", "json/1:10")]


def test_progress_markers_are_rate_limited_and_count_up() -> None:
    pipeline = Pipeline(pf.chain(upto, pf.map(inc), total), name="m")
    for batch in (1, 7, 1000):
        sim = drive(pipeline, 300, batch=batch, seed=batch)
        docs = markers(sim.events, PROGRESS)
        done = [d["done"] for d in docs]
        assert done == sorted(set(done)) and docs  # one per decision task at most, always moving up
        assert all(b - a >= min(100, 0.05 * d["total"]) for a, b, d in zip([0, *done], done, docs))
        assert len(docs) <= 25  # 302 tasks: markers never dominate the history
        assert all(d["total"] <= 302 and d["done"] <= d["total"] for d in docs)


def test_checkpoint_details_over_the_limit_are_offloaded_and_read_back(tmp_path: Any) -> None:
    store = converters.open_store(str(tmp_path)).uri
    pipeline = Pipeline(pf.chain(upto, pf.map(wide), count), name="m")
    sim = drive(pipeline, 100, store=store, batch=13)
    [first, second] = markers(sim.events, CHECKPOINT)
    assert first == {"v": 1, "step": "0", "result": f"json/1:{json.dumps(list(range(100)), separators=(',', ':'))}"}
    details = next(e["markerRecordedEventAttributes"]["details"] for e in sim.events if e["eventType"] == "MarkerRecorded"
                   and json.loads(e["markerRecordedEventAttributes"]["details"]).get("step") == "1")
    assert len(details) < 1_000 and second["step"] == "1" and set(second["result"]) == {"offloaded"}
    tree = converters.loads(second["result"]["offloaded"], store=store)
    assert len(json.dumps(tree)) > 32_768 and len(tree) == 100
    assert wire.decode_tree(second["result"], store)[7] == "0007" + "w" * 400
    # A resumed run takes it back as is, and its map step completes from it without running.
    doc = json.loads(wire.encode_workflow_input(100, store))
    doc["resume"] = {"run": {"workflowId": "old", "runId": "r"}, "checkpoints": {"0": first["result"], "1": second["result"]}}
    assert resumed_checkpoints(json.dumps(doc), store) == {"0": first["result"], "1": second["result"]}


def test_an_oversize_checkpoint_without_a_store_fails_the_run_clearly() -> None:
    pipeline = Pipeline(pf.chain(upto, pf.map(wide), count.si([])), name="m")
    sim = drive(pipeline, 100)
    assert sim.closed["eventType"] == "WorkflowExecutionFailed"
    reason = sim.closed["workflowExecutionFailedEventAttributes"]["reason"]
    assert reason.startswith("PayloadTooLarge: a checkpoint cannot be recorded") and "step 1" in reason
    assert "32,768" in reason and "--store" in reason


def test_a_resumed_run_completes_checkpointed_steps_at_once_and_checkpoints_them_again() -> None:
    pipeline = Pipeline(pf.chain(upto, pf.map(inc), total, inc), name="m")
    sim = Simulation(pipeline, input=None)
    doc = json.loads(sim.events[0]["workflowExecutionStartedEventAttributes"]["input"])
    doc["resume"] = {"run": {"workflowId": "old", "runId": "r"},
                     "checkpoints": {"0": "json/1:[5,6]", "1": ["json/1:6", "json/1:7"]}}
    sim.events[0]["workflowExecutionStartedEventAttributes"]["input"] = json.dumps(doc)
    sim.run_to_end(Decider([pipeline]).decide)
    assert wire.decode_close_event(sim.closed) == 14
    scheduled = [e["activityTaskScheduledEventAttributes"]["activityId"] for e in sim.events
                 if e["eventType"] == "ActivityTaskScheduled"]
    assert scheduled == ["2#1", "3#1"]
    assert [d["step"] for d in markers(sim.events, CHECKPOINT)] == ["0", "1", "2"]


def test_the_paging_decider_loop_records_the_markers_a_full_replay_would() -> None:
    """DeciderLoop pages histories newest first and feeds only the new events to its cached state."""
    pipeline = Pipeline(pf.chain(upto, pf.map(inc), total, pf.group(pf.stage(pf.chain(inc, inc)), inc), total),
                        name="loopmarks")
    tasks = {t.name: t for t in (inc, total, upto)}
    with Engine(poll_timeout=0.2) as engine:
        swf = engine.client()
        register(swf, "d", pipeline)
        run_id = start_execution(swf, "d", pipeline, "wf-m", 150)
        decider = Decider([pipeline])
        decide = decider.decide
        compared: list[int] = []

        def checked(task: dict[str, Any]) -> list[dict[str, Any]]:
            decisions = decide(task)
            execution = task["workflowExecution"]
            if execution["runId"] == run_id:  # the parent: a cold decider on the whole history agrees
                full = swf.get_workflow_execution_history(domain="d", execution=execution)["events"]
                full = [e for e in full if e["eventId"] <= task["events"][-1]["eventId"]]
                assert Decider([pipeline]).decide({**task, "events": full}) == decisions
                compared.append(len(task["events"]))
            return decisions

        decider.decide = checked  # type: ignore[method-assign]
        loop = DeciderLoop(swf, "d", pipeline.task_list, decider, page_size=7)
        for _ in range(400):
            loop.run_once()
            while work_one(swf, pipeline.task_list, tasks):
                pass
            info = swf.describe_workflow_execution(domain="d", execution={"workflowId": "wf-m", "runId": run_id})
            if info["executionInfo"]["executionStatus"] == "CLOSED":
                break
        events = swf.get_workflow_execution_history(
            domain="d", execution={"workflowId": "wf-m", "runId": run_id})["events"]
    assert wire.decode_close_event(events[-1]) == 2 * sum(range(1, 151)) + 3  # [x + 2, x + 1], summed
    assert len(compared) > 3 and min(compared) < 20  # the cached decider got only new events
    steps = [d["step"] for d in markers(events, CHECKPOINT)]
    assert steps == ["0", "1", "2", "3.0", "3"]  # the stage inside the group too, each once
    assert markers(events, PROGRESS)
