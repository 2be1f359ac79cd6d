"""Tasks handed back by workers shutting down: scheduled again at once, no retry spent."""

from __future__ import annotations

import json

import pipeflow as pf
from pipeflow import wire
from pipeflow._pipeline import Pipeline
from pipeflow.decider import Decider
from pipeflow.decider.plan import MAX_HANDBACKS

from ._history import History, kinds, scheduled
from .tasks import flaky, inc, total


def handed_back(history: History, activity_id: str, why: str = "it never started") -> None:
    reason, details = wire.encode_handback("host:123", why)
    history.add("ActivityTaskFailed", scheduledEventId=history.ids[activity_id], reason=reason, details=details)
    history.add("DecisionTaskScheduled")


def test_the_handback_reason_is_recognised_and_others_are_not() -> None:
    reason, details = wire.encode_handback("host:123", "the task was still queued")
    assert reason.startswith("pipeflow.handback: worker host:123 shut down")
    assert wire.is_handback(reason)
    assert json.loads(details)["worker"] == "host:123"
    assert not wire.is_handback("ValueError: pipeflow.handback")
    assert not wire.is_handback("pipeflow.handbackish: no")
    assert not wire.is_handback(None)


def test_a_handed_back_task_without_retries_is_scheduled_again_at_once() -> None:
    pipeline = Pipeline(pf.chain(inc, inc), name="t")  # inc has retries=0
    history = History(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    handed_back(history, "0#1")
    again = decider.decide(history.task())
    assert scheduled(again) == ["0#2"]  # a new attempt, no timer, the run not failed
    doc = json.loads(again[0]["scheduleActivityTaskDecisionAttributes"]["input"])
    assert (doc["step"], doc["attempt"]) == ("0", 2)
    history.decided(again)
    history.completed("0#2", 2)
    history.decided(step1 := decider.decide(history.task()))
    assert scheduled(step1) == ["1#1"]
    history.completed("1#1", 3)
    done = decider.decide(history.task())
    assert kinds(done) == ["CompleteWorkflowExecution"]
    assert done[0]["completeWorkflowExecutionDecisionAttributes"]["result"] == "json/1:3"


def test_handbacks_do_not_spend_retries_or_grow_the_backoff() -> None:
    pipeline = Pipeline(flaky, name="t")  # retries=2, retry_delay=2 s
    history = History(pipeline, 7)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    handed_back(history, "0#1")
    history.decided(second := decider.decide(history.task()))
    handed_back(history, "0#2")
    history.decided(third := decider.decide(history.task()))
    assert (scheduled(second), scheduled(third)) == (["0#2"], ["0#3"])
    # A real failure now is the first failure: the first backoff (2-3 s), and two retries remain.
    history.failed("0#3", RuntimeError("one"))
    timer = decider.decide(history.task())
    assert kinds(timer) == ["StartTimer"]
    assert timer[0]["startTimerDecisionAttributes"]["timerId"] == "retry-0#4"
    assert 2 <= int(timer[0]["startTimerDecisionAttributes"]["startToFireTimeout"]) <= 3
    history.decided(timer)
    history.fired("retry-0#4")
    history.decided(decider.decide(history.task()))
    history.failed("0#4", RuntimeError("two"))
    history.decided(decider.decide(history.task()))
    history.fired("retry-0#5")
    history.decided(fifth := decider.decide(history.task()))
    assert scheduled(fifth) == ["0#5"]
    history.failed("0#5", RuntimeError("three"))  # the third failure: retries spent
    failed = decider.decide(history.task())
    assert kinds(failed) == ["FailWorkflowExecution"]
    assert "RuntimeError: three" in failed[0]["failWorkflowExecutionDecisionAttributes"]["reason"]
    # A fresh decider replaying the same history agrees.
    cold = History(pipeline, 7)
    cold.events = history.events[:-1]
    assert Decider([pipeline]).decide(cold.task()) == failed


def test_a_handback_in_a_group_reschedules_only_that_member() -> None:
    pipeline = Pipeline(pf.chain(pf.group(inc.si(1), inc.si(2)), total), name="t")
    history = History(pipeline, None)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    history.completed("0.0#1", 2)
    handed_back(history, "0.1#1")
    history.decided(again := decider.decide(history.task()))
    assert scheduled(again) == ["0.1#2"]
    history.completed("0.1#2", 3)
    history.decided(last := decider.decide(history.task()))
    assert scheduled(last) == ["1#1"]


def test_endless_handbacks_count_as_failures_in_the_end() -> None:
    pipeline = Pipeline(inc, name="t")
    history = History(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    for attempt in range(1, MAX_HANDBACKS + 1):
        handed_back(history, f"0#{attempt}")
        history.decided(decisions := decider.decide(history.task()))
        assert scheduled(decisions) == [f"0#{attempt + 1}"]
    handed_back(history, f"0#{MAX_HANDBACKS + 1}")
    failed = decider.decide(history.task())
    assert kinds(failed) == ["FailWorkflowExecution"]
    assert "HandBack: worker host:123 shut down" in failed[0]["failWorkflowExecutionDecisionAttributes"]["reason"]
