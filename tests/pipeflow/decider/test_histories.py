"""Recorded histories (tests/histories/*.json) replay to the recorded decisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeflow.decider import Decider

from ._history import unmarked
from .recorded import PIPELINES

HISTORIES = Path(__file__).parents[2] / "histories"


def load(name: str) -> dict[str, Any]:
    return json.loads((HISTORIES / f"{name}.json").read_text())


def task(doc: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    pipeline = PIPELINES[doc["pipeline"]]
    return {"taskToken": "t", "workflowExecution": {"workflowId": "wf", "runId": doc["runId"]},
            "workflowType": {"name": pipeline.name, "version": pipeline.version}, "events": events}


@pytest.mark.parametrize("name", ["chain_group", "map_retry"])
def test_recorded_history_gives_the_recorded_decisions(name: str) -> None:
    doc = load(name)
    decisions = Decider(PIPELINES.values()).decide(task(doc, doc["events"]))
    assert unmarked(decisions) == doc["expected"]
    # Recorded before markers existed: the completed top-level steps get their checkpoints now.
    checkpoints = [json.loads(d["recordMarkerDecisionAttributes"]["details"])["step"] for d in decisions
                   if d["decisionType"] == "RecordMarker"
                   and d["recordMarkerDecisionAttributes"]["markerName"] == "pipeflow.checkpoint"]
    assert checkpoints == ["0", "1"] if name == "chain_group" else checkpoints == ["0"]


def test_recorded_decisions_hold_when_fed_in_pieces() -> None:
    doc = load("map_retry")
    decider = Decider(PIPELINES.values())
    events = doc["events"]
    cut = next(i for i, e in enumerate(events) if e["eventType"] == "DecisionTaskStarted" and i > 5)
    decider.decide(task(doc, events[: cut + 1]))
    assert unmarked(decider.decide(task(doc, events[cut + 1:]))) == doc["expected"]
    assert doc["expected"][0]["startTimerDecisionAttributes"]["timerId"] == "retry-1.map.1#2"


def test_a_history_that_does_not_match_the_canvas_is_reported() -> None:
    doc = load("changed")
    decisions = Decider(PIPELINES.values()).decide(task(doc, doc["events"]))
    assert decisions == doc["expected"]
    assert [d["decisionType"] for d in decisions] == ["FailWorkflowExecution"]
    reason = decisions[0]["failWorkflowExecutionDecisionAttributes"]["reason"]
    assert reason.startswith("NondeterminismError: activity 1#1 is tasks.inc in the history but tasks.add")
