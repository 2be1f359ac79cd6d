"""Replaying the persisted log rebuilds exactly the same state (what a restart relies on)."""

from __future__ import annotations

import json

from pipeflow.engine._operations import apply
from pipeflow.engine._state import State

from .test_event_shapes import _scenario


def test_replaying_the_log_rebuilds_the_same_histories() -> None:
    d = _scenario()
    replayed = State("test", d.state.limits)
    for op, params, now in d.log:
        apply(replayed, op, json.loads(json.dumps(params)), now)  # as stored: JSON
    assert replayed.counter == d.state.counter
    assert set(replayed.runs) == set(d.state.runs)
    for run_id, ex in d.state.runs.items():
        again = replayed.runs[run_id]
        assert again.events == ex.events
        assert (again.open, sorted(again.activities), sorted(again.timers)) == (ex.open, sorted(ex.activities), sorted(ex.timers))
    assert sorted(replayed.tokens) == sorted(d.state.tokens)
    assert [entry[:1] for entry in sorted(replayed.heap)] == [entry[:1] for entry in sorted(d.state.heap)]


def test_a_snapshot_restores_the_same_state_and_it_carries_on_alike() -> None:
    from pipeflow.engine._snapshot import dump, load

    d = _scenario()
    restored = load(json.loads(json.dumps(dump(d.state))), d.state.limits)
    assert restored.counter == d.state.counter
    for run_id, ex in d.state.runs.items():
        again = restored.runs[run_id]
        assert again.events == ex.events and again.open == ex.open
    assert sorted(restored.tokens) == sorted(d.state.tokens)
    # both carry on identically: same later events, same new ids
    twin_log = []
    for state in (d.state, restored):
        apply(state, "StartWorkflowExecution", {"domain": "d", "workflowId": "later",
                                               "workflowType": {"name": "wf", "version": "1"}}, d.now + 1)
        state.advance(d.now + 10_000)
        twin_log.append({rid: ex.events for rid, ex in state.runs.items()})
    assert twin_log[0] == twin_log[1]


def test_a_snapshot_of_open_work_carries_on_alike() -> None:
    from pipeflow.engine._snapshot import dump, load

    from ._driver import Driver, decision, schedule

    d = Driver()
    d.setup()
    d.start("p")
    d.decide(schedule("a1", heartbeatTimeout="5"), schedule("a2", taskPriority="3"), schedule("a3"),
             decision("StartTimer", timerId="t", startToFireTimeout="100"),
             decision("StartChildWorkflowExecution", workflowId="c", workflowType={"name": "wf", "version": "1"}))
    started = d("PollForActivityTask", domain="d", taskList={"name": "at"})
    d("PollForDecisionTask", domain="d", taskList={"name": "dt"})  # left started
    twin = Driver()
    twin.state = load(json.loads(json.dumps(dump(d.state))), d.state.limits)
    twin.now = d.now
    outcomes = []
    for drv in (d, twin):
        got = [drv("PollForActivityTask", domain="d", taskList={"name": "at"})["activityId"] for _ in range(2)]
        drv("RespondActivityTaskCompleted", taskToken=started["taskToken"], result="r")
        drv.tick(200)  # a1's heartbeat timeout, the timer, decision task timeouts
        outcomes.append((got, {rid: ex.events for rid, ex in drv.state.runs.items()}))
    assert outcomes[0] == outcomes[1]
    assert started["activityId"] == "a2" and outcomes[0][0] == ["a1", "a3"]  # by priority, then FIFO


def test_closed_runs_are_forgotten_after_the_retention_period_even_across_a_snapshot() -> None:
    from pipeflow.engine import SWFFault
    from pipeflow.engine._snapshot import dump, load

    from ._driver import Driver

    d = Driver()
    d.setup()  # retention: 1 day
    run = d.start()
    d("TerminateWorkflowExecution", domain="d", workflowId="w1")
    d.state = load(json.loads(json.dumps(dump(d.state))), d.state.limits)
    execution = {"workflowId": "w1", "runId": run}
    d.tick(86_000)
    assert d("GetWorkflowExecutionHistory", domain="d", execution=execution)["events"]
    d.tick(1_000)
    try:
        d("GetWorkflowExecutionHistory", domain="d", execution=execution)
    except SWFFault as fault:
        assert fault.code == "UnknownResourceFault"
    else:
        raise AssertionError("the run outlived its retention period")
    assert d("CountClosedWorkflowExecutions", domain="d", startTimeFilter={"oldestDate": 0})["count"] == 0
