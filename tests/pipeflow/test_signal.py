"""`pf.wait_signal`: the decider completes the step with a signal's value, buffered when early."""

from __future__ import annotations

import json

import pytest

import converters
import pipeflow as pf
from pipeflow._pipeline import Pipeline
from pipeflow.decider import Decider
from pipeflow.decider._control import signal_tree

from .decider._history import History, scheduled
from .decider.tasks import inc, total


def work(decisions: list[dict[str, object]]) -> list[dict[str, object]]:
    """The decisions but the checkpoint and progress markers."""
    return [d for d in decisions if d["decisionType"] != "RecordMarker"]


def signaled(history: History, name: str, value: object) -> None:
    history.add("WorkflowExecutionSignaled", signalName=name, input=converters.dumps(value))
    history.add("DecisionTaskScheduled")


def piped(decision: dict[str, object]) -> object:
    attrs = decision["scheduleActivityTaskDecisionAttributes"]
    assert isinstance(attrs, dict)
    return json.loads(attrs["input"])["piped"]


def test_the_run_waits_for_the_signal_and_its_value_flows_downstream() -> None:
    pipeline = Pipeline(pf.chain(inc, pf.wait_signal("go"), inc), name="t")
    history = History(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    history.completed("0#1", 2)
    assert work(decider.decide(history.task())) == []  # waiting: nothing to do
    history.decided([])
    signaled(history, "other", 0)  # another name: still waiting
    assert work(decider.decide(history.task())) == []
    history.decided([])
    signaled(history, "go", 41)
    decisions = work(decider.decide(history.task()))
    assert scheduled(decisions) == ["2#1"]
    assert piped(decisions[0]) == "json/1:41"  # the signal's value, not the piped 2
    assert work(Decider([pipeline]).decide(history.task())) == decisions  # a full replay agrees


def test_a_signal_sent_before_the_step_starts_is_kept_for_it() -> None:
    pipeline = Pipeline(pf.chain(inc, pf.wait_signal("go"), inc), name="t")
    history = History(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    signaled(history, "go", {"approved": True})
    history.decided(decider.decide(history.task()))
    history.completed("0#1", 2)
    decisions = work(decider.decide(history.task()))
    assert scheduled(decisions) == ["2#1"]
    assert converters.loads(piped(decisions[0])) == {"approved": True}


def test_each_signal_completes_one_step_in_order() -> None:
    pipeline = Pipeline(pf.chain(pf.group(pf.wait_signal("n"), pf.wait_signal("n"), pf.wait_signal("n")), total),
                        name="t")
    history = History(pipeline, None)
    decider = Decider([pipeline])
    assert work(decider.decide(history.task())) == []
    history.decided([])
    signaled(history, "n", 1)
    signaled(history, "n", 20)
    assert work(decider.decide(history.task())) == []  # the third still waits
    history.decided([])
    signaled(history, "n", 300)
    decisions = work(decider.decide(history.task()))
    assert scheduled(decisions) == ["1#1"]
    assert [converters.loads(v) for v in piped(decisions[0])] == [1, 20, 300]


def test_signals_sent_by_hand_are_taken_as_json_or_text() -> None:
    assert signal_tree(None) == "json/1:null"
    assert signal_tree("msgpack/1:kQ==") == "msgpack/1:kQ=="
    assert converters.loads(signal_tree('{"ok": 1}')) == {"ok": 1}
    assert converters.loads(signal_tree("yes please")) == "yes please"


def test_wait_signal_refuses_bad_names() -> None:
    with pytest.raises(pf.PipelineError, match="1-256"):
        pf.wait_signal("")
    with pytest.raises(pf.PipelineError, match="pipeflow's own"):
        pf.wait_signal("pipeflow.cancel")
    assert pf.wait_signal("approve").name == "approve"
