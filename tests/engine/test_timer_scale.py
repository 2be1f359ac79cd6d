"""`Limits(timer_scale=...)`: timers last that many times their startToFireTimeout (0: they fire at once)."""

from __future__ import annotations

import time

from pipeflow.engine import Engine, Limits

from ._driver import WF, decision
from .test_engine import _decide, _setup


def _timer_fired_within(engine: Engine, seconds: float) -> bool:
    c = engine.client()
    _setup(c)
    c.start_workflow_execution(domain="d", workflowId="w", workflowType=WF)
    _decide(c, decision("StartTimer", timerId="backoff", startToFireTimeout="3600"))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        task = c.poll_for_decision_task(domain="d", taskList={"name": "dt"})
        if "TimerFired" in [e["eventType"] for e in task.get("events", [])]:
            return True
    return False


def test_a_zero_scale_fires_an_hour_long_timer_at_once() -> None:
    with Engine(poll_timeout=1, limits=Limits(timer_scale=0)) as engine:
        assert _timer_fired_within(engine, 10)


def test_timers_keep_their_length_by_default() -> None:
    with Engine(poll_timeout=0.5) as engine:
        assert not _timer_fired_within(engine, 1.5)
