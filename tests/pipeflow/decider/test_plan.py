"""Planning on synthetic histories: what the decider schedules, retries, completes and fails."""

from __future__ import annotations

import json

import pytest

import converters
import pipeflow as pf
from pipeflow import wire
from pipeflow._pipeline import Pipeline
from pipeflow.decider import Decider
from pipeflow.decider._simulate import Simulation

from ._history import History, kinds, scheduled
from .tasks import add, boom, const, flaky, inc, kinds_of, total, upto


def run(canvas: object, input: object = None, **kw: object) -> tuple[Simulation, object]:
    pipeline = Pipeline(canvas, name="t")  # type: ignore[arg-type]
    sim = Simulation(pipeline, input=input, **kw)  # type: ignore[arg-type]
    sim.run_to_end(Decider([pipeline], store=sim.store).decide)
    assert sim.closed is not None
    return sim, sim.closed


def result(canvas: object, input: object = None, **kw: object) -> object:
    sim, closed = run(canvas, input, **kw)
    return wire.decode_close_event(closed)  # type: ignore[arg-type]


def test_chain_of_100_and_group_of_100_in_one_pipeline() -> None:
    canvas = pf.group(pf.chain(*[inc] * 100), pf.chain(pf.group(*[inc.si(i) for i in range(100)]), total))
    assert result(canvas, 0) == [100, 5050]


def test_a_100_wide_group_is_scheduled_in_one_decision_task() -> None:
    pipeline = Pipeline(pf.chain(pf.group(*[inc] * 100), total), name="t")
    history = History(pipeline, input=1)
    decisions = Decider([pipeline]).decide(history.task())
    assert scheduled(decisions) == [f"0.{i}#1" for i in range(100)]


def test_activity_options_come_from_the_task() -> None:
    pipeline = Pipeline(flaky, name="t")
    decision = Decider([pipeline]).decide(History(pipeline, 1).task())[0]
    attrs = decision["scheduleActivityTaskDecisionAttributes"]
    assert attrs["activityType"] == {"name": "tasks.flaky", "version": "1"}
    assert (attrs["startToCloseTimeout"], attrs["heartbeatTimeout"]) == ("30", "10")
    assert (attrs["scheduleToStartTimeout"], attrs["scheduleToCloseTimeout"]) == ("NONE", "NONE")
    assert attrs["taskList"] == {"name": "t"}
    doc = json.loads(attrs["input"])
    assert (doc["step"], doc["attempt"], doc["task"], doc["piped"]) == ("0", 1, "tasks.flaky", "json/1:1")


def test_signature_arguments_and_immutable_signatures() -> None:
    assert result(pf.chain(add.s(10), add.s(y=5), const.si("x")), 1) == "x"
    assert result(pf.chain(add.s(10), add.s(y=5)), 1) == 16


def test_map_expands_the_previous_result_in_order() -> None:
    assert result(pf.chain(upto, pf.map(pf.chain(inc, inc)), total), 10) == sum(range(2, 12))
    assert result(pf.chain(upto, pf.map(inc)), 0) == []


def test_map_over_a_group_result_needs_no_decoding() -> None:
    assert result(pf.chain(pf.group(inc, inc, const), pf.map(inc)), 1) == [3, 3, 2]


def test_map_respects_max_parallel() -> None:
    pipeline = Pipeline(pf.chain(upto, pf.map(inc, max_parallel=3)), name="t")
    sim = Simulation(pipeline, input=10, batch=1)
    decider = Decider([pipeline])
    most = 0
    while sim.closed is None:
        sim.respond(decider.decide(sim.poll()))
        most = max(most, len(sim.pending))
        if sim.closed is None:
            sim.deliver()
    assert most == 3
    assert wire.decode_close_event(sim.closed) == list(range(1, 11))


def test_retries_use_timers_with_backoff_then_succeed() -> None:
    pipeline = Pipeline(flaky, name="t")
    history = History(pipeline, 7)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    history.failed("0#1", RuntimeError("one"))
    first = decider.decide(history.task())
    assert kinds(first) == ["StartTimer"]
    timer = first[0]["startTimerDecisionAttributes"]
    assert timer["timerId"] == "retry-0#2"
    assert 2 <= int(timer["startToFireTimeout"]) <= 3  # retry_delay 2 s plus up to 25 % jitter
    history.decided(first)
    assert decider.decide(history.task()) == []
    history.fired("retry-0#2")
    history.decided(second := decider.decide(history.task()))
    assert scheduled(second) == ["0#2"]
    history.timed_out("0#2")  # a timeout counts as a failed attempt
    third = decider.decide(history.task())
    assert 4 <= int(third[0]["startTimerDecisionAttributes"]["startToFireTimeout"]) <= 5
    history.decided(third)
    history.fired("retry-0#3")
    history.decided(decider.decide(history.task()))
    history.completed("0#3", 7)
    done = decider.decide(history.task())
    assert done[0]["completeWorkflowExecutionDecisionAttributes"]["result"] == "json/1:7"
    # The jitter is seeded by the run: a fresh decider replaying the same history agrees.
    cold = History(pipeline, 7)
    cold.events = history.events[:-1]
    assert Decider([pipeline]).decide(cold.task()) == done


def test_failure_after_retries_fails_the_run_with_context() -> None:
    pipeline = Pipeline(pf.chain(inc, boom), name="t")
    _, closed = run(pipeline.canvas, 1)
    attrs = closed["workflowExecutionFailedEventAttributes"]
    assert attrs["reason"].startswith("step 1 task tasks.boom: ValueError: bad input 2")
    with pytest.raises(pf.TaskFailed) as info:
        wire.decode_close_event(closed, run_id="r")
    err = info.value
    assert (err.step, err.task, err.attempt, err.error_type, err.run_id) == ("1", "tasks.boom", 1, "ValueError", "r")
    assert "ValueError: bad input 2" in (err.remote_traceback or "")


def test_group_fails_only_after_the_others_settle() -> None:
    pipeline = Pipeline(pf.group(boom, inc), name="t")
    history = History(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    history.failed("0.0#1", ValueError("x"))
    assert decider.decide(history.task()) == []  # 0.1 still running
    history.completed("0.1#1", 2)
    assert kinds(decider.decide(history.task())) == ["FailWorkflowExecution"]


def test_return_exceptions_puts_the_error_in_its_slot() -> None:
    value = result(pf.group(boom, inc, return_exceptions=True), 1)
    assert isinstance(value, list) and value[1] == 2
    assert isinstance(value[0], pf.TaskFailed) and value[0].error_type == "ValueError"
    assert result(pf.chain(pf.group(boom, inc, return_exceptions=True), kinds_of), 1) == ["TaskFailed", "int"]


def test_waves_under_the_open_activity_limit() -> None:
    pipeline = Pipeline(pf.chain(upto, pf.map(inc)), name="t")
    sim = Simulation(pipeline, input=25)
    decider = Decider([pipeline], max_open=10)
    sim.respond(decider.decide(sim.poll()))
    sim.deliver()
    sim.respond(decider.decide(sim.poll()))
    assert len(sim.pending) == 10
    sim.run_to_end(decider.decide)
    assert wire.decode_close_event(sim.closed) == list(range(1, 26))  # type: ignore[arg-type]


def test_waves_under_the_request_size() -> None:
    pipeline = Pipeline(pf.chain(upto, pf.map(inc)), name="t")
    sim = Simulation(pipeline, input=30)
    decider = Decider([pipeline], max_request=5_000)
    sim.respond(decider.decide(sim.poll()))
    sim.deliver()
    first = decider.decide(sim.poll())
    assert 0 < len(first) < 30
    sim.respond(first)
    sim.run_to_end(decider.decide)
    assert wire.decode_close_event(sim.closed) == list(range(1, 31))  # type: ignore[arg-type]


def test_large_values_are_offloaded_and_passed_through() -> None:
    store = converters.MemoryStore()
    big = "x" * 50_000
    sim, closed = run(pf.chain(const, pf.group(const, const)), big, store=store.uri)
    assert any(converters.is_reference(e.get("activityTaskCompletedEventAttributes", {}).get("result", ""))
               for e in sim.events)
    for e in sim.events:
        for attrs in e.values():
            if isinstance(attrs, dict):
                assert all(len(v) <= 32_768 for v in attrs.values() if isinstance(v, str))
    assert wire.decode_close_event(closed, store=store.uri) == [big, big]


def test_a_wide_map_result_is_offloaded_in_the_activity_input() -> None:
    store = converters.MemoryStore()
    sim, closed = run(pf.chain(upto, pf.map(inc), total), 5000, store=store.uri)
    assert wire.decode_close_event(closed) == sum(range(1, 5001))


def test_oversize_without_store_fails_the_run_clearly() -> None:
    _, closed = run(pf.chain(upto, pf.map(inc), total), 5000)
    reason = closed["workflowExecutionFailedEventAttributes"]["reason"]
    assert reason.startswith("step 2 task tasks.total: PayloadTooLarge") and "32,768" in reason


def test_map_over_a_non_list_fails_the_run() -> None:
    _, closed = run(pf.chain(const, pf.map(inc)), 5)
    assert "map input is not a list" in closed["workflowExecutionFailedEventAttributes"]["reason"]


def test_cancel_request_cancels() -> None:
    pipeline = Pipeline(inc, name="t")
    history = History(pipeline, 1)
    history.add("WorkflowExecutionCancelRequested")
    assert kinds(Decider([pipeline]).decide(history.task())) == ["CancelWorkflowExecution"]


def test_unknown_workflow_type_raises() -> None:
    pipeline = Pipeline(inc, name="t")
    with pytest.raises(pf.PipelineError):
        Decider([Pipeline(inc, name="other")]).decide(History(pipeline, 1).task())


def test_closed_runs_are_evicted() -> None:
    pipeline = Pipeline(inc, name="t")
    sim = Simulation(pipeline, input=1)
    decider = Decider([pipeline])
    sim.respond(decider.decide(sim.poll()))
    assert decider.last_event_id("run-1") == 3
    sim.run_to_end(decider.decide)
    assert decider.last_event_id("run-1") == 0


def test_group_reports_the_first_members_failure_whatever_the_settle_order() -> None:
    pipeline = Pipeline(pf.group(boom, inc, boom), name="t")
    history = History(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    history.failed("0.2#1", ValueError("third"))
    history.completed("0.1#1", 2)
    history.failed("0.0#1", ValueError("first"))
    reason = decider.decide(history.task())[0]["failWorkflowExecutionDecisionAttributes"]["reason"]
    assert reason == "step 0.0 task tasks.boom: ValueError: first"


def test_a_foreign_workflow_input_fails_the_run_clearly() -> None:
    pipeline = Pipeline(inc, name="t")
    history = History(pipeline, 1)
    history.events[0]["workflowExecutionStartedEventAttributes"]["input"] = "42"
    decision = Decider([pipeline]).decide(history.task())[0]
    assert decision["failWorkflowExecutionDecisionAttributes"]["reason"].startswith(
        "the workflow input is not a pipeflow input document")


def test_a_map_of_empty_maps_settles_without_deep_recursion() -> None:
    # Each inner map settles at once, inside the outer map's loop that starts items.
    assert result(pf.chain(const, pf.map(pf.map(inc))), [[]] * 3000 + [[1]]) == [[]] * 3000 + [[2]]
    assert result(pf.chain(const, pf.map(pf.map(inc), max_parallel=2)), [[]] * 3000) == [[]] * 3000
