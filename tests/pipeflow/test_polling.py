"""Polling pace: PollSpacer spreads the polls that follow empty ones; IdlePace keeps a poller from spinning."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipeflow._loader import load_pipeline
from pipeflow.decider import DeciderLoop
from pipeflow.endpoint import DECIDER_IDLE_MAX, MAX_HOLD, WORKER_IDLE_MAX, IdlePace, PollSpacer, client_config
from pipeflow.endpoint._polling import IDLE_FIRST
from pipeflow.running import register, start
from pipeflow.running._embedded import _definition
from pipeflow.worker import Registry, Worker
from tests._support.servers import moto_server

PIPELINE = Path(__file__).resolve().parent.parent / "e2e" / "pipelines" / "fast_parse.py"


class Recorder:
    """A stop event that is never set and records how long each poller was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return False


def test_pollers_back_from_empty_polls_together_get_slots_a_hold_over_n_apart() -> None:
    spacer, stop = PollSpacer(4), Recorder()
    held_since = time.monotonic() - 1.0  # an empty poll held a second, as moto does
    assert [spacer.after_empty(held_since, stop) for _ in range(4)] == [False] * 4
    # The first goes at once, the others a quarter of the hold apart.
    assert stop.waits == pytest.approx([0.25, 0.5, 0.75], abs=0.05)


def test_a_poll_started_after_a_task_pushes_the_next_slot_past_it() -> None:
    spacer, stop = PollSpacer(2), Recorder()
    spacer.after_empty(time.monotonic() - 1.0, stop)  # learns the hold: slots 0.5 s apart
    time.sleep(0.6)  # past the reserved slot
    spacer.starting()  # a poller that answered a task polls again now
    spacer.after_empty(time.monotonic(), stop)  # an empty poll held ~0 s: gap ~0, yet after the last start
    assert stop.waits and stop.waits[-1] == pytest.approx(0.5, abs=0.1)


def test_the_pause_is_capped_for_servers_that_hold_empty_polls_a_minute() -> None:
    spacer, stop = PollSpacer(2), Recorder()
    held_since = time.monotonic() - 60.0  # SWF's long poll
    spacer.after_empty(held_since, stop)
    spacer.after_empty(held_since, stop)
    assert stop.waits == pytest.approx([MAX_HOLD / 2], abs=0.05)


def test_one_poller_never_waits() -> None:
    spacer, stop = PollSpacer(1), Recorder()
    for _ in range(3):
        assert spacer.after_empty(time.monotonic() - 1.0, stop) is False
    assert stop.waits == []


# --- IdlePace: a poller does not spin on a server that answers empty polls at once ----------


def test_polls_that_come_back_empty_at_once_are_paced_doubling_up_to_the_cap() -> None:
    pace, stop = IdlePace(0.008), Recorder()
    for _ in range(6):
        assert pace.empty(time.monotonic(), stop) is False
    # From IDLE_FIRST, doubling, capped; each wait is the pace less the (tiny) time the poll took.
    assert stop.waits == pytest.approx([IDLE_FIRST, 0.002, 0.004, 0.008, 0.008, 0.008], abs=0.0005)


def test_a_task_resets_the_pace() -> None:
    pace, stop = IdlePace(0.05), Recorder()
    for _ in range(5):
        pace.empty(time.monotonic(), stop)
    pace.found()
    pace.empty(time.monotonic(), stop)
    assert stop.waits[-1] == pytest.approx(IDLE_FIRST, abs=0.0005)


def test_a_poll_the_server_held_is_followed_by_no_pause() -> None:
    """SWF holds an empty poll 60 s, pipeflow's engines until a task comes: the pace never applies."""
    pace, stop = IdlePace(WORKER_IDLE_MAX), Recorder()
    for _ in range(8):
        pace.empty(time.monotonic() - 1.0, stop)  # each held a second
    assert stop.waits == []


def test_a_stop_during_the_pause_is_reported() -> None:
    pace, stop = IdlePace(0.05), threading.Event()
    stop.set()
    assert pace.empty(time.monotonic(), stop) is True


# --- against a moto server whose empty polls return at once ---------------------------------


def counting_client(url: str, operation: str) -> tuple[Any, list[float]]:
    """A boto3 SWF client of its own whose `operation` calls are timed as they are made."""
    calls: list[float] = []
    swf = boto3.session.Session().client("swf", endpoint_url=url, region_name="us-east-1",
                                         config=client_config(max_attempts=1))
    swf.meta.events.register(f"before-call.swf.{operation}", lambda **_: calls.append(time.monotonic()))
    return swf, calls


@pytest.fixture(scope="module")
def spinning_moto() -> Iterator[str]:
    """moto with empty polls that return at once: a server that does not hold polls."""
    with moto_server(empty_poll_delay=0) as url:
        yield url


def idle_domain(swf: Any) -> str:
    domain = f"idle-{uuid.uuid4().hex[:8]}"
    swf.register_domain(name=domain, workflowExecutionRetentionPeriodInDays="1")
    return domain


IDLE = 1.5  # seconds each poller below is left with nothing to do


@pytest.mark.slow
def test_an_idle_worker_polls_at_its_paced_rate_not_as_fast_as_the_server_answers(spinning_moto: str) -> None:
    swf, polls = counting_client(spinning_moto, "PollForActivityTask")
    worker = Worker(swf, idle_domain(swf), "idle", Registry.from_tasks([]), processes=1)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(IDLE)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    # The ramp (1, 2, ... 32 ms: 6 polls), then one poll per WORKER_IDLE_MAX. Unpaced, it was hundreds.
    assert 5 <= len(polls) <= IDLE / WORKER_IDLE_MAX + 8, len(polls)
    gaps = [b - a for a, b in zip(polls[8:], polls[9:])]
    assert gaps and min(gaps) >= WORKER_IDLE_MAX * 0.9


@pytest.mark.slow
def test_an_idle_decider_polls_at_its_paced_rate_and_still_decides(spinning_moto: str) -> None:
    swf, polls = counting_client(spinning_moto, "PollForDecisionTask")
    definition = _definition(load_pipeline(f"{PIPELINE}:pipeline"))
    domain = idle_domain(swf)
    register(swf, domain, definition)
    loop = DeciderLoop(swf, domain, definition.task_list, [definition])
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(IDLE)
    idle_polls = len(polls)
    assert 5 <= idle_polls <= IDLE / DECIDER_IDLE_MAX + 8, idle_polls
    # A paced decider still takes the run's decision task within a pace or so.
    workflow_id, run_id = start(swf, domain, definition, 4, store=None)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = swf.get_workflow_execution_history(
            domain=domain, execution={"workflowId": workflow_id, "runId": run_id})["events"]
        if any(e["eventType"] == "DecisionTaskCompleted" for e in events):
            break
        time.sleep(0.01)
    stop.set()
    thread.join(30)
    at = {e["eventId"]: e["eventTimestamp"] for e in events}
    started = [e for e in events if e["eventType"] == "DecisionTaskStarted"]
    assert started, [e["eventType"] for e in events]
    waited = (started[0]["eventTimestamp"] - at[started[0]["decisionTaskStartedEventAttributes"]["scheduledEventId"]])
    assert waited.total_seconds() < 0.5
