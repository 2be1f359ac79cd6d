"""SWF answer bodies for the parse tests and bench/decider_parse.py: recorded histories and synthetic pages.

Synthetic events are drawn from botocore's own SWF model, so every event type and every
member of its attributes appears, with the model's types (strings, numbers, nested
structures, lists), non-ASCII text and epoch timestamps as SWF sends them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
EPOCH_NOW = 1_765_000_000.0  # a December 2025 epoch: eventTimestamp of the first synthetic event
TEXT = "abcXYZ019 -_.:#/{}\"\\é中🙂"


def swf_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("swf")


def recorded_events() -> dict[str, list[dict[str, Any]]]:
    """Each recorded history of tests/histories by file stem, given SWF's eventTimestamp (epoch seconds, ms)."""
    found = {}
    for path in sorted(HISTORIES.glob("*.json")):
        events = json.loads(path.read_text())["events"]
        found[path.stem] = [{**e, "eventTimestamp": round(EPOCH_NOW + 0.137 * n, 3)} for n, e in enumerate(events)]
    return found


def value_of(shape: Any, rng: random.Random, depth: int = 0) -> Any:
    """A JSON value of `shape` as SWF would send it: every member of a structure present."""
    kind = shape.type_name
    if kind == "string":
        enum = shape.enum
        return rng.choice(enum) if enum else "".join(rng.choice(TEXT) for _ in range(rng.randint(1, 40)))
    if kind in ("integer", "long"):
        return rng.randint(0, 2**40)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind in ("double", "float"):
        return rng.random() * 1000
    if kind == "timestamp":
        return round(EPOCH_NOW + rng.random() * 1e6, 3)
    if kind == "list":
        return [value_of(shape.member, rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "structure":
        return {name: value_of(member, rng, depth + 1) for name, member in shape.members.items()}
    raise ValueError(f"no values for {kind} shape {shape.name}")


def synthetic_events(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """`count` history events cycling through every event type of the model, attributes fully populated."""
    rng = random.Random(seed)
    event = swf_model().shape_for("HistoryEvent")
    kinds = [name for name in event.members if name.endswith("EventAttributes")]
    events = []
    for n in range(count):
        attributes = kinds[n % len(kinds)]
        kind = attributes[0].upper() + attributes[1:-len("EventAttributes")]
        events.append({
            "eventTimestamp": round(EPOCH_NOW + 0.137 * n, 3), "eventType": kind, "eventId": n + 1,
            attributes: value_of(event.members[attributes], rng),
        })
    return events


def decision_task(events: list[dict[str, Any]], next_page: bool = True) -> dict[str, Any]:
    """A PollForDecisionTask answer holding `events`."""
    body: dict[str, Any] = {
        "taskToken": "AAAAKgAAAAIAAAAAAAAAA" * 20, "startedEventId": len(events), "previousStartedEventId": 0,
        "workflowExecution": {"workflowId": "wf-1", "runId": "22eMnJ3kpo0aB8cCCPYXd2A="},
        "workflowType": {"name": "shape", "version": "1"}, "events": events,
    }
    if next_page:
        body["nextPageToken"] = "AAAAKgAAAAEAAAAAAAAAAX" * 30
    return body
