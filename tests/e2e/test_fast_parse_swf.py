"""The decider with `endpoint.fast_parse` on, against moto and `pipeflow server`: the same run as with botocore's parser.

Each server runs the pipeline twice, in this process (decider and worker threads, one task
process): with the fast path off, then on. The results are equal, so are the activities
scheduled and their results; the hook took every decision task's pages (none declined);
and the fast run's whole history read through a hooked client equals botocore's parse of it.
"""

from __future__ import annotations

import collections
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipeflow._loader import load_pipeline
from pipeflow.endpoint import _fast, client_config, fast_parse
from pipeflow.running import register, run_here, start
from pipeflow.running._embedded import _definition
from tests._support.histories import history
from tests._support.servers import moto_server

pytestmark = pytest.mark.slow

PIPELINE = Path(__file__).resolve().parent / "pipelines" / "fast_parse.py"
EXPECTED = [5, 36]


@pytest.fixture(scope="module")
def quick_moto_url() -> Iterator[str]:
    """moto with empty polls returning after 0.1 s (its stock 1 s costs a second a step)."""
    with moto_server(empty_poll_delay=0.1) as url:
        yield url


@pytest.fixture(params=["moto", "pipeflow-server"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("quick_moto_url" if request.param == "moto" else "pipeflow_url"))


def new_client(url: str) -> Any:
    """A botocore client of this test's own (not the process's cached one): hooked or not, as the test says."""
    return boto3.session.Session().client("swf", endpoint_url=url, region_name="us-east-1",
                                          config=client_config(max_attempts=1))


def run(url: str, monkeypatch: pytest.MonkeyPatch, fast: bool) -> tuple[Any, list[dict[str, Any]], str, dict[str, str]]:
    swf = new_client(url)
    domain = f"fast-{uuid.uuid4().hex[:10]}"
    definition = _definition(load_pipeline(f"{PIPELINE}:pipeline"))
    register(swf, domain, definition)
    with monkeypatch.context() as patched:
        if not fast:
            patched.setattr("pipeflow.decider.loop.fast_parse", lambda client: False)
        outcome = run_here(swf, domain, definition,
                           lambda running: (*start(swf, domain, running, 0, store=None), None),
                           store=None, workers=1, local_workers=True, progress=False)
    execution = {"workflowId": outcome.workflow_id, "runId": outcome.run_id}
    return outcome.result, history(new_client(url), domain, execution), domain, execution


def activities(events: list[dict[str, Any]]) -> collections.Counter[tuple[str, ...]]:
    """What ran: (activity id, input) scheduled, (activity id, result) completed; ids from the canvas, so stable."""
    scheduled = {e["eventId"]: e["activityTaskScheduledEventAttributes"] for e in events
                 if e["eventType"] == "ActivityTaskScheduled"}
    ran: collections.Counter[tuple[str, ...]] = collections.Counter(
        ("scheduled", a["activityId"], a["activityType"]["name"], a.get("input", "")) for a in scheduled.values())
    for e in events:
        if e["eventType"] == "ActivityTaskCompleted":
            a = e["activityTaskCompletedEventAttributes"]
            ran[("completed", scheduled[a["scheduledEventId"]]["activityId"], a.get("result", ""))] += 1
    return ran


def test_a_run_decided_with_the_fast_path_is_the_run_decided_without(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes: collections.Counter[str] = collections.Counter()
    parse = _fast.parse_body

    def counted(response_dict: dict[str, Any], convert: Any) -> dict[str, Any]:
        try:
            parsed = parse(response_dict, convert)
        except _fast.Unexpected:
            outcomes["declined"] += 1
            raise
        outcomes["parsed"] += 1
        return parsed

    slow_result, slow_events, _, _ = run(url, monkeypatch, fast=False)
    assert not outcomes
    monkeypatch.setattr(_fast, "parse_body", counted)
    fast_result, fast_events, domain, execution = run(url, monkeypatch, fast=True)

    assert slow_result == fast_result == EXPECTED
    decision_tasks = sum(e["eventType"] == "DecisionTaskCompleted" for e in fast_events)
    assert outcomes["parsed"] >= decision_tasks and not outcomes["declined"]
    assert activities(fast_events) == activities(slow_events)
    # The closing event's result, as recorded (event ids differ with timing: how completions batch into decision tasks)
    assert fast_events[-1]["workflowExecutionCompletedEventAttributes"]["result"] == \
        slow_events[-1]["workflowExecutionCompletedEventAttributes"]["result"]

    hooked = new_client(url)
    assert fast_parse(hooked)
    assert history(hooked, domain, execution) == fast_events  # GetWorkflowExecutionHistory: botocore's dicts
