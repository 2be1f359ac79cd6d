"""Attempts lost to infrastructure (a silent worker, a hand-back) are scheduled again at once, spending no retry."""

from __future__ import annotations

import json

import pipeflow as pf
from pipeflow import wire
from pipeflow._pipeline import Pipeline
from pipeflow.decider import Decider
from pipeflow.decider.plan import MAX_INFRA_FAILURES
from pipeflow.task import DEFAULT_HEARTBEAT

from ._history import History, kinds, scheduled
from .tasks import flaky, inc


def handed_back(history: History, activity_id: str) -> None:
    reason, details = wire.encode_handback("host:1", "it had not started")
    history.add("ActivityTaskFailed", scheduledEventId=history.ids[activity_id], reason=reason, details=details)
    history.add("DecisionTaskScheduled")


def test_every_activity_has_a_heartbeat_timeout_by_default_and_a_task_can_change_it() -> None:
    @pf.task(heartbeat=5)
    def quick(x: int) -> int:
        return x

    @pf.task(heartbeat=0)
    def silent(x: int) -> int:
        return x

    for task, expected in ((inc, str(DEFAULT_HEARTBEAT)), (quick, "5"), (silent, "NONE")):
        pipeline = Pipeline(task, name="t")
        decisions = Decider([pipeline]).decide(History(pipeline, 1).task())
        assert decisions[0]["scheduleActivityTaskDecisionAttributes"]["heartbeatTimeout"] == expected
    assert inc.heartbeat is None  # unset: the default applies


def test_a_heartbeat_timeout_is_rescheduled_at_once_without_spending_a_retry() -> None:
    pipeline = Pipeline(pf.chain(inc, inc), name="t")  # retries=0: a spent retry would fail the run
    history = History(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    history.timed_out("0#1", "HEARTBEAT")  # the worker holding it died
    again = decider.decide(history.task())
    assert scheduled(again) == ["0#2"]  # no timer, no failure
    history.decided(again)
    history.completed("0#2", 2)
    history.decided(step1 := decider.decide(history.task()))
    history.completed("1#1", 3)
    done = decider.decide(history.task())
    assert kinds(done) == ["CompleteWorkflowExecution"]
    assert done[0]["completeWorkflowExecutionDecisionAttributes"]["result"] == "json/1:3"
    assert scheduled(step1) == ["1#1"]


def test_lost_attempts_do_not_grow_the_backoff_of_real_failures() -> None:
    pipeline = Pipeline(flaky, name="t")  # retries=2, retry_delay=2 s
    history = History(pipeline, 7)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    history.timed_out("0#1", "HEARTBEAT")
    history.decided(second := decider.decide(history.task()))
    handed_back(history, "0#2")
    history.decided(third := decider.decide(history.task()))
    assert (scheduled(second), scheduled(third)) == (["0#2"], ["0#3"])
    history.failed("0#3", ValueError("bad row"))  # the task's own error: the first retry, 2-2.5 s away
    timer = decider.decide(history.task())
    assert kinds(timer) == ["StartTimer"]
    assert 2 <= int(timer[0]["startTimerDecisionAttributes"]["startToFireTimeout"]) <= 3


def test_start_to_close_timeouts_and_task_errors_still_spend_retries() -> None:
    for lose in ("START_TO_CLOSE", "error"):
        pipeline = Pipeline(inc, name="t")  # retries=0
        history = History(pipeline, 1)
        decider = Decider([pipeline])
        history.decided(decider.decide(history.task()))
        if lose == "error":
            history.failed("0#1", ValueError("boom"))
        else:
            history.timed_out("0#1", "START_TO_CLOSE")
        failed = decider.decide(history.task())
        assert kinds(failed) == ["FailWorkflowExecution"], lose


def test_infrastructure_failures_of_a_step_are_bounded_then_the_step_fails_saying_so() -> None:
    pipeline = Pipeline(flaky, name="t")  # retries left over: the bound fails the step all the same
    history = History(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    for attempt in range(1, MAX_INFRA_FAILURES + 1):
        if attempt % 2:
            history.timed_out(f"0#{attempt}", "HEARTBEAT")
        else:
            handed_back(history, f"0#{attempt}")
        history.decided(decisions := decider.decide(history.task()))
        assert scheduled(decisions) == [f"0#{attempt + 1}"]
    history.timed_out(f"0#{MAX_INFRA_FAILURES + 1}", "HEARTBEAT")
    failed = decider.decide(history.task())
    assert kinds(failed) == ["FailWorkflowExecution"]
    attrs = failed[0]["failWorkflowExecutionDecisionAttributes"]
    assert "WorkerLost" in attrs["reason"]
    assert f"{MAX_INFRA_FAILURES + 1} infrastructure failures of this step" in json.dumps(attrs)
    assert MAX_INFRA_FAILURES == 20
